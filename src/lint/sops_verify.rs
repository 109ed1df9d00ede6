//! `sops-verify` (error).
//!
//! ## What it does
//! Runs `hydrate secret verify` (without an identity: nothing is decrypted) on every SOPS file
//! the build copies: it parses, has a MAC and a valid `lastmodified`, is encrypted for exactly
//! the recipients `.sops.yaml` gives its environment, and holds no plaintext value in
//! `data`/`stringData`. The finding's message starts with the detailed check code
//! (`sops-bad-mac`, `sops-recipients`, …).
//!
//! ## Why
//! Flux's kustomize-controller decrypts these files in the cluster with the environment's key: a
//! file sealed for someone else, or damaged, stops the whole layer from applying.
//!
//! ## How to fix
//! Seal the secret again (`hydrate secret seal … --force`), or after a recipient change in
//! `.sops.yaml` re-wrap every file with `hydrate secret rotate <env>`.

use camino::Utf8Path;

use super::{Ctx, Finding, Rule, Site};
use crate::diag::Code;
use crate::error::{Location, Pos};
use crate::secrets::{Policy, verify_file};

pub const RULE: Rule = Rule {
    code: Code::SopsVerify,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let policy = match &ctx.model.sops_policy {
        None => None,
        Some(file) => match Policy::parse(&file.text) {
            Ok(policy) => Some(policy),
            Err(e) => {
                let pos = e.pos;
                out.push(site(&file.path, pos, None).finding(
                    &RULE,
                    format!("`.sops.yaml` cannot be read: {}", e.message),
                    e.help,
                ));
                return;
            }
        },
    };
    for object in ctx.objects {
        let (Some(verbatim), Some(source)) = (&object.verbatim, object.sources.first()) else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(&verbatim.bytes) else {
            continue; // plaintext-secret reports what is not text
        };
        for f in verify_file(policy.as_ref(), source, text, None) {
            let pos = f.at.pos;
            let mut finding = site(source, pos, Some(object.id())).finding(
                &RULE,
                format!("[{}] {}", f.code, f.message),
                f.help,
            );
            finding.component = ctx.component_of(object).map(|c| c.name.clone());
            out.push(finding);
        }
    }
}

fn site(file: &Utf8Path, pos: Option<Pos>, object: Option<String>) -> Site {
    Site {
        at: Location {
            file: file.to_owned(),
            pos,
        },
        yaml_path: "sops".into(),
        object,
        component: None,
        output: None,
    }
}
