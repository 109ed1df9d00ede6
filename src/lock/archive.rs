//! Chart archives (`--download`): sha256 verification and a look inside for Bitnami parts.
//!
//! Pure except for what the caller fetched: [`verify`] and [`inspect`] work on bytes. Reads
//! `Chart.yaml` and `values.yaml` of the chart and of the subcharts it bundles in `charts/`.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::index::{RawDependency, dependencies, upstream_yaml_options};
use super::{BitnamiFinding, BitnamiKind, Dependency, LockError, LockedImage};
use crate::image::is_bitnami_chart_source;
use crate::span::YamlPath;

/// At most this many bytes are unpacked from one archive (a guard against gzip bombs).
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
/// Subcharts bundled as archives inside `charts/` are opened this deep.
const MAX_NESTING: usize = 2;

/// What a chart archive holds that the lock records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inspection {
    /// The root chart's `Chart.yaml` dependencies.
    pub dependencies: Vec<Dependency>,
    /// Default images in the values of the chart and its bundled subcharts.
    pub images: Vec<LockedImage>,
    /// Bitnami dependencies and images among those.
    pub bitnami: Vec<BitnamiFinding>,
}

/// Checks `bytes` against the published digest; returns the archive's `sha256:<hex>`.
///
/// Without a published digest (some indexes omit it) the computed one is returned.
pub(crate) fn verify(url: &str, bytes: &[u8], expected: Option<&str>) -> Result<String, LockError> {
    let actual = format!("sha256:{:x}", Sha256::digest(bytes));
    match expected {
        Some(expected) if expected != actual => Err(LockError::DigestMismatch {
            url: url.to_owned(),
            expected: expected.to_owned(),
            actual,
        }),
        _ => Ok(actual),
    }
}

#[derive(Deserialize)]
struct ChartYaml {
    name: Option<String>,
    dependencies: Option<Vec<RawDependency>>,
}

/// The files of one chart inside an archive, keyed by path below the chart folder.
#[derive(Default)]
struct ChartFiles {
    chart_yaml: Option<Vec<u8>>,
    values_yaml: Option<Vec<u8>>,
    /// `charts/<dir>/…` subcharts kept as folders.
    subdirs: BTreeMap<String, ChartFiles>,
    /// `charts/<file>.tgz` subcharts kept as archives.
    subarchives: BTreeMap<String, Vec<u8>>,
}

/// Opens a `.tgz` chart and collects its dependencies, default images and Bitnami findings.
pub(crate) fn inspect(bytes: &[u8]) -> Result<Inspection, String> {
    let mut out = Inspection::default();
    let root = unpack(bytes)?;
    let deps = walk_chart(&root, "", 0, &mut out)?;
    out.dependencies = deps;
    out.images.sort();
    out.images.dedup();
    out.bitnami.sort();
    out.bitnami.dedup();
    Ok(out)
}

/// Reads the chart's files from a gzipped tar (the first path segment is the chart folder).
fn unpack(bytes: &[u8]) -> Result<ChartFiles, String> {
    let gz = flate2::read::GzDecoder::new(bytes).take(MAX_UNPACKED);
    let mut archive = tar::Archive::new(gz);
    let mut root = ChartFiles::default();
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar.gz archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("broken archive entry: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| format!("bad path in archive: {e}"))?
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        // <chart>/Chart.yaml, <chart>/values.yaml, <chart>/charts/<sub>.tgz,
        // <chart>/charts/<sub>/{Chart,values}.yaml
        let wanted = match parts.as_slice() {
            [_, "Chart.yaml" | "values.yaml"] => true,
            [_, "charts", file] => file.ends_with(".tgz"),
            [_, "charts", _, "Chart.yaml" | "values.yaml"] => true,
            _ => false,
        };
        if !wanted {
            continue;
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| format!("cannot read `{path}` in the archive: {e}"))?;
        match parts.as_slice() {
            [_, "Chart.yaml"] => root.chart_yaml = Some(data),
            [_, "values.yaml"] => root.values_yaml = Some(data),
            [_, "charts", file] => {
                root.subarchives.insert((*file).to_owned(), data);
            }
            [_, "charts", dir, file] => {
                let sub = root.subdirs.entry((*dir).to_owned()).or_default();
                if *file == "Chart.yaml" {
                    sub.chart_yaml = Some(data);
                } else {
                    sub.values_yaml = Some(data);
                }
            }
            _ => {}
        }
    }
    if root.chart_yaml.is_none() {
        return Err("no `<chart>/Chart.yaml` in the archive".to_owned());
    }
    Ok(root)
}

