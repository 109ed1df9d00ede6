//! Helpers shared by the integration tests: fixture copies, the binary, trees as text, and the
//! tools and data some tests need (`../shared` or `HYDRATE_SHARED`, `kubectl`).
//!
//! A test that cannot run says so on the real standard error (not the captured one, so nobody
//! misses it) and, when `HYDRATE_TESTS_STRICT=1` (set by `.ci/run`), fails instead: see
//! [`cannot_run`].

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use camino::{Utf8Path, Utf8PathBuf};
use hydrate::Tree;

/// The repository root (the crate's manifest folder).
pub fn repo_root() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tests/cases/<name>`.
pub fn case(name: &str) -> Utf8PathBuf {
    repo_root().join("tests/cases").join(name)
}

/// A temporary copy of `tests/cases/<name>` (without any `out/` left by hand).
pub fn copy_case(name: &str) -> (tempfile::TempDir, Utf8PathBuf) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dst = Utf8PathBuf::from_path_buf(tmp.path().join("repo")).expect("UTF-8 temp path");
    copy_dir(case(name).as_std_path(), dst.as_std_path(), &["out"]);
    (tmp, dst)
}

/// Copies `src` into `dst` recursively, skipping top-level entries named in `skip`.
pub fn copy_dir(src: &Path, dst: &Path, skip: &[&str]) {
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = entry.expect("readable fixture");
        let rel = entry.path().strip_prefix(src).expect("inside src");
        if rel
            .components()
            .next()
            .is_some_and(|c| skip.iter().any(|s| c.as_os_str() == *s))
        {
            continue;
        }
        let target = dst.join(rel);
        if entry.file_type().is_dir() {
            fs_err::create_dir_all(&target).expect("create dir");
        } else {
            fs_err::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Runs the `hydrate` binary in `dir` with a clean environment.
pub fn hydrate(dir: &Utf8Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hydrate"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("hydrate runs")
}

/// stdout, stderr and the exit code in one text, for snapshots.
pub fn transcript(out: &Output) -> String {
    format!(
        "------- stdout -------\n{}------- stderr -------\n{}[exit status: {}]\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status.code().map_or("signal".to_string(), |c| c.to_string())
    )
}

/// Every file under `dir`, relative path → bytes.
pub fn read_tree(dir: &Utf8Path) -> Tree {
    let mut tree = Tree::new();
    if !dir.exists() {
        return tree;
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("readable tree");
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).expect("inside dir");
            let rel = Utf8PathBuf::from_path_buf(rel.to_path_buf()).expect("UTF-8 path");
            tree.insert(rel, fs_err::read(entry.path()).expect("readable file"));
        }
    }
    tree
}

/// A whole tree as one text: `=== path` then the file, for golden snapshots.
pub fn tree_text(tree: &Tree) -> String {
    tree.iter()
        .map(|(p, b)| format!("=== {p}\n{}", String::from_utf8_lossy(b)))
        .collect()
}

/// Compiles `env` of the repository at `root`, panicking with the rendered error.
pub fn compile(root: &Utf8Path, env: &str) -> hydrate::Compiled {
    hydrate::compile_env(root, env).unwrap_or_else(|e| panic!("{}", hydrate::diag::render_error(&e)))
}

/// Records that the current test cannot run, and why.
///
/// The reason goes to the process' real standard error (libtest captures only `print!`-style
/// output), and to the file named by `HYDRATE_SKIP_REPORT` when set (CI lists it in its summary).
/// With `HYDRATE_TESTS_STRICT=1` it panics instead: a run that requires every test fails, naming
/// the test and what it lacked.
pub fn cannot_run(reason: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    if std::env::var_os("HYDRATE_TESTS_STRICT").is_some_and(|v| v == "1") {
        panic!("`{test}` could not run: {reason} (HYDRATE_TESTS_STRICT=1 requires every test to run)");
    }
    let line = format!("SKIPPED `{test}`: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(report) = std::env::var_os("HYDRATE_SKIP_REPORT")
        && let Ok(mut file) = fs_err::OpenOptions::new().create(true).append(true).open(report)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// `../shared` (or `$HYDRATE_SHARED`), if present; does not report anything.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HYDRATE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().as_std_path().join("../shared"));
    dir.is_dir().then_some(dir)
}

/// `<shared>/<rel>` when it exists; otherwise the test [`cannot_run`] and gets `None`.
pub fn shared(rel: &str) -> Option<Utf8PathBuf> {
    let path = shared_dir()
        .and_then(|d| Utf8PathBuf::from_path_buf(d.join(rel)).ok())
        .filter(|p| p.exists());
    if path.is_none() {
        cannot_run(&format!(
            "`../shared/{rel}` is absent (put the shared folder beside the clone or set HYDRATE_SHARED)"
        ));
    }
    path
}

/// A program on PATH, if any; does not report anything.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

/// `kubectl` on PATH; otherwise the test [`cannot_run`] and gets `None`.
pub fn kubectl() -> Option<PathBuf> {
    let found = find_tool("kubectl");
    if found.is_none() {
        cannot_run("`kubectl` (with kustomize v5) is not on PATH");
    }
    found
}

/// Writes `tree` under `dir` (for tools that read files).
pub fn write_tree(tree: &Tree, dir: &Utf8Path) {
    for (rel, bytes) in tree {
        let path = dir.join(rel);
        fs_err::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        fs_err::write(&path, bytes).expect("write file");
    }
}

/// The environments of the repository at `root`.
pub fn env_names(root: &Utf8Path) -> Vec<String> {
    hydrate::load::load(root)
        .expect("the repository loads")
        .env_names()
}

/// The whole rendered error report of compiling `env`, which must fail (related errors included,
/// no line wrapping).
pub fn compile_error(root: &Utf8Path, env: &str) -> String {
    match hydrate::compile_env(root, env) {
        Ok(_) => panic!("compiling `{env}` should fail"),
        Err(e) => hydrate::diag::render_error(&e),
    }
}

/// Runs the `hydrate` binary in `dir` with a clean environment plus `vars` (e.g. `HOME`).
pub fn hydrate_env(dir: &Utf8Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hydrate"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .output()
        .expect("hydrate runs")
}

/// [`transcript`] with what differs from run to run replaced: age recipients (`age1…`) and
/// the temp folder `tmp` (`[TMP]`).
pub fn stable_transcript(out: &Output, tmp: &Utf8Path) -> String {
    let text = transcript(out).replace(tmp.as_str(), "[TMP]");
    let re = regex::Regex::new("age1[0-9a-z]{58}").expect("a valid regex");
    re.replace_all(&text, "age1[RECIPIENT]").into_owned()
}

/// Makes `root` a git repository (if it is not one) and commits everything in it, with a fixed
/// signature and time: a "fresh clone".
pub fn git_commit_all(root: &Utf8Path, message: &str) {
    let repo = git2::Repository::open(root).or_else(|_| {
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        git2::Repository::init_opts(root, &opts)
    });
    let repo = repo.expect("git init");
    let mut index = repo.index().expect("index");
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .expect("git add");
    index.update_all(["*"], None).expect("git add -u");
    index.write().expect("write index");
    let tree = repo
        .find_tree(index.write_tree().expect("write tree"))
        .expect("tree");
    let sig = git2::Signature::new("Test", "test@example.invalid", &git2::Time::new(1_700_000_000, 0))
        .expect("signature");
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
        .expect("git commit");
}
