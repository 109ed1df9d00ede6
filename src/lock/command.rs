//! `hydrate lock`: resolve every chart constraint and write `hydrate.lock`.
//!
//! Steps, in order:
//! 1. collect the requests by (repo, chart, constraint) and validate every constraint;
//! 2. plan: keep a satisfying entry of the old lock unless `--update` names it, else resolve;
//! 3. fetch each repository index (or OCI tag list) once, in parallel;
//! 4. resolve new entries, verify kept ones against the upstream digest;
//! 5. for OCI charts, read the manifest digest and the chart's dependencies;
//! 6. with `--download`, fetch each archive, verify its sha256 and look inside;
//! 7. write the lock (unless `--check`, which only reports).
//!
//! Touches the network and `hydrate.lock`, through `fetch.rs`, `oci.rs` and `mod.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;

use super::archive;
use super::constraint::{Constraint, is_exact, parse_version};
use super::fetch::{self, Http, RepoKind};
use super::index::{self, ChartVersion, RepoIndex};
use super::oci::{Manifest, OciChart, Tokens};
use super::{ChartRequest, Key, Lock, LockEntry, LockError, quote_list, read_lock, write_lock};

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
    pub findings: Vec<Finding>,
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
pub enum Finding {
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

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Missing { key, components } => write!(
                f,
                "missing entry: {key} (for {}); run `hydrate lock`",
                quote_list(components)
            ),
            Finding::Unsatisfied {
                key,
                version,
                components,
            } => write!(
                f,
                "stale entry: {key} pins `{version}`, which does not satisfy it (for {}); run `hydrate lock`",
                quote_list(components)
            ),
            Finding::Unused { key } => {
                write!(
                    f,
                    "stale entry: {key} is used by no component; run `hydrate lock`"
                )
            }
            Finding::ComponentsChanged { key, locked, now } => write!(
                f,
                "stale entry: {key} lists {} but is used by {}; run `hydrate lock`",
                quote_list(locked),
                quote_list(now)
            ),
            Finding::DigestChanged {
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
            Finding::VersionGone {
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

impl Finding {
    /// The lock key the finding is about.
    pub fn key(&self) -> Option<&Key> {
        match self {
            Finding::Missing { key, .. }
            | Finding::Unsatisfied { key, .. }
            | Finding::Unused { key }
            | Finding::ComponentsChanged { key, .. }
            | Finding::DigestChanged { key, .. }
            | Finding::VersionGone { key, .. } => Some(key),
        }
    }
}

/// What one lock key needs: who asks for it and its parsed constraint.
struct Wanted {
    components: BTreeSet<String>,
    constraint: Constraint,
}

/// Whether the lock must resolve a key afresh or keep its entry.
enum Plan<'a> {
    Keep(&'a LockEntry),
    Resolve(Option<&'a LockEntry>),
}

/// Where a key's versions come from: one fetch each per run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SourceId {
    /// A repository `index.yaml` (also an OCI repository's file in `--index-dir`).
    Index(String),
    /// The tag list of an OCI chart.
    Tags { repo: String, chart: String },
}

enum SourceData {
    Index(RepoIndex),
    Tags(Vec<ChartVersion>),
}

struct Ctx<'a> {
    root: &'a Utf8Path,
    http: Http,
    /// Registry tokens by repository, shared by every request of the run.
    tokens: Tokens,
    index_dir: Option<&'a Utf8Path>,
    shown_dir: String,
    plain_http: bool,
    progress: &'a dyn Progress,
}

impl Ctx<'_> {
    fn source_of(&self, key: &Key) -> Result<(SourceId, RepoKind), LockError> {
        let kind = fetch::classify(&key.repo, self.root)?;
        let id = match (&kind, self.index_dir) {
            (RepoKind::Oci { .. }, None) => SourceId::Tags {
                repo: key.repo.clone(),
                chart: key.chart.clone(),
            },
            _ => SourceId::Index(key.repo.clone()),
        };
        Ok((id, kind))
    }

    fn fetch(&self, id: &SourceId) -> Result<SourceData, LockError> {
        match id {
            SourceId::Index(repo) => {
                let kind = fetch::classify(repo, self.root)?;
                fetch::load_index(&self.http, repo, &kind, self.index_dir, &self.shown_dir)
                    .map(SourceData::Index)
            }
            SourceId::Tags { repo, chart } => self.oci(repo, chart)?.versions().map(SourceData::Tags),
        }
    }

    fn oci(&self, repo: &str, chart: &str) -> Result<OciChart<'_>, LockError> {
        match fetch::classify(repo, self.root)? {
            RepoKind::Oci { host, path } => Ok(OciChart::new(
                &self.http,
                &self.tokens,
                &host,
                &path,
                chart,
                self.plain_http,
            )),
            _ => Err(LockError::RepoUrl {
                what: repo.to_owned(),
            }),
        }
    }
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

