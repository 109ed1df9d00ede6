//! The first hour of a new user (issue 13): every stumble of the report, each with a CLI
//! transcript (stdout, stderr and exit code) of what hydrate now says.

use camino::Utf8Path;

use crate::support::{copy_case, git_commit_all, hydrate, hydrate_env, stable_transcript, transcript};

const HELLO: &str = "description: a new app\nworkload:\n  image: nginx:1.27.0\n  ports:\n    - {name: http, port: 80}\n  env:\n    GREETING: hi\nhosts:\n  - hello.${root_domain}\nroute: {service: hello, port: 80}\n";

fn write(root: &Utf8Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs_err::write(path, text).expect("write");
}

fn edit(root: &Utf8Path, rel: &str, from: &str, to: &str) {
    let path = root.join(rel);
    let text = fs_err::read_to_string(&path).expect("read");
    assert!(text.contains(from), "`{from}` is not in {rel}");
    fs_err::write(path, text.replacen(from, to, 1)).expect("write");
}

/// A copy of `tests/cases/basic`, built and committed: a fresh clone of a hydrate repository.
fn cloned() -> (tempfile::TempDir, camino::Utf8PathBuf) {
    let (tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    git_commit_all(&root, "initial");
    (tmp, root)
}

// ------------------------------------------------------------------ 1. check after a build

/// Item 1: `check` after a `build` that is not committed says to commit `out/`, not to build.
#[test]
fn check_after_an_uncommitted_build_says_commit() {
    let (_tmp, root) = cloned();
    write(&root, "apps/hello/component.yaml", HELLO);
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    // dev is not built yet: build it; prod is built: commit it.
    insta::assert_snapshot!("check_after_build_prod", transcript(&hydrate(&root, &["check"])));
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    insta::assert_snapshot!("check_after_build_all", transcript(&hydrate(&root, &["check"])));
    // On disk everything is fresh: `--worktree` agrees, and so does `diff --worktree`.
    assert_eq!(hydrate(&root, &["check", "--worktree"]).status.code(), Some(0));
    assert_eq!(
        hydrate(&root, &["diff", "--all", "--worktree"]).status.code(),
        Some(0)
    );
    git_commit_all(&root, "hello");
    let out = hydrate(&root, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
}

/// Item 1 and 9: `diff` compares with `HEAD` by default, as `check` does; an added workload
/// gets its `Images:` line.
#[test]
fn diff_compares_with_head_and_lists_the_images_of_an_added_workload() {
    let (_tmp, root) = cloned();
    write(&root, "apps/hello/component.yaml", HELLO);
    hydrate(&root, &["build", "prod"]);
    let out = hydrate(&root, &["diff", "prod"]);
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.split("\nadded ").next().unwrap_or_default();
    insta::assert_snapshot!("diff_added_workload_summary", summary);
    let out = hydrate(&root, &["diff", "prod", "--worktree"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
}

/// Item 9: a bare `diff` says to name an environment or pass `--all`, with the known ones.
#[test]
fn a_bare_diff_names_all_and_the_environments() {
    let (_tmp, root) = copy_case("basic");
    insta::assert_snapshot!("bare_diff", transcript(&hydrate(&root, &["diff"])));
}

/// Item 1: without a commit yet, `diff` says what to do.
#[test]
fn diff_without_a_commit_says_commit_or_worktree() {
    let (_tmp, root) = copy_case("basic");
    git2::Repository::init(&root).expect("git init");
    insta::assert_snapshot!("diff_no_commit", transcript(&hydrate(&root, &["diff", "prod"])));
}

// ------------------------------------------------------------------ 2. keygen on a fresh machine

/// Item 2: the README's first step works on a fresh machine: the folders are created (0700)
/// and named; an existing folder keeps its mode.
#[test]
fn keygen_creates_the_missing_folders() {
    let (tmp, root) = copy_case("basic");
    let home = root.parent().expect("a parent").join("home");
    fs_err::create_dir_all(home.join(".config")).unwrap();
    let out_file = home.join(".config/hydrate/prod.agekey");
    let out = hydrate_env(
        &root,
        &["secret", "keygen", "--out", out_file.as_str()],
        &[("HOME", home.as_str())],
    );
    let tmp = camino::Utf8Path::from_path(tmp.path()).unwrap();
    insta::assert_snapshot!("keygen_fresh_machine", stable_transcript(&out, tmp));
    assert!(out_file.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Utf8Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home.join(".config/hydrate")), 0o700);
        assert_eq!(mode(&out_file), 0o600);
        assert_ne!(
            mode(&home.join(".config")),
            0o700,
            "an existing folder is left alone"
        );
    }
    // A second time: the identity is never overwritten.
    let again = hydrate_env(
        &root,
        &["secret", "keygen", "--out", out_file.as_str()],
        &[("HOME", home.as_str())],
    );
    assert_eq!(again.status.code(), Some(2), "{}", transcript(&again));
}

// ------------------------------------------------------------------ 3. undeclared Secrets and keys

/// Item 3: `seal` refuses a key and a Secret the component does not declare, with a
/// did-you-mean and where to declare them; and a key left out.
#[test]
fn seal_refuses_what_the_component_does_not_declare() {
    let (_tmp, root) = copy_case("basic");
    let seal = |args: &[&str]| {
        let mut all = vec!["secret", "seal", "prod", "shop"];
        all.extend_from_slice(args);
        transcript(&hydrate(&root, &all))
    };
    insta::assert_snapshot!("seal_undeclared_key", seal(&["shop-db", "pasword=x", "--force"]));
    insta::assert_snapshot!("seal_undeclared_secret", seal(&["shop-dbb", "password=x"]));
    insta::assert_snapshot!(
        "seal_unknown_key_without_match",
        seal(&["shop-db", "other=x", "--force"])
    );
    assert!(!root.join("secrets/prod/shop/shop-dbb.sops.yaml").exists());
}

/// Item 3: a sealed file no component declares is flagged by `build` (a warning) and by
/// `secret verify` (a finding).
#[test]
fn a_stray_sealed_file_is_flagged_by_build_and_verify() {
    let (_tmp, root) = copy_case("basic");
    fs_err::copy(
        root.join("secrets/prod/shop/shop-db.sops.yaml"),
        root.join("secrets/prod/shop/shop-foo.sops.yaml"),
    )
    .unwrap();
    fs_err::create_dir_all(root.join("secrets/prod/nosuch")).unwrap();
    fs_err::copy(
        root.join("secrets/prod/shop/shop-db.sops.yaml"),
        root.join("secrets/prod/nosuch/x.sops.yaml"),
    )
    .unwrap();
    let out = hydrate(&root, &["lint", "prod"]);
    let text = transcript(&out);
    let findings: Vec<&str> = text
        .split("\n\n")
        .filter(|f| f.contains("undeclared-secret]"))
        .collect();
    insta::assert_snapshot!("lint_stray_sealed_files", findings.join("\n\n"));
    insta::assert_snapshot!(
        "verify_stray_sealed_files",
        transcript(&hydrate(&root, &["secret", "verify", "prod"]))
    );
}

// ------------------------------------------------------------------ 4. taking the repository over

/// Item 4: new keys, re-seal everything whose values I provide, a checklist of what had none;
/// `rotate` with a key that cannot decrypt the old files is a finding with the next command.
#[test]
fn take_over_with_own_keys_reseals_and_lists_what_is_missing() {
    let (tmp, root) = cloned();
    let tmp = camino::Utf8Path::from_path(tmp.path()).unwrap().to_owned();
    let home = tmp.join("home");
    fs_err::create_dir_all(&home).unwrap();
    let vars = [("HOME", home.as_str())];
    let key = home.join("prod.agekey");
    let out = hydrate_env(&root, &["secret", "keygen", "--out", key.as_str()], &vars);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let recipient = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // The operator replaces the recipients of prod in `.sops.yaml` with their own.
    write(
        &root,
        ".sops.yaml",
        &format!("creation_rules:\n  - path_regex: ^secrets/.*\\.sops\\.yaml$\n    age: {recipient}\n"),
    );
    let with_key = [("HOME", home.as_str()), ("SOPS_AGE_KEY_FILE", key.as_str())];
    insta::assert_snapshot!(
        "rotate_with_a_key_that_cannot_decrypt",
        stable_transcript(
            &hydrate_env(&root, &["secret", "rotate", "prod"], &with_key),
            &tmp
        )
    );
    // No values yet: a checklist, nothing written.
    let values = home.join("prod-values");
    fs_err::create_dir_all(&values).unwrap();
    let before = fs_err::read(root.join("secrets/prod/shop/shop-db.sops.yaml")).unwrap();
    insta::assert_snapshot!(
        "reseal_without_values",
        stable_transcript(
            &hydrate_env(
                &root,
                &["secret", "reseal", "prod", "--from-dir", values.as_str()],
                &vars
            ),
            &tmp
        )
    );
    assert_eq!(
        before,
        fs_err::read(root.join("secrets/prod/shop/shop-db.sops.yaml")).unwrap()
    );
    // A value for an undeclared key is listed, not sealed.
    write(&values.clone(), "shop/shop-db.env", "pasword=s3cret-value\n");
    let out = hydrate_env(
        &root,
        &["secret", "reseal", "prod", "--from-dir", values.as_str()],
        &vars,
    );
    insta::assert_snapshot!("reseal_with_a_misspelt_key", stable_transcript(&out, &tmp));
    // With the values: sealed for the new recipient, decryptable with the new key.
    write(
        &values.clone(),
        "shop/shop-db.env",
        "# the shop's database\npassword=s3cret-value\n",
    );
    let out = hydrate_env(
        &root,
        &["secret", "reseal", "prod", "--from-dir", values.as_str()],
        &vars,
    );
    let text = stable_transcript(&out, &tmp);
    assert!(!text.contains("s3cret-value"), "a value was printed:\n{text}");
    insta::assert_snapshot!("reseal_with_values", text);
    let out = hydrate_env(&root, &["secret", "verify", "prod"], &with_key);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let out = hydrate(&root, &["build", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
}

// ------------------------------------------------------------------ 6. lock with a local mirror

/// Item 6: a mirror named otherwise says how files must be named and what it holds; a mirror
/// in Helm's own layout (a folder per repository holding `index.yaml`) works.
#[test]
fn lock_reads_a_mirror_in_helm_layout_and_explains_the_names() {
    let (tmp, root) = copy_case("basic");
    let tmp = camino::Utf8Path::from_path(tmp.path()).unwrap();
    let mirror = tmp.join("mirror");
    let index = "apiVersion: v1\nentries:\n  shop:\n    - name: shop\n      version: 2.3.4\n      digest: 0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080706050403020100f\n      urls: [shop-2.3.4.tgz]\n";
    let out = hydrate(&root, &["lock", "--index-dir", "../mirror"]);
    insta::assert_snapshot!("lock_mirror_missing", transcript(&out));
    write(&mirror, "shop.index.yaml", index);
    let out = hydrate(&root, &["lock", "--index-dir", "../mirror"]);
    insta::assert_snapshot!("lock_mirror_named_otherwise", transcript(&out));
    write(&mirror, "ghcr_io_example_charts/index.yaml", index);
    let traefik = index.replace("shop", "traefik").replace("2.3.4", "41.7.0");
    write(&mirror, "traefik.github.io_charts.yaml", &traefik);
    let out = hydrate(&root, &["lock", "--index-dir", "../mirror"]);
    insta::assert_snapshot!("lock_mirror_in_helm_layout", transcript(&out));
    assert!(root.join("hydrate.lock").is_file());
}

// ------------------------------------------------------------------ 7. positions and hints

/// Item 7: a key indented too little gets "indent it", not "remove it".
#[test]
fn a_key_indented_too_little_gets_indent_it() {
    let (_tmp, root) = copy_case("basic");
    write(
        &root,
        "apps/hello/component.yaml",
        &HELLO.replace("    GREETING: hi\n", "    GREETING: hi\n  TZ: Europe/Brussels\n"),
    );
    insta::assert_snapshot!("indent_hint", transcript(&hydrate(&root, &["build", "prod"])));
}

/// Item 7: an unknown component in an environment file is pointed at by its key.
#[test]
fn an_unknown_component_points_at_its_key() {
    let (_tmp, root) = copy_case("basic");
    edit(&root, "environments/prod.yaml", "  shop:\n", "  shopp:\n");
    insta::assert_snapshot!(
        "unknown_component",
        transcript(&hydrate(&root, &["build", "prod"]))
    );
}

/// Item 7: an unknown variable is pointed at by its `$`, in plain and quoted strings.
#[test]
fn an_unknown_variable_points_at_its_dollar() {
    let (_tmp, root) = copy_case("basic");
    edit(
        &root,
        "apps/shop/component.yaml",
        "host: shop.${root_domain}",
        "host: shop.${rootdomain}",
    );
    insta::assert_snapshot!(
        "unknown_variable_plain",
        transcript(&hydrate(&root, &["build", "prod"]))
    );
    edit(
        &root,
        "apps/shop/component.yaml",
        "host: shop.${rootdomain}",
        "host: \"sh\\\"op.${rootdomain}\"",
    );
    insta::assert_snapshot!(
        "unknown_variable_quoted",
        transcript(&hydrate(&root, &["build", "prod"]))
    );
}

/// Item 7: a tab in the indentation is pointed at where it is, not the line before.
#[test]
fn a_tab_points_at_the_tab() {
    let (_tmp, root) = copy_case("basic");
    edit(
        &root,
        "environments/prod.yaml",
        "  region: ams3",
        " \tregion: ams3",
    );
    insta::assert_snapshot!(
        "tab_after_a_scalar",
        transcript(&hydrate(&root, &["build", "prod"]))
    );
}

// ------------------------------------------------------------------ 10. envs names environments

/// Item 10: a problem found by `envs` names the environments it belongs to.
#[test]
fn envs_names_the_environments_of_a_problem() {
    let (_tmp, root) = copy_case("basic");
    edit(
        &root,
        "apps/shop/component.yaml",
        "host: shop.${root_domain}",
        "host: shop.${rootdomain}",
    );
    // And one only dev has.
    edit(
        &root,
        "environments/dev.yaml",
        "  blog:\n",
        "  nope: {enabled: false}\n  blog:\n",
    );
    insta::assert_snapshot!("envs_error", transcript(&hydrate(&root, &["envs"])));
}

// ------------------------------------------------------------------ completions and man page

/// Shell completions and the man page come from the clap definitions: every subcommand is in
/// each.
#[test]
fn completions_and_man_pages_name_every_subcommand() {
    let (_tmp, root) = copy_case("basic");
    let command = <hydrate::cli::Cli as clap::CommandFactory>::command();
    let mut names: Vec<String> = Vec::new();
    for sub in command.get_subcommands() {
        names.push(sub.get_name().to_string());
        names.extend(sub.get_subcommands().map(|s| s.get_name().to_string()));
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = hydrate(&root, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        for name in &names {
            assert!(text.contains(name.as_str()), "{shell} completions lack `{name}`");
        }
    }
    let out = hydrate(&root, &["man"]);
    assert_eq!(out.status.code(), Some(0));
    // roff writes `-` as `\-`.
    let page = String::from_utf8_lossy(&out.stdout).replace("\\-", "-");
    assert!(page.starts_with(".ie") || page.contains(".TH hydrate"), "{page}");
    for name in command.get_subcommands().map(|s| s.get_name()) {
        assert!(page.contains(name), "the man page lacks `{name}`");
    }
    let out = hydrate(&root, &["man", "--out", "man"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    for name in &names {
        let top = root.join(format!("man/hydrate-{name}.1"));
        let nested = root.join(format!("man/hydrate-secret-{name}.1"));
        assert!(top.is_file() || nested.is_file(), "no man page for `{name}`");
    }
}
