//! Lint stage: checks the resolved [`Model`] and the rendered objects against the platform rules
//! and returns every finding as a [`Diagnostic`]. Pure: reads nothing from disk, writes nothing.
//!
//! 1. every rule of [`RULES`] (one file each) collects its findings;
//! 2. `lint.allow` entries of the environment and of the components remove the findings they
//!    cover; an entry that covers nothing becomes an `unused-allow` warning;
//! 3. findings are sorted by file, position, YAML path and code, duplicates dropped.
//!
//! Each finding names the input file, line and column and YAML path where the offending value was
//! written (the highest-precedence input for merged Helm values); a value that no input wrote (a
//! generator made it) is named by its output file `out/<env>/<layer>/<component>/<file>`, its
//! YAML path in the object and the object's `Kind/namespace/name`.

pub mod allow;
pub mod credential_in_values;
pub mod flux_entry;
pub mod flux_substitution;
pub mod host_outside_domain;
pub mod no_bitnami;
pub mod plaintext_secret;
pub mod sops_verify;
pub mod undeclared_secret;
pub mod unpinned_chart;
pub mod unpinned_image;

use camino::Utf8PathBuf;
use serde_json::Value;

use crate::diag::{Code, Diagnostic};
use crate::load::yaml::SpanIndex;
use crate::model::{Component, Model};
use crate::render::{Object, Placement};
use crate::span::{Location, YamlPath};

/// A lint rule: its [`Code`] (id, severity, description) and its check.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub code: Code,
    check: fn(&Ctx<'_>, &mut Vec<Finding>),
}

/// Every rule, in the order they run. Documented in `docs/lints.md`.
pub const RULES: &[Rule] = &[
    no_bitnami::RULE,
    plaintext_secret::RULE,
    sops_verify::RULE,
    credential_in_values::RULE,
    unpinned_chart::RULE,
    unpinned_image::RULE,
    host_outside_domain::RULE,
    flux_substitution::RULE,
    flux_entry::RULE,
    undeclared_secret::RULE,
];

/// Runs every rule over `model` and `objects`, adds the `warnings` of the earlier stages,
/// applies `lint.allow` to all of them, and returns the findings sorted by (file, position,
/// YAML path, code).
pub fn check(model: &Model, objects: &[Object], warnings: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let ctx = Ctx { model, objects };
    let mut findings: Vec<Finding> = warnings
        .into_iter()
        .map(|diagnostic| Finding {
            component: model
                .components
                .iter()
                .find(|c| diagnostic.at.file.starts_with(&c.dir))
                .map(|c| c.name.clone()),
            diagnostic,
            output: None,
        })
        .collect();
    for rule in RULES {
        (rule.check)(&ctx, &mut findings);
    }
    let mut diagnostics = allow::apply(&ctx, findings);
    diagnostics.sort();
    diagnostics.dedup();
    diagnostics
}

/// One finding before `lint.allow` is applied: the diagnostic and what an allow entry may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub diagnostic: Diagnostic,
    /// The component the finding belongs to: its own `lint.allow` entries apply.
    pub component: Option<String>,
    /// `out/<env>/…` of the object concerned, when there is one.
    pub output: Option<Utf8PathBuf>,
}

/// Where a finding points: the input position (or output file), the YAML path there, and the
/// object and component it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub at: Location,
    pub yaml_path: YamlPath,
    pub object: Option<String>,
    pub component: Option<String>,
    pub output: Option<Utf8PathBuf>,
}

impl Site {
    /// A finding of `rule` here.
    pub fn finding(self, rule: &Rule, message: impl Into<String>, help: impl Into<String>) -> Finding {
        let mut diagnostic = Diagnostic::of(rule.code, self.at, message)
            .path(self.yaml_path)
            .with_help(help);
        diagnostic.object = self.object;
        Finding {
            diagnostic,
            component: self.component,
            output: self.output,
        }
    }
}

/// What the rules look at, with the lookups that turn a value into a [`Site`].
pub struct Ctx<'a> {
    pub model: &'a Model,
    pub objects: &'a [Object],
}

