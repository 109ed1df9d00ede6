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

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

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
    /// Every other file of the folder that is UTF-8 text, repo-relative path → text.
    pub files: BTreeMap<Utf8PathBuf, String>,
    /// The files of the folder that are not UTF-8 text (read only to say so when one is named).
    pub binary: BTreeSet<Utf8PathBuf>,
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
    /// `clusters/**`: what `flux bootstrap --path=clusters/<env>` applies (hydrate reads it to
    /// check that Flux reaches `out/<env>`; it never writes there). Path → text.
    pub clusters: BTreeMap<Utf8PathBuf, String>,
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

/// The largest input file hydrate reads. Inputs are configuration: a bigger file is a mistake
/// (a binary, a dump), and rejecting it before parsing keeps every build fast and bounded.
pub const MAX_INPUT_BYTES: u64 = 8 * 1024 * 1024;

/// Reads every input of the repository at `root`.
///
/// Nothing is read through a symbolic link that leads outside the repository, nor from anything
/// but a regular file; component folders are read in parallel.
pub fn load(root: &Utf8Path) -> Result<Inputs, LoadError> {
    let reader = Reader::new(root)?;
    let envs = load_envs(&reader)?;
    let mut components = Vec::new();
    for origin in [Origin::Platform, Origin::Apps] {
        components.extend(load_components(&reader, origin)?);
    }
    let secrets = reader.read_tree(Utf8Path::new("secrets"))?;
    let clusters = reader
        .read_tree(Utf8Path::new("clusters"))?
        .into_iter()
        .filter_map(|(path, bytes)| String::from_utf8(bytes).ok().map(|text| (path, text)))
        .collect();
    let lock = reader.read_optional(Utf8Path::new(crate::lock::LOCK_FILE))?;
    let sops_policy = reader.read_optional(Utf8Path::new(".sops.yaml"))?;
    Ok(Inputs {
        root: root.to_owned(),
        envs,
        components,
        secrets,
        lock,
        sops_policy,
        clusters,
    })
}

/// An environment name: the stem of `environments/<name>.yaml`, a DNS label (it names folders,
/// Flux objects and `${env}`).
pub fn is_env_name(name: &str) -> bool {
    crate::model::is_dns_label(name)
}

fn load_envs(reader: &Reader) -> Result<BTreeMap<String, SourceFile>, LoadError> {
    let mut envs = BTreeMap::new();
    for entry in reader.list_dir(Utf8Path::new("environments"))? {
        // Hidden files (`.yaml`, an editor's `.prod.yaml.swp`) are not environments.
        let Some(stem) = entry.strip_suffix(".yaml").filter(|_| !entry.starts_with('.')) else {
            continue;
        };
        let rel = Utf8PathBuf::from(format!("environments/{entry}"));
        if !is_env_name(stem) {
            return Err(LoadError::BadEnvName { path: rel });
        }
        let text = reader.read_text(&rel)?;
        envs.insert(stem.to_string(), SourceFile::new(rel, text));
    }
    if envs.is_empty() {
        return Err(LoadError::NoEnvironments {
            root: display_root(&reader.root),
        });
    }
    Ok(envs)
}

fn load_components(reader: &Reader, origin: Origin) -> Result<Vec<ComponentSource>, LoadError> {
    let base = Utf8Path::new(origin.dir());
    let mut dirs = Vec::new();
    for name in reader.list_dir(base)? {
        let dir = base.join(&name);
        if name.starts_with('.') || !reader.is_dir(&dir)? {
            continue;
        }
        dirs.push((name, dir));
    }
    let loaded: Vec<Result<ComponentSource, LoadError>> = dirs
        .into_par_iter()
        .map(|(name, dir)| load_component(reader, origin, name, dir))
        .collect();
    loaded.into_iter().collect()
}

fn load_component(
    reader: &Reader,
    origin: Origin,
    name: String,
    dir: Utf8PathBuf,
) -> Result<ComponentSource, LoadError> {
    let manifest = dir.join("component.yaml");
    if !reader.root.join(&manifest).is_file() {
        return Err(LoadError::Read {
            path: manifest,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "every component folder needs a component.yaml",
            ),
        });
    }
    let file = SourceFile::new(manifest.clone(), reader.read_text(&manifest)?);
    let mut files = BTreeMap::new();
    let mut binary = BTreeSet::new();
    for (rel, bytes) in reader.read_tree(&dir)? {
        if rel == manifest {
            continue;
        }
        // A file no input names (a logo, an editor's swap file) may be anything; one that is
        // named as a manifest or imported must be text, which the render stage checks.
        match String::from_utf8(bytes) {
            Ok(text) => {
                files.insert(rel, text);
            }
            Err(_) => {
                binary.insert(rel);
            }
        }
    }
    Ok(ComponentSource {
        name,
        origin,
        dir,
        file,
        files,
        binary,
    })
}

