//! Render stage: turns a [`Model`] into Kubernetes and Flux objects. Pure: no disk, no network.
//!
//! Each generator is a function of one file, run for every component, in parallel; results are
//! collected in component order, so the object list is the same for any thread count.

pub mod cert_manager;
pub mod database;
pub mod external_dns;
pub mod flux;
pub mod helm;
pub mod identity;
pub mod jsonnet;
pub mod layers;
pub mod manifests;
pub mod mariadb;
pub mod minio;
pub mod namespace;
pub mod network_policies;
pub mod object;
pub mod postgres;
pub mod require;
pub mod secrets;
pub mod traefik;
pub mod velero;
pub mod workload;

use rayon::prelude::*;

use crate::diag::Diagnostic;
use crate::error::RenderError;
use crate::model::{Component, Model};
pub use object::{Object, ObjectId, Placement};

/// What rendering one environment gives: objects in a stable order, plus warnings.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub objects: Vec<Object>,
    pub warnings: Vec<Diagnostic>,
}

/// A generator's output for one component.
#[derive(Debug, Default)]
pub struct Output {
    pub objects: Vec<Object>,
    pub warnings: Vec<Diagnostic>,
}

impl Output {
    pub fn objects(objects: Vec<Object>) -> Output {
        Output {
            objects,
            warnings: Vec::new(),
        }
    }
}

/// A generator: one component in, its share of the objects out.
pub type Generator = fn(&Model, &Component) -> Result<Output, RenderError>;

/// Every generator, in the order their objects are listed.
const GENERATORS: &[Generator] = &[
    namespace::render,
    helm::render,
    manifests::render,
    jsonnet::render,
    secrets::render,
    velero::render,
    minio::render,
    postgres::render,
    mariadb::render,
    traefik::render,
    cert_manager::render,
    external_dns::render,
    workload::render,
    network_policies::render,
];

/// Renders every enabled component of `model`, then the Flux Kustomizations of the used layers.
pub fn render(model: &Model) -> Result<Rendered, RenderError> {
    let results: Vec<Result<Output, RenderError>> = model
        .components
        .par_iter()
        .map(|component| render_component(model, component))
        .collect();
    let mut rendered = Rendered::default();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(out) => {
                rendered.objects.extend(out.objects);
                rendered.warnings.extend(out.warnings);
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(err) = RenderError::collect(errors) {
        return Err(err);
    }
    layers::place_after_crds(model, &mut rendered.objects)?;
    identity::refuse_duplicates(&rendered.objects)?;
    rendered.objects.extend(flux::render(model, &rendered.objects));
    rendered.objects.sort_by_cached_key(Object::order_key);
    Ok(rendered)
}

/// Chart values that a component's typed generator derives from the environment (hosts, domain,
/// backup target…); the component's own `values` are merged over them.
pub fn generated_values(model: &Model, component: &Component) -> serde_json::Value {
    use crate::model::Generator;
    match component.spec.generator {
        Some(Generator::Traefik) => traefik::chart_values(model, component),
        Some(Generator::CertManager) => cert_manager::chart_values(model, component),
        Some(Generator::ExternalDns) => external_dns::chart_values(model, component),
        Some(Generator::Velero) => velero::chart_values(model, component),
        _ => serde_json::Value::Object(Default::default()),
    }
}

fn render_component(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let mut out = Output::default();
    let mut errors = Vec::new();
    for generator in GENERATORS {
        match generator(model, component) {
            Ok(part) => {
                out.objects.extend(part.objects);
                out.warnings.extend(part.warnings);
            }
            Err(e) => errors.push(e),
        }
    }
    for object in out.objects.iter().filter(|o| o.verbatim.is_none()) {
        if let Some(problem) = object::identity_problem(object) {
            let file = object
                .sources
                .last()
                .cloned()
                .unwrap_or_else(|| component.file.path.clone());
            errors.push(
                crate::error::InputError::new(crate::span::Location::file(file), None, problem)
                    .with_help(
                        "object names are lowercase letters, digits, `-` and `.` (at most 253), \
                         namespaces DNS labels: rename it",
                    )
                    .into(),
            );
        }
    }
    match RenderError::collect(errors) {
        Some(err) => Err(err),
        None => Ok(out),
    }
}
