//! Diff stage: compares two [`Tree`]s of one environment, object by object, for review.
//!
//! [`diff`] is a pure function over two trees: objects are matched by apiVersion/kind/namespace/
//! name (so a moved file is one change), other files (`kustomization.yaml`) by path. Secret values
//! never reach a [`Report`] (see [`redact`]). [`run`] and [`check::run`] are the `hydrate diff`
//! and `hydrate check` commands; they read the committed side through [`crate::git`] and get the
//! fresh side from a render function the caller passes. Nothing here writes to disk.

pub mod check;
mod format_json;
mod format_markdown;
mod format_text;
pub mod immutable;
mod objects;
pub mod redact;

use std::collections::BTreeMap;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use serde::Serialize;
use similar::{Algorithm, TextDiff};

pub use format_json::format_json;
pub use format_markdown::{MARKDOWN_CAP, MARKER, format_markdown};
pub use format_text::format_text;
pub use immutable::ImmutableChange;
pub use redact::{KeyChange, KeyStatus, SecretChange};

use crate::git::{self, GitError};
use crate::output::Tree;
pub use crate::render::ObjectId;

/// Lines of context around each change in a unified diff.
pub const CONTEXT_LINES: usize = 2;
/// Time allowed to one text diff before `similar` settles for a longer, still correct, diff.
const DIFF_TIMEOUT: Duration = Duration::from_secs(2);

/// Errors of `hydrate diff` and `hydrate check`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiffError {
    /// Reading git or the working tree failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(#[from] GitError),
    /// Flux's bootstrap files sit in `out/<env>`, which every build replaces.
    #[error("`out/{env}/flux-system/` holds Flux's bootstrap files: `out/{env}` is hydrate's alone")]
    #[diagnostic(
        code(hydrate::diff::flux_system),
        help(
            "bootstrap with `--path=clusters/{env}` instead: `git mv out/{env}/flux-system clusters/{env}/flux-system`, add `hydrate flux-entry {env} > clusters/{env}/hydrate.yaml`, commit, and run `flux bootstrap` again with the new path (README, \"Deploying with Flux\")"
        )
    )]
    FluxBootstrapInOut {
        /// The environment.
        env: String,
    },
    /// The project has no commit to compare with.
    #[error("cannot read the committed `out/`: {reason}")]
    #[diagnostic(
        code(hydrate::diff::no_commit),
        help(
            "commit `out/` first (`git add out/ && git commit`), or compare with the files on disk (`--worktree`)"
        )
    )]
    NoCommit {
        /// Why.
        reason: String,
    },
}

/// Whether an object or file was added, changed or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Only in the new tree.
    Added,
    /// In both, with different bytes or at a different path.
    Changed,
    /// Only in the old tree.
    Removed,
}

/// A chart version change of a HelmRelease (`spec.chart.spec.version`), HelmChart or OCIRepository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChartChange {
    /// Chart name (OCIRepository: its URL).
    pub chart: String,
    /// The field that changed, e.g. `spec.chart.spec.version`.
    pub field: String,
    /// Old value.
    pub old: Option<String>,
    /// New value.
    pub new: Option<String>,
}

/// A changed `image:` anywhere in an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageChange {
    /// Where it sits, e.g. `spec.template.spec.containers[app].image`.
    pub path: String,
    /// Old image reference.
    pub old: Option<String>,
    /// New image reference.
    pub new: Option<String>,
}

/// One object that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectChange {
    /// Added, changed or removed.
    pub status: Status,
    /// Which object.
    pub object: ObjectId,
    /// Layer: first component of its path (`""` at the root).
    pub layer: String,
    /// Component: second component of its path, when there is one.
    pub component: Option<String>,
    /// Path in the old tree.
    pub old_path: Option<Utf8PathBuf>,
    /// Path in the new tree.
    pub new_path: Option<Utf8PathBuf>,
    /// Chart version changes.
    pub charts: Vec<ChartChange>,
    /// Image changes.
    pub images: Vec<ImageChange>,
    /// Immutable fields that changed.
    pub immutable: Vec<ImmutableChange>,
    /// For a Secret or SOPS-encrypted object: per-key status, never values.
    pub secret: Option<SecretChange>,
    /// Unified diff (empty for a removed object; redacted for a sensitive one).
    pub diff: String,
}

