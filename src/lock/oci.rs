//! OCI charts through the distribution API: tags, manifest digests, chart metadata, blobs.
//!
//! Network only (through [`Http`]). Anonymous bearer tokens are fetched when the registry asks
//! for them (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`), as ghcr.io and Docker Hub do.
//! Plain HTTP is used only for loopback registries when the caller allows it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::fetch::{Http, is_loopback_host, read_body};
use super::index::{ChartVersion, dependencies, normalize_digest};
use super::{Dependency, LockError};

/// Media types of a Helm chart pushed to a registry.
const MANIFEST_TYPES: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// At most this many pages of `tags/list`.
const MAX_TAG_PAGES: usize = 100;

/// Anonymous registry tokens by `host/name`, kept for one run.
pub(crate) type Tokens = Mutex<BTreeMap<String, String>>;

/// One chart in a registry: `oci://<host>/<name>`.
pub(crate) struct OciChart<'h> {
    http: &'h Http,
    tokens: &'h Tokens,
    /// `https` or, for loopback registries with `--plain-http`, `http`.
    scheme: &'static str,
    host: String,
    /// Repository name: `<path>/<chart>`.
    name: String,
}

/// A resolved manifest.
pub(crate) struct Manifest {
    /// `sha256:<hex>` of the manifest bytes.
    pub digest: String,
    /// The Helm config blob (chart metadata as JSON), if the manifest is a Helm chart.
    pub config: Option<Descriptor>,
    /// The chart archive layer.
    pub layer: Option<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    pub digest: String,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct HelmConfig {
    dependencies: Option<Vec<super::index::RawDependency>>,
}

impl<'h> OciChart<'h> {
    /// The chart `<path>/<chart>` on `host`; plain HTTP only if allowed and the host is loopback.
    pub(crate) fn new(
        http: &'h Http,
        tokens: &'h Tokens,
        host: &str,
        path: &str,
        chart: &str,
        plain_http: bool,
    ) -> Self {
        let name = if path.is_empty() {
            chart.to_owned()
        } else {
            format!("{path}/{chart}")
        };
        let scheme = if plain_http && is_loopback_host(host) {
            "http"
        } else {
            "https"
        };
        Self {
            http,
            tokens,
            scheme,
            host: host.to_owned(),
            name,
        }
    }

    /// `oci://host/name` for messages and the lock.
    pub(crate) fn reference(&self) -> String {
        format!("oci://{}/{}", self.host, self.name)
    }

    fn error(&self, reason: impl Into<String>) -> LockError {
        LockError::Oci {
            reference: self.reference(),
            reason: reason.into(),
        }
    }

    /// The published versions: every tag that reads as semver (`_` stands for `+` in OCI tags).
    pub(crate) fn versions(&self) -> Result<Vec<ChartVersion>, LockError> {
        let mut tags = Vec::new();
        let mut url = format!("{}://{}/v2/{}/tags/list", self.scheme, self.host, self.name);
        for _ in 0..MAX_TAG_PAGES {
            let mut response = self.get(&url, "application/json")?;
            let status = response.status();
            if status.as_u16() == 404 {
                return Err(self.error("the registry has no such repository (404)"));
            }
            if !status.is_success() {
                return Err(self.error(format!("listing tags: the registry answered {status}")));
            }
            let next = response
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_body(&url, &mut response, self.http)?;
            let list: TagList = serde_json::from_slice(&body)
                .map_err(|e| self.error(format!("the tag list is not JSON: {e}")))?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(next) if next.starts_with('/') => {
                    url = format!("{}://{}{next}", self.scheme, self.host);
                }
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(tags
            .into_iter()
            .map(|tag| ChartVersion {
                version: tag.replace('_', "+"),
                digest: None,
                urls: Vec::new(),
                dependencies: Vec::new(),
            })
            .collect())
    }

    /// The manifest of `version`, its digest checked against `Docker-Content-Digest`.
    pub(crate) fn manifest(&self, version: &str) -> Result<Manifest, LockError> {
        let tag = version.replace('+', "_");
        let url = format!("{}://{}/v2/{}/manifests/{tag}", self.scheme, self.host, self.name);
        let mut response = self.get(&url, MANIFEST_TYPES)?;
        let status = response.status();
        if status.as_u16() == 404 {
            return Err(self.error(format!("no manifest for tag `{tag}` (404)")));
        }
        if !status.is_success() {
            return Err(self.error(format!("manifest `{tag}`: the registry answered {status}")));
        }
        let header = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_body(&url, &mut response, self.http)?;
        let digest = format!("sha256:{:x}", Sha256::digest(&body));
        if let Some(header) = header.as_deref()
            && header.starts_with("sha256:")
            && normalize_digest(header).as_deref() != Some(digest.as_str())
        {
            return Err(self.error(format!(
                "manifest `{tag}` hashes to `{digest}` but the registry says `{header}`"
            )));
        }
        let raw: RawManifest = serde_json::from_slice(&body)
            .map_err(|e| self.error(format!("manifest `{tag}` is not JSON: {e}")))?;
        if raw
            .media_type
            .as_deref()
            .is_some_and(|t| t.contains("index") || t.contains("list"))
        {
            return Err(self.error(format!("`{tag}` is an image index, not a Helm chart manifest")));
        }
        Ok(Manifest {
            digest,
            config: raw.config.filter(|c| c.media_type == HELM_CONFIG),
            layer: raw.layers.into_iter().find(|l| l.media_type == HELM_LAYER),
        })
    }

    /// The chart's declared dependencies, from the Helm config blob.
    pub(crate) fn dependencies(&self, config: &Descriptor) -> Result<Vec<Dependency>, LockError> {
        let bytes = self.blob(config)?;
        let meta: HelmConfig = serde_json::from_slice(&bytes)
            .map_err(|e| self.error(format!("the chart config is not JSON: {e}")))?;
        Ok(dependencies(meta.dependencies))
    }

    /// A blob, verified against its content digest.
    pub(crate) fn blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>, LockError> {
        let url = format!(
            "{}://{}/v2/{}/blobs/{}",
            self.scheme, self.host, self.name, descriptor.digest
        );
        let mut response = self.get(&url, "*/*")?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.error(format!(
                "blob `{}`: the registry answered {status}",
                descriptor.digest
            )));
        }
        let body = read_body(&url, &mut response, self.http)?;
        let actual = format!("sha256:{:x}", Sha256::digest(&body));
        if normalize_digest(&descriptor.digest).as_deref() != Some(actual.as_str()) {
            return Err(LockError::DigestMismatch {
                url: format!("{}@{}", self.reference(), descriptor.digest),
                expected: descriptor.digest.clone(),
                actual,
            });
        }
        Ok(body)
    }

