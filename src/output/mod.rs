//! Output stage: lays rendered objects out as a [`Tree`] of files and writes it.
//!
//! ```text
//! kustomization.yaml                       resources: [flux]
//! flux/kustomization-<layer>.yaml          one Flux Kustomization per non-empty layer
//! <layer>/kustomization.yaml               lists its component folders
//! <layer>/<component>/kustomization.yaml   lists the files beside it
//! <layer>/<component>/<kind>-<name>.yaml   one object per file (`<kind>-<namespace>-<name>.yaml`
//!                                          when one folder holds it in several namespaces)
//! ```
//!
//! File names longer than [`MAX_FILE_NAME`] bytes are refused here, at the object, rather than
//! by the file system halfway through writing.
//!
//! Only `write.rs` (with `lock.rs` and `journal.rs`) touches the disk.

mod journal;
pub mod lock;
pub mod write;
pub mod yaml;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use rayon::prelude::*;
use serde_json::json;

use crate::error::OutputError;
use crate::render::{Object, Placement};

/// A rendered environment: path relative to `out/<env>` → file bytes, in path order.
///
/// Paths use `/` separators and never contain `..`, a root, or an empty component.
pub type Tree = BTreeMap<Utf8PathBuf, Vec<u8>>;

/// The folder of an object, relative to `out/<env>`.
fn folder(placement: &Placement) -> Utf8PathBuf {
    match placement {
        Placement::Flux => Utf8PathBuf::from("flux"),
        Placement::Component { layer, component } => Utf8PathBuf::from(format!("{layer}/{component}")),
    }
}

/// Lays `objects` (already in output order) out as files, with a `kustomization.yaml` in every
/// folder. `env_file` is the environment's input file, named in the generated headers.
pub fn layout(env_file: &Utf8Path, objects: &[Object]) -> Result<Tree, OutputError> {
    let mut tree = Tree::new();
    let mut owners: BTreeMap<Utf8PathBuf, String> = BTreeMap::new();
    let mut folders: BTreeMap<Utf8PathBuf, (Vec<String>, Vec<Utf8PathBuf>)> = BTreeMap::new();
    // Objects of one folder that share kind and name (a policy written into several namespaces)
    // get the namespace in their file name: `<kind>-<namespace>-<name>.yaml`.
    let mut seen: BTreeMap<(Utf8PathBuf, String), usize> = BTreeMap::new();
    for object in objects {
        *seen
            .entry((folder(&object.placement), object.file_name()))
            .or_default() += 1;
    }
    // Serializing is the costly part: done in parallel, collected in object order.
    let bytes: Vec<Result<Vec<u8>, OutputError>> = objects
        .par_iter()
        .map(|object| match &object.verbatim {
            Some(v) => Ok(v.bytes.clone()),
            None => yaml::object_file(&object.sources, &object.value),
        })
        .collect();
    for (object, bytes) in objects.iter().zip(bytes) {
        let bytes = bytes?;
        let dir = folder(&object.placement);
        let mut name = object.file_name();
        if seen[&(dir.clone(), name.clone())] > 1
            && object.verbatim.is_none()
            && let Some(ns) = object.namespace()
        {
            name = format!(
                "{}-{ns}-{}.yaml",
                object.kind().to_ascii_lowercase(),
                object.name()
            );
        }
        if name.len() > MAX_FILE_NAME {
            return Err(name_too_long(object, &dir, &name));
        }
        let path = dir.join(&name);
        if let Some(first) = owners.insert(path.clone(), object.id()) {
            return Err(OutputError::Duplicate {
                path,
                first,
                second: object.id(),
            });
        }
        tree.insert(path, bytes);
        let entry = folders.entry(dir).or_default();
        entry.0.push(name);
        entry.1.extend(object.sources.iter().cloned());
    }
    // <layer>/kustomization.yaml lists component folders; the root lists flux/.
    let mut layers: BTreeMap<Utf8PathBuf, Vec<String>> = BTreeMap::new();
    for dir in folders.keys() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_str().is_empty()) {
            let child = dir
                .file_name()
                .expect("component folders have a name")
                .to_string();
            layers.entry(parent.to_owned()).or_default().push(child);
        }
    }
    for (dir, (resources, sources)) in &folders {
        tree.insert(dir.join("kustomization.yaml"), kustomization(sources, resources)?);
    }
    let env_sources = [env_file.to_owned()];
    for (dir, children) in &layers {
        tree.insert(
            dir.join("kustomization.yaml"),
            kustomization(&env_sources, children)?,
        );
    }
    if folders.contains_key(Utf8Path::new("flux")) {
        tree.insert(
            Utf8PathBuf::from("kustomization.yaml"),
            kustomization(&env_sources, &["flux".to_string()])?,
        );
    }
    Ok(tree)
}

/// The longest file name, in bytes, that common file systems accept (ext4, XFS, Btrfs, APFS, NTFS
/// count 255 bytes or UTF-16 units): a longer one fails with `ENAMETOOLONG` while writing, so it
/// is an input error here instead.
pub const MAX_FILE_NAME: usize = 255;

/// A valid Kubernetes name can be 253 characters: `<kind>-<name>.yaml` then exceeds
/// [`MAX_FILE_NAME`].
fn name_too_long(object: &Object, dir: &Utf8Path, name: &str) -> OutputError {
    let sources: Vec<String> = object.sources.iter().map(|s| format!("`{s}`")).collect();
    OutputError::NameTooLong {
        object: format!("`{}`", object.id()),
        component: match &object.placement {
            Placement::Flux => "flux".to_string(),
            Placement::Component { component, .. } => component.clone(),
        },
        path: dir.join(name),
        len: name.len(),
        excess: name.len() - MAX_FILE_NAME,
        sources: if sources.is_empty() {
            "its component".to_string()
        } else {
            sources.join(", ")
        },
    }
}

fn kustomization(sources: &[Utf8PathBuf], resources: &[String]) -> Result<Vec<u8>, OutputError> {
    let value = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": resources,
    });
    yaml::object_file(sources, &value)
}

/// A tree from `(path, text)` pairs, for unit tests.
#[cfg(test)]
pub(crate) fn tree_of(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(p, t)| (Utf8PathBuf::from(*p), t.as_bytes().to_vec()))
        .collect()
}
