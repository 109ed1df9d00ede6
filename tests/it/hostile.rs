//! Hostile and clumsy inputs, through the real binary: each gets a clear error naming a file
//! (exit 2, or 1 for a lint finding), quickly, without a panic, and leaves `out/` byte-identical;
//! no secret value reaches any output. See: issue 11.

use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};

use crate::support::{copy_case, hydrate, read_tree, transcript};

/// A fixture repository with `out/` already built, to break in one way.
struct Broken {
    _tmp: tempfile::TempDir,
    root: Utf8PathBuf,
    before: hydrate::Tree,
}

impl Broken {
    fn new() -> Broken {
        let (tmp, root) = copy_case("basic");
        let out = hydrate(&root, &["build", "--all"]);
        assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
        let before = read_tree(&root.join("out"));
        Broken {
            _tmp: tmp,
            root,
            before,
        }
    }

    fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let path = self.root.join(rel);
        fs_err::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        fs_err::write(path, bytes).expect("write");
    }

    fn append(&self, rel: &str, text: &str) {
        let mut old = fs_err::read_to_string(self.root.join(rel)).expect("read");
        old.push_str(text);
        self.write(rel, old);
    }

    /// Runs `build --all`; asserts the exit code, that the message names `file`, that it took
    /// less than 20 s, that `out/` did not change; returns the transcript.
    fn build_fails(&self, code: i32, file: &str) -> String {
        let started = Instant::now();
        let out = hydrate(&self.root, &["build", "--all"]);
        let took = started.elapsed();
        let text = transcript(&out);
        assert_eq!(out.status.code(), Some(code), "{text}");
        assert!(text.contains(file), "the message should name `{file}`:\n{text}");
        assert!(!text.contains("panicked"), "{text}");
        assert!(took < Duration::from_secs(20), "took {took:?}");
        assert_eq!(
            self.before,
            read_tree(&self.root.join("out")),
            "out/ changed after a failed build:\n{text}"
        );
        text
    }
}

#[cfg(unix)]
fn symlink(target: impl AsRef<std::path::Path>, link: &Utf8Path) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// See: issue 11 (an environment file linked to `/proc/self/environ` was read and its content,
/// environment variables, printed in the error).
#[cfg(unix)]
#[test]
fn a_symlink_out_of_the_repository_is_refused_and_nothing_of_its_target_is_printed() {
    let b = Broken::new();
    fs_err::remove_file(b.root.join("environments/dev.yaml")).unwrap();
    symlink("/proc/self/environ", &b.root.join("environments/dev.yaml"));
    let text = b.build_fails(2, "environments/dev.yaml");
    assert!(text.contains("symbolic link"), "{text}");
    assert!(!text.contains("PATH="), "the target's content leaked:\n{text}");
    assert!(!text.contains("/proc"), "the target is named:\n{text}");
}

#[cfg(unix)]
#[test]
fn a_component_folder_linked_from_outside_is_refused() {
    let b = Broken::new();
    let outside = tempfile::tempdir().unwrap();
    fs_err::write(outside.path().join("component.yaml"), "manifests: []\n").unwrap();
    symlink(outside.path(), &b.root.join("apps/evil"));
    b.build_fails(2, "apps/evil");
}

#[cfg(unix)]
#[test]
fn a_manifest_linked_to_a_system_file_is_refused() {
    let b = Broken::new();
    symlink("/etc/passwd", &b.root.join("apps/blog/passwd.yaml"));
    let text = b.build_fails(2, "apps/blog/passwd.yaml");
    assert!(!text.contains("root:"), "{text}");
}

