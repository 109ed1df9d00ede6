//! Helm charts as Flux objects: a `HelmRepository` (https) or `OCIRepository` (oci) source and a
//! `HelmRelease` with the exact chart version and the fully merged values inline.

use serde_json::{Value, json};

use super::{Object, Output};
use crate::error::RenderError;
use crate::model::{Component, Model, ResolvedChart};

/// How often Flux looks at the source and reconciles the release.
const SOURCE_INTERVAL: &str = "12h";
const RELEASE_INTERVAL: &str = "30m";

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let Some(chart) = &component.chart else {
        return Ok(Output::default());
    };
    let pinned = pin(model, component, chart)?;
    let version = pinned.version.clone();
    let mut sources = vec![component.file.path.clone(), model.env.file.path.clone()];
    if !crate::lock::is_exact(&chart.version) {
        sources.push(crate::lock::LOCK_FILE.into());
    }
    let source = if chart.is_oci() {
        oci_repository(component, chart, &version, pinned.digest.as_deref())
    } else {
        helm_repository(component, chart)
    };
    let release = helm_release(model, component, chart, &version);
    Ok(Output::objects(vec![
        Object::new(component.layer, &component.name, sources.clone(), source),
        Object::new(component.layer, &component.name, sources, release),
    ]))
}

fn helm_repository(component: &Component, chart: &ResolvedChart) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": { "name": component.name, "namespace": component.namespace },
        "spec": { "interval": SOURCE_INTERVAL, "url": chart.repo },
    })
}

/// The exact version (and digest) of the chart, from the lock for a constraint. No network: a
/// constraint without a satisfying lock entry is an error that says to run `hydrate lock`.
fn pin(
    model: &Model,
    component: &Component,
    chart: &ResolvedChart,
) -> Result<crate::lock::Pinned, RenderError> {
    let request = crate::lock::ChartRequest::from_chart(&component.name, chart);
    model.lock.pin(&request).map_err(|e| {
        let text = model.source(&chart.version_at.file).map(|f| f.text.as_str());
        crate::error::InputError::new(chart.version_at.clone(), text, e.to_string())
            .with_help("run `hydrate lock` to resolve chart constraints into `hydrate.lock`, then commit it")
            .into()
    })
}

fn oci_repository(
    component: &Component,
    chart: &ResolvedChart,
    version: &str,
    digest: Option<&str>,
) -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": { "name": component.name, "namespace": component.namespace },
        "spec": {
            "interval": SOURCE_INTERVAL,
            "url": format!("{}/{}", chart.repo, chart.name),
            "ref": oci_ref(version, digest),
            "layerSelector": {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "operation": "copy",
            },
        },
    })
}

/// `{tag, digest}`: the tag for readers, the digest (when locked) so the cluster pulls exactly the
/// locked bytes.
fn oci_ref(version: &str, digest: Option<&str>) -> Value {
    match digest {
        Some(digest) => json!({ "tag": version, "digest": digest }),
        None => json!({ "tag": version }),
    }
}

fn helm_release(model: &Model, component: &Component, chart: &ResolvedChart, version: &str) -> Value {
    let mut spec = serde_json::Map::new();
    spec.insert("interval".into(), json!(RELEASE_INTERVAL));
    spec.insert("releaseName".into(), json!(component.name));
    if chart.is_oci() {
        spec.insert(
            "chartRef".into(),
            json!({ "kind": "OCIRepository", "name": component.name }),
        );
    } else {
        spec.insert(
            "chart".into(),
            json!({ "spec": {
                "chart": chart.name,
                "version": version,
                "sourceRef": { "kind": "HelmRepository", "name": component.name },
                "interval": SOURCE_INTERVAL,
            }}),
        );
    }
    let depends_on = release_dependencies(model, component);
    if !depends_on.is_empty() {
        spec.insert("dependsOn".into(), Value::Array(depends_on));
    }
    spec.insert(
        "install".into(),
        json!({ "crds": "CreateReplace", "remediation": { "retries": 3 } }),
    );
    spec.insert(
        "upgrade".into(),
        json!({ "crds": "CreateReplace", "remediation": { "retries": 3, "remediateLastFailure": true } }),
    );
    spec.insert("values".into(), release_values(model, component));
    json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": { "name": component.name, "namespace": component.namespace },
        "spec": spec,
    })
}

/// The values a typed generator derives from the environment, under the component's own values
/// (which win, key by key).
fn release_values(model: &Model, component: &Component) -> Value {
    let mut values = super::generated_values(model, component);
    crate::model::merge::deep_merge(&mut values, &component.values);
    values
}

/// `dependsOn` entries for the component's dependencies that are Helm releases too.
fn release_dependencies(model: &Model, component: &Component) -> Vec<Value> {
    component
        .spec
        .depends_on
        .iter()
        .filter_map(|name| model.component(name))
        .filter(|dep| dep.chart.is_some())
        .map(|dep| json!({ "name": dep.name, "namespace": dep.namespace }))
        .collect()
}
