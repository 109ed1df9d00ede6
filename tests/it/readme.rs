//! The README as a new user follows it (issue 13): every command of its ```sh blocks runs, as
//! written, in a scratch copy of this repository made a git clone, with `hydrate` on `PATH` being
//! the binary under test and `HOME` a fresh folder. A command succeeds unless its comment says
//! `exit N`. No network: `~/helm-mirror` is laid out in Helm's folder layout from
//! `../shared/fixtures/charts/<slug>/index.yaml`.
//!
//! Lines not run: `cargo test`, `cargo install`, `cargo bench` (the test suite and installing
//! are what runs this); `cargo run -- ARGS` runs as `hydrate ARGS`.

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

use crate::support::{cannot_run, find_tool, git_commit_all, hydrate, repo_root, shared, transcript};

/// The command lines of every ```sh block of `markdown`, with the exit code each expects.
fn commands(markdown: &str) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            inside = !inside && trimmed == "```sh";
            continue;
        }
        if !inside || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (command, comment) = match trimmed.find("   #").or_else(|| trimmed.find("  #")) {
            Some(at) => (trimmed[..at].trim(), &trimmed[at..]),
            None => (trimmed, ""),
        };
        if ["cargo test", "cargo install", "cargo bench"]
            .iter()
            .any(|skip| command.starts_with(skip))
        {
            continue;
        }
        let command = command.replacen("cargo run -- ", "hydrate ", 1);
        let code = comment
            .split("exit ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        out.push((command, code));
    }
    out
}

/// A scratch copy of the repository's inputs and `out/` (not `target/`, `.git`, big files).
fn scratch_copy(dst: &Utf8Path) {
    let src = repo_root();
    for entry in fs_err::read_dir(&src).expect("the repository is readable") {
        let entry = entry.expect("an entry");
        let name = entry.file_name().to_string_lossy().to_string();
        let big = entry
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() > 8 * 1024 * 1024);
        if matches!(name.as_str(), "target" | ".git") || big {
            continue;
        }
        let from = src.join(&name);
        if from.is_dir() {
            crate::support::copy_dir(from.as_std_path(), dst.join(&name).as_std_path(), &[]);
        } else {
            fs_err::copy(&from, dst.join(&name)).expect("copy");
        }
    }
}

/// `~/helm-mirror/<slug>/index.yaml` for every repository of the chart fixtures.
fn helm_mirror(charts: &Utf8Path, mirror: &Utf8Path) {
    for entry in fs_err::read_dir(charts).expect("fixtures are readable") {
        let dir = Utf8PathBuf::from_path_buf(entry.expect("an entry").path()).expect("UTF-8");
        if dir.join("index.yaml").is_file() {
            let to = mirror.join(dir.file_name().expect("a name"));
            fs_err::create_dir_all(&to).expect("mkdir");
            fs_err::copy(dir.join("index.yaml"), to.join("index.yaml")).expect("copy");
        }
    }
}

fn replace_in(path: &Utf8Path, from: &str, to: &str) {
    let text = fs_err::read_to_string(path).expect("readable");
    assert!(text.contains(from), "`{from}` is not in {path}");
    fs_err::write(path, text.replace(from, to)).expect("writable");
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let Some(charts) = shared("fixtures/charts") else {
        return;
    };
    if find_tool("git").is_none() {
        cannot_run("`git` is not on PATH (the README commits `out/`)");
        return;
    }
    let readme = fs_err::read_to_string(repo_root().join("README.md")).expect("README.md");
    let commands = commands(&readme);
    assert!(
        commands
            .iter()
            .any(|(c, _)| c.starts_with("hydrate secret keygen"))
            && commands
                .iter()
                .any(|(c, _)| c.starts_with("hydrate lock --index-dir")),
        "the README's first steps are gone: {commands:?}"
    );

    let tmp = tempfile::tempdir().expect("a temp dir");
    let tmp = Utf8PathBuf::from_path_buf(tmp.path().to_path_buf()).expect("UTF-8 temp path");
    let (root, home, bin) = (tmp.join("clone"), tmp.join("home"), tmp.join("bin"));
    for dir in [&root, &home, &bin] {
        fs_err::create_dir_all(dir).expect("mkdir");
    }
    scratch_copy(&root);
    // The fixtures hold the newest traefik and kube-prometheus-stack that could be had, not the
    // pinned versions (see `../shared/fixtures/charts/README.md`, "Substitutions"): the scratch
    // copy pins those, so that a lock from the mirror can succeed.
    replace_in(
        &root.join("platform/traefik/component.yaml"),
        "version: 41.7.0",
        "version: 41.3.0",
    );
    replace_in(
        &root.join("platform/kube-prometheus-stack/component.yaml"),
        "version: 88.6.4",
        "version: 88.5.3",
    );
    let built = hydrate(&root, &["build", "--all"]);
    assert_eq!(built.status.code(), Some(0), "{}", transcript(&built));
    git_commit_all(&root, "a fresh clone");
    helm_mirror(&charts, &home.join("helm-mirror"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_hydrate"), bin.join("hydrate")).expect("symlink");

    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let mut log = String::new();
    for (command, expected) in &commands {
        let out = Command::new("sh")
            .args(["-c", command])
            .current_dir(&root)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "New User")
            .env("GIT_AUTHOR_EMAIL", "new.user@example.invalid")
            .env("GIT_COMMITTER_NAME", "New User")
            .env("GIT_COMMITTER_EMAIL", "new.user@example.invalid")
            .output()
            .expect("sh runs");
        log.push_str(&format!("$ {command}\n{}\n", transcript(&out)));
        assert_eq!(
            out.status.code(),
            Some(*expected),
            "README command `{command}` should exit {expected}:\n{log}"
        );
        let text = transcript(&out);
        assert!(
            !text.contains(tmp.as_str()),
            "an absolute path was printed:\n{log}"
        );
    }
    assert!(home.join(".config/hydrate/prod.agekey").is_file(), "{log}");
    assert!(root.join("hydrate.lock").is_file(), "{log}");
    // What the walk-through says `check` prints after the build.
    assert!(
        log.contains("fix: commit `out/`: `git add out/ && git commit`"),
        "{log}"
    );
}

#[test]
fn commands_are_read_from_sh_blocks_with_their_exit_codes() {
    let md = "x\n```sh\nhydrate build prod   # writes\n\n# a comment\ncargo test --locked\ncargo run -- check  # exit 1: stale\n```\n```text\nhydrate no\n```\n";
    assert_eq!(
        commands(md),
        [
            ("hydrate build prod".to_string(), 0),
            ("hydrate check".to_string(), 1)
        ]
    );
}

/// `docs/lint.md` (a duplicate of `docs/lints.md`) is gone: nothing may link to it (issue 13,
/// item 8).
#[test]
fn nothing_links_to_the_removed_lint_doc() {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    for entry in fs_err::read_dir(root.join("docs")).expect("docs/") {
        files.push(Utf8PathBuf::from_path_buf(entry.expect("an entry").path()).expect("UTF-8"));
    }
    assert!(!root.join("docs/lint.md").exists());
    for file in files {
        let text = fs_err::read_to_string(&file).expect("readable");
        assert!(
            !text.replace("lints.md", "").contains("lint.md"),
            "{file} links to docs/lint.md"
        );
    }
}
