//! Helm repository `index.yaml`: parsing, and choosing a version for a constraint.
//!
//! Pure: no I/O. Index files are upstream data, so only the fields the lock needs are read and
//! every other field is ignored; entries whose version is not semver are skipped, as Helm does.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Dependency;
use super::constraint::{Constraint, parse_version};

/// The part of a repository index the lock needs: chart name → published versions, file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoIndex {
    /// Chart name → its entries, in the order the index lists them.
    pub charts: BTreeMap<String, Vec<ChartVersion>>,
}

/// One published version of a chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartVersion {
    /// The version exactly as published (`0.29.0`, `v1.2.3`).
    pub version: String,
    /// `sha256:<hex>`: the archive digest for HTTP repositories, the manifest digest for OCI.
    pub digest: Option<String>,
    /// Archive URLs as published (maybe relative to the repository URL).
    pub urls: Vec<String>,
    /// The chart's declared dependencies.
    pub dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    entries: Option<BTreeMap<String, Option<Vec<RawEntry>>>>,
}

#[derive(Deserialize)]
struct RawEntry {
    version: Option<String>,
    digest: Option<String>,
    urls: Option<Vec<String>>,
    dependencies: Option<Vec<RawDependency>>,
}

/// A dependency as written in `Chart.yaml` or an index entry.
#[derive(Deserialize)]
pub(crate) struct RawDependency {
    name: Option<String>,
    alias: Option<String>,
    repository: Option<String>,
    version: Option<String>,
    condition: Option<String>,
}

impl RawDependency {
    /// Keeps named dependencies; empty strings read as absent.
    pub(crate) fn into_dependency(self) -> Option<Dependency> {
        let some = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Some(Dependency {
            name: some(self.name)?,
            alias: some(self.alias),
            repository: some(self.repository),
            version: some(self.version),
            condition: some(self.condition),
        })
    }
}

/// Converts raw dependencies, dropping nameless ones.
pub(crate) fn dependencies(raw: Option<Vec<RawDependency>>) -> Vec<Dependency> {
    raw.unwrap_or_default()
        .into_iter()
        .filter_map(RawDependency::into_dependency)
        .collect()
}

/// YAML options for upstream files: budgets raised for large indexes, duplicate keys tolerated.
pub(crate) fn upstream_yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 50_000_000,
            max_nodes: 20_000_000,
            max_total_scalar_bytes: 512 * 1024 * 1024,
            max_reader_input_bytes: Some(512 * 1024 * 1024),
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    }
}

/// Parses an `index.yaml`; errors say what is wrong (with line:column where known).
pub fn parse_index(text: &str) -> Result<RepoIndex, String> {
    let raw: RawIndex = serde_saphyr::from_str_with_options(text, upstream_yaml_options())
        .map_err(|e| yaml_error_text(&e))?;
    if raw.api_version.as_deref().is_none_or(str::is_empty) {
        return Err("no `apiVersion`: this is not a Helm repository index".to_owned());
    }
    let mut charts = BTreeMap::new();
    for (name, entries) in raw.entries.unwrap_or_default() {
        let versions: Vec<ChartVersion> = entries
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| {
                let version = e.version.filter(|v| !v.trim().is_empty())?;
                Some(ChartVersion {
                    version,
                    digest: e.digest.as_deref().and_then(normalize_digest),
                    urls: e.urls.unwrap_or_default(),
                    dependencies: dependencies(e.dependencies),
                })
            })
            .collect();
        charts.insert(name, versions);
    }
    Ok(RepoIndex { charts })
}

/// A one-line description of a YAML error with its position.
pub(crate) fn yaml_error_text(err: &serde_saphyr::Error) -> String {
    let first = err.to_string();
    let first = first.lines().next().unwrap_or_default().to_owned();
    match err.location() {
        Some(at) if !first.contains(&format!("line {}", at.line())) => {
            format!("{first} (line {}, column {})", at.line(), at.column())
        }
        _ => first,
    }
}

/// Normalizes a digest to `sha256:<64 lowercase hex>`; `None` when it is not one.
pub fn normalize_digest(digest: &str) -> Option<String> {
    let hex = digest.trim();
    let hex = hex.strip_prefix("sha256:").unwrap_or(hex).to_ascii_lowercase();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// Picks the version a request resolves to, as Helm does.
///
/// 1. An exact request matches the entry with the same version string first, then any entry
///    of equal precedence (`v1.2.3` = `1.2.3`).
/// 2. Otherwise the highest version (semver precedence, never string order) that satisfies the
///    constraint; pre-releases only when the constraint names one.
/// 3. Among entries of equal precedence (the same version listed twice) the first listed wins.
pub fn select<'a>(
    versions: &'a [ChartVersion],
    request: &str,
    constraint: &Constraint,
) -> Option<&'a ChartVersion> {
    if let Some(same) = versions.iter().find(|v| v.version == request) {
        return Some(same);
    }
    let mut best: Option<(&ChartVersion, semver::Version)> = None;
    for candidate in versions {
        let Some(parsed) = parse_version(&candidate.version) else {
            continue;
        };
        if !constraint.matches(&parsed) {
            continue;
        }
        let better = best
            .as_ref()
            .is_none_or(|(_, b)| parsed.cmp_precedence(b) == std::cmp::Ordering::Greater);
        if better {
            best = Some((candidate, parsed));
        }
    }
    best.map(|(c, _)| c)
}

/// The first entry published with exactly this version string.
pub fn find_version<'a>(versions: &'a [ChartVersion], version: &str) -> Option<&'a ChartVersion> {
    versions.iter().find(|v| v.version == version)
}

