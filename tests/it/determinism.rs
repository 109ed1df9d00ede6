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

/// The `prod` tree of fixture `case`, compiled in a pool of `threads` threads.
fn tree_in_pool(case: &str, threads: usize) -> hydrate::Tree {
    let root = crate::support::case(case);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| crate::support::compile(&root, "prod").tree)
}

#[test]
fn library_compile_is_the_same_in_any_pool() {
    assert_eq!(tree_in_pool("basic", 1), tree_in_pool("basic", 8));
}

#[test]
fn jsonnet_components_render_the_same_in_any_pool() {
    let one = tree_in_pool("jsonnet", 1);
    assert_eq!(one, tree_in_pool("jsonnet", 4));
    assert_eq!(one, tree_in_pool("jsonnet", 4), "a second run");
}
