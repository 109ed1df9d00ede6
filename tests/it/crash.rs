//! A build killed between any two file-system calls leaves every `out/<env>` complete, the
//! previous tree or the new one, and the next build cleans up after it.
//!
//! `strace -e inject=<syscall>:signal=KILL:when=N` kills the real binary on entering its N-th call
//! of `<syscall>`. A first traced run counts each call; then every N is tried for the calls that
//! change the file system and for `openat` (which creates the files), and every 16th N for the
//! calls that only read. The binary runs with `-j 1` so that its work happens on one thread:
//! strace counts per thread, and the main thread makes only the dynamic loader's few calls at
//! start-up, before `out/` is touched.
//!
//! Needs `strace` (installed by `.ci/run`); without it the tests say so on stderr and pass, or fail
//! when `HYDRATE_TESTS_STRICT=1`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output};

use camino::Utf8Path;
use hydrate::Tree;

use crate::support::{copy_case, hydrate, read_tree, transcript, write_tree};

/// Calls that change the file system (each N is tried) and calls that only read (sampled).
const WRITING: &[&str] = &[
    "openat",
    "mkdir",
    "mkdirat",
    "linkat",
    "link",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "renameat2",
    "write",
    "fsync",
    "fdatasync",
    "syncfs",
    "flock",
    "ftruncate",
];
const READING: &[&str] = &[
    "close",
    "read",
    "statx",
    "newfstatat",
    "getdents64",
    "lseek",
    "fcntl",
];
const READ_STEP: usize = 16;

/// `strace` on PATH, or `None` after saying why the test does not run (a failure when strict).
fn strace() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|p| p.join("strace"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let strict = std::env::var_os("HYDRATE_TESTS_STRICT").is_some_and(|v| v == "1");
        let _ = writeln!(
            std::io::stderr(),
            "crash tests: `strace` is not on PATH, so the kill-at-every-call tests did not run \
             (install it: `apt-get install strace`)"
        );
        assert!(!strict, "HYDRATE_TESTS_STRICT=1 and `strace` is missing");
    }
    found
}

