//! What makes `out/<env>` work on a real cluster beyond schemas: Flux's way in, one object per
//! identity, Namespace metadata, CRD layering, prefixed Flux names. See: issue 14.

use serde_json::Value;

use crate::support::{compile, compile_error, copy_case, hydrate, repo_root, transcript};

fn append(path: &camino::Utf8Path, text: &str) {
    let mut old = fs_err::read_to_string(path).unwrap();
    old.push_str(text);
    fs_err::write(path, old).unwrap();
}

fn write(root: &camino::Utf8Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

/// The README's "Deploying with Flux" relies on `clusters/<env>/hydrate.yaml`: a Flux
/// Kustomization applying `./out/<env>` from the bootstrap GitRepository, as `hydrate flux-entry`
/// prints it today.
#[test]
fn each_environment_has_a_flux_entry_pointing_at_its_out_folder() {
    let root = repo_root();
    for env in crate::support::env_names(&root) {
        let path = root.join(format!("clusters/{env}/hydrate.yaml"));
        let text = fs_err::read_to_string(&path).unwrap_or_else(|_| panic!("no `{path}`"));
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
        assert_eq!(doc["kind"], "Kustomization");
        assert_eq!(doc["spec"]["path"], format!("./out/{env}"), "{path}");
        assert_eq!(doc["spec"]["sourceRef"]["kind"], "GitRepository");
        assert_eq!(doc["spec"]["sourceRef"]["name"], "flux-system");
        assert_eq!(doc["spec"]["prune"], true);
        let printed = hydrate(&root, &["flux-entry", &env]);
        assert_eq!(
            String::from_utf8_lossy(&printed.stdout),
            text,
            "`{path}` is not what `hydrate flux-entry {env}` prints"
        );
        // And the out/<env> it points at is a kustomization of the layers' Kustomizations.
        let top = fs_err::read_to_string(root.join(format!("out/{env}/kustomization.yaml"))).unwrap();
        assert!(top.contains("- flux"), "{top}");
    }
}

#[test]
fn without_an_entry_the_build_warns_that_nothing_deploys_it() {
    let (_tmp, root) = copy_case("basic");
    fs_err::remove_dir_all(root.join("clusters")).unwrap();
    let prod = compile(&root, "prod");
    let d = prod
        .diagnostics
        .iter()
        .find(|d| d.code == "flux-entry-missing")
        .expect("a flux-entry-missing warning");
    assert_eq!(d.at.file, "environments/prod.yaml");
    assert!(
        d.help
            .as_deref()
            .unwrap_or("")
            .contains("hydrate flux-entry prod")
    );
    let out = hydrate(&root, &["flux-entry", "prod"]);
    write(
        &root,
        "clusters/prod/hydrate.yaml",
        &String::from_utf8_lossy(&out.stdout),
    );
    let prod = compile(&root, "prod");
    assert!(!prod.diagnostics.iter().any(|d| d.code == "flux-entry-missing"));
}

/// See: issue 14 (`flux bootstrap --path=out/prod` wrote `out/prod/flux-system/`, which the next
/// build deleted).
#[test]
fn bootstrap_files_in_out_are_refused_with_the_layout_explained() {
    let (_tmp, root) = copy_case("basic");
    assert_eq!(hydrate(&root, &["build", "prod"]).status.code(), Some(0));
    write(
        &root,
        "out/prod/flux-system/gotk-sync.yaml",
        "kind: GitRepository\n",
    );
    for args in [&["build", "prod"][..], &["check", "prod", "--worktree"]] {
        let out = hydrate(&root, args);
        let text = transcript(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains("out/prod/flux-system/"), "{text}");
        assert!(text.contains("--path=clusters/prod"), "{text}");
    }
    assert!(
        root.join("out/prod/flux-system/gotk-sync.yaml").exists(),
        "nothing was deleted"
    );
}

/// See: issue 14 (a Namespace written by a manifest to add labels, and two ConfigMaps, were both
/// written with no error).
#[test]
fn one_identity_one_object() {
    let (_tmp, root) = copy_case("basic");
    write(
        &root,
        "apps/blog/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n",
    );
    append(
        &root.join("apps/blog/component.yaml"),
        "manifests: [deployment.yaml, ns.yaml]\n".trim_start(),
    );
    let text = fs_err::read_to_string(root.join("apps/blog/component.yaml")).unwrap();
    let text = text.replace("manifests: [deployment.yaml]\n", "");
    fs_err::write(root.join("apps/blog/component.yaml"), text).unwrap();
    let message = compile_error(&root, "prod");
    assert!(message.contains("Namespace/web is written twice"), "{message}");
    assert!(message.contains("apps/blog/ns.yaml"), "{message}");
    assert!(message.contains("namespace_metadata"), "{message}");

    let (_tmp, root) = copy_case("basic");
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\n  namespace: web\n";
    write(&root, "apps/blog/cm.yaml", cm);
    write(
        &root,
        "apps/other/component.yaml",
        "namespace: web\nlayer: apps\nmanifests: [cm.yaml]\n",
    );
    write(&root, "apps/other/cm.yaml", cm);
    let text = fs_err::read_to_string(root.join("apps/blog/component.yaml")).unwrap();
    fs_err::write(
        root.join("apps/blog/component.yaml"),
        text.replace(
            "manifests: [deployment.yaml]",
            "manifests: [deployment.yaml, cm.yaml]",
        ),
    )
    .unwrap();
    let message = compile_error(&root, "prod");
    assert!(
        message.contains("ConfigMap/web/same is written twice"),
        "{message}"
    );
    assert!(
        message.contains("apps/blog/cm.yaml") && message.contains("apps/other/cm.yaml"),
        "{message}"
    );
}

#[test]
fn namespace_labels_come_from_the_components_of_the_namespace() {
    let (_tmp, root) = copy_case("basic");
    append(
        &root.join("apps/blog/component.yaml"),
        "namespace_metadata:\n  labels: {team: web}\n  annotations: {owner: ops}\n",
    );
    let prod = compile(&root, "prod");
    let ns = prod
        .objects
        .iter()
        .find(|o| o.kind() == "Namespace" && o.name() == "web")
        .unwrap();
    assert_eq!(ns.value["metadata"]["labels"]["team"], "web");
    assert_eq!(ns.value["metadata"]["annotations"]["owner"], "ops");
    write(
        &root,
        "apps/other/component.yaml",
        "namespace: web\nlayer: apps\nnamespace_metadata:\n  labels: {team: shop}\n",
    );
    let message = compile_error(&root, "prod");
    assert!(message.contains("apps/other/component.yaml:4:"), "{message}");
    assert!(message.contains("`team`"), "{message}");
}

/// See: issue 14 (the CRD groups were a hard-coded list).
#[test]
fn objects_of_crds_a_component_installs_go_to_the_next_layer() {
    let (_tmp, root) = copy_case("basic");
    write(
        &root,
        "platform/longhorn/component.yaml",
        "namespace: longhorn-system\nlayer: infra\ncrds: [longhorn.io]\n\
         chart: {repo: https://charts.longhorn.io, name: longhorn, version: 1.10.1}\n\
         manifests: [recurring.yaml]\n",
    );
    write(
        &root,
        "platform/longhorn/recurring.yaml",
        "apiVersion: longhorn.io/v1beta2\nkind: RecurringJob\nmetadata:\n  name: nightly\nspec:\n  cron: \"0 2 * * *\"\n  task: snapshot\n",
    );
    let prod = compile(&root, "prod");
    let job = prod.objects.iter().find(|o| o.kind() == "RecurringJob").unwrap();
    assert!(
        prod.tree
            .keys()
            .any(|p| p.as_str() == "infra-configs/longhorn/recurringjob-nightly.yaml"),
        "{:?}",
        job.placement
    );
    assert!(
        prod.tree
            .keys()
            .any(|p| p.as_str() == "infra/longhorn/helmrelease-longhorn.yaml")
    );
    // The same object made by a data-layer component whose CRDs come later is an error.
    write(
        &root,
        "platform/longhorn/component.yaml",
        "namespace: longhorn-system\nlayer: metrics\ncrds: [longhorn.io]\n\
         chart: {repo: https://charts.longhorn.io, name: longhorn, version: 1.10.1}\n",
    );
    write(
        &root,
        "apps/blog/recurring.yaml",
        "apiVersion: longhorn.io/v1beta2\nkind: RecurringJob\nmetadata:\n  name: weekly\n",
    );
    let text = fs_err::read_to_string(root.join("apps/blog/component.yaml")).unwrap();
    fs_err::write(
        root.join("apps/blog/component.yaml"),
        text.replace("layer: apps", "layer: data").replace(
            "manifests: [deployment.yaml]",
            "manifests: [deployment.yaml, recurring.yaml]",
        ),
    )
    .unwrap();
    let message = compile_error(&root, "prod");
    assert!(
        message.contains("whose CRDs component `longhorn` installs in layer `metrics`"),
        "{message}"
    );
}

#[test]
fn flux_names_carry_the_environment_prefix() {
    let (_tmp, root) = copy_case("basic");
    append(&root.join("environments/prod.yaml"), "flux:\n  prefix: prod-\n");
    let prod = compile(&root, "prod");
    let names: Vec<(&str, Option<&str>)> = prod
        .objects
        .iter()
        .filter(|o| o.kind() == "Kustomization")
        .map(|o| {
            (
                o.name(),
                o.value.pointer("/spec/dependsOn/0/name").and_then(Value::as_str),
            )
        })
        .collect();
    assert!(names.iter().all(|(n, _)| n.starts_with("prod-")), "{names:?}");
    assert!(
        names
            .iter()
            .filter_map(|(_, d)| *d)
            .all(|d| d.starts_with("prod-")),
        "{names:?}"
    );
    let out = hydrate(&root, &["flux-entry", "prod"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: prod-hydrate"));
    append(&root.join("environments/prod.yaml"), "");
    let text = fs_err::read_to_string(root.join("environments/prod.yaml")).unwrap();
    fs_err::write(
        root.join("environments/prod.yaml"),
        text.replace("prefix: prod-", "prefix: Prod_"),
    )
    .unwrap();
    let message = compile_error(&root, "prod");
    assert!(message.contains("cannot start a Kubernetes name"), "{message}");
}
