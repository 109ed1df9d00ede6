//! The one integration-test binary (ripgrep, jj, uv style): one module per property.

mod support;

mod apps;
mod cli;
mod cluster;
mod crash;
mod data;
mod determinism;
mod edge;
mod golden;
mod hostile;
mod json;
mod jsonnet;
mod kustomize;
mod lint;
mod lock;
mod network_policies;
mod newuser;
mod readme;
mod review;
mod safety;
mod schema;
mod secrets;

/// Every `tests/it/*.rs` file is a module of this binary: a file left out would never run (jj's
/// `test_no_forgotten_test_files`).
#[test]
fn no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = fs_err::read_to_string(dir.join("main.rs")).expect("main.rs is readable");
    let mut forgotten = Vec::new();
    for entry in fs_err::read_dir(&dir).expect("tests/it is readable") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        if let Some(module) = name.strip_suffix(".rs")
            && module != "main"
            && !main.contains(&format!("mod {module};"))
        {
            forgotten.push(name.to_string());
        }
    }
    assert!(
        forgotten.is_empty(),
        "not compiled into the test binary: {forgotten:?}"
    );
}
