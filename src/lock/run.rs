//! `hydrate lock`: resolve every chart constraint and write `hydrate.lock`.
//!
//! Steps, in order (each in its own file):
//! 1. collect the requests by (repo, chart, constraint) and validate every constraint (here);
//! 2. plan: keep a satisfying entry of the old lock unless `--update` names it, else resolve
//!    (here);
//! 3. fetch each repository index (or OCI tag list) once, in parallel (`resolve.rs`);
//! 4. resolve new entries, verify kept ones against the upstream digest (`resolve.rs`);
//! 5. for OCI charts, read the manifest digest and the chart's dependencies (`resolve.rs`);
//! 6. with `--download`, fetch each archive, verify its sha256 and look inside (`download.rs`);
//! 7. write the lock (unless `--check`, which only reports) (here).
//!
//! Touches the network and `hydrate.lock`, through `fetch.rs`, `oci.rs` and `mod.rs`; reports
//! progress through [`Progress`], prints nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};

use super::constraint::{Constraint, is_exact, parse_version};
use super::fetch::Http;
use super::oci::Tokens;
use super::progress::Progress;
use super::resolve::{Resolver, check, resolve_all};
use super::{ChartRequest, Key, Lock, LockEntry, LockError, quote_list, read_lock};

/// What `hydrate lock` is asked to do (the command line's `Options`, with defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Re-resolve the named components (every component when the list is empty).
    pub update: Option<Vec<String>>,
    /// Change nothing; report what is missing, stale or unused, or a changed digest.
    pub check: bool,
    /// With `check`: only compare the lock with the inputs, without the network.
    pub offline: bool,
    /// Fetch every chart archive, verify its sha256, and record Bitnami parts and images.
    pub download: bool,
    /// Read repository indexes from this folder instead of the network.
    pub index_dir: Option<Utf8PathBuf>,
    /// How many repositories to fetch at once.
    pub jobs: usize,
    /// Give up on a request after this many seconds.
    pub timeout: u64,
    /// Talk plain HTTP to OCI registries on the loopback interface.
    pub plain_http: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            update: None,
            check: false,
            offline: false,
            download: false,
            index_dir: None,
            jobs: 8,
            timeout: 60,
            plain_http: false,
        }
    }
}

/// What a run did, for the caller and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The lock as written (or, with `--check`, as read).
    pub lock: Lock,
    /// How the lock changed (empty with `--check`).
    pub changes: Vec<Change>,
    /// Problems that make the run exit 1.
    pub findings: Vec<Problem>,
    /// Notes that do not change the exit code.
    pub warnings: Vec<String>,
    /// Whether `hydrate.lock` was (re)written.
    pub written: bool,
}

impl Outcome {
    /// 0 when clean, 1 when there are findings.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.findings.is_empty())
    }
}

/// One change to the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added {
        key: Key,
        version: String,
    },
    Moved {
        key: Key,
        from: String,
        to: String,
    },
    /// Same version, other metadata (components, URL, dependencies, findings).
    Refreshed {
        key: Key,
        version: String,
    },
    Removed {
        key: Key,
        version: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Added { key, version } => write!(f, "+ {key} → `{version}`"),
            Change::Moved { key, from, to } => write!(f, "~ {key}: `{from}` → `{to}`"),
            Change::Refreshed { key, version } => write!(f, "= {key} `{version}` (metadata)"),
            Change::Removed { key, version } => write!(f, "- {key} `{version}` (no longer used)"),
        }
    }
}

