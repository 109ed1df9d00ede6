//! Checks shared by the typed generators of the data part (Velero, MinIO, Postgres, MariaDB):
//! an input error at a YAML path, a Secret the component must declare, typed generator values.
//! Render stage: pure.

use crate::error::{InputError, RenderError};
use crate::load::SourceFile;
use crate::model::{Component, Model};
use crate::span::YamlPath;
use serde::de::DeserializeOwned;

/// An input error at `yaml_path` of `file`, with a snippet and a fix.
pub fn error_at(
    file: &SourceFile,
    yaml_path: &str,
    message: impl Into<String>,
    help: impl Into<String>,
) -> RenderError {
    InputError::new(file.locate(yaml_path), Some(&file.text), message)
        .with_help(help)
        .into()
}

/// The component must declare the Secret `name` (so that `secrets/<env>/<component>/<name>.sops.yaml`
/// is copied): the objects a generator renders reference it.
pub fn declared_secret(component: &Component, name: &str, keys: &[&str]) -> Result<(), RenderError> {
    if component.spec.secrets.iter().any(|s| s.name == name) {
        return Ok(());
    }
    let keys = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Err(error_at(
        &component.file,
        "secrets",
        format!("component `{}` must declare the Secret `{name}`", component.name),
        format!(
            "add `secrets: [{{name: {name}, keys: [...]}}]` (keys {keys}) to `{}`; its objects read it",
            component.file.path
        ),
    ))
}

/// The component's merged `values`, read as the generator's typed values.
pub fn values<T: DeserializeOwned>(model: &Model, component: &Component) -> Result<T, RenderError> {
    serde_json::from_value(component.values.clone()).map_err(|e| {
        let at = model.locate_value(component, &YamlPath::root());
        let text = model.source(&at.file).map(|f| f.text.as_str());
        InputError::new(
            at,
            text,
            format!(
                "`values` of component `{}` do not fit its generator: {e}",
                component.name
            ),
        )
        .with_help("see the values each generator takes in docs/data.md (unknown keys are errors)")
        .into()
    })
}
