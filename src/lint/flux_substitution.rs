//! `flux-substitution` (warning).
//!
//! ## What it does
//! Finds `${…}` left in the output (in any string or key of an object; SOPS files excepted). Inputs
//! write `$${X}` for a literal `${X}`, so every such string was asked for, but it may not survive:
//! Flux post-build substitution (`spec.postBuild` of a Kustomization) rewrites `${X}` to the
//! value of variable `X`, or to an empty string when `X` is not set.
//!
//! Objects annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` are skipped: Flux leaves
//! them alone.
//!
//! ## Why
//! hydrate's promise is that `out/` is exactly what the cluster gets. A `${…}` that a Flux
//! Kustomization (or a later change enabling `postBuild`) rewrites breaks it silently, e.g. a
//! shell script or a Grafana dashboard that really wants `${VAR}`.

use super::{Ctx, Finding, Rule, strings_in};
use crate::diag::Code;
use crate::render::Object;
use crate::span::YamlPath;

pub const RULE: Rule = Rule {
    code: Code::FluxSubstitution,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for object in ctx
        .objects
        .iter()
        .filter(|o| o.verbatim.is_none() && !substitution_disabled(o))
    {
        let mut strings = Vec::new();
        strings_in(&object.value, &YamlPath::root(), &mut strings);
        for (path, text) in strings {
            let Some(at) = text.find("${") else {
                continue;
            };
            let end = text[at..].find('}').map_or(text.len(), |e| at + e + 1);
            let variable = &text[at..end];
            out.push(ctx.at_object(object, &path, Some(text)).finding(
                &RULE,
                format!(
                    "`{variable}` is left in {} `{}`; Flux post-build substitution would replace it",
                    object.kind(),
                    object.name()
                ),
                "if the program needs a literal `${`, keep it and allow this finding with a reason \
                 (`lint.allow`), or annotate the object `kustomize.toolkit.fluxcd.io/substitute: disabled`; \
                 otherwise use a `${root_domain}`-style variable of hydrate",
            ));
        }
    }
}

/// Flux leaves objects annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` as they are.
fn substitution_disabled(object: &Object) -> bool {
    object
        .value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("kustomize.toolkit.fluxcd.io/substitute"))
        .and_then(serde_json::Value::as_str)
        == Some("disabled")
}
