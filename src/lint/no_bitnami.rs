//! `no-bitnami` (error).
//!
//! ## What it does
//! Finds Bitnami anywhere it can reach the cluster:
//! 1. chart sources: a component's `chart.repo`, and `spec.url` of HelmRepository, OCIRepository
//!    and GitRepository objects (`charts.bitnami.com`, Docker Hub `bitnamicharts`, the archived
//!    index on `raw.githubusercontent.com/bitnami/charts`, `github.com/bitnami/charts`);
//! 2. images in every rendered object and in Helm values, at any depth, in the string form and in
//!    the split form of charts (`registry` + `repository`, `global.imageRegistry`), normalised
//!    first (`bitnami/x` is `docker.io/bitnami/x`); see [`super::image`] for the namespaces;
//! 3. a Bitnami subchart that the merged values enable (`<key>.enabled: true` for a key of
//!    `chart.subcharts`);
//! 4. the kubectl hook image of the Velero chart before 12.0.0 (`docker.io/bitnami(legacy)/kubectl`)
//!    when the values do not replace it.
//!
//! Free text (descriptions, comments, any string that is not under an image key) is never a
//! finding.
//!
//! ## Why
//! The seeds forbid Bitnami charts and images (paid licence), and Bitnami has frozen its public
//! catalog: anything pulled from it breaks without warning.

use serde_json::Value;

use super::{Ctx, Finding, Rule};
use crate::diag::Code;
use crate::image::{Form, GlobalRegistry, ImageRef, images_in, is_bitnami_chart_source};
use crate::model::Component;
use crate::render::Object;
use crate::span::YamlPath;

pub const RULE: Rule = Rule {
    code: Code::NoBitnami,
    check,
};

const CHART_HELP: &str =
    "use the project's upstream chart (see `docs/lints.md#no-bitnami`); Bitnami charts are banned";
const IMAGE_HELP: &str = "use the upstream image (e.g. `postgres`, `redis`, `registry.k8s.io/kubectl`) or the shared \
                          platform service; Bitnami images are banned";

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for component in &ctx.model.components {
        chart_source(ctx, component, out);
        subcharts(ctx, component, out);
    }
    velero_kubectl(ctx, out);
    for object in ctx.objects.iter().filter(|o| o.verbatim.is_none()) {
        object_sources(ctx, object, out);
        object_images(ctx, object, out);
    }
}

fn chart_source(ctx: &Ctx<'_>, component: &Component, out: &mut Vec<Finding>) {
    let Some(chart) = &component.chart else {
        return;
    };
    if is_bitnami_chart_source(&chart.repo) {
        out.push(ctx.at_component(component, "chart.repo").finding(
            &RULE,
            format!(
                "chart `{}` of `{}` comes from Bitnami (`{}`)",
                chart.name, component.name, chart.repo
            ),
            CHART_HELP,
        ));
    }
}

/// `spec.url` of source objects other than those made from a component's `chart` (reported once,
/// at `chart.repo`).
fn object_sources(ctx: &Ctx<'_>, object: &Object, out: &mut Vec<Finding>) {
    if !matches!(
        object.kind(),
        "HelmRepository" | "OCIRepository" | "GitRepository"
    ) || ctx.chart_object_of(object).is_some()
    {
        return;
    }
    if let Some(url) = object.value.pointer("/spec/url").and_then(Value::as_str)
        && is_bitnami_chart_source(url)
    {
        out.push(ctx.at_object(object, &"spec.url".into(), Some(url)).finding(
            &RULE,
            format!(
                "{} `{}` points at Bitnami (`{url}`)",
                object.kind(),
                object.name()
            ),
            CHART_HELP,
        ));
    }
}

/// The `global.imageRegistry` of a HelmRelease's values.
pub fn global_registry(object: &Object) -> Option<GlobalRegistry<'_>> {
    (object.kind() == "HelmRelease")
        .then(|| object.value.pointer("/spec/values/global/imageRegistry"))
        .flatten()
        .and_then(Value::as_str)
        .map(|value| GlobalRegistry {
            value,
            path: YamlPath::parse("spec.values.global.imageRegistry"),
        })
}

fn object_images(ctx: &Ctx<'_>, object: &Object, out: &mut Vec<Finding>) {
    for found in images_in(&object.value, &YamlPath::root(), global_registry(object)) {
        if !found.image.is_bitnami() {
            continue;
        }
        let path = match &found.form {
            Form::Split {
                registry_path: Some(registry_path),
                registry_is_bitnami: true,
            } => registry_path.clone(),
            _ => found.path.clone(),
        };
        let written = match &found.form {
            Form::String => Some(found.written.as_str()),
            Form::Split { .. } => None,
        };
        out.push(ctx.at_object(object, &path, written).finding(
            &RULE,
            format!("image `{}` is published by Bitnami", found.image.name()),
            IMAGE_HELP,
        ));
    }
}

/// The value keys of the component's chart that are Bitnami subcharts.
///
/// Extension point: `hydrate lock` records the Bitnami dependencies it finds in the downloaded
/// chart (`hydrate.lock`); once the lock is part of the [`crate::model::Model`], add them here so
/// that a subchart missing from `chart.subcharts` is still caught.
pub fn bitnami_subcharts(component: &Component) -> Vec<String> {
    component
        .chart
        .as_ref()
        .map(|chart| chart.subcharts.clone())
        .unwrap_or_default()
}

/// The HelmRelease rendered from the component's chart, if any.
fn release_of<'a>(ctx: &Ctx<'a>, component: &Component) -> Option<&'a Object> {
    ctx.objects.iter().find(|o| {
        o.kind() == "HelmRelease"
            && matches!(&o.placement, crate::render::Placement::Component { component: c, .. } if *c == component.name)
            && ctx.chart_object_of(o).is_some_and(|c| c.name == component.name)
    })
}

