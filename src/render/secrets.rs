//! Secrets: every Secret a component declares is supplied by the operator as a SOPS-encrypted
//! `secrets/<env>/<component>/<name>.sops.yaml` and copied byte for byte. hydrate never decrypts.

use crate::span::YamlPath;
use camino::Utf8PathBuf;
use serde_json::Value;

use super::object::{Placement, Verbatim};
use super::{Object, Output};
use crate::diag::{Code, Diagnostic};
use crate::error::{InputError, Location, RenderError};
use crate::load::yaml;
use crate::model::{Component, MissingSecret, Model};

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let mut out = Output::default();
    for (i, decl) in component.spec.secrets.iter().enumerate() {
        let path = secret_path(&model.env.name, &component.name, &decl.name);
        let Some(bytes) = model.secrets.get(&path) else {
            let at = component.file.locate(YamlPath::parse("secrets").index(i));
            let message = format!("secret `{}` has no file `{path}`", decl.name);
            let help = format!(
                "create it with `hydrate secret seal {env} {comp} {name} {keys}` (or `sops --encrypt \
                 --encrypted-regex '^(data|stringData)$' --in-place {path}` on a Secret named `{name}` in \
                 namespace `{ns}`)",
                env = model.env.name,
                comp = component.name,
                name = decl.name,
                ns = component.namespace,
                keys = decl
                    .keys
                    .iter()
                    .map(|k| format!("{k}=…"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            match model.env.spec.secrets.missing {
                MissingSecret::Error => {
                    return Err(InputError::new(at, Some(&component.file.text), message)
                        .with_help(help)
                        .into());
                }
                MissingSecret::Warn => {
                    out.warnings.push(
                        Diagnostic::of(Code::MissingSecret, at, message)
                            .path(YamlPath::parse("secrets").index(i))
                            .with_help(help),
                    );
                    continue;
                }
            }
        };
        let text = std::str::from_utf8(bytes).map_err(|_| {
            InputError::new(Location::file(path.clone()), None, "not UTF-8 YAML")
                .with_help("re-create it with `hydrate secret seal`")
        })?;
        let value: Value = yaml::parse(&path, text)?;
        check_identity(&value, &path, &decl.name, &component.namespace, text)?;
        out.warnings.extend(check_keys(&value, &path, decl, text)?);
        out.objects.push(Object {
            placement: Placement::Component {
                layer: component.layer,
                component: component.name.clone(),
            },
            sources: vec![path.clone()],
            value,
            verbatim: Some(Verbatim {
                file_name: format!("secret-{}.sops.yaml", decl.name),
                bytes: bytes.clone(),
            }),
        });
    }
    Ok(out)
}

/// `secrets/<env>/<component>/<name>.sops.yaml`.
pub fn secret_path(env: &str, component: &str, name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("secrets/{env}/{component}/{name}.sops.yaml"))
}

/// The file must hold every key the component declares (key names stay readable in SOPS files,
/// so this needs no decryption); a key it does not declare is a warning. An empty `keys` list
/// declares a Secret whose keys vary (one per database user, say).
fn check_keys(
    value: &Value,
    path: &Utf8PathBuf,
    decl: &crate::model::SecretDecl,
    text: &str,
) -> Result<Vec<Diagnostic>, RenderError> {
    if decl.keys.is_empty() {
        return Ok(Vec::new());
    }
    let present: std::collections::BTreeSet<&str> = ["data", "stringData"]
        .iter()
        .filter_map(|k| value.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys().map(String::as_str))
        .collect();
    let missing: Vec<&str> = decl
        .keys
        .iter()
        .map(String::as_str)
        .filter(|k| !present.contains(k))
        .collect();
    let extra: Vec<&str> = present
        .iter()
        .copied()
        .filter(|k| !decl.keys.iter().any(|d| d == k))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return Ok(Vec::new()); // the usual case: no span index needed
    }
    let file = crate::load::SourceFile::new(path.clone(), text.to_string());
    if !missing.is_empty() {
        return Err(InputError::new(
            file.locate("stringData"),
            Some(text),
            format!(
                "secret `{}` has no key {} (the component declares {})",
                decl.name,
                missing
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                decl.keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_help("seal it again with every declared key (`hydrate secret seal … --force`)")
        .into());
    }
    Ok(extra
        .iter()
        .map(|k| {
            Diagnostic::of(
                Code::UndeclaredSecretKey,
                file.locate(YamlPath::parse("stringData").key(k.to_string())),
                format!(
                    "secret `{}` holds key `{k}`, which the component does not declare",
                    decl.name
                ),
            )
            .with_help("add it to the component's `secrets[].keys`, or seal the secret again without it")
        })
        .collect())
}

/// The file must be the Secret it is declared as, in the component's namespace.
fn check_identity(
    value: &Value,
    path: &Utf8PathBuf,
    name: &str,
    namespace: &str,
    text: &str,
) -> Result<(), RenderError> {
    let kind = value.get("kind").and_then(Value::as_str);
    let got_name = value.pointer("/metadata/name").and_then(Value::as_str);
    let got_ns = value.pointer("/metadata/namespace").and_then(Value::as_str);
    if kind == Some("Secret") && got_name == Some(name) && got_ns == Some(namespace) {
        return Ok(());
    }
    let file = crate::load::SourceFile::new(path.clone(), text.to_string());
    Err(InputError::new(
        file.locate("metadata"),
        Some(text),
        format!(
            "expected a Secret `{name}` in namespace `{namespace}`, found {} `{}` in `{}`",
            kind.unwrap_or("no kind"),
            got_name.unwrap_or("?"),
            got_ns.unwrap_or("no namespace")
        ),
    )
    .with_help("re-create the file with `hydrate secret seal`, which writes the right name and namespace")
    .into())
}