/// Records one chart's findings under the values `prefix`; returns its dependencies.
fn walk_chart(
    files: &ChartFiles,
    prefix: &str,
    depth: usize,
    out: &mut Inspection,
) -> Result<Vec<Dependency>, String> {
    let chart: ChartYaml = match &files.chart_yaml {
        Some(bytes) => parse_yaml(bytes, "Chart.yaml")?,
        None => ChartYaml {
            name: None,
            dependencies: None,
        },
    };
    let deps = dependencies(chart.dependencies);
    for dep in &deps {
        let at = join(prefix, dep.alias.as_deref().unwrap_or(&dep.name));
        let repo = dep.repository.as_deref().unwrap_or_default();
        if is_bitnami_chart_source(repo) {
            out.bitnami.push(BitnamiFinding {
                kind: BitnamiKind::Dependency,
                at,
                reference: repo.to_owned(),
                condition: dep.condition.clone(),
            });
        }
    }
    if let Some(bytes) = &files.values_yaml {
        let values: serde_json::Value = parse_yaml(bytes, "values.yaml")?;
        find_images(&values, prefix, out);
    }
    // Values of a subchart live under its alias (or name) in the parent's values.
    let key_for = |name: &str| {
        deps.iter()
            .find(|d| d.name == name)
            .and_then(|d| d.alias.clone())
            .unwrap_or_else(|| name.to_owned())
    };
    for (dir, sub) in &files.subdirs {
        let name = sub
            .chart_yaml
            .as_deref()
            .and_then(|b| parse_yaml::<ChartYaml>(b, "Chart.yaml").ok())
            .and_then(|c| c.name)
            .unwrap_or_else(|| dir.clone());
        walk_chart(sub, &join(prefix, &key_for(&name)), depth + 1, out)?;
    }
    if depth < MAX_NESTING {
        for (file, bytes) in &files.subarchives {
            let sub = unpack(bytes).map_err(|e| format!("`charts/{file}`: {e}"))?;
            let name = sub
                .chart_yaml
                .as_deref()
                .and_then(|b| parse_yaml::<ChartYaml>(b, "Chart.yaml").ok())
                .and_then(|c| c.name)
                .unwrap_or_else(|| file.trim_end_matches(".tgz").to_owned());
            walk_chart(&sub, &join(prefix, &key_for(&name)), depth + 1, out)?;
        }
    }
    Ok(deps)
}

fn parse_yaml<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| format!("`{what}` is not UTF-8"))?;
    if text.trim().is_empty() {
        return serde_saphyr::from_str("{}").map_err(|e| format!("`{what}`: {e}"));
    }
    serde_saphyr::from_str_with_options(text, upstream_yaml_options())
        .map_err(|e| format!("`{what}`: {}", super::index::yaml_error_text(&e)))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Records every default image of chart `values` (found as the image module finds them in any
/// object), Bitnami ones also as findings. `prefix` is the values key of the (sub)chart.
fn find_images(values: &serde_json::Value, prefix: &str, out: &mut Inspection) {
    for found in crate::image::images_in(values, &YamlPath::root(), None) {
        let path = found.path.to_string();
        let at = if prefix.is_empty() {
            path
        } else {
            format!("{prefix}.{path}")
        };
        if found.image.is_bitnami() {
            out.bitnami.push(BitnamiFinding {
                kind: BitnamiKind::Image,
                at: at.clone(),
                reference: found.written.clone(),
                condition: None,
            });
        }
        out.images.push(LockedImage {
            path: at,
            image: found.written,
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a `.tgz` with the given `(path, contents)` files.
    pub(crate) fn tgz(files: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut builder = tar::Builder::new(gz);
        for (path, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder
                .append_data(&mut header, path, *data)
                .expect("append to an in-memory tar");
        }
        builder
            .into_inner()
            .expect("finish tar")
            .finish()
            .expect("finish gzip")
    }

    #[test]
    fn finds_bitnami_dependencies_and_images() {
        let sub = tgz(&[
            ("postgresql/Chart.yaml", b"name: postgresql\nversion: 16.7.4\n"),
            (
                "postgresql/values.yaml",
                b"image:\n  registry: docker.io\n  repository: bitnami/postgresql\n  tag: 17.5.0\n",
            ),
        ]);
        let archive = tgz(&[
            (
                "demo/Chart.yaml",
                b"apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n- name: postgresql\n  alias: db\n  version: 16.x\n  repository: oci://registry-1.docker.io/bitnamicharts\n  condition: db.enabled\n- name: collabora-online\n  repository: https://collaboraonline.github.io/online\n",
            ),
            (
                "demo/values.yaml",
                b"image:\n  repository: nextcloud\n  tag: 31.0.0\n  pullPolicy: IfNotPresent\nkubectl:\n  image: docker.io/bitnami/kubectl:1.33\nsidecars:\n- name: x\n  image: busybox:1.36\nchartRepo:\n  repository: https://charts.example.org\n  tag: x\n",
            ),
            ("demo/templates/deploy.yaml", b"kind: Deployment\n"),
            ("demo/charts/postgresql-16.7.4.tgz", &sub),
        ]);
        let found = inspect(&archive).expect("inspects");
        assert_eq!(found.dependencies.len(), 2);
        let images: Vec<(&str, &str)> = found
            .images
            .iter()
            .map(|i| (i.path.as_str(), i.image.as_str()))
            .collect();
        assert_eq!(
            images,
            [
                ("db.image.repository", "docker.io/bitnami/postgresql:17.5.0"),
                ("image.repository", "nextcloud:31.0.0"),
                ("kubectl.image", "docker.io/bitnami/kubectl:1.33"),
                ("sidecars[0].image", "busybox:1.36"),
            ]
        );
        let bitnami: Vec<(BitnamiKind, &str)> =
            found.bitnami.iter().map(|b| (b.kind, b.at.as_str())).collect();
        assert_eq!(
            bitnami,
            [
                (BitnamiKind::Dependency, "db"),
                (BitnamiKind::Image, "db.image.repository"),
                (BitnamiKind::Image, "kubectl.image"),
            ]
        );
        assert_eq!(found.bitnami[0].condition.as_deref(), Some("db.enabled"));
    }

    #[test]
    fn verify_refuses_other_bytes() {
        let bytes = b"chart bytes";
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        assert_eq!(verify("u", bytes, Some(&digest)).ok(), Some(digest.clone()));
        let err = verify("u", b"tampered", Some(&digest)).expect_err("refused");
        assert!(matches!(err, LockError::DigestMismatch { .. }));
        assert_eq!(verify("u", bytes, None).ok(), Some(digest));
    }

    #[test]
    fn garbage_is_not_a_chart() {
        assert!(inspect(b"not gzip").is_err());
        assert!(inspect(&tgz(&[("demo/values.yaml", b"a: 1\n")])).is_err());
    }
}
