//! `undeclared-secret` (warning).
//!
//! ## What it does
//! Finds a sealed file `secrets/<env>/<component>/<name>.sops.yaml` that no enabled component of
//! the environment declares: no component `<component>` is enabled there, or it has no `secrets`
//! entry named `<name>`.
//!
//! ## Why
//! The build copies only declared Secrets: such a file never reaches the cluster. It is usually a
//! typo made when sealing (`n8n-foo` for `n8n-secrets`), or a Secret whose declaration was removed.
//!
//! ## How to fix
//! Declare it in the component's `secrets`, or delete the file.

use super::{Ctx, Finding, Rule};
use crate::diag::{Code, Diagnostic};
use crate::span::Location;

pub const RULE: Rule = Rule {
    code: Code::UndeclaredSecret,
    check,
};

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    let env = &ctx.model.env.name;
    for path in ctx.model.secrets.keys() {
        let parts: Vec<&str> = path.as_str().split('/').collect();
        let [_, _, component, file] = parts[..] else {
            continue; // `hydrate secret verify` reports files outside the layout (`sops-layout`)
        };
        let Some(name) = file.strip_suffix(".sops.yaml") else {
            continue;
        };
        let (message, help, owner) = match ctx.model.component(component) {
            Some(c) if c.spec.secrets.iter().any(|d| d.name == name) => continue,
            Some(c) => {
                let declared: Vec<String> = c.spec.secrets.iter().map(|d| format!("`{}`", d.name)).collect();
                let declared = if declared.is_empty() {
                    "declares no Secret".to_string()
                } else {
                    format!("declares {}", declared.join(", "))
                };
                (
                    format!(
                        "no component of `{env}` declares the Secret `{name}` (component `{component}` {declared})"
                    ),
                    format!(
                        "declare it under `secrets` in `{}` (`- name: {name}` with its `keys`), or delete the file",
                        c.file.path
                    ),
                    Some(c.name.clone()),
                )
            }
            None => (
                format!("no component `{component}` is enabled in `{env}`: the Secret `{name}` is not used"),
                format!(
                    "move the file to the folder of the component that uses it (`secrets/{env}/<component>/`), or delete it"
                ),
                None,
            ),
        };
        out.push(Finding {
            diagnostic: Diagnostic::of(RULE.code, Location::file(path.clone()), message).with_help(help),
            component: owner,
            output: None,
        });
    }
}