/// Reads inside one repository: every path is repo-relative, checked to stay inside the
/// repository (symbolic links included), and a regular file of bounded size.
struct Reader {
    root: Utf8PathBuf,
    /// The root with every link resolved, to compare resolved paths with.
    canonical: std::path::PathBuf,
}

impl Reader {
    fn new(root: &Utf8Path) -> Result<Reader, LoadError> {
        let canonical = fs_err::canonicalize(root).map_err(|source| LoadError::Read {
            path: display_root(root),
            source: std::io::Error::new(source.kind(), "the repository root cannot be opened"),
        })?;
        Ok(Reader {
            root: root.to_owned(),
            canonical,
        })
    }

    /// Refuses `rel` when it (or a folder on the way) is a link that leads outside the
    /// repository. The link's target is never named: it may be anything.
    fn check_inside(&self, rel: &Utf8Path) -> Result<(), LoadError> {
        let path = self.root.join(rel);
        let Ok(meta) = fs_err::symlink_metadata(&path) else {
            return Ok(()); // a missing path is the reader's error to report
        };
        let resolved = std::fs::canonicalize(&path);
        let inside = resolved.as_ref().is_ok_and(|r| r.starts_with(&self.canonical));
        if inside {
            Ok(())
        } else {
            Err(LoadError::OutsideRepo {
                path: rel.to_owned(),
                link: meta.file_type().is_symlink(),
            })
        }
    }

    fn is_dir(&self, rel: &Utf8Path) -> Result<bool, LoadError> {
        if !self.root.join(rel).is_dir() {
            return Ok(false);
        }
        self.check_inside(rel)?;
        Ok(true)
    }

    /// Names in folder `rel`, sorted; a missing folder is empty.
    fn list_dir(&self, rel: &Utf8Path) -> Result<Vec<String>, LoadError> {
        self.check_inside(rel)?;
        let read_err = |source| LoadError::Read {
            path: rel.to_owned(),
            source,
        };
        let entries = match std::fs::read_dir(self.root.join(rel)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(read_err(source)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(read_err)?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The bytes of regular file `rel`.
    fn read(&self, rel: &Utf8Path) -> Result<Vec<u8>, LoadError> {
        self.check_inside(rel)?;
        let path = self.root.join(rel);
        let read_err = |source| LoadError::Read {
            path: rel.to_owned(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(read_err)?;
        if !meta.is_file() {
            return Err(LoadError::NotAFile { path: rel.to_owned() });
        }
        if meta.len() > MAX_INPUT_BYTES {
            return Err(LoadError::TooLarge {
                path: rel.to_owned(),
                bytes: meta.len(),
            });
        }
        std::fs::read(&path).map_err(read_err)
    }

    fn read_text(&self, rel: &Utf8Path) -> Result<String, LoadError> {
        into_text(rel, self.read(rel)?)
    }

    /// The file at `rel`, or `None` when it does not exist.
    fn read_optional(&self, rel: &Utf8Path) -> Result<Option<SourceFile>, LoadError> {
        if fs_err::symlink_metadata(self.root.join(rel)).is_err() {
            return Ok(None);
        }
        Ok(Some(SourceFile::new(rel.to_owned(), self.read_text(rel)?)))
    }

    /// Every file under folder `rel`, repo-relative path → bytes, in path order. Links are
    /// followed only inside the repository; anything but folders and regular files is refused.
    fn read_tree(&self, rel: &Utf8Path) -> Result<BTreeMap<Utf8PathBuf, Vec<u8>>, LoadError> {
        let mut files = BTreeMap::new();
        if !self.is_dir(rel)? {
            return Ok(files);
        }
        let base = self.root.join(rel);
        let walk = walkdir::WalkDir::new(&base)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter();
        for entry in walk {
            let entry = entry.map_err(|e| LoadError::Read {
                path: e
                    .path()
                    .and_then(|p| self.relative(p))
                    .unwrap_or_else(|| rel.to_owned()),
                source: std::io::Error::other(if e.loop_ancestor().is_some() {
                    "a symbolic link loops back to a folder above it".to_string()
                } else {
                    e.io_error().map_or_else(String::new, ToString::to_string)
                }),
            })?;
            let Some(inner) = self.relative(entry.path()) else {
                continue;
            };
            self.check_inside(&inner)?;
            if entry.file_type().is_dir() {
                continue;
            }
            files.insert(inner.clone(), self.read(&inner)?);
        }
        Ok(files)
    }

    /// `path` (under the root) as a `/`-separated repo-relative path.
    fn relative(&self, path: &std::path::Path) -> Option<Utf8PathBuf> {
        let path = Utf8Path::from_path(path)?;
        let inner = path.strip_prefix(&self.root).ok()?;
        Some(
            inner
                .components()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join("/")
                .into(),
        )
    }
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
