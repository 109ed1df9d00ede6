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

/// API groups whose CRDs come from charts of the `infra` layer: objects of these groups made by an
/// `infra` component go to `infra-configs`, which Flux applies once the CRDs exist.
const INFRA_CRD_GROUPS: &[&str] = &[
    "traefik.io/",
    "cert-manager.io/",
    "acme.cert-manager.io/",
    "velero.io/",
    "externaldns.k8s.io/",
    "monitoring.coreos.com/",
];

/// The layer of an object of `api_version` made by a component of `layer`.
pub fn layer_for(api_version: &str, layer: Layer) -> Layer {
    if layer == Layer::Infra && INFRA_CRD_GROUPS.iter().any(|g| api_version.starts_with(g)) {
        Layer::InfraConfigs
    } else {
        layer
    }
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
