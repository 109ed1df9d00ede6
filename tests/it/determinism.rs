//! Same bytes for any thread count and on a second run.

use crate::support::{copy_case, hydrate, read_tree, transcript};

#[test]
fn one_and_four_threads_and_a_second_run_give_identical_trees() {
    let (_a, root_a) = copy_case("basic");
    let (_b, root_b) = copy_case("basic");
    let out = hydrate(&root_a, &["build", "--all", "-j", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let out = hydrate(&root_b, &["build", "--all", "-j", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let first = read_tree(&root_a.join("out"));
    assert!(!first.is_empty());
    assert_eq!(first, read_tree(&root_b.join("out")), "-j1 and -j4 differ");
    let out = hydrate(&root_a, &["build", "--all", "-j", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert_eq!(first, read_tree(&root_a.join("out")), "a second run differs");
}

#[test]
fn library_compile_is_the_same_in_any_pool() {
    let root = crate::support::case("basic");
    let in_pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| crate::support::compile(&root, "prod").tree)
    };
    assert_eq!(in_pool(1), in_pool(8));
}

#[test]
fn jsonnet_components_render_the_same_in_any_pool() {
    let root = crate::support::case("jsonnet");
    let in_pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
            .install(|| crate::support::compile(&root, "prod").tree)
    };
    let one = in_pool(1);
    assert_eq!(one, in_pool(4));
    assert_eq!(one, in_pool(4), "a second run");
}