impl<'a> Ctx<'a> {
    /// The component an object was rendered for (none for `flux/` objects).
    pub fn component_of(&self, object: &Object) -> Option<&'a Component> {
        match &object.placement {
            Placement::Component { component, .. } => self.model.component(component),
            Placement::Flux => None,
        }
    }

    /// The component whose `chart` the Helm stage turned into `object` (its HelmRepository,
    /// OCIRepository or HelmRelease), if that is what `object` is.
    pub fn chart_object_of(&self, object: &Object) -> Option<&'a Component> {
        let component = self.component_of(object)?;
        let is_chart_kind = matches!(object.kind(), "HelmRelease" | "HelmRepository" | "OCIRepository");
        (component.chart.is_some()
            && is_chart_kind
            && object.name() == component.name
            && object.verbatim.is_none()
            && manifest_source(component, object).is_none())
        .then_some(component)
    }

    /// `out/<env>/<folder>/<file>` of an object.
    pub fn output_path(&self, object: &Object) -> Utf8PathBuf {
        let folder = match &object.placement {
            Placement::Flux => "flux".to_string(),
            Placement::Component { layer, component } => format!("{layer}/{component}"),
        };
        Utf8PathBuf::from(format!(
            "out/{}/{folder}/{}",
            self.model.env.name,
            object.file_name()
        ))
    }

    /// `yaml_path` of the component file (or its nearest ancestor).
    pub fn at_component(&self, component: &Component, yaml_path: impl Into<YamlPath>) -> Site {
        let yaml_path = yaml_path.into();
        Site {
            at: component.file.locate(&yaml_path),
            yaml_path,
            object: None,
            component: Some(component.name.clone()),
            output: None,
        }
    }

    /// Where the chart version of `component` was written (component file or environment file).
    pub fn at_chart_version(&self, component: &Component) -> Site {
        let chart = component
            .chart
            .as_ref()
            .expect("called for components with a chart");
        let env = &self.model.env;
        let yaml_path = if chart.overridden_in.is_none() {
            YamlPath::parse("chart.version")
        } else if chart.version_at.file == env.file.path {
            YamlPath::parse("components")
                .key(component.name.clone())
                .join(&"chart.version".into())
        } else {
            YamlPath::parse("envs")
                .key(env.name.clone())
                .join(&"chart.version".into())
        };
        Site {
            at: chart.version_at.clone(),
            yaml_path,
            object: None,
            component: Some(component.name.clone()),
            output: None,
        }
    }

    /// Where `values.<values_path>` of `component` was set: the highest-precedence input that
    /// has exactly this key; else (a generator derived it) `spec.values.<values_path>` of the
    /// HelmRelease `release`, else the nearest ancestor in the component file.
    pub fn at_value(&self, component: &Component, values_path: &YamlPath, release: Option<&Object>) -> Site {
        for source in component.value_sources.iter().rev() {
            let full = source.prefix.join(values_path);
            if let Some(file) = self.model.source(&source.file)
                && let Some(pos) = file.spans.exact(&full)
            {
                return Site {
                    at: Location {
                        file: file.path.clone(),
                        pos: Some(pos),
                    },
                    yaml_path: full,
                    object: release.map(Object::id),
                    component: Some(component.name.clone()),
                    output: release.map(|r| self.output_path(r)),
                };
            }
        }
        match release {
            Some(release) => self.at_output(release, &YamlPath::parse("spec.values").join(values_path)),
            None => self.at_component(component, YamlPath::parse("values").join(values_path)),
        }
    }

    /// The output file of `object` and `yaml_path` in it (for values no input wrote).
    pub fn at_output(&self, object: &Object, yaml_path: &YamlPath) -> Site {
        let output = self.output_path(object);
        Site {
            at: Location::file(output.clone()),
            yaml_path: yaml_path.clone(),
            object: Some(object.id()),
            component: self.component_of(object).map(|c| c.name.clone()),
            output: Some(output),
        }
    }

    /// Where `yaml_path` of `object` comes from:
    ///
    /// 1. a SOPS file copied verbatim: that file;
    /// 2. a plain manifest: its document in the manifest file;
    /// 3. the Helm objects of a component's `chart`: `chart.repo`, the chart version, or where
    ///    the value under `spec.values` was set;
    /// 4. a generated object: the component-file string equal to `written` when there is one
    ///    (a host, an image), else the output file.
    pub fn at_object(&self, object: &Object, yaml_path: &YamlPath, written: Option<&str>) -> Site {
        let component = self.component_of(object);
        let output = Some(self.output_path(object));
        let here = |file: Utf8PathBuf, spans: Option<&SpanIndex>| Site {
            at: Location {
                pos: spans.and_then(|s| s.find(yaml_path)),
                file,
            },
            yaml_path: yaml_path.clone(),
            object: Some(object.id()),
            component: component.map(|c| c.name.clone()),
            output: output.clone(),
        };
        if object.verbatim.is_some()
            && let Some(file) = object.sources.first()
        {
            let text = self
                .model
                .secrets
                .get(file)
                .and_then(|b| std::str::from_utf8(b).ok());
            return here(file.clone(), text.map(SpanIndex::of).as_ref());
        }
        let Some(component) = component else {
            return self.at_output(object, yaml_path);
        };
        if let Some((file, text)) = manifest_source(component, object) {
            let spans = document_spans(self.model, component, object, text);
            return here(file.clone(), spans.as_ref());
        }
        if self.chart_object_of(object).is_some() {
            if let Some(rest) = yaml_path.strip_prefix(&"spec.values".into()) {
                return self.at_value(component, &rest, Some(object));
            }
            let mut site = match yaml_path.to_string().as_str() {
                "spec.url" => self.at_component(component, "chart.repo"),
                "spec.ref.tag" | "spec.ref.semver" | "spec.chart.spec.version" => {
                    self.at_chart_version(component)
                }
                _ => self.at_output(object, yaml_path),
            };
            site.object = Some(object.id());
            site.output = output;
            return site;
        }
        if let Some(written) = written
            && let Some(path) = find_string(component, written)
        {
            let mut site = self.at_component(component, path);
            site.object = Some(object.id());
            site.output = output;
            return site;
        }
        self.at_output(object, yaml_path)
    }
}

