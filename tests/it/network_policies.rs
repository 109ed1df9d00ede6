//! The `network-policies` generator, checked the way the cluster reads it: a NetworkPolicy
//! evaluator (Kubernetes semantics, written here independently of the generator) decides, for
//! pods of the rendered `out/prod` and `out/dev`, whether a connection is allowed. See: issue 14.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{compile, copy_case, hydrate, repo_root, transcript};

/// A pod: its namespace and labels.
#[derive(Debug, Clone)]
struct Pod {
    namespace: String,
    labels: BTreeMap<String, String>,
}

fn pod(namespace: &str, labels: &[(&str, &str)]) -> Pod {
    Pod {
        namespace: namespace.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// The NetworkPolicies of an environment, and the namespaces' labels (every namespace carries
/// `kubernetes.io/metadata.name`).
struct Cluster {
    policies: Vec<Value>,
}

fn matches_labels(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector.as_object() else {
        return true;
    };
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let exprs = selector.get("matchExpressions").and_then(Value::as_array);
    assert!(exprs.is_none(), "matchExpressions are not emitted by hydrate");
    match_labels.is_none_or(|m| {
        m.iter()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    })
}

fn namespace_labels(ns: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.to_string())])
}

/// Whether `peer` (an item of `from`/`to`) selects `pod`, which lives in the cluster (an
/// `ipBlock` of 0.0.0.0/0 covers pod addresses too).
fn peer_selects(peer: &Value, policy_ns: &str, pod: &Pod) -> bool {
    if let Some(block) = peer.get("ipBlock") {
        let cidr = block["cidr"].as_str().unwrap_or("");
        return cidr == "0.0.0.0/0" && block.get("except").is_none();
    }
    let ns_ok = match peer.get("namespaceSelector") {
        Some(sel) => matches_labels(sel, &namespace_labels(&pod.namespace)),
        None => pod.namespace == policy_ns,
    };
    let pod_ok = peer
        .get("podSelector")
        .is_none_or(|sel| matches_labels(sel, &pod.labels));
    ns_ok && pod_ok
}

fn ports_allow(rule: &Value, port: u16) -> bool {
    match rule.get("ports").and_then(Value::as_array) {
        None => true,
        Some(ports) => ports.iter().any(|p| {
            p["protocol"].as_str().unwrap_or("TCP") == "TCP" && p["port"].as_u64() == Some(u64::from(port))
        }),
    }
}

impl Cluster {
    fn of(env: &str) -> Cluster {
        let compiled = compile(&repo_root(), env);
        let policies = compiled
            .objects
            .iter()
            .filter(|o| o.kind() == "NetworkPolicy")
            .map(|o| o.value.clone())
            .collect();
        Cluster { policies }
    }

    /// Policies of `pod`'s namespace that select it for `direction` (`Ingress`/`Egress`).
    fn selecting<'a>(&'a self, pod: &'a Pod, direction: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.policies.iter().filter(move |p| {
            p["metadata"]["namespace"] == pod.namespace.as_str()
                && matches_labels(&p["spec"]["podSelector"], &pod.labels)
                && p["spec"]["policyTypes"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == direction))
        })
    }

    /// Whether TCP `from` → `to`:`port` is allowed: egress of the source and ingress of the
    /// destination (a pod no policy selects in a direction is open in that direction).
    fn allows(&self, from: &Pod, to: &Pod, port: u16) -> bool {
        let egress: Vec<&Value> = self.selecting(from, "Egress").collect();
        let egress_ok = egress.is_empty()
            || egress.iter().any(|p| {
                p["spec"]["egress"].as_array().into_iter().flatten().any(|rule| {
                    ports_allow(rule, port)
                        && rule["to"].as_array().is_none_or(|peers| {
                            peers.iter().any(|peer| peer_selects(peer, &from.namespace, to))
                        })
                })
            });
        let ingress: Vec<&Value> = self.selecting(to, "Ingress").collect();
        let ingress_ok = ingress.is_empty()
            || ingress.iter().any(|p| {
                p["spec"]["ingress"].as_array().into_iter().flatten().any(|rule| {
                    ports_allow(rule, port)
                        && rule["from"].as_array().is_none_or(|peers| {
                            peers.iter().any(|peer| peer_selects(peer, &to.namespace, from))
                        })
                })
            });
        egress_ok && ingress_ok
    }
}

