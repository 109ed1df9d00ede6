//! Namespaces: one per component namespace, written by the first component (in layer, then name
//! order) that uses it, so a shared namespace (`data`) exists once and before its users. Its
//! labels and annotations are those of every component of the namespace (`namespace_metadata`);
//! two components that disagree on one are an error at the second.

use serde_json::{Map, Value, json};

use super::{Object, Output};
use crate::error::{InputError, RenderError};
use crate::model::{Component, Model};
use crate::span::YamlPath;

/// Namespaces that exist in every cluster (or that Flux bootstrap creates).
const BUILTIN: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let ns = &component.namespace;
    let owner = model.components.iter().find(|c| &c.namespace == ns);
    let is_owner = owner.is_some_and(|o| o.name == component.name);
    if !is_owner || BUILTIN.contains(&ns.as_str()) || *ns == model.env.spec.flux.namespace {
        return Ok(Output::default());
    }
    let users: Vec<&Component> = model.components.iter().filter(|c| &c.namespace == ns).collect();
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(ns));
    for (field, pick) in [("labels", labels as Pick), ("annotations", annotations)] {
        let merged = merge(&users, field, pick)?;
        if !merged.is_empty() {
            metadata.insert(field.into(), Value::Object(merged));
        }
    }
    let mut sources = vec![component.file.path.clone()];
    sources.extend(
        users
            .iter()
            .filter(|c| c.name != component.name && !c.spec.namespace_metadata.is_empty())
            .map(|c| c.file.path.clone()),
    );
    let value = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": metadata });
    Ok(Output::objects(vec![Object::new(
        component.layer,
        &component.name,
        sources,
        value,
    )]))
}

type Pick = fn(&Component) -> &indexmap::IndexMap<String, String>;

fn labels(c: &Component) -> &indexmap::IndexMap<String, String> {
    &c.spec.namespace_metadata.labels
}

fn annotations(c: &Component) -> &indexmap::IndexMap<String, String> {
    &c.spec.namespace_metadata.annotations
}

/// The `field` (labels or annotations) of every component of a namespace, merged; the same key
/// with two values is an error at the second component's key.
fn merge(users: &[&Component], field: &str, pick: Pick) -> Result<Map<String, Value>, RenderError> {
    let mut merged: Map<String, Value> = Map::new();
    let mut owner: Map<String, Value> = Map::new();
    for c in users {
        for (key, value) in pick(c) {
            match merged.get(key).and_then(Value::as_str) {
                Some(existing) if existing != value => {
                    let first = owner[key].as_str().unwrap_or_default().to_string();
                    let path = YamlPath::parse("namespace_metadata").key(field).key(key.clone());
                    return Err(InputError::new(
                        c.file.locate(path),
                        Some(&c.file.text),
                        format!(
                            "namespace `{}` gets {field} `{key}` = `{value}` here and `{existing}` from component `{first}`",
                            c.namespace
                        ),
                    )
                    .with_help("give the namespace one value: set it on one component, or the same on both")
                    .into());
                }
                _ => {
                    merged.insert(key.clone(), json!(value));
                    owner.insert(key.clone(), json!(c.name));
                }
            }
        }
    }
    Ok(merged)
}
