//! `hydrate check`, the CI gate: does the committed `out/<env>` equal a fresh render? Pure
//! comparison ([`compare`]); [`run`] reads the committed side through [`crate::git`].

use std::fmt::Write as _;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;

use super::{DiffError, out_dir};
use crate::git::{self, GitError};
use crate::output::Tree;

/// The revision `hydrate check` compares with unless `--worktree` is given.
pub const CHECK_REV: &str = "HEAD";

/// How a committed tree differs from a fresh one, path by path (paths relative to `out/<env>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// In both, with different bytes.
    pub stale: Vec<Utf8PathBuf>,
    /// Rendered but not committed.
    pub missing: Vec<Utf8PathBuf>,
    /// Committed but no longer rendered.
    pub extra: Vec<Utf8PathBuf>,
}

impl CheckReport {
    /// True when the committed tree equals the fresh one.
    pub fn is_clean(&self) -> bool {
        self.stale.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Compares the committed tree with a fresh render, file by file, in path order.
pub fn compare(committed: &Tree, fresh: &Tree) -> CheckReport {
    let mut r = CheckReport::default();
    for (path, bytes) in fresh {
        match committed.get(path) {
            None => r.missing.push(path.clone()),
            Some(old) if old != bytes => r.stale.push(path.clone()),
            Some(_) => {}
        }
    }
    r.extra = committed
        .keys()
        .filter(|p| !fresh.contains_key(*p))
        .cloned()
        .collect();
    r
}

/// Renders the check of several environments; `orphans` are `out/<name>` folders without an
/// environment; `uncommitted` are the stale environments whose files on disk already match a
/// fresh render (built, not committed). Ends with the commands that fix what is wrong.
pub fn format_check(
    reports: &[(String, CheckReport)],
    orphans: &[String],
    uncommitted: &[String],
    against: &str,
) -> String {
    let mut s = String::new();
    let mut to_build: Vec<&str> = Vec::new();
    for (env, r) in reports {
        if r.is_clean() {
            let _ = writeln!(s, "ok     `out/{env}` matches a fresh render ({against})");
            continue;
        }
        let _ = writeln!(
            s,
            "STALE  `out/{env}` differs from a fresh render ({against}): {} stale, {} missing, {} extra",
            r.stale.len(),
            r.missing.len(),
            r.extra.len()
        );
        for (label, paths) in [("stale", &r.stale), ("missing", &r.missing), ("extra", &r.extra)] {
            for p in paths {
                let _ = writeln!(s, "  {label:<8} out/{env}/{p}");
            }
        }
        if uncommitted.contains(env) {
            let _ = writeln!(
                s,
                "  note: the files in `out/{env}` on disk match a fresh render: it is built, not committed"
            );
        } else {
            to_build.push(env);
        }
    }
    for name in orphans {
        let _ = writeln!(
            s,
            "EXTRA  `out/{name}` has no environment `environments/{name}.yaml`"
        );
    }
    let mut lead = "\nfix";
    if !to_build.is_empty() {
        let envs = to_build.join(" ");
        let _ = writeln!(
            s,
            "{lead}: run `hydrate build {envs}` (from a source checkout: `cargo run -- build {envs}`), then commit `out/`: `git add out/ && git commit`"
        );
        lead = "and";
    } else if reports.iter().any(|(_, r)| !r.is_clean()) {
        let _ = writeln!(s, "{lead}: commit `out/`: `git add out/ && git commit`");
        lead = "and";
    }
    if !orphans.is_empty() {
        let dirs: Vec<String> = orphans.iter().map(|o| format!("out/{o}")).collect();
        let _ = writeln!(s, "{lead}: run `git rm -r {}` and commit", dirs.join(" "));
    }
    s
}

/// The check of several environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// One report per environment, in order.
    pub reports: Vec<(String, CheckReport)>,
    /// `out/<name>` folders without an environment.
    pub orphans: Vec<String>,
    /// Stale environments whose files on disk match the fresh render (built, not committed).
    pub uncommitted: Vec<String>,
    /// What the fresh renders were compared with, for messages.
    pub against: &'static str,
}

impl CheckResult {
    /// True when every committed tree equals its fresh render and no folder is left over.
    pub fn is_clean(&self) -> bool {
        self.orphans.is_empty() && self.reports.iter().all(|(_, r)| r.is_clean())
    }