/// One non-object file (e.g. `kustomization.yaml`) that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Added, changed or removed.
    pub status: Status,
    /// Path relative to `out/<env>`.
    pub path: Utf8PathBuf,
    /// The content may hold secrets, so no diff is shown.
    pub redacted: bool,
    /// Unified diff (empty when removed, binary or redacted).
    pub diff: String,
}

/// Counts of one layer/component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    /// Layer.
    pub layer: String,
    /// Component, when the objects sit in one.
    pub component: Option<String>,
    /// Objects added.
    pub added: usize,
    /// Objects changed.
    pub changed: usize,
    /// Objects removed.
    pub removed: usize,
}

/// Everything that differs between two trees of one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Objects, by layer (apply order), component, kind, namespace and name.
    pub objects: Vec<ObjectChange>,
    /// Other files, by path.
    pub files: Vec<FileChange>,
}

impl Report {
    /// True when the trees are identical.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.files.is_empty()
    }

    /// Objects (added, changed, removed).
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |s| self.objects.iter().filter(|o| o.status == s).count();
        (n(Status::Added), n(Status::Changed), n(Status::Removed))
    }

    /// Added/changed/removed counts per layer and component, in report order.
    pub fn summary(&self) -> Vec<SummaryRow> {
        let mut rows: Vec<SummaryRow> = Vec::new();
        for o in &self.objects {
            let same = |r: &&mut SummaryRow| r.layer == o.layer && r.component == o.component;
            let row = match rows.iter_mut().find(|r| same(r)) {
                Some(row) => row,
                None => {
                    rows.push(SummaryRow {
                        layer: o.layer.clone(),
                        component: o.component.clone(),
                        ..Default::default()
                    });
                    rows.last_mut().expect("just pushed")
                }
            };
            match o.status {
                Status::Added => row.added += 1,
                Status::Changed => row.changed += 1,
                Status::Removed => row.removed += 1,
            }
        }
        rows
    }

    /// One line: `2 added, 1 changed, 0 removed objects; 1 file changed`, or `no differences`.
    pub fn headline(&self) -> String {
        if self.is_empty() {
            return "no differences".to_owned();
        }
        let (a, c, r) = self.counts();
        let files = self.files.len();
        let mut s = format!("{a} added, {c} changed, {r} removed object{}", plural(a + c + r));
        if files > 0 {
            s.push_str(&format!("; {files} file{} changed", plural(files)));
        }
        s
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One side of a file, read as an object when it is one.
struct Side<'t> {
    path: &'t Utf8Path,
    bytes: &'t [u8],
    parsed: objects::Parsed,
}

