//! Git access for review: reads `out/<env>` as committed at a revision, lists what changed since
//! a revision, and maps changed paths to the environments they affect.
//!
//! Reads the git object database through `git2` (no checkout, the working tree is never changed)
//! and, read-only, the working tree's `out/<env>` folder. Writes nothing.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};
use git2::{DiffOptions, ObjectType, Repository};

use crate::output::Tree;

/// Errors of git access, each naming the revision or repo-relative path involved.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GitError {
    /// The project folder is not inside a git repository.
    #[error("the project folder is not inside a git repository")]
    #[diagnostic(
        code(hydrate::git::not_a_repo),
        help("run `git init` and commit `out/`, or compare with the files on disk (`--worktree`)")
    )]
    NotARepo {
        /// What git2 reported.
        #[source]
        source: git2::Error,
    },
    /// The repository is bare, so there is no working tree to compare with.
    #[error("the git repository has no working tree")]
    #[diagnostic(code(hydrate::git::bare), help("run hydrate from a clone with a checkout"))]
    Bare,
    /// A revision does not resolve to a commit or tree.
    #[error("cannot resolve git revision `{rev}`")]
    #[diagnostic(
        code(hydrate::git::revision),
        help(
            "check the name (`git rev-parse {rev}`); in CI fetch the base branch first (`actions/checkout` with `fetch-depth: 0`)"
        )
    )]
    Revision {
        /// The revision as given.
        rev: String,
        /// What git2 reported.
        #[source]
        source: git2::Error,
    },
    /// A path that should be a folder is a file at the revision.
    #[error("`{path}` at `{rev}` is a file, not a folder")]
    #[diagnostic(
        code(hydrate::git::not_a_folder),
        help("`out/<env>` must be a folder; remove the file `{path}` and run `hydrate build`")
    )]
    NotAFolder {
        /// The revision as given.
        rev: String,
        /// Repo-relative path.
        path: Utf8PathBuf,
    },
    /// Reading from the object database or computing a diff failed.
    #[error("git: cannot {action}")]
    #[diagnostic(code(hydrate::git::read), help("check the repository with `git fsck`"))]
    Read {
        /// What was being done, with the path or revision in backticks.
        action: String,
        /// What git2 reported.
        #[source]
        source: git2::Error,
    },
    /// A file in the working tree could not be read.
    #[error("cannot read `{path}`")]
    #[diagnostic(code(hydrate::git::io))]
    Io {
        /// Project-relative path.
        path: Utf8PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A path is not valid UTF-8.
    #[error("the path `{path}` is not valid UTF-8")]
    #[diagnostic(
        code(hydrate::git::non_utf8),
        help("rename the file: hydrate only handles UTF-8 paths")
    )]
    NonUtf8 {
        /// The path, lossily converted.
        path: String,
    },
    /// The output folder holds a symbolic link, which hydrate never writes.
    #[error("`{path}` is a symbolic link")]
    #[diagnostic(
        code(hydrate::git::symlink),
        help("hydrate never writes links into `out/`; delete it and run `hydrate build`")
    )]
    Symlink {
        /// Project-relative path.
        path: Utf8PathBuf,
    },
}

