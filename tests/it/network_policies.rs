//! The `network-policies` platform component: `platform/network-policies/main.jsonnet` with
//! `lib/hydrate/netpol.libsonnet`, evaluated on a realistic environment.

use std::collections::BTreeSet;

use camino::{Utf8Path, Utf8PathBuf};
use hydrate::jsonnet::{JsonnetContext, evaluate};

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn context() -> JsonnetContext {
    let text = fs_err::read_to_string(repo().join("tests/cases/network-policies/context.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn policies(ctx: &JsonnetContext) -> Vec<serde_json::Value> {
    evaluate(
        &repo(),
        Utf8Path::new("platform/network-policies/main.jsonnet"),
        ctx,
    )
    .unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn find<'a>(all: &'a [serde_json::Value], namespace: &str, name: &str) -> &'a serde_json::Value {
    all.iter()
        .find(|p| p["metadata"]["namespace"] == namespace && p["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no policy {namespace}/{name}"))
}

#[test]
fn every_namespace_gets_default_deny_and_dns() {
    let all = policies(&context());
    let namespaces: BTreeSet<&str> = all
        .iter()
        .map(|p| p["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        BTreeSet::from(["apps", "crm", "data", "infra", "metrics"])
    );
    for ns in &namespaces {
        let deny = find(&all, ns, "default-deny");
        assert_eq!(
            deny["spec"],
            serde_json::json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        );
        let dns = find(&all, ns, "allow-dns");
        assert_eq!(
            dns["spec"]["egress"][0]["ports"],
            serde_json::json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}])
        );
        assert_eq!(
            dns["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "kube-system"
        );
    }
}

#[test]
fn traefik_reaches_app_ports_and_apps_reach_their_databases() {
    let all = policies(&context());
    let route = find(&all, "apps", "allow-ingress-route-wordpress");
    assert_eq!(
        route["spec"]["ingress"][0]["ports"],
        serde_json::json!([{"port": 8080, "protocol": "TCP"}])
    );
    assert_eq!(
        route["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "traefik"
    );
    let out = find(&all, "infra", "allow-egress-route-twenty");
    assert_eq!(
        out["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "crm"
    );
    // MariaDB declares no ports: the well-known 3306 applies, on both sides.
    let egress = find(&all, "apps", "allow-egress-wordpress-to-mariadb");
    assert_eq!(
        egress["spec"]["egress"][0]["ports"],
        serde_json::json!([{"port": 3306, "protocol": "TCP"}])
    );
    let ingress = find(&all, "data", "allow-ingress-n8n-to-postgres");
    assert_eq!(
        ingress["spec"]["ingress"][0]["ports"],
        serde_json::json!([{"port": 5432, "protocol": "TCP"}])
    );
    assert_eq!(
        ingress["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "postgres"
    );
    // Named ingress port, public entry points and world egress.
    assert_eq!(
        find(&all, "apps", "allow-ingress-route-vince")["spec"]["ingress"][0]["ports"][0]["port"],
        "http"
    );
    find(&all, "infra", "allow-ingress-public-traefik");
    find(&all, "infra", "allow-egress-world-cert-manager");
    insta::assert_snapshot!(serde_json::to_string_pretty(&all).unwrap());
}

#[test]
fn policies_are_sorted_and_unique() {
    let all = policies(&context());
    let keys: Vec<(String, String)> = all
        .iter()
        .map(|p| {
            (
                p["metadata"]["namespace"].as_str().unwrap().into(),
                p["metadata"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
}

#[test]
fn an_unknown_used_component_is_an_error() {
    let mut ctx = context();
    ctx.components.as_array_mut().unwrap()[8]["uses"] = serde_json::json!(["mongodb"]);
    let err = evaluate(
        &repo(),
        Utf8Path::new("platform/network-policies/main.jsonnet"),
        &ctx,
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("component `wordpress` uses `mongodb`, which is not a component"),
        "{text}"
    );
    assert!(text.contains("lib/hydrate/netpol.libsonnet:"), "{text}");
}

#[test]
fn a_routed_component_without_ports_is_an_error() {
    let mut ctx = context();
    ctx.components.as_array_mut().unwrap()[10]["ports"] = serde_json::json!([]);
    let text = evaluate(
        &repo(),
        Utf8Path::new("platform/network-policies/main.jsonnet"),
        &ctx,
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("component `twenty` has hosts but no `ports`"),
        "{text}"
    );
}

#[test]
fn every_policy_validates_against_the_networkpolicy_schema() {
    let Some(dir) = crate::support::shared("schemas/kubernetes/v1.35.0-local-strict") else {
        return;
    };
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&fs_err::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let registry = jsonschema::Registry::new()
        .add(
            "https://kubernetes.io/api/_definitions.json",
            read("_definitions.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&read("networkpolicy-networking-v1.json"))
        .unwrap();
    let all = policies(&context());
    for policy in &all {
        let errors: Vec<String> = validator
            .iter_errors(policy)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", policy["metadata"]["name"]);
    }
    // The validator is strict: an unknown field is rejected, so the check can fail.
    let mut broken = all[0].clone();
    broken["spec"]["podSelectr"] = serde_json::json!({});
    assert!(!validator.is_valid(&broken));
}

#[test]
fn kubectl_kustomize_accepts_the_policies() {
    if crate::support::kubectl().is_none() {
        return;
    }
    let all = policies(&context());
    let dir = tempfile::tempdir().unwrap();
    let mut resources = Vec::new();
    for policy in &all {
        let name = format!(
            "{}-{}.yaml",
            policy["metadata"]["namespace"].as_str().unwrap(),
            policy["metadata"]["name"].as_str().unwrap()
        );
        fs_err::write(dir.path().join(&name), serde_saphyr::to_string(policy).unwrap()).unwrap();
        resources.push(name);
    }
    let kustomization = format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{}",
        resources.iter().map(|r| format!("  - {r}\n")).collect::<String>()
    );
    fs_err::write(dir.path().join("kustomization.yaml"), kustomization).unwrap();
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("kind: NetworkPolicy").count(), all.len());
}