    /// GETs `url`, answering a bearer challenge once with an anonymous token.
    fn get(&self, url: &str, accept: &str) -> Result<ureq::http::Response<ureq::Body>, LockError> {
        let slot = format!("{}/{}", self.host, self.name);
        let token = self.tokens.lock().ok().and_then(|t| t.get(&slot).cloned());
        let response = self.send(url, accept, token.as_deref())?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let token = self.fetch_token(&challenge)?;
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(slot, token.clone());
        }
        let response = self.send(url, accept, Some(&token))?;
        if response.status().as_u16() == 401 {
            return Err(self
                .error("the registry refused the anonymous token (401); hydrate pulls public charts only"));
        }
        Ok(response)
    }

    fn send(
        &self,
        url: &str,
        accept: &str,
        token: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, LockError> {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Accept", accept)];
        if let Some(bearer) = bearer.as_deref() {
            headers.push(("Authorization", bearer));
        }
        self.http.request("GET", url, &headers)
    }

    /// Answers a `Bearer realm=…,service=…,scope=…` challenge with an anonymous token.
    fn fetch_token(&self, challenge: &str) -> Result<String, LockError> {
        let Some(params) = challenge
            .strip_prefix("Bearer ")
            .or_else(|| challenge.strip_prefix("bearer "))
        else {
            return Err(self.error(if challenge.is_empty() {
                "the registry requires authentication (401) and offers no token service".to_owned()
            } else {
                format!(
                    "the registry requires credentials (`{}`); hydrate pulls public charts only",
                    challenge.split_whitespace().next().unwrap_or_default()
                )
            }));
        };
        let params = parse_challenge(params);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error("the bearer challenge has no `realm`"))?;
        let mut query: Vec<(String, String)> = params
            .into_iter()
            .filter(|(k, _)| k == "service" || k == "scope")
            .collect();
        if !query.iter().any(|(k, _)| k == "scope") {
            query.push(("scope".to_owned(), format!("repository:{}:pull", self.name)));
        }
        let url = append_query(&realm, &query);
        let mut response = self
            .http
            .request("GET", &url, &[("Accept", "application/json")])?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.error(format!("the token service answered {status}")));
        }
        let body = read_body(&realm, &mut response, self.http)?;
        let reply: TokenReply = serde_json::from_slice(&body)
            .map_err(|e| self.error(format!("the token reply is not JSON: {e}")))?;
        reply
            .token
            .or(reply.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.error("the token service returned no token"))
    }
}

/// Parses `k="v",k2=v2` (values may be quoted and contain commas).
fn parse_challenge(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value.to_owned()));
        rest = remainder.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Appends percent-encoded query parameters to `url`.
fn append_query(url: &str, params: &[(String, String)]) -> String {
    let mut out = url.to_owned();
    for (i, (k, v)) in params.iter().enumerate() {
        let sep = if i == 0 && !url.contains('?') { '?' } else { '&' };
        out.push(sep);
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `rel="next"` target of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let p = parse_challenge(
            r#"realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            p,
            [
                ("realm".to_owned(), "https://ghcr.io/token".to_owned()),
                ("service".to_owned(), "ghcr.io".to_owned()),
                ("scope".to_owned(), "repository:a/b:pull,push".to_owned()),
            ]
        );
        let p = parse_challenge("realm=http://x/t, service=reg");
        assert_eq!(p[1], ("service".to_owned(), "reg".to_owned()));
    }

    #[test]
    fn token_urls_are_encoded() {
        let url = append_query(
            "https://auth.docker.io/token",
            &[
                ("service".to_owned(), "registry.docker.io".to_owned()),
                (
                    "scope".to_owned(),
                    "repository:bitnamicharts/redis:pull".to_owned(),
                ),
            ],
        );
        assert_eq!(
            url,
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Abitnamicharts%2Fredis%3Apull"
        );
    }

    #[test]
    fn link_headers_give_the_next_page() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(next_link(r#"<x>; rel="prev""#), None);
    }
}
