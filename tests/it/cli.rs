//! The command line: exit codes (0 success, 1 findings, 2 errors) and messages that name the file,
//! the line and the fix.

use crate::support::{copy_case, hydrate, transcript};

#[test]
fn help_lists_commands_exit_codes_and_examples() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("help", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn build_writes_out_and_exits_0() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert!(root.join("out/prod/apps/shop/helmrelease-shop.yaml").is_file());
    assert!(
        !root.join("out/dev").exists(),
        "only the named environment is built"
    );
}

#[test]
fn build_all_builds_every_environment() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "--all", "--root", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert!(root.join("out/prod/kustomization.yaml").is_file());
    assert!(root.join("out/dev/kustomization.yaml").is_file());
}

#[test]
fn invalid_yaml_names_file_line_and_column() {
    let (_tmp, root) = copy_case("basic");
    fs_err::write(
        root.join("apps/shop/component.yaml"),
        "chart:\n  repo: [unclosed\n",
    )
    .unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apps/shop/component.yaml:"), "{stderr}");
    assert!(
        !stderr.contains(root.as_str()),
        "no absolute path in messages: {stderr}"
    );
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let (_tmp, root) = copy_case("basic");
    let path = root.join("platform/ingress/component.yaml");
    let text = fs_err::read_to_string(&path)
        .unwrap()
        .replace("namespace: edge", "namespce: edge");
    fs_err::write(&path, text).unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("platform/ingress/component.yaml:2:1"), "{stderr}");
    assert!(stderr.contains("did you mean `namespace`?"), "{stderr}");
}

#[test]
fn unknown_variable_names_its_position() {
    let (_tmp, root) = copy_case("basic");
    let path = root.join("apps/shop/component.yaml");
    let text = fs_err::read_to_string(&path)
        .unwrap()
        .replace("host: shop.${root_domain}", "host: shop.${rootdomain}");
    fs_err::write(&path, text).unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("apps/shop/component.yaml:12:14: unknown variable `${rootdomain}`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `${root_domain}`?"), "{stderr}");
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "staging"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no environment `staging`"), "{stderr}");
    assert!(stderr.contains("known environments: dev, prod"), "{stderr}");
}

#[test]
fn build_without_environment_is_a_usage_error() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name at least one environment, or pass `--all`"));
}

#[test]
fn bad_flag_is_a_usage_error() {
    let (_tmp, root) = copy_case("basic");
    assert_eq!(hydrate(&root, &["build", "--everything"]).status.code(), Some(2));
    assert_eq!(
        hydrate(&root, &["-j", "0", "build", "prod"]).status.code(),
        Some(2)
    );
}

#[test]
fn missing_secret_in_prod_names_the_file_to_create() {
    let (_tmp, root) = copy_case("basic");
    fs_err::remove_file(root.join("secrets/prod/shop/shop-db.sops.yaml")).unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret `shop-db` has no file `secrets/prod/shop/shop-db.sops.yaml`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hydrate secret seal prod shop shop-db"),
        "{stderr}"
    );
}

#[test]
fn dependency_cycle_is_an_error() {
    let (_tmp, root) = copy_case("basic");
    let path = root.join("platform/ingress/component.yaml");
    let text = fs_err::read_to_string(&path).unwrap().replace(
        "namespace: edge",
        "namespace: edge\nlayer: apps\ndepends_on: [shop]",
    );
    fs_err::write(&path, text).unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dependency cycle"),
        "{}",
        transcript(&out)
    );
}

#[test]
fn envs_lists_environments_and_components() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["envs"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("envs", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn empty_component_file_is_an_error() {
    let (_tmp, root) = copy_case("basic");
    fs_err::write(root.join("apps/blog/component.yaml"), "# to do\n").unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("apps/blog/component.yaml: the component file is empty")
    );
}

#[test]
fn route_port_zero_is_an_error() {
    let (_tmp, root) = copy_case("basic");
    let path = root.join("apps/shop/component.yaml");
    let text = fs_err::read_to_string(&path).unwrap();
    let text = text.replacen("port: 8080", "port: 0", 1);
    fs_err::write(&path, text).unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`route.port` is 0"),
        "{}",
        transcript(&out)
    );
}

#[test]
fn yaml_syntax_error_says_what_to_fix() {
    let (_tmp, root) = copy_case("basic");
    fs_err::write(root.join("apps/shop/component.yaml"), "chart:\n  repo: [x\n").unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apps/shop/component.yaml:2:9"), "{stderr}");
    assert!(stderr.contains("help: fix the YAML at this position"), "{stderr}");
}

#[test]
fn sealed_secret_must_hold_the_declared_keys() {
    let (_tmp, root) = copy_case("basic");
    // `shop-db` declared `user` when it was sealed; the declaration now says `password`.
    let path = root.join("apps/shop/component.yaml");
    let text = fs_err::read_to_string(&path).unwrap();
    fs_err::write(&path, text.replace("keys: [password]", "keys: [user]")).unwrap();
    let out = hydrate(
        &root,
        &["secret", "seal", "prod", "shop", "shop-db", "user=x", "--force"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    fs_err::write(&path, text).unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret `shop-db` has no key `password`"),
        "{stderr}"
    );
}

#[test]
fn seal_refuses_an_unknown_component() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["secret", "seal", "prod", "nosuch", "x", "a=b"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("environment `prod` has no enabled component `nosuch`")
    );
    assert!(!root.join("secrets/prod/nosuch").exists());
}

#[test]
fn jsonnet_errors_name_the_file_line_and_column_through_the_build() {
    let (_tmp, root) = copy_case("basic");
    fs_err::write(
        root.join("apps/blog/main.jsonnet"),
        "local x = 1;\n{ a: error 'boom ' + x }\n",
    )
    .unwrap();
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apps/blog/main.jsonnet:2:"), "{stderr}");
    assert!(stderr.contains("boom 1"), "{stderr}");
    assert!(!root.join("out").exists(), "nothing written");
}