/// The values the chart is installed with: the HelmRelease's (generated values included), or the
/// component's merged values.
fn release_values<'a>(release: Option<&'a Object>, component: &'a Component) -> &'a Value {
    release
        .and_then(|r| r.value.pointer("/spec/values"))
        .unwrap_or(&component.values)
}

fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn subcharts(ctx: &Ctx<'_>, component: &Component, out: &mut Vec<Finding>) {
    let Some(chart) = &component.chart else {
        return;
    };
    let release = release_of(ctx, component);
    let values = release_values(release, component);
    for (i, key) in bitnami_subcharts(component).into_iter().enumerate() {
        let enabled = values.get(&key).and_then(|v| v.get("enabled"));
        let explicitly_off = matches!(enabled, Some(Value::Bool(false)))
            || matches!(enabled, Some(Value::String(s)) if s.eq_ignore_ascii_case("false"));
        if explicitly_off {
            continue;
        }
        // Left to the chart's default, a declared Bitnami subchart may well be on: the values must
        // say `false` themselves (issue 3: "set every Bitnami subchart to disabled").
        let (site, message) = if is_true(enabled) {
            (
                ctx.at_value(
                    component,
                    &YamlPath::root().key(key.clone()).key("enabled"),
                    release,
                ),
                format!(
                    "the values enable `{key}`, a Bitnami subchart of chart `{}`",
                    chart.name
                ),
            )
        } else {
            // Nothing in the values to point at: point at the declaration.
            (
                ctx.at_component(component, YamlPath::parse("chart.subcharts").index(i)),
                format!(
                    "`{key}` is a Bitnami subchart of chart `{}` and the values do not disable it",
                    chart.name
                ),
            )
        };
        out.push(site.finding(
            &RULE,
            message,
            format!(
                "set `{key}.enabled: false` and point the chart at the shared platform service \
                     (e.g. its `external…` values)"
            ),
        ));
    }
}

/// The chart a HelmRelease installs: (chart name, version, the object and YAML path where the
/// version is written). Reads `spec.chart.spec`, or the OCIRepository named by `spec.chartRef`.
fn release_chart<'a>(
    ctx: &Ctx<'a>,
    release: &'a Object,
) -> Option<(&'a str, &'a str, &'a Object, &'static str)> {
    if let Some(spec) = release.value.pointer("/spec/chart/spec") {
        let name = spec.get("chart").and_then(Value::as_str)?;
        let version = spec.get("version").and_then(Value::as_str)?;
        return Some((name, version, release, "spec.chart.spec.version"));
    }
    let reference = release.value.pointer("/spec/chartRef")?;
    if reference.get("kind").and_then(Value::as_str) != Some("OCIRepository") {
        return None;
    }
    let name = reference.get("name").and_then(Value::as_str)?;
    let namespace = reference
        .get("namespace")
        .and_then(Value::as_str)
        .or(release.namespace());
    let source = ctx
        .objects
        .iter()
        .find(|o| o.kind() == "OCIRepository" && o.name() == name && o.namespace() == namespace)?;
    let url = source.value.pointer("/spec/url").and_then(Value::as_str)?;
    let chart = url.trim_end_matches('/').rsplit('/').next()?;
    let version = source.value.pointer("/spec/ref/tag").and_then(Value::as_str)?;
    Some((chart, version, source, "spec.ref.tag"))
}

/// Velero charts before 12.0.0 run their CRD hooks with `docker.io/bitnami/kubectl` (later
/// `bitnamilegacy`); 12.0.0 switched to `registry.k8s.io/kubectl`. Checked on every HelmRelease,
/// whether a component's `chart`, a generator or a plain manifest made it.
fn velero_kubectl(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let releases = ctx
        .objects
        .iter()
        .filter(|o| o.kind() == "HelmRelease" && o.verbatim.is_none());
    for release in releases {
        let Some((chart, version, at, path)) = release_chart(ctx, release) else {
            continue;
        };
        let Ok(parsed) = semver::Version::parse(version.trim_start_matches('v')) else {
            continue; // `unpinned-chart` reports it
        };
        if chart != "velero" || parsed.major >= 12 {
            continue;
        }
        let empty = Value::Null;
        let values = release.value.pointer("/spec/values").unwrap_or(&empty);
        let repository = values
            .pointer("/kubectl/image/repository")
            .and_then(Value::as_str);
        let hooks_off =
            values.get("upgradeCRDs") == Some(&Value::Bool(false)) && !is_true(values.get("cleanUpCRDs"));
        // A repository set in the values is checked as an image like any other.
        if repository.is_some_and(|r| ImageRef::parse(r).is_some()) || hooks_off {
            continue;
        }
        out.push(ctx.at_object(at, &path.into(), None).finding(
            &RULE,
            format!(
                "Velero chart `{version}` runs its CRD hook with the Bitnami image `docker.io/bitnamilegacy/kubectl`"
            ),
            "use Velero chart 12.0.0 or later (kubectl from `registry.k8s.io/kubectl`), or set \
             `kubectl.image.repository` to a non-Bitnami image",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_accepts_booleans_and_their_strings_only() {
        assert!(is_true(Some(&Value::Bool(true))));
        assert!(is_true(Some(&Value::String("True".into()))));
        assert!(!is_true(Some(&Value::Bool(false))));
        assert!(!is_true(Some(&Value::String("yes please".into()))));
        assert!(!is_true(None));
    }
}
