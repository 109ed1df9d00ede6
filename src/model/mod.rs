//! Model stage: the inputs of one environment, resolved. Overrides are merged, strings
//! interpolated and every value validated; nothing here reads the disk.

pub mod input;
pub mod interpolate;
pub mod merge;
pub mod resolve;
pub mod validate;
pub mod workload;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use serde_json::Value;

pub use input::*;
pub use resolve::resolve;
pub use workload::Workload;

use crate::load::{Origin, SourceFile};
use crate::span::{Location, YamlPath};

/// One environment, resolved: the input of the render stage.
#[derive(Debug, Clone)]
pub struct Model {
    /// The repository root as given (Jsonnet imports resolve under it).
    pub root: Utf8PathBuf,
    pub env: Env,
    /// Enabled components, in (layer, name) order.
    pub components: Vec<Component>,
    /// Component name → index in `components` (lookups are hot in the render and lint stages).
    pub by_name: BTreeMap<String, usize>,
    /// `secrets/<env>/**` of this environment: repo-relative path → bytes.
    pub secrets: BTreeMap<Utf8PathBuf, Vec<u8>>,
    /// `hydrate.lock` (empty when absent): exact versions and digests of chart constraints.
    pub lock: crate::lock::Lock,
    /// `.sops.yaml`, if present (the `sops-verify` lint checks recipients against it).
    pub sops_policy: Option<SourceFile>,
    /// `clusters/<env>/**` of this environment: path → text (Flux's entry point).
    pub clusters: BTreeMap<Utf8PathBuf, String>,
}

/// An environment file, parsed and interpolated.
#[derive(Debug, Clone)]
pub struct Env {
    pub name: String,
    pub file: SourceFile,
    pub spec: EnvFile,
}

/// A component, resolved for one environment.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub origin: Origin,
    /// Repo-relative folder, e.g. `apps/n8n`.
    pub dir: Utf8PathBuf,
    pub file: SourceFile,
    /// Other files of the folder: repo-relative path → text.
    pub files: BTreeMap<Utf8PathBuf, String>,
    /// Files of the folder that are not UTF-8 text.
    pub binary: std::collections::BTreeSet<Utf8PathBuf>,
    pub namespace: String,
    pub layer: Layer,
    /// The component file, interpolated (generator inputs are read from here).
    pub spec: ComponentFile,
    /// The chart with the environment's version override applied.
    pub chart: Option<ResolvedChart>,
    /// `values`, then `envs.<env>.values`, then the environment's `components.<name>.values`.
    pub values: Value,
    /// Where each layer of `values` came from, lowest precedence first.
    pub value_sources: Vec<ValueSource>,
    /// Fully qualified host names.
    pub hosts: Vec<String>,
}

/// A chart reference with the version this environment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedChart {
    pub repo: String,
    pub name: String,
    pub version: String,
    pub subcharts: Vec<String>,
    /// Where `version` was written.
    pub version_at: Location,
    /// `Some(env)` when the version comes from an environment override.
    pub overridden_in: Option<String>,
}

impl ResolvedChart {
    pub fn is_oci(&self) -> bool {
        self.repo.to_ascii_lowercase().starts_with("oci://")
    }
}

/// One layer of merged values: a file and the YAML path of the values in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSource {
    pub file: Utf8PathBuf,
    pub prefix: YamlPath,
}

impl Model {
    /// The component named `name`, if enabled.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.by_name.get(name).map(|&i| &self.components[i])
    }

    /// The input file at repo-relative `path` (the environment's or a component's).
    pub fn source(&self, path: &Utf8Path) -> Option<&SourceFile> {
        if self.env.file.path == path {
            return Some(&self.env.file);
        }
        self.components
            .iter()
            .find(|c| c.file.path == path)
            .map(|c| &c.file)
    }

    /// The input position that set `values.<path>` of `component`: the highest-precedence layer
    /// that has the key, or the nearest ancestor in the component file.
    pub fn locate_value(&self, component: &Component, path: &YamlPath) -> Location {
        for source in component.value_sources.iter().rev() {
            let full = source.prefix.join(path);
            if let Some(file) = self.source(&source.file)
                && let Some(pos) = file.spans.exact(&full)
            {
                return Location {
                    file: file.path.clone(),
                    pos: Some(pos),
                };
            }
        }
        component.file.locate(YamlPath::parse("values").join(path))
    }
}

/// A DNS-1123 label: component names, namespaces, each label of a host.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