/// An open git repository and where the project root sits inside its working tree.
pub struct Repo {
    repo: Repository,
    /// Project root relative to the working tree's top (empty when they are the same).
    prefix: Utf8PathBuf,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Repo {
    /// The project root relative to the top of the working tree (`""` when they coincide).
    pub fn prefix(&self) -> &Utf8Path {
        &self.prefix
    }
}

/// Opens the git repository that contains the project folder `root` (searching upwards).
pub fn open(root: &Utf8Path) -> Result<Repo, GitError> {
    let repo = Repository::discover(root).map_err(|source| GitError::NotARepo { source })?;
    let workdir = repo.workdir().ok_or(GitError::Bare)?;
    let io = |source| GitError::Io {
        path: ".".into(),
        source,
    };
    let top = fs_err::canonicalize(workdir).map_err(io)?;
    let here = fs_err::canonicalize(root).map_err(io)?;
    let rel = here
        .strip_prefix(&top)
        .unwrap_or_else(|_| std::path::Path::new(""));
    let prefix = Utf8PathBuf::from_path_buf(rel.to_path_buf()).map_err(|p| GitError::NonUtf8 {
        path: p.to_string_lossy().into_owned(),
    })?;
    Ok(Repo {
        repo,
        prefix: slash_path(&prefix),
    })
}

/// Reads `prefix` (project-relative, e.g. `out/prod`) as committed at `rev` into a [`Tree`].
///
/// Blobs come straight from the object database; nothing is checked out. Paths in the result are
/// relative to `prefix`. A `prefix` that does not exist at `rev` gives an empty tree.
pub fn tree_at(repo: &Repo, rev: &str, prefix: &Utf8Path) -> Result<Tree, GitError> {
    let root = rev_tree(repo, rev)?;
    let full = join_slash(&repo.prefix, prefix);
    let mut out = Tree::new();
    if full.as_str().is_empty() {
        collect_tree(&repo.repo, &root, "", &mut out)?;
        return Ok(out);
    }
    let entry = match root.get_path(full.as_std_path()) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(out),
        Err(source) => {
            return Err(GitError::Read {
                action: format!("look up `{full}` at `{rev}`"),
                source,
            });
        }
    };
    if entry.kind() != Some(ObjectType::Tree) {
        return Err(GitError::NotAFolder {
            rev: rev.to_owned(),
            path: full,
        });
    }
    let sub = repo.repo.find_tree(entry.id()).map_err(|source| GitError::Read {
        action: format!("read `{full}` at `{rev}`"),
        source,
    })?;
    collect_tree(&repo.repo, &sub, "", &mut out)?;
    Ok(out)
}

/// Names of the folders directly under `out/` as committed at `rev` (hidden ones skipped).
pub fn out_envs_at(repo: &Repo, rev: &str) -> Result<BTreeSet<String>, GitError> {
    let root = rev_tree(repo, rev)?;
    let full = join_slash(&repo.prefix, Utf8Path::new("out"));
    let entry = match root.get_path(full.as_std_path()) {
        Ok(entry) if entry.kind() == Some(ObjectType::Tree) => entry,
        _ => return Ok(BTreeSet::new()),
    };
    let tree = repo.repo.find_tree(entry.id()).map_err(|source| GitError::Read {
        action: format!("read `{full}` at `{rev}`"),
        source,
    })?;
    Ok(tree
        .iter()
        .filter(|e| e.kind() == Some(ObjectType::Tree))
        .filter_map(|e| e.name().ok().map(str::to_owned))
        .filter(|n| !n.starts_with('.'))
        .collect())
}

/// Names of the folders directly under the working tree's `out/` (hidden ones skipped).
pub fn out_envs_in_worktree(root: &Utf8Path) -> Result<BTreeSet<String>, GitError> {
    let dir = root.join("out");
    if !dir.is_dir() {
        return Ok(BTreeSet::new());
    }
    let entries = fs_err::read_dir(&dir).map_err(|source| GitError::Io {
        path: "out".into(),
        source,
    })?;
    let mut envs = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|source| GitError::Io {
            path: "out".into(),
            source,
        })?;
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str())
            && !name.starts_with('.')
        {
            envs.insert(name.to_owned());
        }
    }
    Ok(envs)
}

