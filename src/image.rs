//! Container images, in one place: parsing a reference ([`ImageRef::parse`]), checking that one
//! is pinned ([`pin_problem`]), deciding Bitnami ([`ImageRef::is_bitnami`],
//! [`is_bitnami_chart_source`]), and finding every image of an object or of Helm values
//! ([`images_in`]), in both the string form (`image: repo:tag`) and the split form charts use
//! (`registry` + `repository` + `tag`). References are normalised so that `bitnami/redis`,
//! `docker.io/bitnami/redis:7` and `index.docker.io/bitnami/redis@sha256:…` are the same
//! repository. Used by the lint rules, the lock, the diff and the workload generator.
//!
//! Pure: strings and JSON values in, data out.

use std::fmt;

use serde_json::{Map, Value};

use crate::span::YamlPath;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host in lowercase, with its port unless 443; Docker Hub under any alias is `docker.io`.
    pub registry: String,
    /// Repository path in lowercase; official Docker Hub images get `library/`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Docker Hub's names for itself.
const DOCKER_HUB: &[&str] = &[
    "docker.io",
    "registry-1.docker.io",
    "index.docker.io",
    "registry.hub.docker.com",
];

/// Docker Hub namespaces that Bitnami publishes under.
const BITNAMI_HUB_NAMESPACES: &[&str] = &["bitnami", "bitnamilegacy", "bitnamisecure", "bitnamicharts"];

impl ImageRef {
    /// Parses `[registry[:port]/]path[:tag][@digest]`; `None` for text that is not a reference
    /// (empty, with spaces, a template).
    pub fn parse(text: &str) -> Option<ImageRef> {
        let text = strip_scheme(text.trim());
        if text.is_empty() || text.contains(char::is_whitespace) || text.contains("{{") {
            return None;
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string()).filter(|d| !d.is_empty())),
            None => (text, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(name_tag[last_slash + i + 1..].to_string()).filter(|t| !t.is_empty()),
            ),
            None => (name_tag, None),
        };
        let (registry, repository) = split_registry(name);
        let repository = repository.trim_matches('/').to_ascii_lowercase();
        if repository.is_empty() {
            return None;
        }
        let registry = normalise_host(registry.unwrap_or("docker.io"));
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        Some(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry host without its port.
    pub fn host(&self) -> &str {
        self.registry.split(':').next().unwrap_or("")
    }

    /// True when the repository lives in one of Bitnami's namespaces.
    pub fn is_bitnami(&self) -> bool {
        let first = self.repository.split('/').next().unwrap_or("");
        is_bitnami_namespace(self.host(), first)
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// True when `first` (the first path segment) on `host` is a Bitnami namespace.
fn is_bitnami_namespace(host: &str, first: &str) -> bool {
    match host {
        // mirror.gcr.io mirrors Docker Hub path for path.
        "docker.io" | "mirror.gcr.io" => BITNAMI_HUB_NAMESPACES.contains(&first),
        "public.ecr.aws" | "marketplace.azurecr.io" => first == "bitnami",
        "gcr.io" => first == "bitnami-containers",
        _ => false,
    }
}

/// `oci://`, `docker://`, `https://` and `http://` prefixes, whatever their case, removed.
fn strip_scheme(text: &str) -> &str {
    for scheme in ["oci://", "docker://", "https://", "http://"] {
        if text.len() >= scheme.len() && text[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return &text[scheme.len()..];
        }
    }
    text
}

/// `host:port/path` → (`Some(host:port)`, `path`); a first segment is a host when it has a `.` or a
/// `:` or is `localhost` (the Docker rule).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first.eq_ignore_ascii_case("localhost") =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

/// Lowercase, port 443 dropped, Docker Hub aliases folded into `docker.io`.
fn normalise_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host);
    let bare = host.split(':').next().unwrap_or(host);
    if DOCKER_HUB.contains(&bare) {
        "docker.io".to_string()
    } else {
        host.to_string()
    }
}