/// A reason the lock is not in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No entry for a requested (repo, chart, constraint).
    Missing { key: Key, components: Vec<String> },
    /// The entry's version does not satisfy its constraint.
    Unsatisfied {
        key: Key,
        version: String,
        components: Vec<String>,
    },
    /// An entry no component asks for.
    Unused { key: Key },
    /// The entry lists other components than those asking for it.
    ComponentsChanged {
        key: Key,
        locked: Vec<String>,
        now: Vec<String>,
    },
    /// The repository now publishes other bytes for the locked version.
    DigestChanged {
        key: Key,
        version: String,
        locked: String,
        upstream: String,
        components: Vec<String>,
    },
    /// The repository no longer publishes the locked version.
    VersionGone {
        key: Key,
        version: String,
        components: Vec<String>,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing { key, components } => write!(
                f,
                "missing entry: {key} (for {}); run `hydrate lock`",
                quote_list(components)
            ),
            Problem::Unsatisfied {
                key,
                version,
                components,
            } => write!(
                f,
                "stale entry: {key} pins `{version}`, which does not satisfy it (for {}); run `hydrate lock`",
                quote_list(components)
            ),
            Problem::Unused { key } => {
                write!(
                    f,
                    "stale entry: {key} is used by no component; run `hydrate lock`"
                )
            }
            Problem::ComponentsChanged { key, locked, now } => write!(
                f,
                "stale entry: {key} lists {} but is used by {}; run `hydrate lock`",
                quote_list(locked),
                quote_list(now)
            ),
            Problem::DigestChanged {
                key,
                version,
                locked,
                upstream,
                components,
            } => write!(
                f,
                "digest changed upstream: {key} `{version}` was `{locked}`, the repository now \
                 publishes `{upstream}` (for {}); check why, then accept it with \
                 `hydrate lock --update {}`",
                quote_list(components),
                components
                    .first()
                    .map_or("", |c| c.split('@').next().unwrap_or(c))
            ),
            Problem::VersionGone {
                key,
                version,
                components,
            } => write!(
                f,
                "version gone: {key} `{version}` is no longer published (for {}); move it with \
                 `hydrate lock --update {}`",
                quote_list(components),
                components
                    .first()
                    .map_or("", |c| c.split('@').next().unwrap_or(c))
            ),
        }
    }
}

impl Problem {
    /// The lock key the finding is about.
    pub fn key(&self) -> Option<&Key> {
        match self {
            Problem::Missing { key, .. }
            | Problem::Unsatisfied { key, .. }
            | Problem::Unused { key }
            | Problem::ComponentsChanged { key, .. }
            | Problem::DigestChanged { key, .. }
            | Problem::VersionGone { key, .. } => Some(key),
        }
    }
}

/// What one lock key needs: who asks for it and its parsed constraint.
pub(super) struct Wanted {
    pub(super) components: BTreeSet<String>,
    pub(super) constraint: Constraint,
}

