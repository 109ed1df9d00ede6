//! Reading the files of a [`Tree`](crate::output::Tree) as Kubernetes objects, and pulling out
//! what a reviewer looks for first: chart versions and container images. Pure.

use crate::span::{Segment, YamlPath};
use std::collections::BTreeMap;

use camino::Utf8Path;
use serde_json::Value;

use super::{ChartChange, ImageChange, ObjectId};

/// A file of the tree read as one Kubernetes object.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub id: ObjectId,
    pub value: Value,
}

/// Reads `bytes` as one Kubernetes object (apiVersion, kind, metadata.name), if it is one.
///
/// Kustomize's own `kustomization.yaml` files (group `kustomize.config.k8s.io`, or no
/// `metadata.name`) are not objects: they are compared as plain files.
pub(crate) fn parse(path: &Utf8Path, bytes: &[u8]) -> Option<Parsed> {
    if !matches!(path.extension(), Some("yaml" | "yml")) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let value: Value = serde_saphyr::from_str(text).ok()?;
    let api_version = value.get("apiVersion")?.as_str()?.to_owned();
    let kind = value.get("kind")?.as_str()?.to_owned();
    if group(&api_version) == "kustomize.config.k8s.io" {
        return None;
    }
    let meta = value.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_owned();
    let namespace = meta.get("namespace").and_then(Value::as_str).map(str::to_owned);
    Some(Parsed {
        id: ObjectId {
            api_version,
            kind,
            namespace,
            name,
        },
        value,
    })
}

/// The API group of an `apiVersion` (`""` for the core group `v1`).
pub(crate) fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The layer (first path component) and component (second, when the file sits below it).
pub(crate) fn layer_component(path: &Utf8Path) -> (String, Option<String>) {
    let parts: Vec<&str> = path.as_str().split('/').collect();
    match parts.as_slice() {
        [_file] => (String::new(), None),
        [layer, _file] => ((*layer).to_owned(), None),
        [layer, component, ..] => ((*layer).to_owned(), Some((*component).to_owned())),
        [] => (String::new(), None),
    }
}

/// Sort rank of a layer: the root, `flux`, then the platform layers in apply order, then others.
pub(crate) fn layer_rank(layer: &str) -> usize {
    const ORDER: &[&str] = &["", "flux", "infra", "infra-configs", "data", "metrics", "apps"];
    ORDER.iter().position(|l| *l == layer).unwrap_or(ORDER.len())
}

/// Looks up a dotted path (`spec.chart.spec.version`) in a JSON value.
pub(crate) fn lookup<'v>(value: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(value, |v, key| v.get(key))
}

/// Chart version changes of a HelmRelease, HelmChart or OCIRepository.
pub(crate) fn chart_changes(id: &ObjectId, old: &Value, new: &Value) -> Vec<ChartChange> {
    let g = group(&id.api_version);
    let (name_field, fields): (&str, &[&str]) = match (g, id.kind.as_str()) {
        ("helm.toolkit.fluxcd.io", "HelmRelease") => ("spec.chart.spec.chart", &["spec.chart.spec.version"]),
        ("source.toolkit.fluxcd.io", "HelmChart") => ("spec.chart", &["spec.version"]),
        ("source.toolkit.fluxcd.io", "OCIRepository") => (
            "spec.url",
            &["spec.ref.tag", "spec.ref.semver", "spec.ref.digest"],
        ),
        _ => return Vec::new(),
    };
    let text = |v: &Value, f: &str| lookup(v, f).map(scalar_text);
    let chart = text(new, name_field)
        .or_else(|| text(old, name_field))
        .unwrap_or_else(|| id.name.clone());
    fields
        .iter()
        .filter_map(|f| {
            let (o, n) = (text(old, f), text(new, f));
            (o != n).then(|| ChartChange {
                chart: chart.clone(),
                field: (*f).to_owned(),
                old: o,
                new: n,
            })
        })
        .collect()
}

/// Image changes between two versions of an object, matched by where the image sits.
pub(crate) fn image_changes(old: &Value, new: &Value) -> Vec<ImageChange> {
    let (mut o, mut n) = (BTreeMap::new(), BTreeMap::new());
    collect_images(old, &mut o);
    collect_images(new, &mut n);
    let paths: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    paths
        .into_iter()
        .filter_map(|p| {
            let (a, b) = (o.get(p).cloned(), n.get(p).cloned());
            (a != b).then(|| ImageChange {
                path: p.clone(),
                old: a,
                new: b,
            })
        })
        .collect()
}