/// True when a chart source (Helm repository URL, OCI registry path, Git URL) is Bitnami's:
/// `charts.bitnami.com`, the Docker Hub `bitnamicharts` namespace (and the other Bitnami image
/// namespaces), the archived index on `raw.githubusercontent.com/bitnami/charts`, anything under
/// `github.com/bitnami/charts`. Case and a trailing `/` do not matter.
pub fn is_bitnami_chart_source(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    let mut rest = lower.as_str();
    if let Some(i) = rest.find("://") {
        rest = &rest[i + 3..];
    }
    // `user@host/…`, and the scp-like `git@github.com:bitnami/charts`.
    let owned;
    if let Some((user, after)) = rest.split_once('@')
        && !user.contains('/')
    {
        owned = match after.split_once(':') {
            Some((host, path)) if !host.contains('/') && !path.starts_with(|c: char| c.is_ascii_digit()) => {
                format!("{host}/{path}")
            }
            _ => after.to_string(),
        };
        rest = &owned;
    }
    let mut segments = rest.split('/').filter(|s| !s.is_empty());
    let host = normalise_host(segments.next().unwrap_or(""));
    let host = host.split(':').next().unwrap_or("").to_string();
    let path: Vec<&str> = segments.map(|s| s.trim_end_matches(".git")).collect();
    match host.as_str() {
        "charts.bitnami.com" => true,
        "github.com" | "www.github.com" | "raw.githubusercontent.com" => {
            path.len() >= 2 && path[0] == "bitnami" && path[1] == "charts"
        }
        _ => path
            .first()
            .is_some_and(|first| is_bitnami_namespace(&host, first)),
    }
}

/// Why `image` is not a valid reference (`name`, `name:tag`, `name@sha256:…`), if it is not: the
/// message and the fix. A tag or name that cannot be one (a newline, a space, a capital) is
/// refused; whether the reference is pinned is the `unpinned-image` rule's business.
pub fn reference_problem(image: &str) -> Option<(String, String)> {
    let pin_help = format!("pin a version, e.g. `{image}:1.2.3` (or `@sha256:<digest>`)");
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some((
            format!("`{}` is not an image reference", image.escape_default()),
            pin_help,
        ));
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if let Some(digest) = digest {
        let hex = digest.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Some((
                format!("`{digest}` is not a digest"),
                "write `@sha256:` and the 64 lowercase hex digits of the image digest".into(),
            ));
        }
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    let (repo_last, tag) = match last.split_once(':') {
        Some((repo, tag)) => (repo, Some(tag)),
        None => (last, None),
    };
    let path = &name[..name.len() - last.len()];
    let path_without_host = match path.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => path,
    };
    if format!("{path_without_host}{repo_last}")
        .chars()
        .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)))
        || repo_last.is_empty()
    {
        return Some((
            format!("`{image}` is not a valid image name"),
            "repository names use lowercase letters, digits, `.`, `_`, `-` and `/`".into(),
        ));
    }
    match tag {
        Some(t)
            if t.is_empty()
                || t.len() > 128
                || t.starts_with(['.', '-'])
                || !t.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
        {
            Some((
                format!("`{t}` is not a valid image tag"),
                "tags use letters, digits, `.`, `_` and `-` (at most 128, not starting with `.` or `-`)"
                    .into(),
            ))
        }
        _ => None,
    }
}

/// Why `image` is not a valid, pinned reference (`name:tag` with a tag other than `latest`, or
/// `name@sha256:…`), if it is not: the message and the fix.
pub fn pin_problem(image: &str) -> Option<(String, String)> {
    if let Some(problem) = reference_problem(image) {
        return Some(problem);
    }
    let reference = ImageRef::parse(image)?;
    if reference.digest.is_some() {
        return None;
    }
    match reference.tag.as_deref() {
        None => Some((
            format!("image `{image}` has no tag"),
            format!("pin a version, e.g. `{image}:1.2.3` (or `@sha256:<digest>`)"),
        )),
        Some("latest") => Some((
            format!("image `{image}` uses the moving tag `latest`"),
            format!(
                "pin a version, e.g. `{}:1.2.3`",
                &image[..image.len() - ":latest".len()]
            ),
        )),
        Some(_) => None,
    }
}