    let ctx = Ctx {
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
        .num_threads(args.jobs.clamp(1, crate::cli::MAX_JOBS))
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
fn satisfies(entry: &LockEntry, key: &Key, constraint: &Constraint) -> bool {
    (is_exact(&key.constraint) && entry.version == key.constraint)
        || parse_version(&entry.version).is_some_and(|v| constraint.matches(&v))
}

/// Progress of a long run, reported to whoever shows it (the `lock` command draws a bar on a
/// terminal); the lock stage itself prints nothing.
pub trait Progress: Sync {
    /// `charts` charts, `steps` units of work in all, starting.
    fn start(&self, charts: usize, steps: usize);
    /// The current step, e.g. `fetching indexes`.
    fn step(&self, message: &'static str);
    /// One unit of work done.
    fn inc(&self);
    /// The run is over (successfully or not).
    fn finish(&self);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: usize, _: usize) {}
    fn step(&self, _: &'static str) {}
    fn inc(&self) {}
    fn finish(&self) {}
}

/// `ctx.progress`, started for `charts` charts and `steps` units.
fn progress<'c>(ctx: &'c Ctx<'_>, charts: usize, steps: usize) -> &'c dyn Progress {
    ctx.progress.start(charts, steps);
    ctx.progress
}

/// Fetches every source once, in parallel; errors come back in input order.
fn fetch_sources(
    ctx: &Ctx<'_>,
    ids: BTreeSet<SourceId>,
    bar: &dyn Progress,
) -> (BTreeMap<SourceId, SourceData>, Vec<LockError>) {
    bar.step("fetching indexes");
    let ids: Vec<SourceId> = ids.into_iter().collect();
    let results: Vec<Result<SourceData, LockError>> = ids
        .par_iter()
        .map(|id| {
            let r = ctx.fetch(id);
            bar.inc();
            r
        })
        .collect();
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (id, result) in ids.into_iter().zip(results) {
        match result {
            Ok(data) => {
                out.insert(id, data);
            }
            Err(e) => errors.push(e),
        }
    }
    (out, errors)
}

/// The published versions of a key's chart, or why there are none.
fn versions_of<'s>(
    sources: &'s BTreeMap<SourceId, SourceData>,
    id: &SourceId,
    key: &Key,
    components: &BTreeSet<String>,
) -> Result<&'s [ChartVersion], LockError> {
    match sources.get(id) {
        Some(SourceData::Tags(tags)) => Ok(tags),
        Some(SourceData::Index(index)) => match index.charts.get(&key.chart) {
            Some(versions) => Ok(versions),
            None => {
                let names: Vec<&String> = index.charts.keys().collect();
                let close: Vec<&String> = names
                    .iter()
                    .copied()
                    .filter(|n| strsim::jaro_winkler(n, &key.chart) > 0.8)
                    .collect();
                let hint = if close.is_empty() {
                    format!(
                        "the repository has {}",
                        quote_list(names.iter().copied().take(20))
                    )
                } else {
                    format!("did you mean {}?", quote_list(close))
                };
                Err(LockError::NoChart {
                    repo: key.repo.clone(),
                    chart: key.chart.clone(),
                    components: quote_list(components),
                    hint,
                })
            }
        },
        // The fetch failed; that error is already reported.
        None => Ok(&[]),
    }
}

/// The error for a constraint no published version satisfies.
fn no_version(key: &Key, want: &Wanted, versions: &[ChartVersion]) -> LockError {
    let newest = index::newest(versions, 5);
    let mut hint = if newest.is_empty() {
        "the repository publishes no release of this chart".to_owned()
    } else {
        format!("newest releases: {}", quote_list(&newest))
    };
    if !want.constraint.names_prerelease() {
        hint.push_str("; pre-releases count only when the constraint names one (`>=1.0.0-0`)");
    }
    LockError::NoVersion {
        repo: key.repo.clone(),
        chart: key.chart.clone(),
        constraint: key.constraint.clone(),
        components: quote_list(&want.components),
        hint,
    }
}

/// `--check`: compares the lock with the requests (and, unless `--offline`, with upstream).
fn check(
    ctx: &Ctx<'_>,
    args: &Options,
    old: &Lock,
    wanted: &BTreeMap<Key, Wanted>,
    plans: &BTreeMap<&Key, Plan<'_>>,
) -> Result<Outcome, LockError> {
    let mut findings = Vec::new();
    for (key, want) in wanted {
        let components: Vec<String> = want.components.iter().cloned().collect();
        match (plans.get(key), old.get(key)) {
            (_, None) => findings.push(Finding::Missing {
                key: key.clone(),
                components,
            }),
            (Some(Plan::Resolve(_)), Some(entry)) => findings.push(Finding::Unsatisfied {
                key: key.clone(),
                version: entry.version.clone(),
                components,
            }),
            (_, Some(entry)) if entry.components != components => {
                findings.push(Finding::ComponentsChanged {
                    key: key.clone(),
                    locked: entry.components.clone(),
                    now: components,
                });
            }
            _ => {}
        }
    }
    for entry in &old.entries {
        if !wanted.contains_key(&entry.key()) {
            findings.push(Finding::Unused { key: entry.key() });
        }
    }
    if !args.offline {
        let kept: Vec<&LockEntry> = plans
            .values()
            .filter_map(|p| match p {
                Plan::Keep(e) => Some(*e),
                Plan::Resolve(_) => None,
            })
            .collect();
        findings.extend(verify_upstream(ctx, wanted, &kept)?);
    }
    Ok(Outcome {
        lock: old.clone(),
        changes: Vec::new(),
        findings,
        warnings: Vec::new(),
        written: false,
    })
}

/// Fetches upstream for kept entries and reports changed digests and vanished versions.
fn verify_upstream(
    ctx: &Ctx<'_>,
    wanted: &BTreeMap<Key, Wanted>,
    kept: &[&LockEntry],
) -> Result<Vec<Finding>, LockError> {
    let mut ids = BTreeSet::new();
    for entry in kept {
        ids.insert(ctx.source_of(&entry.key())?.0);
    }
    let bar = progress(ctx, kept.len(), ids.len() + kept.len());
    let (sources, fetch_errors) = fetch_sources(ctx, ids, bar);
    if let Some(err) = LockError::combine(fetch_errors) {
        bar.finish();
        return Err(err);
    }
    bar.step("reading digests");
    let results: Vec<Result<Option<Finding>, LockError>> = kept
        .par_iter()
        .map(|entry| {
            let r = verify_one(ctx, &sources, wanted, entry);
            bar.inc();
            r
        })
        .collect();
    bar.finish();
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(Some(f)) => findings.push(f),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    match LockError::combine(errors) {
        Some(err) => Err(err),
        None => Ok(findings),
    }
}

/// Checks one kept entry against upstream.
fn verify_one(
    ctx: &Ctx<'_>,
    sources: &BTreeMap<SourceId, SourceData>,
    wanted: &BTreeMap<Key, Wanted>,
    entry: &LockEntry,
) -> Result<Option<Finding>, LockError> {
    let key = entry.key();
    let components: Vec<String> = wanted
        .get(&key)
        .map(|w| w.components.iter().cloned().collect())
        .unwrap_or_default();
    let (id, _) = ctx.source_of(&key)?;
    let empty = BTreeSet::new();
    let versions = versions_of(
        sources,
        &id,
        &key,
        wanted.get(&key).map_or(&empty, |w| &w.components),
    )?;
    let Some(published) = index::find_version(versions, &entry.version) else {
        return Ok(Some(Finding::VersionGone {
            key,
            version: entry.version.clone(),
            components,
        }));
    };
    let upstream = match id {
        SourceId::Tags { .. } => Some(ctx.oci(&key.repo, &key.chart)?.manifest(&entry.version)?.digest),
        SourceId::Index(_) => published.digest.clone(),
    };
    if upstream != entry.digest {
        return Ok(Some(Finding::DigestChanged {
            key,
            version: entry.version.clone(),
            locked: entry.digest.clone().unwrap_or_else(|| "none".to_owned()),
            upstream: upstream.unwrap_or_else(|| "none".to_owned()),
            components,
        }));
    }
    Ok(None)
}

/// A key's resolution before OCI details and downloads.
struct Resolved<'a> {
    key: &'a Key,
    kind: RepoKind,
    published: ChartVersion,
    /// The old entry when the plan kept it.
    kept: Option<&'a LockEntry>,
    /// The old entry for this key, kept or not (to carry `--download` findings over).
    previous: Option<&'a LockEntry>,
}