/// The newest few release versions, newest first, for error messages.
pub fn newest(versions: &[ChartVersion], count: usize) -> Vec<String> {
    let mut parsed: Vec<(semver::Version, &str)> = versions
        .iter()
        .filter_map(|v| Some((parse_version(&v.version)?, v.version.as_str())))
        .filter(|(p, _)| p.pre.is_empty())
        .collect();
    parsed.sort_by(|a, b| b.0.cmp_precedence(&a.0).then_with(|| a.1.cmp(b.1)));
    parsed.dedup_by(|a, b| a.1 == b.1);
    parsed
        .into_iter()
        .take(count)
        .map(|(_, s)| s.to_owned())
        .collect()
}

/// Resolves an archive URL from an index against the repository URL (Helm's rule).
///
/// Absolute URLs (with a scheme) are kept; `/path` keeps the repository's scheme and host;
/// anything else is relative to the repository URL, which is read as a folder.
pub fn resolve_url(repo: &str, url: &str) -> String {
    if url.contains("://") {
        return url.to_owned();
    }
    if let Some(path) = url.strip_prefix('/') {
        let (scheme, rest) = repo.split_once("://").unwrap_or(("", repo));
        let host = rest.split('/').next().unwrap_or_default();
        return format!("{scheme}://{host}/{path}");
    }
    let mut base: Vec<&str> = repo.trim_end_matches('/').split('/').collect();
    // Keep `scheme:`, ``, and the host: `..` never climbs above the host.
    let floor = if repo.contains("://") { 3 } else { 0 };
    for segment in url.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                if base.len() > floor {
                    base.pop();
                }
            }
            s => base.push(s),
        }
    }
    base.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"apiVersion: v1
entries:
  demo:
  - version: 1.0.0
    digest: ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789
    urls: [demo-1.0.0.tgz]
    annotations:
      artifacthub.io/changes: |
        - kind: added
          description: "a: b"
    dependencies:
    - name: redis
      version: 1.x
      repository: ""
      condition: redis.enabled
    - repository: https://nameless.example
  - version: 1.1.0-rc.1
    urls: [https://example.org/demo-1.1.0-rc.1.tgz]
  - version: latest
  - version: 1.0.1
    digest: not-a-digest
    urls: [/abs/demo-1.0.1.tgz]
  empty: null
generated: "2026-01-01T00:00:00Z"
"#;

    #[test]
    fn parses_the_fields_the_lock_needs() {
        let index = parse_index(SMALL).expect("parses");
        let demo = &index.charts["demo"];
        assert_eq!(demo.len(), 4);
        assert_eq!(
            demo[0].digest.as_deref(),
            Some("sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
        );
        assert_eq!(
            demo[0].dependencies.len(),
            1,
            "the nameless dependency is dropped"
        );
        assert_eq!(demo[0].dependencies[0].repository, None);
        assert_eq!(
            demo[0].dependencies[0].condition.as_deref(),
            Some("redis.enabled")
        );
        assert_eq!(demo[3].digest, None, "a malformed digest is not kept");
        assert!(index.charts["empty"].is_empty());
    }

    #[test]
    fn an_index_without_api_version_is_refused() {
        let err = parse_index("entries: {}\n").expect_err("refused");
        assert!(err.contains("apiVersion"), "{err}");
        let err = parse_index("apiVersion: v1\nentries: [oops\n").expect_err("refused");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn select_prefers_highest_release() {
        let index = parse_index(SMALL).expect("parses");
        let demo = &index.charts["demo"];
        let pick =
            |c: &str| select(demo, c, &Constraint::parse(c).expect("parses")).map(|v| v.version.clone());
        assert_eq!(pick("^1").as_deref(), Some("1.0.1"));
        assert_eq!(pick(">=1.1.0-0").as_deref(), Some("1.1.0-rc.1"));
        assert_eq!(pick("1.0.0").as_deref(), Some("1.0.0"));
        assert_eq!(pick("^2"), None);
    }

    #[test]
    fn urls_resolve_against_the_repository() {
        let repo = "https://mailu.github.io/helm-charts/";
        assert_eq!(
            resolve_url(repo, "mailu-0.1.0.tgz"),
            "https://mailu.github.io/helm-charts/mailu-0.1.0.tgz"
        );
        assert_eq!(
            resolve_url("https://x.org/charts", "./a/b.tgz"),
            "https://x.org/charts/a/b.tgz"
        );
        assert_eq!(
            resolve_url("https://x.org/charts", "../b.tgz"),
            "https://x.org/b.tgz"
        );
        assert_eq!(resolve_url("https://x.org", "../../b.tgz"), "https://x.org/b.tgz");
        assert_eq!(
            resolve_url("https://x.org/charts", "/dl/b.tgz"),
            "https://x.org/dl/b.tgz"
        );
        assert_eq!(
            resolve_url("https://x.org/charts", "https://cdn.org/b.tgz"),
            "https://cdn.org/b.tgz"
        );
        assert_eq!(
            resolve_url("file:///srv/charts/", "b.tgz"),
            "file:///srv/charts/b.tgz"
        );
    }

    #[test]
    fn newest_lists_releases_by_semver() {
        let index = parse_index(SMALL).expect("parses");
        assert_eq!(newest(&index.charts["demo"], 5), ["1.0.1", "1.0.0"]);
    }

    #[test]
    fn digests_normalize() {
        let hex = "668e065ff53508d58238788fd35b355a925060843629a951df0e6a9362e6d32f";
        assert_eq!(normalize_digest(hex), Some(format!("sha256:{hex}")));
        assert_eq!(
            normalize_digest(&format!("sha256:{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(normalize_digest("sha512:abc"), None);
    }
}
