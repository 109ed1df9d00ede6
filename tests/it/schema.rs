//! Every emitted object validates against `../shared/schemas/` (Kubernetes 1.35 strict + CRDs).
//! Skips with a printed reason where the folder is absent. An object with no schema fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use camino::Utf8Path;
use serde_json::Value;

use crate::support::{case, compile, env_names, repo_root, shared};

/// The `$id` of `_definitions.json`, which the per-kind files `$ref` into.
const DEFINITIONS_ID: &str = "https://kubernetes.io/api/_definitions.json";

/// Resolves `_definitions.json` from disk; nothing is fetched.
struct LocalDefinitions(Value);

impl jsonschema::Retrieve for LocalDefinitions {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str() == DEFINITIONS_ID {
            Ok(self.0.clone())
        } else {
            Err(format!("no local schema for `{uri}`").into())
        }
    }
}

/// Validators by schema file, built once.
pub struct Schemas {
    dir: PathBuf,
    definitions: Value,
    cache: BTreeMap<PathBuf, jsonschema::Validator>,
}

impl Schemas {
    /// The schemas of `../shared/schemas`; when absent the test [`cannot_run`].
    pub fn open() -> Option<Schemas> {
        let dir = shared("schemas")?.into_std_path_buf();
        let defs = dir.join("kubernetes/v1.35.0-local-strict/_definitions.json");
        let definitions = serde_json::from_str(&fs_err::read_to_string(defs).ok()?).ok()?;
        Some(Schemas {
            dir,
            definitions,
            cache: BTreeMap::new(),
        })
    }

    /// The schema file for an object: core kinds by kubernetes-validate's rule, CRDs by group.
    fn file_for(&self, api_version: &str, kind: &str) -> Option<PathBuf> {
        let kind_lc = kind.to_ascii_lowercase();
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let core = self.dir.join("kubernetes/v1.35.0-local-strict");
        let core_file = if group.is_empty() {
            core.join(format!("{kind_lc}-{version}.json"))
        } else {
            let short = group.split('.').next().unwrap_or(group);
            core.join(format!("{kind_lc}-{short}-{version}.json"))
        };
        if core_file.is_file() && (group.is_empty() || group.ends_with(".k8s.io") || !group.contains('.')) {
            return Some(core_file);
        }
        let crd = self
            .dir
            .join("crds")
            .join(group)
            .join(format!("{kind_lc}_{version}.json"));
        crd.is_file().then_some(crd)
    }

    /// Validation errors of `object`, or a "no schema" error.
    pub fn errors(&mut self, object: &Value) -> Vec<String> {
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let kind = object["kind"].as_str().unwrap_or("");
        let Some(file) = self.file_for(api_version, kind) else {
            return vec![format!(
                "no schema for {api_version} {kind} under {}",
                self.dir.display()
            )];
        };
        if !self.cache.contains_key(&file) {
            let schema: Value = serde_json::from_str(&fs_err::read_to_string(&file).unwrap()).unwrap();
            let validator = jsonschema::options()
                .with_retriever(LocalDefinitions(self.definitions.clone()))
                .build(&schema)
                .unwrap_or_else(|e| panic!("schema {} does not compile: {e}", file.display()));
            self.cache.insert(file.clone(), validator);
        }
        let mut object = object.clone();
        // The API server never sees the SOPS block: kustomize-controller decrypts first.
        if let Some(map) = object.as_object_mut() {
            map.shift_remove("sops");
        }
        self.cache[&file]
            .iter_errors(&object)
            .map(|e| format!("{} at `{}` (schema {})", e, e.instance_path(), short(&file)))
            .collect()
    }
}

fn short(path: &Path) -> String {
    path.components()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Validates every object file of every environment of the repository at `root`.
fn validate_repo(root: &Utf8Path) {
    let Some(mut schemas) = Schemas::open() else {
        return;
    };
    let mut failures = Vec::new();
    let mut checked = 0;
    for env in env_names(root) {
        let compiled = compile(root, &env);
        for object in &compiled.objects {
            checked += 1;
            for error in schemas.errors(&object.value) {
                failures.push(format!("{env}: {}: {error}", object.id()));
            }
        }
    }
    assert!(checked > 0, "no object was checked");
    assert!(
        failures.is_empty(),
        "{} schema failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn repository_objects_validate() {
    validate_repo(&repo_root());
}

#[test]
fn fixture_objects_validate() {
    validate_repo(&case("basic"));
}

#[test]
fn jsonnet_fixture_objects_validate() {
    validate_repo(&case("jsonnet"));
}

#[test]
fn a_broken_object_is_rejected() {
    let Some(mut schemas) = Schemas::open() else {
        return;
    };
    let bad = serde_json::json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"interval": "1m", "chart": {"spec": {"chart": "c", "sourceRef": {"kind": "HelmRepository", "name": "r"}}}, "unknownField": 1}
    });
    assert!(
        !schemas.errors(&bad).is_empty(),
        "an unknown spec field must fail"
    );
    let no_schema =
        serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    assert!(schemas.errors(&no_schema)[0].starts_with("no schema"));
}
