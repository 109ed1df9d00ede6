//! Golden trees: the whole `out/<env>` of a fixture project as one snapshot, so a missing file and an
//! extra file both fail; and the repository's committed `out/` equals a fresh render.

use crate::support::{case, compile, env_names, read_tree, repo_root, tree_text};

#[test]
fn basic_prod_tree() {
    let compiled = compile(&case("basic"), "prod");
    insta::assert_snapshot!("basic_prod", tree_text(&compiled.tree));
}

#[test]
fn basic_dev_tree() {
    let compiled = compile(&case("basic"), "dev");
    insta::assert_snapshot!("basic_dev", tree_text(&compiled.tree));
}

#[test]
fn basic_dev_warns_about_the_missing_secret() {
    let compiled = compile(&case("basic"), "dev");
    let text: Vec<String> = compiled.diagnostics.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n\n"), @r"
    warning[flux-substitution]: `${NOT_INTERPOLATED}` is left in HelmRelease `shop`; Flux post-build substitution would replace it
      --> apps/shop/component.yaml:13:12 values.literal
      = object: HelmRelease/shop/shop
      = help: if the program needs a literal `${`, keep it and allow this finding with a reason (`lint.allow`), or annotate the object `kustomize.toolkit.fluxcd.io/substitute: disabled`; otherwise use a `${root_domain}`-style variable of hydrate

    warning[missing-secret]: secret `shop-db` has no file `secrets/dev/shop/shop-db.sops.yaml`
      --> apps/shop/component.yaml:22:5 secrets[0]
      = help: create it with `hydrate secret seal dev shop shop-db password=…` (or `sops --encrypt --encrypted-regex '^(data|stringData)$' --in-place secrets/dev/shop/shop-db.sops.yaml` on a Secret named `shop-db` in namespace `shop`)
    ");
}

/// The committed `out/<env>` of this repository is exactly what the inputs render.
#[test]
fn committed_out_is_fresh() {
    let root = repo_root();
    for env in env_names(&root) {
        let fresh = compile(&root, &env).tree;
        let committed = read_tree(&root.join("out").join(&env));
        let missing: Vec<_> = fresh.keys().filter(|p| !committed.contains_key(*p)).collect();
        let extra: Vec<_> = committed.keys().filter(|p| !fresh.contains_key(*p)).collect();
        let stale: Vec<_> = fresh
            .iter()
            .filter(|(p, b)| committed.get(*p).is_some_and(|c| c != *b))
            .map(|(p, _)| p)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty() && stale.is_empty(),
            "out/{env} is not fresh: missing {missing:?}, extra {extra:?}, stale {stale:?}; run `cargo run -- build {env}`"
        );
    }
}

/// A project of Jsonnet components (each return shape; imports beside the file, from `lib/` and
/// from `vendor/`), compiled end to end.
#[test]
fn jsonnet_project_trees() {
    for env in ["dev", "prod"] {
        let compiled = compile(&case("jsonnet"), env);
        insta::assert_snapshot!(format!("jsonnet_{env}"), tree_text(&compiled.tree));
    }
}