/// Collects every image of `value` (as [`crate::image::images_in`] finds them), keyed by where
/// it sits.
///
/// Array items with a `name` are keyed by it (`containers[app]`), so inserting a container does
/// not shift the others. A split form (`{registry, repository, tag, digest}`, Helm values) is
/// keyed by its map and shown joined into one reference.
fn collect_images(value: &Value, out: &mut BTreeMap<String, String>) {
    for found in crate::image::images_in(value, &YamlPath::root(), None) {
        let path = match (&found.form, found.path.parent()) {
            (crate::image::Form::Split { .. }, Some(map)) => map,
            _ => found.path.clone(),
        };
        out.insert(named_path(value, &path), found.written);
    }
}

/// `path` as text, with each array index replaced by the `name` of the item there, if it has one.
fn named_path(value: &Value, path: &YamlPath) -> String {
    let mut text = String::new();
    let mut here = Some(value);
    for segment in path.segments() {
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(&YamlPath::root().key(key.clone()).to_string());
                here = here.and_then(|v| v.get(key));
            }
            Segment::Index(i) => {
                here = here.and_then(|v| v.get(i));
                let name = here.and_then(|v| v.get("name")).and_then(Value::as_str);
                match name {
                    Some(name) => text.push_str(&format!("[{name}]")),
                    None => text.push_str(&format!("[{i}]")),
                }
            }
        }
    }
    text
}

/// A scalar as text (strings unquoted); other values as compact JSON.
pub(crate) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_an_object_after_the_source_comment() {
        let text = b"# Source: apps/a/component.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  namespace: ns\n";
        let p = parse(Utf8Path::new("apps/a/deployment-a.yaml"), text).expect("an object");
        assert_eq!(p.id.to_string(), "Deployment/ns/a");
    }

    #[test]
    fn kustomization_files_are_not_objects() {
        let text = b"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n";
        assert!(parse(Utf8Path::new("kustomization.yaml"), text).is_none());
    }

    #[test]
    fn layer_and_component_come_from_the_path() {
        assert_eq!(
            layer_component(Utf8Path::new("apps/podinfo/x.yaml")),
            ("apps".into(), Some("podinfo".into()))
        );
        assert_eq!(
            layer_component(Utf8Path::new("flux/k.yaml")),
            ("flux".into(), None)
        );
        assert_eq!(
            layer_component(Utf8Path::new("kustomization.yaml")),
            (String::new(), None)
        );
    }

    #[test]
    fn images_are_matched_by_container_name() {
        let old = json!({"spec": {"containers": [{"name": "app", "image": "a:1"}]}});
        let new = json!({"spec": {"containers": [{"name": "side", "image": "s:1"}, {"name": "app", "image": "a:2"}]}});
        let got = image_changes(&old, &new);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].path, "spec.containers[app].image");
        assert_eq!(
            (got[0].old.as_deref(), got[0].new.as_deref()),
            (Some("a:1"), Some("a:2"))
        );
        assert_eq!(
            (got[1].old.as_deref(), got[1].new.as_deref()),
            (None, Some("s:1"))
        );
    }

    #[test]
    fn helm_style_image_maps_are_joined() {
        let old = json!({"values": {"image": {"registry": "ghcr.io", "repository": "x/y", "tag": "1.0"}}});
        let new = json!({"values": {"image": {"registry": "ghcr.io", "repository": "x/y", "tag": "1.1"}}});
        let got = image_changes(&old, &new);
        assert_eq!(got[0].old.as_deref(), Some("ghcr.io/x/y:1.0"));
        assert_eq!(got[0].new.as_deref(), Some("ghcr.io/x/y:1.1"));
    }

    #[test]
    fn helmrelease_version_bump_is_found() {
        let id = ObjectId {
            api_version: "helm.toolkit.fluxcd.io/v2".into(),
            kind: "HelmRelease".into(),
            namespace: Some("ns".into()),
            name: "r".into(),
        };
        let old = json!({"spec": {"chart": {"spec": {"chart": "podinfo", "version": "6.5.0"}}}});
        let new = json!({"spec": {"chart": {"spec": {"chart": "podinfo", "version": "6.6.0"}}}});
        let got = chart_changes(&id, &old, &new);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (
                got[0].chart.as_str(),
                got[0].old.as_deref(),
                got[0].new.as_deref()
            ),
            ("podinfo", Some("6.5.0"), Some("6.6.0"))
        );
        assert!(chart_changes(&id, &old, &old).is_empty());
    }
}