/// Compares two trees of one environment: `old` (committed) against `new` (fresh render).
pub fn diff(old: &Tree, new: &Tree) -> Report {
    // Files with the same bytes at the same path cannot be part of a change: skip parsing them.
    let same = |(p, b): &(&Utf8PathBuf, &Vec<u8>), other: &Tree| other.get(*p) == Some(*b);
    let (old_objs, old_files) = split(old.iter().filter(|e| !same(e, new)));
    let (new_objs, new_files) = split(new.iter().filter(|e| !same(e, old)));
    let mut objects = Vec::new();
    let ids: std::collections::BTreeSet<&ObjectId> = old_objs.keys().chain(new_objs.keys()).collect();
    for id in ids {
        if let Some(change) = object_change(old_objs.get(id), new_objs.get(id)) {
            objects.push(change);
        }
    }
    objects.sort_by(|a, b| {
        let key = |o: &ObjectChange| {
            (
                objects::layer_rank(&o.layer),
                o.layer.clone(),
                o.component.clone(),
            )
        };
        let id = |o: &ObjectChange| {
            let i = &o.object;
            (
                i.kind.clone(),
                i.namespace.clone(),
                i.name.clone(),
                i.api_version.clone(),
            )
        };
        key(a).cmp(&key(b)).then_with(|| id(a).cmp(&id(b)))
    });
    let mut files = Vec::new();
    let paths: std::collections::BTreeSet<&&Utf8Path> = old_files.keys().chain(new_files.keys()).collect();
    for path in paths {
        let (o, n) = (old_files.get(*path).copied(), new_files.get(*path).copied());
        if let Some(change) = file_change(path, o, n) {
            files.push(change);
        }
    }
    Report { objects, files }
}

/// Splits a tree into objects by identity and other files by path.
///
/// A file whose identity was already taken by an earlier path is kept as a plain file.
#[allow(clippy::type_complexity)]
fn split<'t>(
    entries: impl Iterator<Item = (&'t Utf8PathBuf, &'t Vec<u8>)>,
) -> (BTreeMap<ObjectId, Side<'t>>, BTreeMap<&'t Utf8Path, &'t [u8]>) {
    let mut objs = BTreeMap::new();
    let mut files = BTreeMap::new();
    for (path, bytes) in entries {
        match objects::parse(path, bytes) {
            Some(parsed) if !objs.contains_key(&parsed.id) => {
                objs.insert(parsed.id.clone(), Side { path, bytes, parsed });
            }
            _ => {
                files.insert(path.as_path(), bytes.as_slice());
            }
        }
    }
    (objs, files)
}

/// The change to one object, or `None` when both sides are byte-identical at the same path.
fn object_change(old: Option<&Side<'_>>, new: Option<&Side<'_>>) -> Option<ObjectChange> {
    let status = match (old, new) {
        (Some(o), Some(n)) if o.path == n.path && o.bytes == n.bytes => return None,
        (Some(_), Some(_)) => Status::Changed,
        (None, Some(_)) => Status::Added,
        (Some(_), None) => Status::Removed,
        (None, None) => return None,
    };
    let any = new.or(old).expect("one side is present");
    let id = any.parsed.id.clone();
    let (layer, component) = objects::layer_component(any.path);
    let sensitive = [old, new]
        .iter()
        .flatten()
        .any(|s| redact::is_sensitive(&s.parsed.value));
    // Values under credential keys are masked in any object (`crate::redact`).
    let text = |s: Option<&Side<'_>>| match s {
        None => String::new(),
        Some(s) if sensitive => redact::redacted_text(s.bytes, &s.parsed.value),
        Some(s) => crate::redact::source_for_display(s.path, &String::from_utf8_lossy(s.bytes)),
    };
    let diff = match status {
        Status::Removed => String::new(),
        _ => {
            let shown = unified(&text(old), &text(new), old.map(|s| s.path), new.map(|s| s.path));
            if shown.is_empty() && !sensitive && old.is_some() {
                "(a credential value changed; it is not shown)\n".to_owned()
            } else {
                shown
            }
        }
    };
    let (mut charts, mut images, mut immutable) = (Vec::new(), Vec::new(), Vec::new());
    if let (Some(o), Some(n)) = (old, new) {
        if !sensitive {
            charts = objects::chart_changes(&id, &o.parsed.value, &n.parsed.value);
            images = objects::image_changes(&o.parsed.value, &n.parsed.value);
        }
        immutable = immutable::immutable_changes(&id, &o.parsed.value, &n.parsed.value);
    } else if !sensitive {
        // An added (or removed) workload brings (or takes) its images: `(none) -> image`.
        let none = serde_json::Value::Null;
        let o = old.map_or(&none, |s| &s.parsed.value);
        let n = new.map_or(&none, |s| &s.parsed.value);
        images = objects::image_changes(o, n);
    }
    let secret =
        sensitive.then(|| redact::secret_change(old.map(|s| &s.parsed.value), new.map(|s| &s.parsed.value)));
    Some(ObjectChange {
        status,
        object: id,
        layer,
        component,
        old_path: old.map(|s| s.path.to_owned()),
        new_path: new.map(|s| s.path.to_owned()),
        charts,
        images,
        immutable,
        secret,
        diff,
    })
}

