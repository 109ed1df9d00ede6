//! `credential-in-values` (error).
//!
//! ## What it does
//! Finds a literal credential in what hydrate writes in the clear: a non-empty scalar under a key
//! that names a password, token, secret or key (`password`, `adminPassword`, `auth.token`,
//! `apiKey`, `privateKey`, `clientSecret`, `secretKey`…) in a HelmRelease's `values`, a container's
//! `env` (`value:`, not `valueFrom:`) of any pod template, or a ConfigMap's `data`. Keys that name
//! where a secret lives rather than the secret itself (`existingSecret`, `secretName`,
//! `passwordKey`, `secretKeyRef`…) and references (`${…}`, `{{ … }}`, `$(VAR)`) pass.
//!
//! ## Why
//! `out/` is committed and readable by everyone with the repository; a HelmRelease's values and a
//! ConfigMap are stored in the clear in the cluster too. Credentials belong in SOPS-sealed
//! Secrets, referenced by name.
//!
//! ## How to fix
//! Seal the value (`hydrate secret seal`) and reference the Secret: the chart's `existingSecret`
//! (or the HelmRelease's `valuesFrom`), a workload's `env: {NAME: {secret: …, key: …}}`, `envFrom`.
//! A value that only looks like a credential (a public key, a key *name*) gets a `lint.allow`
//! entry with its reason.
//!
//! The finding never shows the value, only where it is.

use serde_json::Value;

use super::{Ctx, Finding, Rule};
use crate::diag::Code;
use crate::redact::is_credential_key;
use crate::render::Object;
use crate::span::YamlPath;

pub const RULE: Rule = Rule {
    code: Code::CredentialInValues,
    check,
};

const HELP: &str = "seal the value (`hydrate secret seal`) and reference the Secret instead: the \
                    chart's `existingSecret` or the HelmRelease's `valuesFrom`, a workload's \
                    `env: {NAME: {secret: …, key: …}}`; a value that only looks like a credential \
                    gets a `lint.allow` entry with its reason";

fn check(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for object in ctx.objects.iter().filter(|o| o.verbatim.is_none()) {
        let mut found = Vec::new();
        match object.kind() {
            "HelmRelease" => {
                if let Some(values) = object.value.pointer("/spec/values") {
                    walk(values, &YamlPath::parse("spec.values"), true, &mut found);
                }
            }
            "ConfigMap" => {
                if let Some(Value::Object(data)) = object.value.get("data") {
                    for (key, value) in data {
                        if is_credential_key(key) && is_literal(value) {
                            found.push(YamlPath::parse("data").key(key.clone()));
                        }
                    }
                }
            }
            _ => walk(&object.value, &YamlPath::root(), false, &mut found),
        }
        for path in found {
            report(ctx, object, &path, out);
        }
    }
}

fn report(ctx: &Ctx<'_>, object: &Object, path: &YamlPath, out: &mut Vec<Finding>) {
    let written = object_value(&object.value, path).and_then(Value::as_str);
    let what = path.last_key().unwrap_or("value");
    out.push(ctx.at_object(object, path, written).finding(
        &RULE,
        format!(
            "`{what}` of {} `{}` is a literal credential, written in the clear to `out/`",
            object.kind(),
            object.name()
        ),
        HELP,
    ));
}

/// The value at `path` in `value`.
fn object_value<'v>(value: &'v Value, path: &YamlPath) -> Option<&'v Value> {
    let mut here = value;
    for segment in path.segments() {
        here = match segment {
            crate::span::Segment::Key(k) => here.get(k)?,
            crate::span::Segment::Index(i) => here.get(i)?,
        };
    }
    Some(here)
}

/// Every credential found in `value`: the `value` of credential-named variables of every `env`
/// list (container env, in an object or in chart values), and, with `any_key` (Helm values), any
/// literal scalar under a credential key.
fn walk(value: &Value, path: &YamlPath, any_key: bool, out: &mut Vec<YamlPath>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = path.key(key.clone());
                if key == "env" && child.is_array() {
                    env_list(child, &here, out);
                } else if any_key && is_credential_key(key) && is_literal(child) {
                    out.push(here);
                } else {
                    walk(child, &here, any_key, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &path.index(i), any_key, out);
            }
        }
        _ => {}
    }
}

/// `[{name, value}]`: the `value` of every credential-named variable.
fn env_list(list: &Value, path: &YamlPath, out: &mut Vec<YamlPath>) {
    for (i, item) in list.as_array().into_iter().flatten().enumerate() {
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(value) = item.get("value")
            && is_credential_key(name)
            && is_literal(value)
        {
            out.push(path.index(i).key("value"));
        }
    }
}

/// A non-empty literal: not a reference to something defined elsewhere.
fn is_literal(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            let t = s.trim();
            !t.is_empty()
                && !t.starts_with("${")
                && !t.starts_with("$(")
                && !t.contains("{{")
                && !t.eq_ignore_ascii_case("true")
                && !t.eq_ignore_ascii_case("false")
        }
        Value::Number(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_empty_values_are_not_literals() {
        for value in [
            "",
            "  ",
            "${SMTP_PASSWORD}",
            "$(DB_PASSWORD)",
            "{{ .Values.x }}",
            "true",
        ] {
            assert!(!is_literal(&Value::String(value.into())), "{value:?}");
        }
        assert!(is_literal(&Value::String("hunter2".into())));
        assert!(is_literal(&serde_json::json!(1234)));
        assert!(!is_literal(&Value::Null));
    }
}