/// Reads the working tree's `root/prefix` folder into a [`Tree`]; a missing folder gives an empty tree.
pub fn worktree_tree(root: &Utf8Path, prefix: &Utf8Path) -> Result<Tree, GitError> {
    let dir = root.join(prefix);
    let mut out = Tree::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.map_err(|e| GitError::Io {
            path: prefix.to_owned(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        let rel = entry
            .path()
            .strip_prefix(&dir)
            .expect("walkdir yields paths under its root");
        let rel = Utf8Path::from_path(rel).ok_or_else(|| GitError::NonUtf8 {
            path: rel.to_string_lossy().into_owned(),
        })?;
        let shown = join_slash(prefix, rel);
        if entry.file_type().is_symlink() {
            return Err(GitError::Symlink { path: shown });
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let bytes = fs_err::read(entry.path()).map_err(|source| GitError::Io { path: shown, source })?;
        out.insert(slash_path(rel), bytes);
    }
    Ok(out)
}

/// Project-relative paths that differ between `rev` and the working tree.
///
/// Covers committed changes since `rev`, staged and unstaged edits, and untracked files (ignored
/// files excluded), through `git2`'s `diff_tree_to_workdir_with_index`. Both sides of a rename or
/// deletion are listed. Paths outside the project folder are dropped.
pub fn changed_since(repo: &Repo, rev: &str) -> Result<BTreeSet<Utf8PathBuf>, GitError> {
    let tree = rev_tree(repo, rev)?;
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true);
    let diff = repo
        .repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut opts))
        .map_err(|source| GitError::Read {
            action: format!("compare `{rev}` with the working tree"),
            source,
        })?;
    let mut changed = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            let Some(path) = file.path() else { continue };
            let path = Utf8Path::from_path(path).ok_or_else(|| GitError::NonUtf8 {
                path: path.to_string_lossy().into_owned(),
            })?;
            let path = slash_path(path);
            if let Ok(rel) = path.strip_prefix(&repo.prefix)
                && !rel.as_str().is_empty()
            {
                changed.insert(rel.to_owned());
            }
        }
    }
    Ok(changed)
}

/// Top-level paths whose change affects every environment.
pub const SHARED_INPUTS: &[&str] = &["lib", "vendor", "hydrate.lock", "hydrate.yaml", ".sops.yaml"];

/// Environments affected by a set of changed project-relative paths, by path alone.
///
/// The rule, first match wins:
/// 1. `environments/<env>.<ext>` (any file whose name up to the first `.` is an environment's
///    name) and anything under `environments/<env>/` → that environment;
/// 2. `secrets/<env>/…` → that environment;
/// 3. any other path under `environments/` or `secrets/` (shared defaults, `.sops.yaml`) → all;
/// 4. a path under or equal to one of [`SHARED_INPUTS`] (`lib/`, `vendor/`, `hydrate.lock`,
///    `hydrate.yaml`, `.sops.yaml`) → all;
/// 5. anything else (`out/`, docs, CI files, component folders) → none here.
///
/// Component folders (`platform/<c>/`, `apps/<c>/`) affect the environments that use the component
/// now or used it at the revision: see [`envs_changed_since`]. Files an input includes from
/// elsewhere are matched by [`affected_by_sources`].
pub fn affected_envs(changed: &BTreeSet<Utf8PathBuf>, envs: &[String]) -> BTreeSet<String> {
    let all = || envs.iter().cloned().collect::<BTreeSet<_>>();
    let mut out = BTreeSet::new();
    for path in changed {
        let parts: Vec<&str> = path.as_str().split('/').filter(|p| !p.is_empty()).collect();
        let hit = match parts.as_slice() {
            [] => None,
            // See: issue 11 (`environments/dev.local.yaml` was read as `dev`'s file).
            ["environments", file] => file
                .strip_suffix(".yaml")
                .map(|stem| envs.iter().find(|e| e.as_str() == stem).map_or_else(all, one)),
            ["environments" | "secrets", dir, _, ..] => {
                Some(envs.iter().find(|e| e.as_str() == *dir).map_or_else(all, one))
            }
            ["environments" | "secrets", ..] => Some(all()),
            [top, ..] if SHARED_INPUTS.contains(top) => Some(all()),
            _ => None,
        };
        out.extend(hit.into_iter().flatten());
        if out.len() == envs.len() {
            break;
        }
    }
    out
}

/// A set of one environment name (takes `&String` to fit `Option<&String>::map_or_else`).
#[allow(clippy::ptr_arg)]
fn one(env: &String) -> BTreeSet<String> {
    BTreeSet::from([env.to_owned()])
}