/// The pods of the platform, as the charts and generators label them.
fn traefik() -> Pod {
    pod("infra", &[("app.kubernetes.io/name", "traefik")])
}
fn prometheus() -> Pod {
    pod("metrics", &[("app.kubernetes.io/name", "prometheus")])
}
fn solver(ns: &str) -> Pod {
    pod(
        ns,
        &[
            ("acme.cert-manager.io/http01-solver", "true"),
            ("acme.cert-manager.io/http-domain", "1"),
        ],
    )
}
/// A chart's pod (labels of its own), or a workload's (`app.kubernetes.io/name: <component>`).
fn app(ns: &str, name: &str) -> Pod {
    pod(
        ns,
        &[
            ("app.kubernetes.io/name", name),
            ("app.kubernetes.io/instance", name),
        ],
    )
}

#[test]
fn traefik_reaches_every_routed_port_and_the_acme_solver() {
    let prod = Cluster::of("prod");
    let routed = [
        ("wordpress", "wordpress", 80),
        ("n8n", "n8n", 5678),
        ("nextcloud", "nextcloud", 80),
        ("twenty", "twenty", 3000),
        ("vince", "vince", 8080),
        ("zot", "zot", 5000),
        ("mailu", "mailu", 80),
    ];
    for (ns, name, port) in routed {
        assert!(
            prod.allows(&traefik(), &app(ns, name), port),
            "traefik → {name}:{port}"
        );
        assert!(
            prod.allows(&traefik(), &solver(ns), 8089),
            "traefik → acme solver in {ns}"
        );
        assert!(
            !prod.allows(&traefik(), &app(ns, name), 22),
            "traefik → {name}:22 must be denied"
        );
    }
    for port in [25, 465, 587, 993] {
        assert!(
            prod.allows(&traefik(), &app("mailu", "mailu"), port),
            "mail port {port}"
        );
    }
    let dev = Cluster::of("dev");
    assert!(dev.allows(&traefik(), &app("wordpress", "wordpress"), 80));
}

#[test]
fn prometheus_reaches_declared_metrics_ports_only() {
    let prod = Cluster::of("prod");
    assert!(prod.allows(&prometheus(), &app("n8n", "n8n"), 5678));
    assert!(!prod.allows(&prometheus(), &app("wordpress", "wordpress"), 80));
}

#[test]
fn apps_reach_the_databases_they_use_and_nothing_else() {
    for env in ["prod", "dev"] {
        let c = Cluster::of(env);
        let postgres = pod("data", &[("app.kubernetes.io/name", "postgres")]);
        let mariadb = pod("data", &[("app.kubernetes.io/name", "mariadb")]);
        assert!(
            c.allows(&app("n8n", "n8n"), &postgres, 5432),
            "{env}: n8n → postgres"
        );
        assert!(
            c.allows(&app("wordpress", "wordpress"), &mariadb, 3306),
            "{env}: wordpress → mariadb"
        );
        assert!(
            !c.allows(&app("wordpress", "wordpress"), &postgres, 5432),
            "{env}: wordpress ↛ postgres"
        );
        assert!(
            !c.allows(&app("vince", "vince"), &mariadb, 3306),
            "{env}: vince ↛ mariadb"
        );
        // Unrelated app namespaces cannot talk to each other.
        assert!(
            !c.allows(&app("n8n", "n8n"), &app("wordpress", "wordpress"), 80),
            "{env}"
        );
        assert!(
            !c.allows(&app("twenty", "twenty"), &app("n8n", "n8n"), 5678),
            "{env}"
        );
        // DNS works everywhere fenced.
        let dns = pod("kube-system", &[("k8s-app", "kube-dns")]);
        assert!(c.allows(&app("vince", "vince"), &dns, 53), "{env}: DNS");
    }
}

/// See: issue 14 (a routed app without ports failed inside a Jsonnet library).
#[test]
fn a_routed_component_without_a_known_port_is_an_error_at_its_file() {
    let (_tmp, root) = copy_case("basic");
    fs_err::write(
        root.join("environments/prod.yaml"),
        fs_err::read_to_string(root.join("environments/prod.yaml"))
            .unwrap()
            .replace("features:\n", "features:\n  network_policies: true\n"),
    )
    .unwrap();
    fs_err::create_dir_all(root.join("platform/netpol")).unwrap();
    fs_err::write(
        root.join("platform/netpol/component.yaml"),
        "generator: network-policies\nlayer: apps\nvalues: {exclude_namespaces: [edge]}\n",
    )
    .unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("apps/shop/component.yaml:"), "{text}");
    assert!(text.contains("the port its pods listen on is unknown"), "{text}");
    assert!(text.contains("network: {ports:"), "{text}");
}
