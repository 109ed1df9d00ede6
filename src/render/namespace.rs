//! Namespaces: one per component namespace, written by the first component (in layer, then name
//! order) that uses it, so a shared namespace (`data`) exists once and before its users.

use serde_json::json;

use super::{Object, Output};
use crate::error::RenderError;
use crate::model::{Component, Model};

/// Namespaces that exist in every cluster (or that Flux bootstrap creates).
const BUILTIN: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let ns = &component.namespace;
    let owner = model.components.iter().find(|c| &c.namespace == ns);
    let is_owner = owner.is_some_and(|o| o.name == component.name);
    if !is_owner || BUILTIN.contains(&ns.as_str()) || *ns == model.env.spec.flux.namespace {
        return Ok(Output::default());
    }
    let value = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": ns },
    });
    Ok(Output::objects(vec![Object::new(
        component.layer,
        &component.name,
        vec![component.file.path.clone()],
        value,
    )]))
}
