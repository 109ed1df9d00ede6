//! Which Flux layer applies each object, once every generator has run. Pure.
//!
//! Flux applies a layer's objects together, after a server-side dry run: an object whose kind
//! comes from a CRD must reach the cluster after that CRD. Components say which API groups their
//! CRDs belong to (`crds: [traefik.io]`), so:
//!
//! 1. an object of such a group made in the same layer as the component that installs it goes to
//!    the next layer (`infra` → `infra-configs`, the only layer with a follower made for it);
//! 2. in any other layer, or made in an earlier layer than its CRDs, it is an error at the
//!    component that made it.

use std::collections::BTreeMap;

use super::{Object, Placement};
use crate::error::{InputError, RenderError};
use crate::model::{Layer, Model};
use crate::span::{Location, YamlPath};

/// Moves objects of a CRD installed in their own layer to the next one, or refuses them.
pub fn place_after_crds(model: &Model, objects: &mut [Object]) -> Result<(), RenderError> {
    // API group → (layer, component) that installs its CRDs.
    let mut installed: BTreeMap<&str, (Layer, &str)> = BTreeMap::new();
    for component in &model.components {
        for group in &component.spec.crds {
            installed.insert(group.as_str(), (component.layer, component.name.as_str()));
        }
    }
    let mut errors = Vec::new();
    for object in objects.iter_mut() {
        let (kind, name) = (object.kind().to_string(), object.name().to_string());
        let first_source = object.sources.first().cloned().unwrap_or_default();
        let Placement::Component { layer, component } = &mut object.placement else {
            continue;
        };
        let api_version = object
            .value
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let Some((group, _)) = api_version.split_once('/') else {
            continue; // the core group has no CRDs
        };
        let Some(&(crd_layer, installer)) = installed.get(group) else {
            continue;
        };
        if *layer > crd_layer {
            continue;
        }
        if *layer == crd_layer && *layer == Layer::Infra {
            *layer = Layer::InfraConfigs;
            continue;
        }
        let maker = model.component(component);
        let at = maker.map_or_else(
            || Location::file(first_source.clone()),
            |c| c.file.locate(YamlPath::parse("layer")),
        );
        errors.push(RenderError::from(
            InputError::new(
                at,
                maker.map(|c| c.file.text.as_str()),
                format!(
                    "{} `{}` of component `{component}` (layer `{layer}`) is of `{group}`, whose CRDs component `{installer}` installs in layer `{crd_layer}`: Flux would apply it before they exist",
                    kind, name
                ),
            )
            .with_help(format!(
                "put `{component}` in a later layer than `{crd_layer}` (`layer: apps`), or install the CRDs in `infra`"
            )),
        ));
    }
    match RenderError::collect(errors) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
