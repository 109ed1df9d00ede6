//! Plain manifests: the YAML files a component lists under `manifests`, interpolated and copied
//! as objects (namespaced kinds get the component's namespace when they name none).

use crate::span::YamlPath;
use camino::{Utf8Component, Utf8Path};
use serde_json::Value;

use super::{Object, Output};
use crate::error::{InputError, RenderError};
use crate::load::yaml;
use crate::model::interpolate::interpolate_value;
use crate::model::{Component, Model};

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let mut objects = Vec::new();
    for (i, rel) in component.spec.manifests.iter().enumerate() {
        let at = component.file.locate(YamlPath::parse("manifests").index(i));
        let path = component.dir.join(rel);
        let local = Utf8Path::new(rel)
            .components()
            .all(|c| matches!(c, Utf8Component::Normal(_)));
        if local && component.binary.contains(&path) {
            return Err(InputError::new(
                at,
                Some(&component.file.text),
                format!("`{path}` is not UTF-8 text"),
            )
            .with_help("a manifest is a YAML file: save it as UTF-8, or remove it from `manifests`")
            .into());
        }
        let Some(text) = component.files.get(&path).filter(|_| local) else {
            return Err(
                InputError::new(at, Some(&component.file.text), format!("no file `{path}`"))
                    .with_help(format!(
                        "list files of `{}/` by their path relative to it; existing: {}",
                        component.dir,
                        existing(component)
                    ))
                    .into(),
            );
        };
        let docs = yaml::parse_stream(&path, text)?
            .into_iter()
            .flat_map(super::object::expand_lists);
        for (n, mut doc) in docs.enumerate() {
            interpolate_value(&mut doc, &component_vars(model, component), &YamlPath::root()).map_err(
                |e| {
                    let file = crate::load::SourceFile::new(path.clone(), text.clone());
                    InputError::new(file.locate(&e.path), Some(text), e.message).with_help(e.help)
                },
            )?;
            check_object(&doc, &path, n)?;
            set_namespace(&mut doc, &component.namespace);
            let layer = component.layer;
            objects.push(Object::new(
                layer,
                &component.name,
                vec![component.file.path.clone(), path.clone()],
                doc,
            ));
        }
    }
    Ok(Output::objects(objects))
}

/// The variables of a component's inputs.
pub fn component_vars(model: &Model, component: &Component) -> crate::model::interpolate::Vars {
    crate::model::interpolate::Vars::from([
        ("env", model.env.name.clone()),
        ("root_domain", model.env.spec.root_domain.clone()),
        ("namespace", component.namespace.clone()),
        ("component", component.name.clone()),
    ])
}

fn existing(component: &Component) -> String {
    let names: Vec<String> = component
        .files
        .keys()
        .filter_map(|p| p.strip_prefix(&component.dir).ok())
        .map(|p| format!("`{p}`"))
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn check_object(doc: &Value, path: &Utf8Path, n: usize) -> Result<(), RenderError> {
    let missing: Vec<&str> = ["apiVersion", "kind"]
        .into_iter()
        .filter(|k| doc.get(*k).and_then(Value::as_str).is_none())
        .chain(
            doc.pointer("/metadata/name")
                .and_then(Value::as_str)
                .is_none()
                .then_some("metadata.name"),
        )
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(InputError::new(
        crate::error::Location::file(path.to_owned()),
        None,
        format!(
            "document {} is not a Kubernetes object: no {}",
            n + 1,
            missing.join(", ")
        ),
    )
    .with_help("every document of a manifest needs `apiVersion`, `kind` and `metadata.name`")
    .into())
}

/// Kinds without a namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PersistentVolume",
    "PriorityClass",
    "ClusterIssuer",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
];

/// Gives a namespaced object without `metadata.namespace` the component's namespace.
pub fn set_namespace(doc: &mut Value, namespace: &str) {
    let kind = doc["kind"].as_str().unwrap_or("");
    if CLUSTER_SCOPED.contains(&kind) {
        return;
    }
    if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut)
        && !meta.contains_key("namespace")
    {
        meta.insert("namespace".into(), Value::String(namespace.to_string()));
    }
}
