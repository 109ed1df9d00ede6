//! A failed build leaves `out/` byte-identical; nothing outside `out/<env>/` is written or deleted;
//! files of removed components disappear; one build at a time writes `out/`; a build removes the
//! leftovers of interrupted ones, and only those. (Kills at each call: `crash.rs`.)

use std::process::{Command, Stdio};
use std::time::Duration;

use camino::Utf8Path;
use hydrate::output::lock::OutLock;

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

/// `hydrate <args>` in `root` with `env` set (on top of the clean environment of `hydrate`).
fn hydrate_with(root: &Utf8Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hydrate"));
    cmd.args(args)
        .current_dir(root)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("hydrate starts")
}

/// Hidden folders directly under `out/`.
fn hidden_folders(out: &Utf8Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn a_second_build_waits_for_the_lock_then_fails_naming_the_holder() {
    let (_tmp, root) = copy_case("basic");
    assert_eq!(hydrate(&root, &["build", "--all"]).status.code(), Some(0));
    let before = read_tree(&root.join("out"));
    let held = OutLock::acquire(&root.join("out"), Duration::ZERO, |_| {}).unwrap();
    fs_err::write(
        root.join("environments/prod.yaml"),
        "root_domain: example.net\ncluster: {provider: doks}\n",
    )
    .unwrap();
    let out = hydrate_with(&root, &["build", "--all"], &[("HYDRATE_LOCK_TIMEOUT", "0.3")])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let holder = format!("pid {}:", std::process::id());
    assert!(
        stderr.contains("waiting for the lock on `out/`, held by"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("`out/.hydrate.lock` is held by {holder}")),
        "{stderr}"
    );
    assert!(stderr.contains("HYDRATE_LOCK_TIMEOUT"), "{stderr}");
    drop(held);
    assert_eq!(
        before,
        read_tree(&root.join("out")),
        "the build that gave up wrote nothing"
    );
}

#[test]
fn a_second_build_runs_once_the_first_releases_the_lock() {
    let (_tmp, root) = copy_case("basic");
    let held = OutLock::acquire(&root.join("out"), Duration::ZERO, |_| {}).unwrap();
    let child = hydrate_with(&root, &["build", "--all"], &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!root.join("out/prod").exists(), "the build waits for the lock");
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert!(root.join("out/prod/kustomization.yaml").is_file());
    assert!(
        !root.join("out/.hydrate.lock").exists(),
        "the lock file goes with the lock"
    );
}

#[test]
fn a_bad_lock_timeout_is_a_usage_error() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate_with(&root, &["build", "prod"], &[("HYDRATE_LOCK_TIMEOUT", "soon")])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("`HYDRATE_LOCK_TIMEOUT=soon` is not a number of seconds")
    );
    assert!(!root.join("out").exists());
}

/// Two builds of different inputs into one `out/` (the second repository's `out` is a link to the
/// first's), started together several times: every environment always comes from one of them.
#[test]
fn concurrent_builds_never_mix_their_environments() {
    let (_tmp_a, a) = copy_case("basic");
    let (_tmp_b, b) = copy_case("basic");
    for root in [&a, &b] {
        let dev = fs_err::read_to_string(root.join("environments/dev.yaml")).unwrap();
        let tag = if *root == a { "one" } else { "two" };
        fs_err::write(
            root.join("environments/dev.yaml"),
            dev.replace("example.test", &format!("{tag}.test")),
        )
        .unwrap();
        let prod = fs_err::read_to_string(root.join("environments/prod.yaml")).unwrap();
        fs_err::write(
            root.join("environments/prod.yaml"),
            prod.replace("example.org", &format!("{tag}.org")),
        )
        .unwrap();
    }
    let tree_of = |root: &Utf8Path| {
        assert_eq!(hydrate(root, &["build", "--all"]).status.code(), Some(0));
        let t = (
            read_tree(&root.join("out/dev")),
            read_tree(&root.join("out/prod")),
        );
        fs_err::remove_dir_all(root.join("out")).unwrap();
        t
    };
    let (one, two) = (tree_of(&a), tree_of(&b));
    assert_ne!(one.0, two.0);
    fs_err::create_dir_all(a.join("out")).unwrap();
    std::os::unix::fs::symlink(a.join("out"), b.join("out")).unwrap();
    for round in 0..6 {
        let (first, second) = if round % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let args: &[&str] = if round % 3 == 0 {
            &["build", "dev", "prod"]
        } else {
            &["build", "--all"]
        };
        let p = hydrate_with(first, args, &[]);
        let q = hydrate_with(second, &["build", "--all"], &[]);
        for out in [p.wait_with_output().unwrap(), q.wait_with_output().unwrap()] {
            assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
        }
        let now = (read_tree(&a.join("out/dev")), read_tree(&a.join("out/prod")));
        assert!(
            now == one || now == two,
            "round {round}: dev and prod come from different builds"
        );
        assert_eq!(hidden_folders(&a.join("out")), Vec::<String>::new());
    }
}

/// See the leftover issue: kills left `out/.<env>.*` folders behind.
#[test]
fn a_build_removes_only_its_own_leftovers() {
    let (_tmp, root) = copy_case("basic");
    let out = root.join("out");
    for dir in [
        ".prod.hydrate-Ab12Cd",
        ".dev.hydrate-000000",
        ".prod.x1Y2z3",
        ".dev.old.QWErty",
        "other",
        ".cache",
    ] {
        fs_err::create_dir_all(out.join(dir).join("apps")).unwrap();
        fs_err::write(out.join(dir).join("apps/kustomization.yaml"), "x").unwrap();
    }
    fs_err::write(out.join("README.md"), "mine").unwrap();
    fs_err::write(out.join(".keep"), "").unwrap();
    let built = hydrate(&root, &["build", "prod"]);
    assert_eq!(built.status.code(), Some(0), "{}", transcript(&built));
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(
        stderr.contains("removed `out/.prod.hydrate-Ab12Cd`, left by an interrupted build"),
        "{stderr}"
    );
    assert_eq!(hidden_folders(&out), vec![".cache"]);
    assert_eq!(fs_err::read_to_string(out.join("README.md")).unwrap(), "mine");
    assert!(out.join(".keep").is_file());
    assert!(out.join("other/apps/kustomization.yaml").is_file());
    assert!(out.join(".cache/apps/kustomization.yaml").is_file());
}

/// See the output issue: a valid 250-character name gave a 266-byte file name and an I/O error
/// halfway through writing.
#[test]
fn a_file_name_too_long_for_the_file_system_is_an_input_error() {
    let (_tmp, root) = copy_case("basic");
    assert_eq!(hydrate(&root, &["build", "--all"]).status.code(), Some(0));
    let before = read_tree(&root.join("out"));
    let long = "a".repeat(250);
    let file = root.join("apps/blog/deployment.yaml");
    let text = fs_err::read_to_string(&file).unwrap();
    fs_err::write(&file, text.replacen("name: blog", &format!("name: {long}"), 1)).unwrap();
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("`Deployment/web/{long}` of component `blog`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("whose file name is 266 bytes long; file systems allow at most 255"),
        "{stderr}"
    );
    assert!(
        stderr.contains("shorten the object's `metadata.name`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`apps/blog/deployment.yaml`) by at least 11 characters"),
        "{stderr}"
    );
    assert_eq!(before, read_tree(&root.join("out")), "nothing written");
}

#[test]
fn an_environment_named_twice_is_built_once() {
    let (_tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "dev", "prod", "dev"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .matches("wrote out/dev/")
            .count(),
        1
    );
    assert!(root.join("out/dev/kustomization.yaml").is_file());
}