/// Every string under an image key (`image`, `imageName`, `…Image`) and every split-form `tag`
/// that is not a valid reference, with its YAML path and why: a newline in a tag, a space, a
/// capital in a name. Such a value is no image at all, and would reach a review comment raw.
pub fn invalid_references(value: &Value, path: &YamlPath, out: &mut Vec<(YamlPath, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = path.key(key.clone());
                match child {
                    Value::String(text) if is_image_key(key) => {
                        if let Some((message, _)) = reference_problem(text.trim_start()) {
                            out.push((here, message));
                        }
                    }
                    Value::String(tag) if key == "tag" && map.contains_key("repository") => {
                        if !tag.is_empty() && reference_problem(&format!("x:{tag}")).is_some() {
                            out.push((
                                here,
                                format!("`{}` is not a valid image tag", tag.escape_default()),
                            ));
                        }
                    }
                    _ => invalid_references(child, &here, out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                invalid_references(item, &path.index(i), out);
            }
        }
        _ => {}
    }
}

/// How an image was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// `image: registry/repo:tag`.
    String,
    /// `{registry, repository, tag, digest}` (Helm charts): a missing tag means the chart's default.
    Split {
        /// YAML path of the registry in effect (`…image.registry` or `global.imageRegistry`).
        registry_path: Option<YamlPath>,
        /// True when the registry alone names a Bitnami namespace (`gcr.io/bitnami-containers`).
        registry_is_bitnami: bool,
    },
}

/// One image found in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// YAML path in the object: the string, or the `repository` of a split form.
    pub path: YamlPath,
    /// The reference as written (a split form composed as `registry/repository:tag@digest`).
    pub written: String,
    pub image: ImageRef,
    pub form: Form,
}

/// A `global.imageRegistry`: its value and YAML path. Bitnami charts let it override every
/// `image.registry` of the chart and its subcharts.
#[derive(Debug, Clone)]
pub struct GlobalRegistry<'a> {
    pub value: &'a str,
    pub path: YamlPath,
}

/// Every image of `value` (whose YAML path is `path`), in document order.
pub fn images_in(value: &Value, path: &YamlPath, global: Option<GlobalRegistry<'_>>) -> Vec<Found> {
    let mut found = Vec::new();
    walk(value, path, "", global, &mut found);
    found
}

/// `image`, `imageName` and camel-case `…Image` keys hold image references.
fn is_image_key(key: &str) -> bool {
    key == "image" || key == "imageName" || (key.len() > 5 && key.ends_with("Image"))
}

fn walk(value: &Value, path: &YamlPath, key: &str, global: Option<GlobalRegistry<'_>>, out: &mut Vec<Found>) {
    match value {
        Value::Object(map) => {
            if let Some(found) = split_form(map, path, key, global.clone()) {
                out.push(found);
            }
            for (k, v) in map {
                let child = path.key(k.clone());
                if let Value::String(text) = v
                    && is_image_key(k)
                {
                    let written = with_sibling_tag(text, k, map);
                    if let Some(image) = ImageRef::parse(&written) {
                        out.push(Found {
                            path: child.clone(),
                            written,
                            image,
                            form: Form::String,
                        });
                    }
                }
                walk(v, &child, k, global.clone(), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &path.index(i), key, global.clone(), out);
            }
        }
        _ => {}
    }
}

/// `image: nginx` beside `tag: 1.27` (or `imageTag`), as some charts write it: `nginx:1.27`.
fn with_sibling_tag(text: &str, key: &str, map: &Map<String, Value>) -> String {
    let untagged = ImageRef::parse(text).is_some_and(|r| r.tag.is_none() && r.digest.is_none());
    match (key, untagged) {
        ("image", true) => match scalar(map, "tag").or_else(|| scalar(map, "imageTag")) {
            Some(tag) => format!("{}:{tag}", text.trim()),
            None => text.to_string(),
        },
        _ => text.to_string(),
    }
}