/// Input paths named by the `# Source:` comment lines that open the files of a rendered tree.
///
/// Paths are separated by commas and/or spaces.
pub fn sources(tree: &Tree) -> BTreeSet<Utf8PathBuf> {
    let mut out = BTreeSet::new();
    for bytes in tree.values() {
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        for line in text.lines().take_while(|l| l.starts_with('#')) {
            if let Some(list) = line.strip_prefix("# Source:") {
                out.extend(
                    list.split([',', ' ', '\t'])
                        .filter(|s| !s.is_empty())
                        .map(|s| slash_path(Utf8Path::new(s.trim_start_matches("./")))),
                );
            }
        }
    }
    out
}

/// Environments with a changed path equal to, or under, one of their input paths.
pub fn affected_by_sources(
    changed: &BTreeSet<Utf8PathBuf>,
    inputs: &BTreeMap<String, BTreeSet<Utf8PathBuf>>,
) -> BTreeSet<String> {
    inputs
        .iter()
        .filter(|(_, paths)| changed.iter().any(|c| paths.iter().any(|i| c.starts_with(i))))
        .map(|(env, _)| env.clone())
        .collect()
}

/// Environments to rebuild for `hydrate build --changed-since REV`.
///
/// The union of [`affected_envs`] over [`changed_since`] and of [`affected_by_sources`], where an
/// environment's inputs are `current` (what the inputs use now: its component folders) plus the
/// `# Source:` paths of its `out/<env>` both at `rev` and in the working tree (so an input one side
/// no longer lists, such as a removed or newly disabled component, still counts).
pub fn envs_changed_since(
    root: &Utf8Path,
    rev: &str,
    envs: &[String],
    current: &BTreeMap<String, BTreeSet<Utf8PathBuf>>,
) -> Result<BTreeSet<String>, GitError> {
    let repo = open(root)?;
    let changed = changed_since(&repo, rev)?;
    let mut out = affected_envs(&changed, envs);
    let mut inputs = BTreeMap::new();
    for env in envs.iter().filter(|e| !out.contains(*e)) {
        let prefix = Utf8PathBuf::from(format!("out/{env}"));
        let mut paths = sources(&tree_at(&repo, rev, &prefix)?);
        paths.extend(sources(&worktree_tree(root, &prefix)?));
        paths.extend(current.get(env).into_iter().flatten().cloned());
        inputs.insert(env.clone(), paths);
    }
    out.extend(affected_by_sources(&changed, &inputs));
    Ok(out)
}

/// Resolves `rev` to the tree of the commit (or tree) it names.
fn rev_tree<'r>(repo: &'r Repo, rev: &str) -> Result<git2::Tree<'r>, GitError> {
    let err = |source| GitError::Revision {
        rev: rev.to_owned(),
        source,
    };
    repo.repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_tree())
        .map_err(err)
}

