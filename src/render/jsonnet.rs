//! Jsonnet components: a component folder's `main.jsonnet`, evaluated with the environment's
//! resolved context (see `crate::jsonnet`); each returned object is laid out like any other.
//!
//! The context: `env`, `root_domain`, `features`, the component's merged `values`, and every
//! enabled component of the environment with its namespace, layer, hosts and `network` needs.

use serde_json::{Value, json};

use super::{Object, Output};
use crate::error::{InputError, Location, RenderError};
use crate::jsonnet::{JsonnetContext, evaluate};
use crate::model::{Component, Model};

/// The file a component's Jsonnet program lives in.
pub const MAIN: &str = "main.jsonnet";

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let main = component.dir.join(MAIN);
    if !component.files.contains_key(&main) {
        return Ok(Output::default());
    }
    let ctx = context(model, component);
    let values = evaluate(&model.root, &main, &ctx)?;
    let mut objects = Vec::new();
    let values = values.into_iter().flat_map(super::object::expand_lists);
    for (i, mut value) in values.enumerate() {
        check_object(&value, &main, i)?;
        super::manifests::set_namespace(&mut value, &component.namespace);
        let layer = component.layer;
        objects.push(Object::new(
            layer,
            &component.name,
            vec![component.file.path.clone(), main.clone()],
            value,
        ));
    }
    Ok(Output::objects(objects))
}

/// The context of `component`'s program.
pub fn context(model: &Model, component: &Component) -> JsonnetContext {
    let features = serde_json::to_value(&model.env.spec.features).expect("features serialize");
    JsonnetContext {
        env: model.env.name.clone(),
        root_domain: model.env.spec.root_domain.clone(),
        features,
        values: component.values.clone(),
        components: Value::Array(model.components.iter().map(describe).collect()),
    }
}

/// One entry of `components`: name, namespace, layer, hosts, and the `network` fields.
fn describe(c: &Component) -> Value {
    let mut entry = json!({
        "name": c.name,
        "namespace": c.namespace,
        "layer": c.layer.as_str(),
        "hosts": c.hosts,
    });
    if let Some(network) = &c.spec.network
        && let (Value::Object(map), Value::Object(extra)) = (
            &mut entry,
            serde_json::to_value(network).expect("network serializes"),
        )
    {
        for (k, v) in extra {
            if !v.is_null() {
                map.insert(k, v);
            }
        }
    }
    entry
}

fn check_object(value: &Value, main: &camino::Utf8Path, i: usize) -> Result<(), RenderError> {
    let ok = value.get("apiVersion").and_then(Value::as_str).is_some()
        && value.get("kind").and_then(Value::as_str).is_some()
        && value.pointer("/metadata/name").and_then(Value::as_str).is_some();
    if ok {
        return Ok(());
    }
    Err(InputError::new(
        Location::file(main.to_owned()),
        None,
        format!(
            "object {} returned by the program is not a Kubernetes object",
            i + 1
        ),
    )
    .with_help("every returned object needs `apiVersion`, `kind` and `metadata.name`")
    .into())
}