/// Runs `hydrate <args> -j 1` under strace with `strace_args`, in `root`.
fn traced(strace: &PathBuf, root: &Utf8Path, strace_args: &[String], args: &[&str]) -> Output {
    Command::new(strace)
        .args(["-f", "-qq"])
        .args(strace_args)
        .arg(env!("CARGO_BIN_EXE_hydrate"))
        .args(args)
        .args(["-j", "1"])
        .current_dir(root)
        .env_clear()
        .env("NO_COLOR", "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("strace runs")
}

/// How many times a build calls each syscall of [`WRITING`] and [`READING`].
fn count_calls(strace: &PathBuf, root: &Utf8Path, args: &[&str]) -> BTreeMap<String, usize> {
    let log = root.join("../trace.txt");
    let set = [WRITING, READING].concat().join(",");
    let out = traced(
        strace,
        root,
        &[format!("--trace={set}"), "-o".into(), log.to_string()],
        args,
    );
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let mut counts = BTreeMap::new();
    for line in fs_err::read_to_string(&log).unwrap().lines() {
        // `1234  openat(...`; `<... openat resumed>` lines continue a call already counted.
        let call = line.split_whitespace().nth(1).unwrap_or("");
        if let Some((name, _)) = call.split_once('(')
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            *counts.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

/// Every (syscall, N) to kill at: all of the writing calls, every [`READ_STEP`]-th reading one.
fn kill_points(counts: &BTreeMap<String, usize>) -> Vec<(String, usize)> {
    let mut points = Vec::new();
    for (name, &n) in counts {
        let step = if READING.contains(&name.as_str()) {
            READ_STEP
        } else {
            1
        };
        points.extend((1..=n).step_by(step).map(|i| (name.clone(), i)));
    }
    points
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

/// Puts `out/` back to exactly the previous trees (fresh files, as after a checkout).
fn reset_out(out: &Utf8Path, old: &BTreeMap<&str, Tree>) {
    if out.exists() {
        fs_err::remove_dir_all(out).unwrap();
    }
    for (env, tree) in old {
        write_tree(tree, &out.join(env));
    }
}

/// The basic case with `out/` built from its inputs, then inputs changed so that the next build
/// writes different trees (changed files, a removed folder). Returns the previous and new trees.
fn case_with_old_and_new(envs: &[&'static str]) -> (tempfile::TempDir, camino::Utf8PathBuf, Trees, Trees) {
    let (tmp, root) = copy_case("basic");
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let old: Trees = envs
        .iter()
        .map(|e| (*e, read_tree(&root.join("out").join(e))))
        .collect();
    let prod = fs_err::read_to_string(root.join("environments/prod.yaml")).unwrap();
    fs_err::write(
        root.join("environments/prod.yaml"),
        prod.replace("example.org", "example.net"),
    )
    .unwrap();
    fs_err::remove_dir_all(root.join("apps/blog")).unwrap();
    let dev = fs_err::read_to_string(root.join("environments/dev.yaml")).unwrap();
    let dev = dev.replace("components:\n  blog:\n    enabled: false\n", "");
    assert!(!dev.contains("blog"), "{dev}");
    fs_err::write(root.join("environments/dev.yaml"), dev).unwrap();
    fs_err::write(
        root.join("apps/shop/component.yaml"),
        fs_err::read_to_string(root.join("apps/shop/component.yaml"))
            .unwrap()
            .replace("replicas: 1", "replicas: 4"),
    )
    .unwrap();
    let out = hydrate(&root, &["build", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    let new: Trees = envs
        .iter()
        .map(|e| (*e, read_tree(&root.join("out").join(e))))
        .collect();
    for env in envs {
        assert_ne!(old[env], new[env], "the inputs change `out/{env}`");
    }
    (tmp, root, old, new)
}

type Trees = BTreeMap<&'static str, Tree>;

/// Which of `old` / `new` `out/<env>` is, or a panic naming the kill point.
fn which(root: &Utf8Path, env: &str, old: &Trees, new: &Trees, at: &str) -> &'static str {
    let now = read_tree(&root.join("out").join(env));
    if now == new[env] {
        "new"
    } else if now == old[env] {
        "old"
    } else {
        panic!(
            "killed at {at}: `out/{env}` is neither the previous nor the new tree ({} files; exists: {})",
            now.len(),
            root.join("out").join(env).is_dir()
        )
    }
}

#[test]
fn killed_at_any_call_a_build_leaves_the_old_or_the_new_tree() {
    let Some(strace) = strace() else { return };
    let (_tmp, root, old, new) = case_with_old_and_new(&["prod"]);
    let out = root.join("out");
    reset_out(&out, &old);
    let counts = count_calls(&strace, &root, &["build", "prod"]);
    assert!(counts.get("renameat2").is_some_and(|&n| n >= 1), "{counts:?}");
    let points = kill_points(&counts);
    let (mut olds, mut news) = (0, 0);
    for (call, n) in &points {
        reset_out(&out, &old);
        let at = format!("{call} #{n}");
        let run = traced(
            &strace,
            &root,
            &[
                format!("--trace={call}"),
                "-o".into(),
                "/dev/null".into(),
                format!("--inject={call}:signal=KILL:when={n}"),
            ],
            &["build", "prod"],
        );
        match which(&root, "prod", &old, &new, &at) {
            "old" => olds += 1,
            _ => news += 1,
        }
        if run.status.success() {
            assert_eq!(
                which(&root, "prod", &old, &new, &at),
                "new",
                "a finished build wrote the new tree"
            );
        }
        let next = hydrate(&root, &["build", "prod"]);
        assert_eq!(
            next.status.code(),
            Some(0),
            "after a kill at {at}: {}",
            transcript(&next)
        );
        assert_eq!(
            which(&root, "prod", &old, &new, &at),
            "new",
            "the next build after {at}"
        );
        assert_eq!(
            hidden_folders(&out),
            Vec::<String>::new(),
            "left after {at} and a build"
        );
        assert!(!out.join(".hydrate.lock").exists() && !out.join(".hydrate.swap").exists());
    }
    // Kills before the swap leave the old tree, after it the new: both must have happened.
    assert!(
        olds > 0 && news > 0,
        "{olds} old, {news} new over {} kills",
        points.len()
    );
}

#[test]
fn killed_between_two_swaps_the_next_build_restores_every_environment() {
    let Some(strace) = strace() else { return };
    let envs = ["dev", "prod"];
    let (_tmp, root, old, new) = case_with_old_and_new(&envs);
    let out = root.join("out");
    reset_out(&out, &old);
    let counts = count_calls(&strace, &root, &["build", "--all"]);
    assert!(counts.get("renameat2").is_some_and(|&n| n >= 2), "{counts:?}");
    let mut mixed = 0;
    // The calls around the swaps: the renames, the journal's writes and flushes, and (sampled) the
    // removals of the previous trees.
    // (Every call of every kind is covered by the single-environment test above.)
    for (call, step) in [
        ("renameat2", 1),
        ("fsync", 1),
        ("write", 1),
        ("unlink", 3),
        ("rmdir", 3),
    ] {
        for n in (1..=counts.get(call).copied().unwrap_or(0)).step_by(step) {
            reset_out(&out, &old);
            let at = format!("{call} #{n}");
            traced(
                &strace,
                &root,
                &[
                    format!("--trace={call}"),
                    "-o".into(),
                    "/dev/null".into(),
                    format!("--inject={call}:signal=KILL:when={n}"),
                ],
                &["build", "--all"],
            );
            let states: Vec<&str> = envs.iter().map(|e| which(&root, e, &old, &new, &at)).collect();
            if states[0] != states[1] {
                mixed += 1;
            }
            // A build that recovers, then fails to compile, leaves every environment previous or
            // every environment new.
            let dev_file = root.join("environments/dev.yaml");
            let dev = fs_err::read_to_string(&dev_file).unwrap();
            fs_err::write(
                &dev_file,
                "root_domain: Not A Domain\ncluster: {provider: local}\n",
            )
            .unwrap();
            let failed = hydrate(&root, &["build", "--all"]);
            fs_err::write(&dev_file, dev).unwrap();
            assert_eq!(failed.status.code(), Some(2), "{}", transcript(&failed));
            let states: Vec<&str> = envs.iter().map(|e| which(&root, e, &old, &new, &at)).collect();
            assert_eq!(
                states[0], states[1],
                "after a kill at {at} and recovery: {envs:?} are {states:?}"
            );
            assert_eq!(
                hidden_folders(&out),
                Vec::<String>::new(),
                "left after {at} and a recovery"
            );
            let next = hydrate(&root, &["build", "--all"]);
            assert_eq!(
                next.status.code(),
                Some(0),
                "after a kill at {at}: {}",
                transcript(&next)
            );
            for env in envs {
                assert_eq!(which(&root, env, &old, &new, &at), "new");
            }
        }
    }
    assert!(
        mixed > 0,
        "some kill fell between the two swaps (the case recovery is for)"
    );
}

/// A swap that fails on the second environment (here `EXDEV`, injected) puts the first back.
#[test]
fn a_swap_failing_on_the_second_environment_puts_the_first_back() {
    let Some(strace) = strace() else { return };
    let (_tmp, root, old, _new) = case_with_old_and_new(&["dev", "prod"]);
    let out = root.join("out");
    reset_out(&out, &old);
    let before = read_tree(&out);
    let run = traced(
        &strace,
        &root,
        &[
            "--trace=renameat2".into(),
            "-o".into(),
            "/dev/null".into(),
            "--inject=renameat2:error=EXDEV:when=2".into(),
        ],
        &["build", "--all"],
    );
    assert_eq!(run.status.code(), Some(2), "{}", transcript(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cannot swap the new `out/prod` in"), "{stderr}");
    assert!(stderr.contains("`out/dev` put back as it was"), "{stderr}");
    assert_eq!(before, read_tree(&out), "out/ is byte-identical");
    assert_eq!(hidden_folders(&out), Vec::<String>::new());
}

/// A write failing while staging the second environment (`ENOSPC`, injected into the last file
/// created) swaps nothing.
#[test]
fn a_full_disk_while_staging_the_second_environment_swaps_nothing() {
    let Some(strace) = strace() else { return };
    let (_tmp, root, old, _new) = case_with_old_and_new(&["dev", "prod"]);
    let out = root.join("out");
    reset_out(&out, &old);
    let before = read_tree(&out);
    // The last `openat` … `O_CREAT|O_EXCL` of the build is a file of the second environment.
    let log = root.join("../creates.txt");
    traced(
        &strace,
        &root,
        &["--trace=openat".into(), "-o".into(), log.to_string()],
        &["build", "--all"],
    );
    // strace counts per thread: the N of that call is its rank among its own thread's `openat`s.
    let text = fs_err::read_to_string(&log).unwrap();
    let opens: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, rest)| rest.trim_start().starts_with("openat("))
        .collect();
    let at = opens
        .iter()
        .rposition(|(_, l)| l.contains("O_EXCL") && l.contains("/.prod.hydrate-"))
        .expect("prod files are created");
    let pid = opens[at].0;
    let last_create = opens[..=at].iter().filter(|(p, _)| *p == pid).count();
    reset_out(&out, &old);
    let before_again = read_tree(&out);
    assert_eq!(before, before_again);
    let run = traced(
        &strace,
        &root,
        &[
            "--trace=openat".into(),
            "-o".into(),
            "/dev/null".into(),
            format!("--inject=openat:error=ENOSPC:when={last_create}"),
        ],
        &["build", "--all"],
    );
    assert_eq!(run.status.code(), Some(2), "{}", transcript(&run));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("out/prod/"),
        "{}",
        transcript(&run)
    );
    assert_eq!(before, read_tree(&out), "out/ is byte-identical");
    assert_eq!(hidden_folders(&out), Vec::<String>::new());
}