    /// The report as text, ending with the commands that fix what is wrong.
    pub fn render(&self) -> String {
        format_check(&self.reports, &self.orphans, &self.uncommitted, self.against)
    }
}

/// Renders each of `envs` with `render` and compares it with the committed `out/<env>` (at
/// `HEAD`, or on disk with `worktree`). With `orphans`, `out/` folders whose name is not in
/// `known` are listed as left over. An environment stale at `HEAD` whose files on disk match the
/// render is listed in [`CheckResult::uncommitted`], so that the advice is "commit", not "build".
pub fn run<E: From<DiffError>>(
    root: &Utf8Path,
    envs: &[String],
    orphans: bool,
    worktree: bool,
    known: &[String],
    mut render: impl FnMut(&str) -> Result<Tree, E>,
) -> Result<CheckResult, E> {
    let repo = if worktree {
        None
    } else {
        Some(git::open(root).map_err(DiffError::from)?)
    };
    let head_err = |e: GitError| match e {
        GitError::Revision { .. } => DiffError::NoCommit {
            reason: "the repository has no commit yet".to_owned(),
        },
        other => DiffError::Git(other),
    };
    let mut reports = Vec::new();
    let mut uncommitted = Vec::new();
    for env in envs {
        let committed = match &repo {
            Some(repo) => git::tree_at(repo, CHECK_REV, &out_dir(env)).map_err(head_err)?,
            None => git::worktree_tree(root, &out_dir(env)).map_err(DiffError::from)?,
        };
        if committed.keys().any(|p| p.starts_with("flux-system")) {
            return Err(DiffError::FluxBootstrapInOut { env: env.clone() }.into());
        }
        let fresh = render(env)?;
        let report = compare(&committed, &fresh);
        if repo.is_some() && !report.is_clean() {
            let on_disk = git::worktree_tree(root, &out_dir(env)).map_err(DiffError::from)?;
            if compare(&on_disk, &fresh).is_clean() {
                uncommitted.push(env.clone());
            }
        }
        reports.push((env.clone(), report));
    }
    let orphans: Vec<String> = if orphans {
        let on_record = match &repo {
            Some(repo) => git::out_envs_at(repo, CHECK_REV).map_err(head_err)?,
            None => git::out_envs_in_worktree(root).map_err(DiffError::from)?,
        };
        on_record.into_iter().filter(|e| !known.contains(e)).collect()
    } else {
        Vec::new()
    };
    let against = if worktree {
        "files on disk"
    } else {
        "committed at `HEAD`"
    };
    Ok(CheckResult {
        reports,
        orphans,
        uncommitted,
        against,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::tree_of as tree;

    #[test]
    fn stale_missing_and_extra_are_listed() {
        let committed = tree(&[("a.yaml", "1"), ("b.yaml", "same"), ("gone.yaml", "x")]);
        let fresh = tree(&[("a.yaml", "2"), ("b.yaml", "same"), ("new.yaml", "y")]);
        let r = compare(&committed, &fresh);
        assert_eq!(r.stale, ["a.yaml"]);
        assert_eq!(r.missing, ["new.yaml"]);
        assert_eq!(r.extra, ["gone.yaml"]);
        let text = format_check(&[("prod".into(), r.clone())], &[], &[], "committed at `HEAD`");
        assert!(text.contains("  stale    out/prod/a.yaml\n"), "{text}");
        assert!(
            text.trim_end()
                .ends_with("then commit `out/`: `git add out/ && git commit`"),
            "{text}"
        );
        assert!(text.contains("`hydrate build prod`"), "{text}");
        let built = format_check(
            &[("prod".into(), r)],
            &[],
            &["prod".into()],
            "committed at `HEAD`",
        );
        assert!(!built.contains("hydrate build"), "built already: {built}");
        assert!(
            built.contains("fix: commit `out/`: `git add out/ && git commit`"),
            "{built}"
        );
    }

    #[test]
    fn a_fresh_tree_is_clean() {
        let t = tree(&[("a.yaml", "1")]);
        assert!(compare(&t, &t).is_clean());
        let text = format_check(&[("prod".into(), compare(&t, &t))], &[], &[], "files on disk");
        assert!(!text.contains("fix:"), "{text}");
    }

    #[test]
    fn orphans_get_a_removal_command() {
        let text = format_check(&[], &["qa".into()], &[], "committed at `HEAD`");
        assert!(text.contains("`git rm -r out/qa`"), "{text}");
    }
}