/// Scalars of a split form as text (`tag: 16` is a number in YAML).
fn scalar(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `{registry?, repository, tag?, digest?}` under an image key, or with a registry, tag or digest.
fn split_form(
    map: &Map<String, Value>,
    path: &YamlPath,
    key: &str,
    global: Option<GlobalRegistry<'_>>,
) -> Option<Found> {
    let repository = scalar(map, "repository")?;
    if repository.contains("://") {
        return None; // a Helm or git repository URL, not an image
    }
    let shaped = is_image_key(key) || ["registry", "tag", "digest"].iter().any(|k| map.contains_key(*k));
    if !shaped {
        return None;
    }
    let own = scalar(map, "registry").map(|r| (r, path.key("registry")));
    let global = global
        .filter(|g| !g.value.trim().is_empty())
        .map(|g| (g.value.trim().to_string(), g.path.clone()));
    let registry = global.or(own);
    let mut written = match &registry {
        Some((r, _)) => format!("{}/{}", r.trim_end_matches('/'), repository),
        None => repository.clone(),
    };
    if let Some(tag) = scalar(map, "tag") {
        written = format!("{written}:{tag}");
    }
    if let Some(digest) = scalar(map, "digest") {
        written = format!("{written}@{digest}");
    }
    let image = ImageRef::parse(&written)?;
    let registry_is_bitnami = registry
        .as_ref()
        .and_then(|(r, _)| ImageRef::parse(&format!("{}/x", r.trim_end_matches('/'))))
        .is_some_and(|r| r.is_bitnami());
    Some(Found {
        path: path.key("repository"),
        written,
        image,
        form: Form::Split {
            registry_path: registry.map(|(_, p)| p),
            registry_is_bitnami,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_must_be_pinned() {
        for ok in [
            "wordpress:7.1.2-php8.3-apache",
            "ghcr.io/vinceanalytics/vince:v1.11.8",
            "localhost:5000/team/app:1",
            "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "redis:7.4.11-alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(pin_problem(ok), None, "{ok}");
        }
        for (bad, needle) in [
            ("wordpress", "no tag"),
            ("localhost:5000/app", "no tag"),
            ("redis:latest", "latest"),
            ("Redis:7", "not a valid image name"),
            ("redis:7 ", "not an image reference"),
            ("redis@sha256:abc", "not a digest"),
            ("redis:-x", "not a valid image tag"),
            ("", "not an image reference"),
        ] {
            let (message, _) = pin_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(message.contains(needle), "{bad:?}: {message}");
        }
    }

    fn norm(text: &str) -> String {
        ImageRef::parse(text).map_or("-".to_string(), |r| r.to_string())
    }

    #[test]
    fn normalises_docker_hub_names_tags_digests_and_ports() {
        let cases = [
            ("nginx", "docker.io/library/nginx"),
            ("nginx:1.27", "docker.io/library/nginx:1.27"),
            ("bitnami/redis", "docker.io/bitnami/redis"),
            ("Docker.IO/Bitnami/Redis:7.2", "docker.io/bitnami/redis:7.2"),
            ("registry-1.docker.io/bitnami/redis", "docker.io/bitnami/redis"),
            (
                "index.docker.io/bitnamilegacy/kubectl:1.33",
                "docker.io/bitnamilegacy/kubectl:1.33",
            ),
            ("docker.io:443/bitnami/x", "docker.io/bitnami/x"),
            ("localhost:5000/team/app:1", "localhost:5000/team/app:1"),
            ("registry.example.com:5000/app", "registry.example.com:5000/app"),
            ("ghcr.io/a/b@sha256:abc", "ghcr.io/a/b@sha256:abc"),
            ("ghcr.io/a/b:1.0@sha256:abc", "ghcr.io/a/b:1.0@sha256:abc"),
            (
                "oci://registry-1.docker.io/bitnamicharts/redis",
                "docker.io/bitnamicharts/redis",
            ),
            ("", "-"),
            ("not an image", "-"),
            ("{{ .Values.image }}", "-"),
        ];
        for (input, want) in cases {
            assert_eq!(norm(input), want, "{input}");
        }
    }

    #[test]
    fn knows_every_bitnami_namespace_and_nothing_else() {
        let bitnami = [
            "bitnami/postgresql:16",
            "docker.io/bitnami/postgresql",
            "registry-1.docker.io/bitnamilegacy/kubectl:1.33",
            "index.docker.io/bitnamisecure/redis",
            "docker.io/bitnamicharts/redis",
            "public.ecr.aws/bitnami/redis:7",
            "gcr.io/bitnami-containers/nginx",
            "marketplace.azurecr.io/bitnami/mariadb",
            "mirror.gcr.io/bitnami/redis",
            "bitnami/redis@sha256:0123",
        ];
        for image in bitnami {
            assert!(ImageRef::parse(image).unwrap().is_bitnami(), "{image}");
        }
        let others = [
            "redis:7",
            "library/bitnami",
            "ghcr.io/bitnami/redis",
            "quay.io/bitnami/redis",
            "docker.io/notbitnami/redis",
            "gcr.io/bitnami/redis",
            "public.ecr.aws/docker/library/redis",
            "registry.example.com/bitnami/redis",
        ];
        for image in others {
            assert!(!ImageRef::parse(image).unwrap().is_bitnami(), "{image}");
        }
    }

    #[test]
    fn recognises_bitnami_chart_sources() {
        let bitnami = [
            "https://charts.bitnami.com/bitnami",
            "https://charts.bitnami.com/bitnami/",
            "HTTPS://CHARTS.BITNAMI.COM/BITNAMI",
            "oci://registry-1.docker.io/bitnamicharts",
            "OCI://REGISTRY-1.DOCKER.IO/BITNAMICHARTS/",
            "oci://docker.io/bitnamicharts",
            "oci://index.docker.io/bitnamicharts/redis",
            "https://raw.githubusercontent.com/bitnami/charts/archive-full-index/bitnami",
            "https://github.com/bitnami/charts",
            "https://github.com/bitnami/charts.git",
            "https://github.com/bitnami/charts/tree/main/bitnami/redis",
            "git@github.com:bitnami/charts.git",
            "ssh://git@github.com/bitnami/charts",
        ];
        for url in bitnami {
            assert!(is_bitnami_chart_source(url), "{url}");
        }
        let others = [
            "https://traefik.github.io/charts",
            "oci://ghcr.io/bitnami/charts",
            "oci://8gears.container-registry.com/library",
            "https://github.com/bitnami-labs/sealed-secrets",
            "https://github.com/bitnami",
            "https://charts.example.com/bitnami",
            "oci://docker.io/library",
        ];
        for url in others {
            assert!(!is_bitnami_chart_source(url), "{url}");
        }
    }

    #[test]
    fn finds_string_and_split_images_at_any_depth() {
        let values = json!({
            "image": {"repository": "n8nio/n8n", "tag": "1.0"},
            "postgresql": {"primary": {"image": {"registry": "docker.io", "repository": "bitnami/postgresql", "tag": 16}}},
            "initContainers": [{"name": "x", "image": "velero/plugin:v1"}],
            "kubectl": {"image": {"repository": "registry.k8s.io/kubectl"}},
            "notes": {"repository": "https://github.com/x/y"},
            "description": "uses bitnami/redis, not really",
            "sidecarImage": "busybox:1",
            "legacy": {"image": "nginx", "imageTag": "1.27"},
        });
        let found = images_in(&values, &"values".into(), None);
        let got: Vec<(String, String)> = found
            .iter()
            .map(|f| (f.path.to_string(), f.image.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("values.image.repository", "docker.io/n8nio/n8n:1.0"),
                (
                    "values.postgresql.primary.image.repository",
                    "docker.io/bitnami/postgresql:16"
                ),
                ("values.initContainers[0].image", "docker.io/velero/plugin:v1"),
                ("values.kubectl.image.repository", "registry.k8s.io/kubectl"),
                ("values.sidecarImage", "docker.io/library/busybox:1"),
                ("values.legacy.image", "docker.io/library/nginx:1.27"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn global_image_registry_overrides_each_split_registry() {
        let values = json!({
            "global": {"imageRegistry": "public.ecr.aws"},
            "redis": {"image": {"registry": "quay.io", "repository": "bitnami/redis"}},
            "app": {"image": {"repository": "postgresql"}},
        });
        let global = GlobalRegistry {
            value: "public.ecr.aws",
            path: YamlPath::parse("values.global.imageRegistry"),
        };
        let found = images_in(&values, &"values".into(), Some(global));
        assert_eq!(found[0].image.to_string(), "public.ecr.aws/bitnami/redis");
        assert!(found[0].image.is_bitnami());
        assert_eq!(
            found[0].form,
            Form::Split {
                registry_path: Some("values.global.imageRegistry".into()),
                registry_is_bitnami: false
            }
        );
        assert!(!found[1].image.is_bitnami());
    }
}