#[cfg(unix)]
#[test]
fn a_link_inside_the_repository_is_followed() {
    let b = Broken::new();
    fs_err::rename(
        b.root.join("apps/blog/deployment.yaml"),
        b.root.join("apps/blog/real.yaml"),
    )
    .unwrap();
    symlink("real.yaml", &b.root.join("apps/blog/deployment.yaml"));
    let out = hydrate(&b.root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let b = Broken::new();
    let fifo = b.root.join("apps/blog/pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(fifo.as_str()).status();
    if !made.is_ok_and(|s| s.success()) {
        crate::support::cannot_run("`mkfifo` is not available");
        return;
    }
    b.build_fails(2, "apps/blog/pipe.yaml");
}

#[test]
fn an_oversized_input_is_refused_before_parsing() {
    let b = Broken::new();
    let mut text = String::from("description: \"");
    text.push_str(&"a".repeat(50 * 1024 * 1024));
    text.push_str("\"\n");
    b.write("apps/blog/component.yaml", text);
    let text = b.build_fails(2, "apps/blog/component.yaml");
    assert!(text.contains("MiB"), "{text}");
}

/// See: issue 11 (a binary file no input names broke the build).
#[test]
fn a_binary_file_nobody_names_is_ignored_and_one_named_is_an_error() {
    let b = Broken::new();
    b.write("apps/blog/logo.png", [0x89, b'P', b'N', b'G', 0xff, 0xfe, 0x00]);
    b.write("apps/blog/.deployment.yaml.swp", [0xff, 0x00, 0xc3]);
    let out = hydrate(&b.root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let b = Broken::new();
    b.write("apps/blog/bin.yaml", [0xff, 0xfe, b'a']);
    b.write(
        "apps/blog/component.yaml",
        "namespace: web\nlayer: apps\nmanifests: [deployment.yaml, bin.yaml]\n",
    );
    let text = b.build_fails(2, "apps/blog/component.yaml");
    assert!(text.contains("not UTF-8"), "{text}");
}

/// See: issue 11 (keys `1:` and `"1":` silently merged).
#[test]
fn keys_equal_as_text_are_refused() {
    let b = Broken::new();
    b.append("apps/shop/component.yaml", "lint:\n  allow: []\n");
    b.append(
        "environments/prod.yaml",
        "  blog:\n    values:\n      1: a\n      \"1\": b\n",
    );
    b.build_fails(2, "environments/prod.yaml");
}

/// See: issue 11 (`environments/.yaml` became an environment with an empty name).
#[test]
fn environment_file_names_are_checked() {
    let b = Broken::new();
    b.write("environments/.yaml", "root_domain: example.org\n");
    let out = hydrate(&b.root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "a hidden file is not an environment");
    b.write("environments/dev.local.yaml", "root_domain: example.org\n");
    b.build_fails(2, "environments/dev.local.yaml");
}

/// See: issue 11 (`metadata.name: a/b` made a folder in `out/`).
#[test]
fn object_names_that_are_paths_are_refused() {
    for name in ["a/b", "..", "UPPER", "x\\ny"] {
        let b = Broken::new();
        b.write(
            "apps/blog/deployment.yaml",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{name}\"\n"),
        );
        b.build_fails(2, "apps/blog/deployment.yaml");
    }
}

#[test]
fn yaml_bombs_and_depth_are_bounded() {
    let b = Broken::new();
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 {
            "a".to_string()
        } else {
            format!("l{}", i - 1)
        };
        bomb.push_str(&format!(
            "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    b.write("apps/blog/deployment.yaml", &bomb);
    b.build_fails(2, "apps/blog/deployment.yaml");
    let deep = format!("{}x{}", "[".repeat(100_000), "]".repeat(100_000));
    b.write("apps/blog/deployment.yaml", &deep);
    b.build_fails(2, "apps/blog/deployment.yaml");
}

#[test]
fn usage_errors_are_exit_2() {
    let b = Broken::new();
    for args in [
        &["build", "-j", "0", "prod"][..],
        &["build", "-j", "10000", "prod"],
        &["build", "qa"],
        &["lint", "--format", "yaml"],
    ] {
        let out = hydrate(&b.root, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", transcript(&out));
    }
}

// ---------------------------------------------------------------- no secret ever printed

const LEAK: &str = "hunter2-LEAKED-VALUE";

/// Every output of build, lint (text and JSON), diff (every format) and check for a repository
/// broken by `break_it`; none may hold [`LEAK`].
fn outputs_of(break_it: impl Fn(&Broken)) -> Vec<(String, String)> {
    let b = Broken::new();
    break_it(&b);
    let runs: [&[&str]; 7] = [
        &["build", "--all"],
        &["lint", "--all"],
        &["lint", "--all", "--format", "json"],
        &["diff", "--all", "--worktree"],
        &["diff", "--all", "--worktree", "--format", "markdown"],
        &["diff", "--all", "--worktree", "--format", "json"],
        &["check", "--all", "--worktree"],
    ];
    runs.iter()
        .map(|args| (args.join(" "), transcript(&hydrate(&b.root, args))))
        .collect()
}

fn assert_no_leak(what: &str, break_it: impl Fn(&Broken)) {
    for (args, text) in outputs_of(break_it) {
        assert!(
            !text.contains(LEAK),
            "{what}: `hydrate {args}` printed the value:\n{text}"
        );
        assert!(!text.contains("panicked"), "{what}: `hydrate {args}`:\n{text}");
    }
}

#[test]
fn no_output_shows_a_secret_value() {
    assert_no_leak("a password in chart values", |b| {
        b.append(
            "environments/prod.yaml",
            &format!("      auth: {{password: {LEAK}}}\n"),
        );
    });
    assert_no_leak("a password under a key that does not exist", |b| {
        b.append(
            "environments/prod.yaml",
            &format!("    auth: {{password: {LEAK}}}\n"),
        );
    });
    assert_no_leak("a plaintext Secret manifest", |b| {
        b.write(
            "apps/blog/deployment.yaml",
            format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  token: {LEAK}\n"),
        );
    });
    assert_no_leak("a Secret wrapped in a List", |b| {
        b.write(
            "apps/blog/deployment.yaml",
            format!(
                "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n      name: s\n    \
                 data:\n      key: {LEAK}\n"
            ),
        );
    });
    assert_no_leak("a SOPS file with a plaintext value", |b| {
        let path = "secrets/prod/shop/shop-db.sops.yaml";
        let text = fs_err::read_to_string(b.root.join(path)).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if let Some(l) = lines.iter_mut().find(|l| l.trim_start().starts_with("password:")) {
            *l = format!("    password: {LEAK}");
        }
        b.write(path, lines.join("\n") + "\n");
    });
    assert_no_leak("a YAML error in a secret file", |b| {
        b.write(
            "secrets/prod/shop/shop-db.sops.yaml",
            format!("stringData:\n  password: {LEAK}\n   bad: [\n"),
        );
    });
    assert_no_leak("a literal credential in a workload's env", |b| {
        b.write(
            "apps/blog/component.yaml",
            format!(
                "namespace: web\nlayer: apps\nworkload:\n  image: ghcr.io/x/y:1.0.0\n  env:\n    DB_PASSWORD: {LEAK}\n"
            ),
        );
    });
    assert_no_leak("a credential with a bad variable in it", |b| {
        b.append(
            "environments/prod.yaml",
            &format!("    auth: {{password: \"{LEAK}${{nope}}\"}}\n"),
        );
    });
    assert_no_leak("a credential of the wrong shape", |b| {
        b.write(
            "apps/blog/component.yaml",
            format!(
                "namespace: web\nlayer: apps\nworkload:\n  image: ghcr.io/x/y:1.0.0\n  env:\n    DB_PASSWORD: {{secret: {LEAK}}}\n"
            ),
        );
    });
}

// ---------------------------------------------------------------- Markdown cannot be forged

/// See: issue 11 (a newline in an image tag went straight into `diff --format markdown`; a value
/// could forge a heading and open `<!--`).
#[test]
fn a_value_cannot_forge_markdown() {
    let b = Broken::new();
    b.write(
        "apps/blog/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: blog\nspec:\n  selector:\n    matchLabels: {app: blog}\n  \
         template:\n    metadata:\n      labels: {app: blog}\n    spec:\n      containers:\n        - name: blog\n          \
         image: \"ghcr.io/example/blog:1.2.4\\n## Approved by security\\n<!--\"\n",
    );
    let lint = hydrate(&b.root, &["lint", "prod"]);
    assert_eq!(
        lint.status.code(),
        Some(1),
        "an invalid reference is a finding: {}",
        transcript(&lint)
    );
    let out = hydrate(&b.root, &["diff", "prod", "--worktree", "--format", "markdown"]);
    let md = String::from_utf8_lossy(&out.stdout);
    for line in md.lines() {
        assert!(!line.starts_with("## Approved"), "a heading was forged:\n{md}");
        assert!(
            !line.trim_start().starts_with("<!--") || line.contains("hydrate-diff"),
            "{md}"
        );
    }
}