/// The change to one plain file, or `None` when identical.
fn file_change(path: &Utf8Path, old: Option<&[u8]>, new: Option<&[u8]>) -> Option<FileChange> {
    let status = match (old, new) {
        (Some(o), Some(n)) if o == n => return None,
        (Some(_), Some(_)) => Status::Changed,
        (None, Some(_)) => Status::Added,
        (Some(_), None) => Status::Removed,
        (None, None) => return None,
    };
    let redacted = [old, new]
        .iter()
        .flatten()
        .any(|b| redact::looks_sensitive(path.as_str(), b));
    let texts = (old.map(std::str::from_utf8), new.map(std::str::from_utf8));
    let diff = match (status, redacted, texts) {
        (Status::Removed, _, _) | (_, true, _) => String::new(),
        (_, false, (Some(Err(_)), _) | (_, Some(Err(_)))) => "Binary file changed\n".to_owned(),
        (_, false, (o, n)) => unified(
            o.and_then(Result::ok).unwrap_or_default(),
            n.and_then(Result::ok).unwrap_or_default(),
            old.map(|_| path),
            new.map(|_| path),
        ),
    };
    Some(FileChange {
        status,
        path: path.to_owned(),
        redacted,
        diff,
    })
}

/// A unified diff with `a/`, `b/` headers (`/dev/null` for a missing side), 2 lines of context.
///
/// Myers, with a time limit after which `similar` returns a correct but possibly longer diff.
fn unified(old: &str, new: &str, old_path: Option<&Utf8Path>, new_path: Option<&Utf8Path>) -> String {
    let name = |prefix: &str, p: Option<&Utf8Path>| {
        p.map_or_else(|| "/dev/null".to_owned(), |p| format!("{prefix}{p}"))
    };
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let mut udiff = diff.unified_diff();
    udiff
        .context_radius(CONTEXT_LINES)
        .header(&name("a/", old_path), &name("b/", new_path));
    let text = udiff.to_string();
    if text.is_empty() && old_path != new_path {
        // Same bytes at a new path: say so, as `git diff` does for a pure rename.
        return format!(
            "rename from {}\nrename to {}\n",
            name("", old_path),
            name("", new_path)
        );
    }
    text
}

/// `out/<env>` as a project-relative path.
pub fn out_dir(env: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("out/{env}"))
}

/// What to compare: environments already selected (and known to exist), whether to add the
/// `out/<name>` folders no environment renders any more, and the revision of the old side.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    pub envs: &'a [String],
    /// Also compare `out/<name>` folders without an environment (with an empty tree: all their
    /// objects removed). Needs `known`.
    pub orphans: bool,
    /// `out/<env>` as committed at this revision (through git, nothing checked out); `None`: the
    /// files on disk.
    pub base: Option<&'a str>,
}

