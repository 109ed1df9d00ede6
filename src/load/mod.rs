//! Load stage: finds and reads the repository's inputs. The only stage (with `output::write` and
//! `git`) that reads the disk; it interprets nothing beyond YAML syntax.
//!
//! ```text
//! environments/<env>.yaml
//! platform/<name>/component.yaml (+ any file of the folder: manifests, main.jsonnet)
//! apps/<name>/component.yaml     (same)
//! secrets/<env>/<component>/<name>.sops.yaml
//! hydrate.lock, .sops.yaml
//! ```

pub mod yaml;

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::LoadError;
pub use yaml::SourceFile;

/// Where a component folder lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Platform,
    Apps,
}

impl Origin {
    pub fn dir(self) -> &'static str {
        match self {
            Origin::Platform => "platform",
            Origin::Apps => "apps",
        }
    }
}

/// One component folder: its `component.yaml` and the other files beside it.
#[derive(Debug, Clone)]
pub struct ComponentSource {
    pub name: String,
    pub origin: Origin,
    /// Repo-relative folder, e.g. `apps/n8n`.
    pub dir: Utf8PathBuf,
    pub file: SourceFile,
    /// Every other file of the folder, repo-relative path → text.
    pub files: BTreeMap<Utf8PathBuf, String>,
}

/// Everything hydrate reads for a build, uninterpreted.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub root: Utf8PathBuf,
    /// Environment name → its file.
    pub envs: BTreeMap<String, SourceFile>,
    /// Components in (origin, name) order.
    pub components: Vec<ComponentSource>,
    /// `secrets/**`: repo-relative path → bytes, copied verbatim into the output.
    pub secrets: BTreeMap<Utf8PathBuf, Vec<u8>>,
    /// `hydrate.lock`, if present: the pinned chart versions and digests (see `crate::lock`).
    pub lock: Option<SourceFile>,
    /// `.sops.yaml`, if present: who each environment's secrets must be encrypted for.
    pub sops_policy: Option<SourceFile>,
}

impl Inputs {
    pub fn env_names(&self) -> Vec<String> {
        self.envs.keys().cloned().collect()
    }

    /// Every text input file: (repo-relative path, text), SOPS files included.
    pub fn text_files(&self) -> impl Iterator<Item = (&Utf8Path, &str)> {
        let envs = self.envs.values().map(|f| (f.path.as_path(), f.text.as_str()));
        let components = self.components.iter().flat_map(|c| {
            std::iter::once((c.file.path.as_path(), c.file.text.as_str()))
                .chain(c.files.iter().map(|(p, t)| (p.as_path(), t.as_str())))
        });
        let secrets = self
            .secrets
            .iter()
            .filter_map(|(p, b)| std::str::from_utf8(b).ok().map(|t| (p.as_path(), t)));
        envs.chain(components).chain(secrets)
    }

    /// The file of environment `name`, or an error listing the known ones.
    pub fn env(&self, name: &str) -> Result<&SourceFile, LoadError> {
        self.envs.get(name).ok_or_else(|| LoadError::UnknownEnv {
            name: name.to_string(),
            known: self.env_names().join(", "),
        })
    }
}

/// Reads every input of the repository at `root`.
pub fn load(root: &Utf8Path) -> Result<Inputs, LoadError> {
    let envs = load_envs(root)?;
    let mut components = Vec::new();
    for origin in [Origin::Platform, Origin::Apps] {
        components.extend(load_components(root, origin)?);
    }
    let secrets = read_tree(root, Utf8Path::new("secrets"))?;
    let lock = read_optional(root, Utf8Path::new(crate::lock::LOCK_FILE))?;
    let sops_policy = read_optional(root, Utf8Path::new(".sops.yaml"))?;
    Ok(Inputs {
        root: root.to_owned(),
        envs,
        components,
        secrets,
        lock,
        sops_policy,
    })
}

