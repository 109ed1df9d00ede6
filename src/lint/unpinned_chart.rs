//! `unpinned-chart` (error).
//!
//! ## What it does
//! Finds a chart version that is not one exact semver version (`41.7.0`, `v1.2.3`, `1.0.0-rc.1`)
//! in the output: the chart of a HelmRelease or the `ref` of an OCIRepository written as a plain
//! manifest (a `semver` range, or neither `tag` nor `digest`). A component's `chart.version` may be
//! a constraint only through `hydrate.lock`, which the render stage enforces.
//!
//! ## Why
//! A range (`^41`, `41.x`, `>=1.0.0`, `*`) lets the cluster pick a new chart whenever one is
//! published: the rendered `out/` no longer says what runs, and two clusters built from the same
//! commit can differ.

use serde_json::Value;

use super::{Ctx, Finding, Rule};
use crate::diag::Code;
use crate::render::Object;

pub const RULE: Rule = Rule {
    code: Code::UnpinnedChart,
    check,
};

const HELP: &str = "write one exact version such as `41.7.0` (`hydrate lock` can resolve a range for you)";

/// True for one exact semver version, with or without a leading `v`.
pub fn is_exact(version: &str) -> bool {
    semver::Version::parse(version.trim().trim_start_matches('v')).is_ok()
}

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    // A component's `chart.version` never reaches here unpinned: the render stage pins it through
    // `hydrate.lock` or fails with "run `hydrate lock`". What is left are plain manifests.
    for object in ctx.objects {
        if object.verbatim.is_some() || ctx.chart_object_of(object).is_some() {
            continue;
        }
        match object.kind() {
            "HelmRelease" => release(ctx, object, out),
            "OCIRepository" => oci_repository(ctx, object, out),
            _ => {}
        }
    }
}

/// A HelmRelease of a plain manifest: `spec.chart.spec.version` must be exact (a `chartRef`
/// points at an OCIRepository, checked on its own).
fn release(ctx: &Ctx<'_>, object: &Object, out: &mut Vec<Finding>) {
    let Some(chart) = object.value.pointer("/spec/chart/spec") else {
        return;
    };
    let (path, message) = match chart.get("version") {
        Some(Value::String(v)) if is_exact(v) => return,
        Some(v) => (
            "spec.chart.spec.version",
            format!(
                "HelmRelease `{}` asks for chart version `{}`, not one exact version",
                object.name(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ),
        ),
        None => (
            "spec.chart.spec",
            format!(
                "HelmRelease `{}` has no chart version (Flux takes the newest)",
                object.name()
            ),
        ),
    };
    out.push(
        ctx.at_object(object, &path.into(), None)
            .finding(&RULE, message, HELP),
    );
}

/// An OCIRepository of a plain manifest: `ref.tag` exact or `ref.digest`, never `ref.semver`.
fn oci_repository(ctx: &Ctx<'_>, object: &Object, out: &mut Vec<Finding>) {
    let reference = object.value.pointer("/spec/ref");
    let get = |k: &str| reference.and_then(|r| r.get(k)).and_then(Value::as_str);
    if get("digest").is_some() || (get("tag").is_some_and(is_exact) && get("semver").is_none()) {
        return;
    }
    let (path, shown) = match (get("semver"), get("tag")) {
        (Some(range), _) => ("spec.ref.semver", range.to_string()),
        (None, Some(tag)) => ("spec.ref.tag", tag.to_string()),
        (None, None) => ("spec", "latest".to_string()),
    };
    out.push(ctx.at_object(object, &path.into(), None).finding(
        &RULE,
        format!(
            "OCIRepository `{}` follows `{shown}`, not one exact chart version",
            object.name()
        ),
        "set `spec.ref.tag` to one exact version (or `spec.ref.digest`)",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_versions_are_exact() {
        for v in ["41.7.0", "v1.2.3", "1.0.0-rc.1", "0.1.122"] {
            assert!(is_exact(v), "{v}");
        }
        for v in [
            "41",
            "41.7",
            "^41.7.0",
            "~1.2.3",
            ">=1.0.0",
            "1.x",
            "*",
            "latest",
            "",
            "1.2.3 - 1.4.0",
        ] {
            assert!(!is_exact(v), "{v}");
        }
    }
}