/// Renders each environment of `request` with `render` and compares it with `out/<env>`.
///
/// `known` lists the environments in `environments/` (orphans are the `out/` folders not in it).
/// Returns one report per environment, in order (orphans last).
pub fn run<E: From<DiffError>>(
    root: &Utf8Path,
    request: &Request<'_>,
    known: &[String],
    mut render: impl FnMut(&str) -> Result<Tree, E>,
) -> Result<Vec<(String, Report)>, E> {
    let mut envs = request.envs.to_vec();
    let repo = match request.base {
        Some(_) => Some(git::open(root).map_err(DiffError::from)?),
        None => None,
    };
    // `HEAD` that does not resolve: a repository without a commit yet.
    let rev_err = |e: GitError| match e {
        GitError::Revision { rev, .. } if rev == "HEAD" => DiffError::NoCommit {
            reason: "the repository has no commit yet".to_owned(),
        },
        other => DiffError::Git(other),
    };
    let committed = |env: &str| -> Result<Tree, DiffError> {
        match (&repo, request.base) {
            (Some(repo), Some(rev)) => git::tree_at(repo, rev, &out_dir(env)).map_err(rev_err),
            _ => Ok(git::worktree_tree(root, &out_dir(env))?),
        }
    };
    let orphans: Vec<String> = if request.orphans {
        let on_record = match (&repo, request.base) {
            (Some(repo), Some(rev)) => git::out_envs_at(repo, rev).map_err(rev_err)?,
            _ => git::out_envs_in_worktree(root).map_err(DiffError::from)?,
        };
        on_record.into_iter().filter(|e| !known.contains(e)).collect()
    } else {
        Vec::new()
    };
    envs.extend(orphans.iter().cloned());
    let mut reports = Vec::new();
    for env in envs {
        let old = committed(&env)?;
        let new = if orphans.contains(&env) {
            Tree::new()
        } else {
            render(&env)?
        };
        reports.push((env, diff(&old, &new)));
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::output::tree_of as tree;

    const CM: &str = "# Source: apps/a/component.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: apps\ndata:\n  k: v1\n";

    #[test]
    fn identical_trees_give_an_empty_report() {
        let t = tree(&[
            ("apps/a/configmap-a.yaml", CM),
            ("kustomization.yaml", "resources: []\n"),
        ]);
        assert!(diff(&t, &t).is_empty());
    }

    #[test]
    fn a_moved_object_is_one_change() {
        let old = tree(&[("apps/a/configmap-a.yaml", CM)]);
        let new = tree(&[("apps/b/configmap-a.yaml", CM)]);
        let r = diff(&old, &new);
        assert_eq!(r.objects.len(), 1);
        assert_eq!(r.objects[0].status, Status::Changed);
        assert_eq!(r.objects[0].component.as_deref(), Some("b"));
        assert!(
            r.objects[0]
                .diff
                .starts_with("rename from apps/a/configmap-a.yaml"),
            "{}",
            r.objects[0].diff
        );
    }

    #[test]
    fn changed_object_gets_a_minimal_unified_diff() {
        let old = tree(&[("apps/a/configmap-a.yaml", CM)]);
        let new = tree(&[("apps/a/configmap-a.yaml", &CM.replace("k: v1", "k: v2"))]);
        let r = diff(&old, &new);
        let d = &r.objects[0].diff;
        assert!(
            d.starts_with("--- a/apps/a/configmap-a.yaml\n+++ b/apps/a/configmap-a.yaml\n"),
            "{d}"
        );
        assert!(d.contains("-  k: v1\n+  k: v2\n"), "{d}");
        assert!(!d.contains("apiVersion"), "context must be 2 lines: {d}");
    }

    #[test]
    fn files_and_objects_are_told_apart() {
        let old = tree(&[("apps/kustomization.yaml", "resources: [a]\n")]);
        let new = tree(&[
            ("apps/kustomization.yaml", "resources: [a, b]\n"),
            ("apps/a/configmap-a.yaml", CM),
        ]);
        let r = diff(&old, &new);
        assert_eq!(r.files.len(), 1);
        assert_eq!(r.objects.len(), 1);
        assert_eq!(r.objects[0].status, Status::Added);
        assert!(
            r.objects[0].diff.starts_with("--- /dev/null\n"),
            "{}",
            r.objects[0].diff
        );
        assert_eq!(
            r.headline(),
            "1 added, 0 changed, 0 removed object; 1 file changed"
        );
    }
}