/// The normal run: resolve, verify, describe, optionally download, then write.
fn resolve_all(
    ctx: &Ctx<'_>,
    args: &Options,
    old: &Lock,
    wanted: &BTreeMap<Key, Wanted>,
    plans: &BTreeMap<&Key, Plan<'_>>,
) -> Result<Outcome, LockError> {
    // 3. One fetch per source.
    let mut ids = BTreeSet::new();
    let mut kinds = BTreeMap::new();
    for key in wanted.keys() {
        let (id, kind) = ctx.source_of(key)?;
        ids.insert(id.clone());
        kinds.insert(key, (id, kind));
    }
    let oci_keys = kinds
        .values()
        .filter(|(id, _)| matches!(id, SourceId::Tags { .. }))
        .count();
    let downloads = if args.download { wanted.len() } else { 0 };
    let bar = progress(ctx, wanted.len(), ids.len() + oci_keys + downloads);
    let (sources, mut errors) = fetch_sources(ctx, ids, bar);

    // 4. Choose a version per key; kept entries must still be published.
    let mut findings = Vec::new();
    let mut resolved: Vec<Resolved<'_>> = Vec::new();
    for (key, want) in wanted {
        let (id, kind) = &kinds[key];
        if !sources.contains_key(id) {
            continue; // its fetch error is already in `errors`
        }
        let versions = match versions_of(&sources, id, key, &want.components) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let (kept, previous) = match plans.get(key) {
            Some(Plan::Keep(e)) => (Some(*e), Some(*e)),
            Some(Plan::Resolve(prev)) => (None, *prev),
            None => (None, None),
        };
        let published = match kept {
            Some(entry) => match index::find_version(versions, &entry.version) {
                Some(p) => p.clone(),
                None => {
                    findings.push(Finding::VersionGone {
                        key: key.clone(),
                        version: entry.version.clone(),
                        components: want.components.iter().cloned().collect(),
                    });
                    // Keep the entry as it is: the lock never moves without `--update`.
                    ChartVersion {
                        version: entry.version.clone(),
                        digest: entry.digest.clone(),
                        urls: entry.url.iter().cloned().collect(),
                        dependencies: entry.dependencies.clone(),
                    }
                }
            },
            None => match index::select(versions, &key.constraint, &want.constraint) {
                Some(p) => p.clone(),
                None => {
                    errors.push(no_version(key, want, versions));
                    continue;
                }
            },
        };
        resolved.push(Resolved {
            key,
            kind: kind.clone(),
            published,
            kept,
            previous,
        });
    }
    if let Some(err) = LockError::combine(errors) {
        bar.finish();
        return Err(err);
    }

    // 5. OCI charts: the manifest digest and the chart's dependencies, in parallel.
    bar.step("reading manifests");
    let gone: BTreeSet<&Key> = findings
        .iter()
        .filter_map(|f| match f {
            Finding::VersionGone { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    type OciDetails = (Manifest, Vec<super::Dependency>);
    let manifests: Vec<Result<Option<OciDetails>, LockError>> = resolved
        .par_iter()
        .map(|r| {
            let needs = matches!(kinds[r.key].0, SourceId::Tags { .. }) && !gone.contains(r.key);
            if !needs {
                return Ok(None);
            }
            let chart = ctx.oci(&r.key.repo, &r.key.chart)?;
            let manifest = chart.manifest(&r.published.version)?;
            let deps = match &manifest.config {
                Some(config) => chart.dependencies(config)?,
                None => Vec::new(),
            };
            bar.inc();
            Ok(Some((manifest, deps)))
        })
        .collect();
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    let mut oci_manifests: BTreeMap<Key, Manifest> = BTreeMap::new();
    for (r, details) in resolved.iter().zip(manifests) {
        let manifest = match details {
            Ok(Some((manifest, deps))) => Some((manifest, deps)),
            Ok(None) => None,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut published = r.published.clone();
        let manifest = manifest.map(|(m, deps)| {
            published.digest = Some(m.digest.clone());
            published.dependencies = deps;
            m
        });
        let components: Vec<String> = wanted[r.key].components.iter().cloned().collect();
        let entry = match describe(r, &published, components, &mut findings, &mut warnings) {
            Some(entry) => entry,
            None => continue,
        };
        if let Some(m) = manifest {
            oci_manifests.insert(r.key.clone(), m);
        }
        entries.push(entry);
    }
    if let Some(err) = LockError::combine(errors) {
        bar.finish();
        return Err(err);
    }

    // 6. `--download`: verify every archive and look inside.
    if args.download {
        bar.step("downloading charts");
        // Entries with a finding keep their reviewed bytes; upstream ones would not verify.
        let flagged: BTreeSet<Key> = findings.iter().filter_map(Finding::key).cloned().collect();
        let results: Vec<Option<Result<archive::Inspection, LockError>>> = entries
            .par_iter()
            .map(|entry| {
                if flagged.contains(&entry.key()) {
                    return None;
                }
                let r = download(ctx, entry, oci_manifests.get(&entry.key()));
                bar.inc();
                Some(r)
            })
            .collect();
        let mut errors = Vec::new();
        for (entry, result) in entries.iter_mut().zip(results) {
            let Some(result) = result else { continue };
            match result {
                Ok(found) => {
                    entry.images = Some(found.images);
                    entry.bitnami = Some(found.bitnami);
                    if entry.dependencies.is_empty() {
                        entry.dependencies = found.dependencies;
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(err) = LockError::combine(errors) {
            bar.finish();
            return Err(err);
        }
    }
    bar.finish();

    // 7. Write and describe the changes.
    let lock = Lock::from_entries(entries);
    let changes = diff(old, &lock);
    let written = write_lock(ctx.root, &lock)?;
    Ok(Outcome {
        lock,
        changes,
        findings,
        warnings,
        written,
    })
}

/// Builds the lock entry for a resolved key; reports a changed digest of a kept entry.
fn describe(
    r: &Resolved<'_>,
    published: &ChartVersion,
    components: Vec<String>,
    findings: &mut Vec<Finding>,
    warnings: &mut Vec<String>,
) -> Option<LockEntry> {
    let key = r.key;
    if let Some(kept) = r.kept
        && published.digest != kept.digest
        && !findings
            .iter()
            .any(|f| matches!(f, Finding::VersionGone { key: k, .. } if k == key))
    {
        findings.push(Finding::DigestChanged {
            key: key.clone(),
            version: kept.version.clone(),
            locked: kept.digest.clone().unwrap_or_else(|| "none".to_owned()),
            upstream: published.digest.clone().unwrap_or_else(|| "none".to_owned()),
            components: components.clone(),
        });
        // The lock keeps the reviewed bytes until someone runs `--update`.
        let mut entry = kept.clone();
        entry.components = components;
        return Some(entry);
    }
    if let Some(previous) = r.previous
        && r.kept.is_none()
        && previous.version == published.version
        && previous.digest.is_some()
        && previous.digest != published.digest
    {
        warnings.push(format!(
            "{key} `{}`: the digest changed upstream from `{}` to `{}`; accepted because of `--update`",
            published.version,
            previous.digest.as_deref().unwrap_or("none"),
            published.digest.as_deref().unwrap_or("none"),
        ));
    }
    let url = match &r.kind {
        RepoKind::Oci { .. } => Some(format!("{}/{}:{}", key.repo, key.chart, published.version)),
        _ => published.urls.first().map(|u| index::resolve_url(&key.repo, u)),
    };
    // Findings from an earlier `--download` stay valid for the same bytes.
    let same_bytes = r
        .previous
        .filter(|p| p.version == published.version && p.digest == published.digest && p.digest.is_some());
    Some(LockEntry {
        repo: key.repo.clone(),
        chart: key.chart.clone(),
        constraint: key.constraint.clone(),
        version: published.version.clone(),
        digest: published.digest.clone(),
        url,
        components,
        // An index may omit dependencies that `--download` read from the chart itself.
        dependencies: if published.dependencies.is_empty() {
            same_bytes.map(|p| p.dependencies.clone()).unwrap_or_default()
        } else {
            published.dependencies.clone()
        },
        images: same_bytes.and_then(|p| p.images.clone()),
        bitnami: same_bytes.and_then(|p| p.bitnami.clone()),
    })
}

/// `--download` for one entry: fetch, verify against the lock's digest, inspect.
fn download(
    ctx: &Ctx<'_>,
    entry: &LockEntry,
    manifest: Option<&Manifest>,
) -> Result<archive::Inspection, LockError> {
    let (url, bytes) = match fetch::classify(&entry.repo, ctx.root)? {
        RepoKind::Oci { .. } => {
            let chart = ctx.oci(&entry.repo, &entry.chart)?;
            let fetched;
            let manifest = match manifest {
                Some(m) => m,
                None => {
                    fetched = chart.manifest(&entry.version)?;
                    &fetched
                }
            };
            if entry.digest.is_some() && entry.digest.as_deref() != Some(manifest.digest.as_str()) {
                return Err(LockError::DigestMismatch {
                    url: format!("{}/{}:{}", entry.repo, entry.chart, entry.version),
                    expected: entry.digest.clone().unwrap_or_default(),
                    actual: manifest.digest.clone(),
                });
            }
            let Some(layer) = &manifest.layer else {
                return Err(LockError::Oci {
                    reference: chart.reference(),
                    reason: format!("`{}` has no Helm chart layer", entry.version),
                });
            };
            // `blob` checks the layer bytes against the digest the verified manifest names.
            (chart.reference(), chart.blob(layer)?)
        }
        _ => {
            let Some(url) = &entry.url else {
                return Err(LockError::NoUrl {
                    chart: entry.chart.clone(),
                    version: entry.version.clone(),
                });
            };
            let bytes = fetch::fetch_archive(&ctx.http, url, ctx.root)?;
            archive::verify(url, &bytes, entry.digest.as_deref())?;
            (url.clone(), bytes)
        }
    };
    archive::inspect(&bytes).map_err(|reason| LockError::Archive { url, reason })
}

/// The changes from `old` to `new`, in key order.
fn diff(old: &Lock, new: &Lock) -> Vec<Change> {
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

fn change_key(change: &Change) -> &Key {
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