/// Adds every blob under `tree` to `out`, at `base/<name>`; submodule links are skipped.
fn collect_tree(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    base: &str,
    out: &mut Tree,
) -> Result<(), GitError> {
    for entry in tree {
        let name = entry.name().map_err(|_| GitError::NonUtf8 {
            path: format!("{base}/{}", String::from_utf8_lossy(entry.name_bytes())),
        })?;
        let path = if base.is_empty() {
            name.to_owned()
        } else {
            format!("{base}/{name}")
        };
        let read_err = |source| GitError::Read {
            action: format!("read `{path}`"),
            source,
        };
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let sub = repo.find_tree(entry.id()).map_err(read_err)?;
                collect_tree(repo, &sub, &path, out)?;
            }
            Some(ObjectType::Blob) => {
                let blob = repo.find_blob(entry.id()).map_err(read_err)?;
                out.insert(Utf8PathBuf::from(path), blob.content().to_vec());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Joins two relative paths with `/`, whatever the platform.
fn join_slash(a: &Utf8Path, b: &Utf8Path) -> Utf8PathBuf {
    match (a.as_str().is_empty(), b.as_str().is_empty()) {
        (true, _) => slash_path(b),
        (_, true) => slash_path(a),
        _ => Utf8PathBuf::from(format!("{}/{}", slash_path(a), slash_path(b))),
    }
}

/// The path with `/` separators and no `.` components.
fn slash_path(p: &Utf8Path) -> Utf8PathBuf {
    let parts: Vec<&str> = p
        .components()
        .map(|c| c.as_str())
        .filter(|c| *c != "." && *c != "/" && !c.is_empty())
        .collect();
    Utf8PathBuf::from(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(paths: &[&str]) -> BTreeSet<Utf8PathBuf> {
        paths.iter().map(Utf8PathBuf::from).collect()
    }

    fn envs() -> Vec<String> {
        vec!["dev".into(), "prod".into(), "prod-eu".into()]
    }

    fn names(s: &BTreeSet<String>) -> Vec<&str> {
        s.iter().map(String::as_str).collect()
    }

    #[test]
    fn env_file_affects_only_that_env() {
        let got = affected_envs(&set(&["environments/prod.yaml"]), &envs());
        assert_eq!(names(&got), ["prod"]);
        let got = affected_envs(&set(&["environments/prod-eu.yaml"]), &envs());
        assert_eq!(names(&got), ["prod-eu"]);
        // See: issue 11. Not `dev`'s file: an unknown environment file concerns them all.
        let got = affected_envs(&set(&["environments/dev.local.yaml"]), &envs());
        assert_eq!(names(&got).len(), envs().len());
        assert!(affected_envs(&set(&["environments/README.md"]), &envs()).is_empty());
    }

    #[test]
    fn env_secrets_affect_only_that_env() {
        let got = affected_envs(&set(&["secrets/dev/db.sops.yaml"]), &envs());
        assert_eq!(names(&got), ["dev"]);
    }

    #[test]
    fn shared_inputs_affect_all() {
        for p in ["hydrate.lock", "lib/a.libsonnet", ".sops.yaml"] {
            assert_eq!(affected_envs(&set(&[p]), &envs()).len(), 3, "{p}");
        }
        assert_eq!(
            affected_envs(&set(&["environments/_defaults.yaml"]), &envs()).len(),
            3
        );
        assert_eq!(affected_envs(&set(&["secrets/.sops.yaml"]), &envs()).len(), 3);
    }

    #[test]
    fn outputs_and_docs_affect_none() {
        let got = affected_envs(
            &set(&[
                "out/prod/kustomization.yaml",
                "README.md",
                "platformx",
                "apps/x/values.yaml",
            ]),
            &envs(),
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn sources_parses_comment_lines() {
        let mut tree = Tree::new();
        tree.insert(
            "apps/a/deployment-a.yaml".into(),
            b"# Source: apps/a/component.yaml, charts/a/values.yaml\napiVersion: v1\n# Source: not/me\n"
                .to_vec(),
        );
        tree.insert("b.yaml".into(), b"# Source: ./environments/prod.yaml\n".to_vec());
        let got = sources(&tree);
        assert_eq!(
            got,
            set(&[
                "apps/a/component.yaml",
                "charts/a/values.yaml",
                "environments/prod.yaml"
            ])
        );
    }

    #[test]
    fn sources_match_paths_and_folders() {
        let inputs = BTreeMap::from([
            ("dev".to_string(), set(&["charts/a"])),
            ("prod".to_string(), set(&["charts/b/values.yaml"])),
        ]);
        assert_eq!(
            names(&affected_by_sources(&set(&["charts/a/x.yaml"]), &inputs)),
            ["dev"]
        );
        assert_eq!(
            names(&affected_by_sources(&set(&["charts/b/values.yaml"]), &inputs)),
            ["prod"]
        );
        assert!(affected_by_sources(&set(&["charts/ab"]), &inputs).is_empty());
    }

    #[test]
    fn slash_paths_are_normalised() {
        assert_eq!(slash_path(Utf8Path::new("./out/prod/")), "out/prod");
        assert_eq!(
            join_slash(Utf8Path::new(""), Utf8Path::new("out/prod")),
            "out/prod"
        );
        assert_eq!(join_slash(Utf8Path::new("sub"), Utf8Path::new("out")), "sub/out");
    }
}
