//! Steps 3 to 5 of `hydrate lock`: fetch every repository index or OCI tag list once, in
//! parallel; resolve each constraint to the highest matching release; verify kept entries
//! against the upstream digest; read OCI manifest digests and dependencies.

use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8Path;
use rayon::prelude::*;

use super::archive;
use super::download::download;
use super::fetch::{self, Http, RepoKind};
use super::index::{self, ChartVersion, RepoIndex};
use super::oci::{Manifest, OciChart, Tokens};
use super::progress::Progress;
use super::run::{Options, Outcome, Plan, Problem, Wanted, diff};
use super::{Key, Lock, LockEntry, LockError, quote_list, write_lock};

/// Where a key's versions come from: one fetch each per run.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SourceId {
    /// A repository `index.yaml` (also an OCI repository's file in `--index-dir`).
    Index(String),
    /// The tag list of an OCI chart.
    Tags { repo: String, chart: String },
}

pub(super) enum SourceData {
    Index(RepoIndex),
    Tags(Vec<ChartVersion>),
}

pub(super) struct Resolver<'a> {
    pub(super) root: &'a Utf8Path,
    pub(super) http: Http,
    /// Registry tokens by repository, shared by every request of the run.
    pub(super) tokens: Tokens,
    pub(super) index_dir: Option<&'a Utf8Path>,
    pub(super) shown_dir: String,
    pub(super) plain_http: bool,
    pub(super) progress: &'a dyn Progress,
}

impl Resolver<'_> {
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

    pub(super) fn oci(&self, repo: &str, chart: &str) -> Result<OciChart<'_>, LockError> {
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

/// `ctx.progress`, started for `charts` charts and `steps` units.
pub(super) fn progress<'c>(ctx: &'c Resolver<'_>, charts: usize, steps: usize) -> &'c dyn Progress {
    ctx.progress.start(charts, steps);
    ctx.progress
}

/// Fetches every source once, in parallel; errors come back in input order.
pub(super) fn fetch_sources(
    ctx: &Resolver<'_>,
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
pub(super) fn versions_of<'s>(
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
pub(super) fn no_version(key: &Key, want: &Wanted, versions: &[ChartVersion]) -> LockError {
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
pub(super) fn check(
    ctx: &Resolver<'_>,
    args: &Options,
    old: &Lock,
    wanted: &BTreeMap<Key, Wanted>,
    plans: &BTreeMap<&Key, Plan<'_>>,
) -> Result<Outcome, LockError> {
    let mut findings = Vec::new();
    for (key, want) in wanted {
        let components: Vec<String> = want.components.iter().cloned().collect();
        match (plans.get(key), old.get(key)) {
            (_, None) => findings.push(Problem::Missing {
                key: key.clone(),
                components,
            }),
            (Some(Plan::Resolve(_)), Some(entry)) => findings.push(Problem::Unsatisfied {
                key: key.clone(),
                version: entry.version.clone(),
                components,
            }),
            (_, Some(entry)) if entry.components != components => {
                findings.push(Problem::ComponentsChanged {
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
            findings.push(Problem::Unused { key: entry.key() });
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
    ctx: &Resolver<'_>,
    wanted: &BTreeMap<Key, Wanted>,
    kept: &[&LockEntry],
) -> Result<Vec<Problem>, LockError> {
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
    let results: Vec<Result<Option<Problem>, LockError>> = kept
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
    ctx: &Resolver<'_>,
    sources: &BTreeMap<SourceId, SourceData>,
    wanted: &BTreeMap<Key, Wanted>,
    entry: &LockEntry,
) -> Result<Option<Problem>, LockError> {
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
        return Ok(Some(Problem::VersionGone {
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
        return Ok(Some(Problem::DigestChanged {
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
pub(super) struct Resolved<'a> {
    key: &'a Key,
    kind: RepoKind,
    published: ChartVersion,
    /// The old entry when the plan kept it.
    kept: Option<&'a LockEntry>,
    /// The old entry for this key, kept or not (to carry `--download` findings over).
    previous: Option<&'a LockEntry>,
}

/// The normal run: resolve, verify, describe, optionally download, then write.
pub(super) fn resolve_all(
    ctx: &Resolver<'_>,
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
                    findings.push(Problem::VersionGone {
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
            Problem::VersionGone { key, .. } => Some(key),
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
        let flagged: BTreeSet<Key> = findings.iter().filter_map(Problem::key).cloned().collect();
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
pub(super) fn describe(
    r: &Resolved<'_>,
    published: &ChartVersion,
    components: Vec<String>,
    findings: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) -> Option<LockEntry> {
    let key = r.key;
    if let Some(kept) = r.kept
        && published.digest != kept.digest
        && !findings
            .iter()
            .any(|f| matches!(f, Problem::VersionGone { key: k, .. } if k == key))
    {
        findings.push(Problem::DigestChanged {
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
