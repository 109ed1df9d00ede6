//! A failed build leaves `out/` byte-identical; nothing outside `out/<env>/` is written or deleted;
//! files of removed components disappear.

use crate::support::{copy_case, hydrate, read_tree, transcript};

#[test]
fn failed_build_leaves_previous_out_untouched() {
    let (_tmp, root) = copy_case("basic");
    assert_eq!(hydrate(&root, &["build", "--all"]).status.code(), Some(0));
    let before = read_tree(&root.join("out"));
    fs_err::write(root.join("apps/shop/component.yaml"), "chart: [\n").unwrap();
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert_eq!(
        before,
        read_tree(&root.join("out")),
        "out/ changed after a failed build"
    );
}

#[test]
fn one_failing_environment_writes_no_environment() {
    let (_tmp, root) = copy_case("basic");
    fs_err::write(
        root.join("environments/dev.yaml"),
        "root_domain: Not A Domain\ncluster: {provider: local}\n",
    )
    .unwrap();
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(
        !root.join("out").join("prod").exists(),
        "prod was written although dev failed"
    );
}

#[test]
fn nothing_outside_out_env_is_written_or_deleted() {
    let (_tmp, root) = copy_case("basic");
    fs_err::create_dir_all(root.join("out/other")).unwrap();
    fs_err::write(root.join("out/other/keep.yaml"), "kept").unwrap();
    fs_err::write(root.join("out/README.md"), "kept").unwrap();
    let before = read_tree(&root);
    assert_eq!(hydrate(&root, &["build", "prod"]).status.code(), Some(0));
    let after = read_tree(&root);
    let outside = |t: &hydrate::Tree| -> hydrate::Tree {
        t.iter()
            .filter(|(p, _)| !p.starts_with("out/prod"))
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect()
    };
    assert_eq!(outside(&before), outside(&after));
}

#[test]
fn removed_component_disappears_from_out() {
    let (_tmp, root) = copy_case("basic");
    assert_eq!(hydrate(&root, &["build", "prod"]).status.code(), Some(0));
    assert!(root.join("out/prod/apps/blog").is_dir());
    fs_err::remove_dir_all(root.join("apps/blog")).unwrap();
    assert_eq!(hydrate(&root, &["build", "prod"]).status.code(), Some(0));
    assert!(!root.join("out/prod/apps/blog").exists());
    let apps = fs_err::read_to_string(root.join("out/prod/apps/kustomization.yaml")).unwrap();
    assert!(!apps.contains("blog"), "{apps}");
}