fn load_envs(root: &Utf8Path) -> Result<BTreeMap<String, SourceFile>, LoadError> {
    let dir = root.join("environments");
    let mut envs = BTreeMap::new();
    for entry in list_dir(&dir)? {
        let Some(stem) = entry.strip_suffix(".yaml") else {
            continue;
        };
        if stem.starts_with('.') {
            continue;
        }
        let rel = Utf8PathBuf::from(format!("environments/{entry}"));
        envs.insert(
            stem.to_string(),
            SourceFile::new(rel.clone(), read_text(root, &rel)?),
        );
    }
    if envs.is_empty() {
        return Err(LoadError::NoEnvironments {
            root: display_root(root),
        });
    }
    Ok(envs)
}

fn load_components(root: &Utf8Path, origin: Origin) -> Result<Vec<ComponentSource>, LoadError> {
    let mut out = Vec::new();
    let base = root.join(origin.dir());
    for name in list_dir(&base)? {
        let dir = Utf8PathBuf::from(format!("{}/{name}", origin.dir()));
        if name.starts_with('.') || !root.join(&dir).is_dir() {
            continue;
        }
        let manifest = dir.join("component.yaml");
        if !root.join(&manifest).is_file() {
            return Err(LoadError::Read {
                path: manifest,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "every component folder needs a component.yaml",
                ),
            });
        }
        let file = SourceFile::new(manifest.clone(), read_text(root, &manifest)?);
        let mut files = BTreeMap::new();
        for (rel, bytes) in read_tree(root, &dir)? {
            if rel != manifest {
                files.insert(rel.clone(), into_text(&rel, bytes)?);
            }
        }
        out.push(ComponentSource {
            name,
            origin,
            dir,
            file,
            files,
        });
    }
    Ok(out)
}

/// Names in `dir`, sorted; a missing folder is empty.
fn list_dir(dir: &Utf8Path) -> Result<Vec<String>, LoadError> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LoadError::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Read {
            path: dir.to_owned(),
            source,
        })?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Every regular file under `root/rel`, repo-relative path → bytes, in path order.
fn read_tree(root: &Utf8Path, rel: &Utf8Path) -> Result<BTreeMap<Utf8PathBuf, Vec<u8>>, LoadError> {
    let mut files = BTreeMap::new();
    let base = root.join(rel);
    if !base.is_dir() {
        return Ok(files);
    }
    for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
        let entry = entry.map_err(|e| LoadError::Read {
            path: rel.to_owned(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(path) = Utf8Path::from_path(entry.path()) else {
            continue;
        };
        let Ok(inner) = path.strip_prefix(root) else {
            continue;
        };
        let inner: Utf8PathBuf = inner
            .components()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("/")
            .into();
        let bytes = fs_err::read(path).map_err(|source| LoadError::Read {
            path: inner.clone(),
            source,
        })?;
        files.insert(inner, bytes);
    }
    Ok(files)
}

/// The file at `rel`, or `None` when it does not exist.
fn read_optional(root: &Utf8Path, rel: &Utf8Path) -> Result<Option<SourceFile>, LoadError> {
    if root.join(rel).is_file() {
        Ok(Some(SourceFile::new(rel.to_owned(), read_text(root, rel)?)))
    } else {
        Ok(None)
    }
}

fn read_text(root: &Utf8Path, rel: &Utf8Path) -> Result<String, LoadError> {
    let bytes = fs_err::read(root.join(rel)).map_err(|source| LoadError::Read {
        path: rel.to_owned(),
        source,
    })?;
    into_text(rel, bytes)
}

fn into_text(rel: &Utf8Path, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|_| LoadError::Read {
        path: rel.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// The root as the user gave it, never made absolute.
fn display_root(root: &Utf8Path) -> Utf8PathBuf {
    if root.as_str().is_empty() {
        Utf8PathBuf::from(".")
    } else {
        root.to_owned()
    }
}