/// The plain-manifest file (path and text) of the component that `object` was read from.
fn manifest_source<'c>(component: &'c Component, object: &Object) -> Option<(&'c Utf8PathBuf, &'c String)> {
    object
        .sources
        .iter()
        .find_map(|source| component.files.get_key_value(source))
}

/// The span index of the document of `text` that is `object` (same kind and, once interpolated,
/// same name), or `None` when it cannot be told.
fn document_spans(model: &Model, component: &Component, object: &Object, text: &str) -> Option<SpanIndex> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).ok()?;
    let spans = SpanIndex::of_stream(text);
    if docs.len() != spans.len() {
        return None;
    }
    let vars = crate::render::manifests::component_vars(model, component);
    let index = docs.iter().position(|doc| {
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .and_then(|n| crate::model::interpolate::interpolate_str(n, &vars).ok());
        doc.get("kind").and_then(Value::as_str) == Some(object.kind())
            && name.as_deref() == Some(object.name())
    })?;
    spans.into_iter().nth(index)
}

/// The YAML path of the first string of the component file equal to `written` (after
/// interpolation), if the file has one.
fn find_string(component: &Component, written: &str) -> Option<YamlPath> {
    fn walk(value: &Value, path: YamlPath, written: &str, component: &Component) -> Option<YamlPath> {
        match value {
            Value::String(s) if s == written && component.file.spans.exact(&path).is_some() => Some(path),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, path.index(i), written, component)),
            Value::Object(map) => map
                .iter()
                .find_map(|(k, v)| walk(v, path.key(k.clone()), written, component)),
            _ => None,
        }
    }
    let spec = serde_json::to_value(&component.spec).ok()?;
    walk(&spec, YamlPath::root(), written, component)
}

/// Every string of `value` (whose YAML path is `path`) with its path, in document order; map keys
/// are reported at the path of their entry.
pub fn strings_in<'v>(value: &'v Value, path: &YamlPath, out: &mut Vec<(YamlPath, &'v str)>) {
    match value {
        Value::String(s) => out.push((path.clone(), s)),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings_in(item, &path.index(i), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = path.key(k.clone());
                out.push((child.clone(), k));
                strings_in(v, &child, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_stable_kebab_case_and_unique() {
        let ids: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        for id in &ids {
            assert!(
                id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{id} is not kebab-case"
            );
        }
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "duplicate rule id");
        let listing: Vec<String> = Code::ALL
            .iter()
            .map(|c| format!("{} ({}): {}", c.as_str(), c.severity(), c.summary()))
            .collect();
        insta::assert_snapshot!(listing.join("\n"));
    }

    #[test]
    fn every_rule_is_documented() {
        let docs = include_str!("../../docs/lints.md");
        for id in Code::ALL.iter().map(|c| c.as_str()) {
            assert!(
                docs.contains(&format!("## `{id}`")),
                "docs/lints.md has no section for `{id}`"
            );
        }
    }

    /// The model of environment `x` of a repository made of `files`.
    fn model(files: &[(&str, &str)]) -> Model {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let root = camino::Utf8Path::from_path(tmp.path()).expect("UTF-8 temp path");
        for (path, text) in files {
            let path = root.join(path);
            fs_err::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
            fs_err::write(path, text).expect("write fixture");
        }
        let inputs = crate::load::load(root).expect("loads");
        crate::model::resolve(&inputs, "x").expect("resolves")
    }

    #[test]
    fn generated_objects_are_named_by_input_string_or_output_file() {
        let model = model(&[
            (
                "environments/x.yaml",
                "root_domain: example.org\ncluster: {provider: local}\n",
            ),
            (
                "apps/a/component.yaml",
                "hosts:\n  - a.${root_domain}\n  - a.example.com\n",
            ),
        ]);
        let component = &model.components[0];
        let sources = vec![component.file.path.clone()];
        let route = serde_json::json!({
            "apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
            "metadata": {"name": "a", "namespace": "a"},
            "spec": {"routes": [{"match": "Host(`a.example.org`) || Host(`a.example.com`)", "kind": "Rule"}]},
        });
        let deployment = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "a", "namespace": "a"},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx"}]}}},
        });
        let objects = vec![
            Object::new(crate::model::Layer::Apps, "a", sources.clone(), route),
            Object::new(crate::model::Layer::Apps, "a", sources, deployment),
        ];
        let got: Vec<String> = check(&model, &objects, Vec::new())
            .iter()
            .filter(|d| d.code != Code::FluxEntryMissing)
            .map(|d| {
                format!(
                    "{} {} {} {}",
                    d.code,
                    d.at,
                    d.yaml_path.as_ref().map_or("-".to_string(), ToString::to_string),
                    d.object.as_deref().unwrap_or("-")
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "host-outside-domain apps/a/component.yaml:3:5 hosts[1] IngressRoute/a/a",
                "unpinned-image out/x/apps/a/deployment-a.yaml spec.template.spec.containers[0].image Deployment/a/a",
            ]
        );
    }
}
