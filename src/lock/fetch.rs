//! Repository access for `hydrate lock`: HTTP(S) with timeouts, `file://`, `--index-dir`.
//!
//! Touches the network (ureq over rustls) and the disk (`file://` repositories and archives,
//! index mirrors). Never called by `hydrate build`.

use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use ureq::http::Response;

use super::LockError;
use super::index::{RepoIndex, parse_index};

/// Largest body read from the network or disk (indexes of big repositories reach tens of MB).
pub(crate) const MAX_BODY: u64 = 512 * 1024 * 1024;

/// Where a chart repository lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RepoKind {
    /// `http(s)://…`: `<url>/index.yaml`.
    Http,
    /// `file://…`: a folder holding `index.yaml`.
    File(Utf8PathBuf),
    /// `oci://host[:port]/path`: a registry speaking the distribution API.
    Oci { host: String, path: String },
}

/// Classifies a repository URL; `root` anchors relative `file://` paths.
pub(crate) fn classify(repo: &str, root: &Utf8Path) -> Result<RepoKind, LockError> {
    let bad = || LockError::RepoUrl {
        what: repo.to_owned(),
    };
    let (scheme, rest) = repo.split_once("://").ok_or_else(bad)?;
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" if !rest.is_empty() => Ok(RepoKind::Http),
        "file" if !rest.is_empty() => {
            let path = Utf8PathBuf::from(rest);
            Ok(RepoKind::File(if path.is_absolute() {
                path
            } else {
                root.join(path)
            }))
        }
        "oci" => {
            let (host, path) = rest.trim_end_matches('/').split_once('/').unwrap_or((rest, ""));
            if host.is_empty() || host.contains('@') {
                return Err(bad());
            }
            Ok(RepoKind::Oci {
                host: host.to_owned(),
                path: path.to_owned(),
            })
        }
        _ => Err(bad()),
    }
}

/// Whether a URL's host is the loopback interface (tests, local registries).
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    is_loopback_host(authority)
}

