//! `flux-entry-missing` (warning).
//!
//! ## What it does
//! Looks in `clusters/<env>/` (what `flux bootstrap --path=clusters/<env>` applies) for a Flux
//! `Kustomization` whose `spec.path` is `./out/<env>` and whose source is the environment's
//! GitRepository (`flux.name`).
//!
//! ## Why
//! Without it nothing points Flux at `out/<env>`: the build is perfect and nothing is deployed.
//! Bootstrapping with `--path=out/<env>` instead makes Flux write `out/<env>/flux-system/`, which
//! the next build would delete.
//!
//! ## How to fix
//! `hydrate flux-entry <env> > clusters/<env>/hydrate.yaml`, commit it, and bootstrap with
//! `flux bootstrap … --path=clusters/<env>` (README, "Deploying with Flux").

use serde_json::Value;

use super::{Ctx, Finding, Rule, Site};
use crate::diag::Code;
use crate::span::YamlPath;

pub const RULE: Rule = Rule {
    code: Code::FluxEntryMissing,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let env = &ctx.model.env;
    let want = crate::render::flux::entry_path(&env.name);
    let normal = |p: &str| format!("./{}", p.trim_start_matches("./").trim_end_matches('/'));
    let found = ctx.model.clusters.values().any(|text| {
        serde_saphyr::from_multiple::<Value>(text)
            .unwrap_or_default()
            .iter()
            .any(|doc| {
                doc.get("kind").and_then(Value::as_str) == Some("Kustomization")
                    && doc
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
                    && doc.pointer("/spec/path").and_then(Value::as_str).map(normal) == Some(want.clone())
                    && doc.pointer("/spec/sourceRef/name").and_then(Value::as_str)
                        == Some(env.spec.flux.name.as_str())
            })
    });
    if found {
        return;
    }
    let site = Site {
        at: env.file.locate("flux"),
        yaml_path: YamlPath::parse("flux"),
        object: None,
        component: None,
        output: None,
    };
    out.push(site.finding(
        &RULE,
        format!(
            "nothing in `clusters/{}/` points Flux at `{want}`: the environment would never be deployed",
            env.name
        ),
        format!(
            "run `hydrate flux-entry {0} > clusters/{0}/hydrate.yaml`, commit it, and bootstrap Flux with `--path=clusters/{0}` (README, \"Deploying with Flux\")",
            env.name
        ),
    ));
}
