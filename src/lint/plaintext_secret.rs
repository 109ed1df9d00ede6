//! `plaintext-secret` (error).
//!
//! ## What it does
//! Finds a Secret in the output whose `data` or `stringData` is readable: any Secret with
//! non-empty `data`/`stringData` that is not a SOPS file copied from `secrets/`, and a SOPS file
//! (`secrets/<env>/<component>/<name>.sops.yaml`) without `sops` metadata or with a value that is
//! not `ENC[…]`.
//!
//! ## Why
//! `out/` is committed to git and read by anyone with access to the repository; only SOPS-encrypted
//! Secrets may be there (Flux decrypts them in the cluster).

use crate::span::YamlPath;
use serde_json::Value;

use super::{Ctx, Finding, Rule};
use crate::diag::Code;
use crate::render::Object;

pub const RULE: Rule = Rule {
    code: Code::PlaintextSecret,
    check,
};

const DATA_KEYS: [&str; 2] = ["data", "stringData"];

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for object in ctx.objects.iter().filter(|o| o.kind() == "Secret") {
        if object.verbatim.is_some() {
            sops_file(ctx, object, out);
        } else {
            plain(ctx, object, out);
        }
    }
}

/// The non-empty `data`/`stringData` entries of a Secret: (YAML path, value).
fn entries(secret: &Value) -> Vec<(YamlPath, &Value)> {
    let mut entries = Vec::new();
    for key in DATA_KEYS {
        if let Some(Value::Object(map)) = secret.get(key) {
            for (name, value) in map {
                entries.push((YamlPath::root().key(key.to_string()).key(name.clone()), value));
            }
        }
    }
    entries
}

fn plain(ctx: &Ctx<'_>, object: &Object, out: &mut Vec<Finding>) {
    let entries = entries(&object.value);
    let Some((path, _)) = entries.first() else {
        return;
    };
    let keys: Vec<String> = entries.iter().map(|(p, _)| format!("`{p}`")).collect();
    out.push(ctx.at_object(object, path, None).finding(
        &RULE,
        format!(
            "Secret `{}` would be written to `out/` in plain text ({})",
            object.name(),
            keys.join(", ")
        ),
        format!(
            "declare it in the component's `secrets` and supply it encrypted as \
             `secrets/{}/{}/{}.sops.yaml` (`hydrate secret seal`); never commit secret values",
            ctx.model.env.name,
            ctx.component_of(object).map_or("<component>", |c| c.name.as_str()),
            object.name()
        ),
    ));
}

/// True when a value of a SOPS file is encrypted.
fn is_encrypted(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with("ENC["))
}

fn sops_file(ctx: &Ctx<'_>, object: &Object, out: &mut Vec<Finding>) {
    let file = object
        .sources
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    let help = format!(
        "encrypt it: `sops --encrypt --encrypted-regex '^(data|stringData)$' --in-place {file}` \
         (or re-create it with `hydrate secret seal`)"
    );
    let entries = entries(&object.value);
    if entries.is_empty() {
        return;
    }
    if !object.value.get("sops").is_some_and(Value::is_object) {
        out.push(ctx.at_object(object, &entries[0].0, None).finding(
            &RULE,
            format!("`{file}` is not SOPS-encrypted (no `sops` metadata)"),
            help,
        ));
        return;
    }
    for (path, value) in entries {
        if !is_encrypted(value) {
            out.push(ctx.at_object(object, &path, None).finding(
                &RULE,
                format!("`{path}` of `{file}` is not encrypted (not `ENC[…]`)"),
                help.clone(),
            ));
        }
    }
}