/// Whether `host[:port]` names the loopback interface.
pub(crate) fn is_loopback_host(authority: &str) -> bool {
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The name of a repository's index file in an `--index-dir` mirror.
///
/// The URL without scheme and trailing `/`, every character outside `[A-Za-z0-9._-]` turned
/// into `_`, then `.yaml`: `https://charts.example.org/stable` → `charts.example.org_stable.yaml`.
pub fn index_dir_file_name(repo: &str) -> String {
    let rest = repo.split_once("://").map_or(repo, |(_, r)| r);
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix("/index.yaml").unwrap_or(rest);
    let name: String = rest
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.yaml")
}

/// Where a repository's index may sit in an `--index-dir` mirror, in the order looked for:
/// `<name>.yaml` (see [`index_dir_file_name`]), then Helm's own layout, a folder per repository
/// holding `index.yaml`, named `<name>` or with `.` turned into `_` too (`charts_jetstack_io`,
/// as a `helm repo index` mirror or a fixtures tree names it), and `<that>.yaml`.
pub fn index_dir_candidates(repo: &str) -> Vec<String> {
    let file = index_dir_file_name(repo);
    let name = file.trim_end_matches(".yaml");
    let slug = name.replace('.', "_");
    let slug = slug.trim_end_matches('_');
    vec![
        file.clone(),
        format!("{name}/index.yaml"),
        format!("{slug}/index.yaml"),
        format!("{slug}.yaml"),
    ]
}

/// What a mirror folder holds (its first few YAML files and folders), for the error that
/// finds no index: a mirror named otherwise shows at once.
fn found_in_mirror(dir: &Utf8Path) -> String {
    if !dir.is_dir() {
        return "; there is no such folder".to_owned();
    }
    let Ok(entries) = fs_err::read_dir(dir) else {
        return "; the folder cannot be read".to_owned();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let path = e.path();
            if path.is_dir() {
                path.join("index.yaml")
                    .is_file()
                    .then(|| format!("{name}/index.yaml"))
            } else {
                name.ends_with(".yaml").then_some(name)
            }
        })
        .collect();
    names.sort();
    if names.is_empty() {
        return "; the folder holds no index file".to_owned();
    }
    let more = names.len().saturating_sub(4);
    names.truncate(4);
    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!(
        "; the folder holds {}{} (named otherwise: rename or link the file of this repository)",
        list.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// An HTTP client with timeouts; proxies from the environment except for loopback hosts.
pub(crate) struct Http {
    agent: ureq::Agent,
    direct: ureq::Agent,
    timeout: Duration,
}

impl Http {
    /// A client whose every request gives up after `timeout`.
    pub(crate) fn new(timeout: Duration) -> Self {
        let build = |proxy: bool| {
            let mut config = ureq::Agent::config_builder()
                .timeout_global(Some(timeout))
                .timeout_connect(Some(timeout.min(Duration::from_secs(15))))
                .http_status_as_error(false)
                .user_agent(concat!("hydrate/", env!("CARGO_PKG_VERSION")));
            if !proxy {
                config = config.proxy(None);
            }
            ureq::Agent::new_with_config(config.build())
        };
        Self {
            agent: build(true),
            direct: build(false),
            timeout,
        }
    }

    fn agent_for(&self, url: &str) -> &ureq::Agent {
        if is_loopback_url(url) {
            &self.direct
        } else {
            &self.agent
        }
    }

    /// Sends a GET (or HEAD) with headers; any status comes back as a response.
    pub(crate) fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response<ureq::Body>, LockError> {
        let agent = self.agent_for(url);
        let result = if method == "HEAD" {
            let mut req = agent.head(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        } else {
            let mut req = agent.get(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            req.call()
        };
        result.map_err(|e| LockError::Fetch {
            url: url.to_owned(),
            reason: self.describe(&e),
        })
    }

    /// GETs `url` and returns the body of a 200 response.
    pub(crate) fn get_bytes(&self, url: &str) -> Result<Vec<u8>, LockError> {
        let mut response = self.request("GET", url, &[])?;
        let status = response.status();
        if !status.is_success() {
            return Err(LockError::Fetch {
                url: url.to_owned(),
                reason: format!("the server answered {status}"),
            });
        }
        read_body(url, &mut response, self)
    }

    /// A readable reason for a transport error.
    pub(crate) fn describe(&self, err: &ureq::Error) -> String {
        match err {
            ureq::Error::Timeout(_) => format!("timed out after {}s", self.timeout.as_secs()),
            other => other.to_string(),
        }
    }
}

/// Reads a response body up to [`MAX_BODY`].
pub(crate) fn read_body(
    url: &str,
    response: &mut Response<ureq::Body>,
    http: &Http,
) -> Result<Vec<u8>, LockError> {
    response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| LockError::Fetch {
            url: url.to_owned(),
            reason: http.describe(&e),
        })
}

/// Reads a `file://` URL or path; errors name the URL, not the absolute path.
pub(crate) fn read_file(url: &str, path: &Utf8Path) -> Result<Vec<u8>, LockError> {
    fs_err::read(path).map_err(|e| LockError::Fetch {
        url: url.to_owned(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_owned(),
            _ => e.kind().to_string(),
        },
    })
}

/// Loads the index of an HTTP or `file://` repository (or its mirror in `index_dir`).
pub(crate) fn load_index(
    http: &Http,
    repo: &str,
    kind: &RepoKind,
    index_dir: Option<&Utf8Path>,
    shown_dir: &str,
) -> Result<RepoIndex, LockError> {
    let bytes = if let Some(dir) = index_dir {
        let candidates = index_dir_candidates(repo);
        let Some(file) = candidates.iter().find(|c| dir.join(c).is_file()) else {
            return Err(LockError::IndexDirMissing {
                repo: repo.to_owned(),
                dir: shown_dir.to_owned(),
                file: candidates[0].clone(),
                helm: candidates[2].clone(),
                found: found_in_mirror(dir),
            });
        };
        read_file(&format!("{shown_dir}/{file}"), &dir.join(file))?
    } else {
        match kind {
            RepoKind::Http => http.get_bytes(&format!("{}/index.yaml", repo.trim_end_matches('/')))?,
            RepoKind::File(dir) => read_file(&format!("{repo}/index.yaml"), &dir.join("index.yaml"))?,
            RepoKind::Oci { .. } => {
                return Err(LockError::Index {
                    repo: repo.to_owned(),
                    reason: "an OCI registry has no `index.yaml` (use `--index-dir` to mirror one)"
                        .to_owned(),
                });
            }
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| LockError::Index {
        repo: repo.to_owned(),
        reason: "it is not UTF-8 text".to_owned(),
    })?;
    parse_index(&text).map_err(|reason| LockError::Index {
        repo: repo.to_owned(),
        reason,
    })
}

/// Fetches an archive: `http(s)://…` over the network, `file://…` from disk.
pub(crate) fn fetch_archive(http: &Http, url: &str, root: &Utf8Path) -> Result<Vec<u8>, LockError> {
    if let Some(rest) = url.strip_prefix("file://") {
        let path = Utf8PathBuf::from(rest);
        let path = if path.is_absolute() { path } else { root.join(path) };
        return read_file(url, &path);
    }
    http.get_bytes(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_urls_are_classified() {
        let root = Utf8Path::new("/repo");
        assert_eq!(classify("https://x.org/charts/", root).ok(), Some(RepoKind::Http));
        assert_eq!(
            classify("file://mirror/charts", root).ok(),
            Some(RepoKind::File("/repo/mirror/charts".into()))
        );
        assert_eq!(
            classify("file:///srv/charts", root).ok(),
            Some(RepoKind::File("/srv/charts".into()))
        );
        assert_eq!(
            classify("oci://ghcr.io/org/charts", root).ok(),
            Some(RepoKind::Oci {
                host: "ghcr.io".into(),
                path: "org/charts".into()
            })
        );
        assert_eq!(
            classify("oci://127.0.0.1:5000", root).ok(),
            Some(RepoKind::Oci {
                host: "127.0.0.1:5000".into(),
                path: String::new()
            })
        );
        for bad in ["charts.example.org", "ftp://x", "https://", "oci:///x"] {
            assert!(classify(bad, root).is_err(), "`{bad}` is refused");
        }
    }

    #[test]
    fn loopback_is_recognised() {
        for yes in [
            "http://127.0.0.1:80/x",
            "http://localhost/",
            "http://[::1]:5000/v2/",
            "127.0.0.2:1",
        ] {
            assert!(is_loopback_url(yes), "{yes}");
        }
        for no in [
            "https://ghcr.io/v2/",
            "http://10.0.0.1/",
            "http://localhost.evil.org/",
        ] {
            assert!(!is_loopback_url(no), "{no}");
        }
    }

    #[test]
    fn mirrors_in_helm_layout_are_looked_for_too() {
        assert_eq!(
            index_dir_candidates("https://charts.jetstack.io"),
            [
                "charts.jetstack.io.yaml",
                "charts.jetstack.io/index.yaml",
                "charts_jetstack_io/index.yaml",
                "charts_jetstack_io.yaml"
            ]
        );
        assert_eq!(
            index_dir_candidates("oci://8gears.container-registry.com/library")[2],
            "8gears_container-registry_com_library/index.yaml"
        );
        assert_eq!(
            index_dir_candidates("https://kubernetes-sigs.github.io/external-dns/")[2],
            "kubernetes-sigs_github_io_external-dns/index.yaml"
        );
    }

    #[test]
    fn mirror_file_names_are_derived_from_the_url() {
        assert_eq!(
            index_dir_file_name("https://cloudnative-pg.github.io/charts"),
            "cloudnative-pg.github.io_charts.yaml"
        );
        assert_eq!(
            index_dir_file_name("https://kubernetes-sigs.github.io/external-dns/"),
            "kubernetes-sigs.github.io_external-dns.yaml"
        );
        assert_eq!(
            index_dir_file_name("oci://127.0.0.1:5000/charts"),
            "127.0.0.1_5000_charts.yaml"
        );
    }
}
