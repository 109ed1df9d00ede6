//! The unit of output: one Kubernetes object, where it goes, and the inputs it came from.

use std::fmt;

use camino::Utf8PathBuf;
use serde::Serialize;
use serde_json::Value;

use crate::model::Layer;

/// Where an object is written in `out/<env>/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Placement {
    /// `flux/`: the Flux Kustomizations that apply the layers.
    Flux,
    /// `<layer>/<component>/`.
    Component { layer: Layer, component: String },
}

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub placement: Placement,
    /// Repo-relative input files, for the `# Source:` header.
    pub sources: Vec<Utf8PathBuf>,
    /// The object itself (for a verbatim file, its parsed content).
    pub value: Value,
    /// Bytes to copy unchanged instead of serializing `value` (SOPS-encrypted files).
    pub verbatim: Option<Verbatim>,
}

/// A file copied byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verbatim {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

impl Object {
    /// A generated object of `component`, placed in its layer.
    pub fn new(layer: Layer, component: &str, sources: Vec<Utf8PathBuf>, value: Value) -> Object {
        Object {
            placement: Placement::Component {
                layer,
                component: component.to_string(),
            },
            sources,
            value,
            verbatim: None,
        }
    }

    pub fn api_version(&self) -> &str {
        self.value.get("apiVersion").and_then(Value::as_str).unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn namespace(&self) -> Option<&str> {
        self.value.pointer("/metadata/namespace").and_then(Value::as_str)
    }

    /// `Kind/namespace/name` (or `Kind/name` when cluster-scoped), for messages.
    pub fn id(&self) -> String {
        self.identity().to_string()
    }

    /// apiVersion, kind, namespace and name.
    pub fn identity(&self) -> ObjectId {
        ObjectId {
            api_version: self
                .value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            kind: self.kind().to_string(),
            namespace: self.namespace().map(str::to_string),
            name: self.name().to_string(),
        }
    }

    /// The file name inside its folder: `<kind>-<name>.yaml`, or the verbatim name.
    pub fn file_name(&self) -> String {
        match &self.verbatim {
            Some(v) => v.file_name.clone(),
            None => format!("{}-{}.yaml", self.kind().to_ascii_lowercase(), self.name()),
        }
    }

    /// Output order: placement, then kind (dependencies first), namespace, name (a key, so that
    /// sorting computes it once per object).
    pub fn order_key(&self) -> (Placement, usize, String, Option<String>, String) {
        (
            self.placement.clone(),
            kind_rank(self.kind()),
            self.kind().to_string(),
            self.namespace().map(str::to_string),
            self.name().to_string(),
        )
    }
}

/// Kinds that others need come first (after tanka's `kindOrder` and Helm's install order).
fn kind_rank(kind: &str) -> usize {
    const ORDER: &[&str] = &[
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "CustomResourceDefinition",
        "ServiceAccount",
        "Secret",
        "ConfigMap",
        "StorageClass",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "GitRepository",
        "HelmRepository",
        "OCIRepository",
        "HelmRelease",
        "Service",
        "DaemonSet",
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
        "Ingress",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

/// Identity of a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl fmt::Display for ObjectId {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects: how every message and
    /// `lint.allow` entry names an object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{ns}/{}", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

impl ObjectId {
    /// The API group (`apps`, `helm.toolkit.fluxcd.io`; empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.split_once('/').map_or("", |(group, _)| group)
    }

    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn qualified_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The objects a document stands for: a `kind: List` (or a typed `…List` with `items`) stands
/// for its items, each completed with the list's `apiVersion` and the item kind when it lacks
/// them, nested lists flattened; any other document for itself. See: issue 11 (a Secret wrapped
/// in a `List` passed every check).
pub fn expand_lists(doc: Value) -> Vec<Value> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    let is_list = kind.ends_with("List") && doc.get("items").is_some_and(Value::is_array);
    if !is_list {
        return vec![doc];
    }
    let api_version = doc.get("apiVersion").cloned();
    let item_kind = kind.strip_suffix("List").unwrap_or("").to_string();
    let Value::Object(mut map) = doc else {
        return Vec::new();
    };
    let Some(Value::Array(items)) = map.remove("items") else {
        return Vec::new();
    };
    items
        .into_iter()
        .flat_map(|mut item| {
            if let Value::Object(fields) = &mut item {
                if !fields.contains_key("kind") && !item_kind.is_empty() {
                    fields.insert("kind".into(), Value::String(item_kind.clone()));
                }
                if let (false, Some(v)) = (fields.contains_key("apiVersion"), &api_version) {
                    fields.insert("apiVersion".into(), v.clone());
                }
            }
            expand_lists(item)
        })
        .collect()
}

/// Why an object's identity cannot be written as a file of `out/`, if it cannot: its kind must
/// be a plain word and its name (and namespace) a Kubernetes name, never a path.
pub fn identity_problem(object: &Object) -> Option<String> {
    let kind = object.kind();
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Some(format!("`{}` is not a Kubernetes kind", kind.escape_default()));
    }
    if kind.ends_with("List") && object.value.get("items").is_some() {
        return Some(format!(
            "a `{kind}` cannot be written as one object: hydrate writes its items one by one"
        ));
    }
    let name_ok = |name: &str| {
        !name.is_empty()
            && name.len() <= 253
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | ':' | '_'))
    };
    if !name_ok(object.name()) {
        return Some(format!(
            "`{}` is not a valid `metadata.name` for a {kind}",
            object.name().escape_default()
        ));
    }
    if let Some(ns) = object.namespace()
        && !crate::model::is_dns_label(ns)
    {
        return Some(format!(
            "`{}` is not a valid `metadata.namespace`",
            ns.escape_default()
        ));
    }
    None
}