/// Whether the lock must resolve a key afresh or keep its entry.
pub(super) enum Plan<'a> {
    Keep(&'a LockEntry),
    Resolve(Option<&'a LockEntry>),
}

/// Runs `hydrate lock` and returns what it did, without printing.
pub fn lock(
    root: &Utf8Path,
    args: &Options,
    requests: &[ChartRequest],
    progress: &dyn Progress,
) -> Result<Outcome, LockError> {
    let wanted = collect(requests)?;
    let old = read_lock(root)?.unwrap_or_default();
    let selected = update_selection(args, requests)?;
    let mut plans: BTreeMap<&Key, Plan<'_>> = BTreeMap::new();
    for (key, want) in &wanted {
        let entry = old.get(key);
        let plan = match entry {
            Some(e) if !selected.contains(key) && satisfies(e, key, &want.constraint) => Plan::Keep(e),
            other => Plan::Resolve(other),
        };
        plans.insert(key, plan);
    }

    let ctx = Resolver {
        root,
        http: Http::new(Duration::from_secs(args.timeout.max(1))),
        tokens: Tokens::default(),
        index_dir: args.index_dir.as_deref(),
        shown_dir: args
            .index_dir
            .as_ref()
            .map(|d| d.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_default(),
        plain_http: args.plain_http,
        progress,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.max(1))
        .build()
        .map_err(|e| LockError::Threads {
            reason: e.to_string(),
        })?;

    if args.check {
        return pool.install(|| check(&ctx, args, &old, &wanted, &plans));
    }
    pool.install(|| resolve_all(&ctx, args, &old, &wanted, &plans))
}

/// Groups requests by key, validating each constraint; every bad one is reported.
fn collect(requests: &[ChartRequest]) -> Result<BTreeMap<Key, Wanted>, LockError> {
    let mut wanted: BTreeMap<Key, Wanted> = BTreeMap::new();
    let mut errors = Vec::new();
    for request in requests {
        let key = request.key();
        match Constraint::parse(&key.constraint) {
            Ok(constraint) => {
                wanted
                    .entry(key)
                    .or_insert_with(|| Wanted {
                        components: BTreeSet::new(),
                        constraint,
                    })
                    .components
                    .insert(request.label());
            }
            Err(reason) => errors.push(LockError::BadConstraint {
                component: request.label(),
                constraint: key.constraint,
                reason,
            }),
        }
    }
    match LockError::combine(errors) {
        Some(err) => Err(err),
        None => Ok(wanted),
    }
}

/// The keys `--update` moves: all with a bare `--update`, else those of the named components.
///
/// A name matches a component (all its environments) or one `component@env`.
fn update_selection(args: &Options, requests: &[ChartRequest]) -> Result<BTreeSet<Key>, LockError> {
    let Some(names) = &args.update else {
        return Ok(BTreeSet::new());
    };
    if names.is_empty() {
        return Ok(requests.iter().map(ChartRequest::key).collect());
    }
    let mut keys = BTreeSet::new();
    let mut errors = Vec::new();
    for name in names {
        let matching: Vec<&ChartRequest> = requests
            .iter()
            .filter(|r| r.component == *name || r.label() == *name)
            .collect();
        if matching.is_empty() {
            let labels: BTreeSet<String> = requests
                .iter()
                .flat_map(|r| [r.component.clone(), r.label()])
                .collect();
            let close: Vec<&String> = labels
                .iter()
                .filter(|l| strsim::jaro_winkler(l, name) > 0.8)
                .collect();
            let hint = if close.is_empty() {
                format!("components with charts: {}", quote_list(&labels))
            } else {
                format!("did you mean {}?", quote_list(close))
            };
            errors.push(LockError::UnknownComponent {
                name: name.clone(),
                hint,
            });
        }
        keys.extend(matching.into_iter().map(ChartRequest::key));
    }
    match LockError::combine(errors) {
        Some(err) => Err(err),
        None => Ok(keys),
    }
}

/// Whether a lock entry's version satisfies the key's constraint.
pub(super) fn satisfies(entry: &LockEntry, key: &Key, constraint: &Constraint) -> bool {
    (is_exact(&key.constraint) && entry.version == key.constraint)
        || parse_version(&entry.version).is_some_and(|v| constraint.matches(&v))
}

/// The changes from `old` to `new`, in key order.
pub(super) fn diff(old: &Lock, new: &Lock) -> Vec<Change> {
    let mut changes = Vec::new();
    for entry in &new.entries {
        let key = entry.key();
        match old.get(&key) {
            None => changes.push(Change::Added {
                key,
                version: entry.version.clone(),
            }),
            Some(prev) if prev.version != entry.version => changes.push(Change::Moved {
                key,
                from: prev.version.clone(),
                to: entry.version.clone(),
            }),
            Some(prev) if prev != entry => changes.push(Change::Refreshed {
                key,
                version: entry.version.clone(),
            }),
            Some(_) => {}
        }
    }
    for entry in &old.entries {
        if new.get(&entry.key()).is_none() {
            changes.push(Change::Removed {
                key: entry.key(),
                version: entry.version.clone(),
            });
        }
    }
    changes.sort_by(|a, b| change_key(a).cmp(change_key(b)));
    changes
}

pub(super) fn change_key(change: &Change) -> &Key {
    match change {
        Change::Added { key, .. }
        | Change::Moved { key, .. }
        | Change::Refreshed { key, .. }
        | Change::Removed { key, .. } => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn req(component: &str, constraint: &str) -> ChartRequest {
        ChartRequest {
            component: component.to_owned(),
            env: None,
            repo: "https://x.org".to_owned(),
            chart: "c".to_owned(),
            constraint: constraint.to_owned(),
        }
    }

    #[test]
    fn every_bad_constraint_is_reported() {
        let err = collect(&[req("a", "~1"), req("b", ">>1"), req("c", "")])
            .err()
            .expect("fails");
        match err {
            LockError::Many { errors } => assert_eq!(errors.len(), 2),
            other => panic!("expected two errors, got {other}"),
        }
    }

    #[test]
    fn update_names_must_exist() {
        let args = Options {
            update: Some(vec!["webb".to_owned()]),
            ..Options::default()
        };
        let err = update_selection(&args, &[req("web", "~1")]).expect_err("unknown");
        let help = miette::Diagnostic::help(&err).expect("help").to_string();
        assert!(help.contains("did you mean `web`"), "{help}");
    }
}
