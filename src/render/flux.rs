//! The Flux side: one `Kustomization` (kustomize.toolkit.fluxcd.io/v1) per non-empty layer,
//! applying `./out/<env>/<layer>` from the environment's GitRepository, each after the previous
//! layer, with SOPS decryption through the `sops-age` Secret. Named `<flux.prefix><layer>`, so
//! that two environments can share one cluster.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Object, Placement};
use crate::model::{Layer, Model};

const INTERVAL: &str = "10m";
const TIMEOUT: &str = "10m";

/// The Kustomizations of the layers that have objects.
pub fn render(model: &Model, objects: &[Object]) -> Vec<Object> {
    let used: BTreeSet<Layer> = objects
        .iter()
        .filter_map(|o| match &o.placement {
            Placement::Component { layer, .. } => Some(*layer),
            Placement::Flux => None,
        })
        .collect();
    let mut previous: Option<Layer> = None;
    let mut out = Vec::new();
    for layer in Layer::ALL.into_iter().filter(|l| used.contains(l)) {
        out.push(Object {
            placement: Placement::Flux,
            sources: vec![model.env.file.path.clone()],
            value: kustomization(model, layer, previous),
            verbatim: None,
        });
        previous = Some(layer);
    }
    out
}

fn kustomization(model: &Model, layer: Layer, previous: Option<Layer>) -> Value {
    let flux = &model.env.spec.flux;
    let mut spec = serde_json::Map::new();
    if let Some(previous) = previous {
        spec.insert(
            "dependsOn".into(),
            json!([{ "name": format!("{}{previous}", flux.prefix) }]),
        );
    }
    spec.insert("interval".into(), json!(INTERVAL));
    spec.insert("retryInterval".into(), json!("2m"));
    spec.insert("timeout".into(), json!(TIMEOUT));
    spec.insert(
        "path".into(),
        json!(format!("./out/{}/{}", model.env.name, layer)),
    );
    spec.insert("prune".into(), json!(true));
    spec.insert("wait".into(), json!(true));
    spec.insert(
        "sourceRef".into(),
        json!({ "kind": "GitRepository", "name": flux.name, "namespace": flux.namespace }),
    );
    spec.insert(
        "decryption".into(),
        json!({ "provider": "sops", "secretRef": { "name": "sops-age" } }),
    );
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": { "name": format!("{}{layer}", flux.prefix), "namespace": flux.namespace },
        "spec": spec,
    })
}

/// The one object Flux needs to reach `out/<env>`: a Kustomization applying `./out/<env>` (the
/// layers' Kustomizations) from the bootstrap GitRepository. It belongs in `clusters/<env>/`,
/// the folder `flux bootstrap --path=clusters/<env>` applies; `hydrate flux-entry <env>` prints it.
pub fn entry(model: &Model) -> Value {
    let flux = &model.env.spec.flux;
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": { "name": format!("{}hydrate", flux.prefix), "namespace": flux.namespace },
        "spec": {
            "interval": INTERVAL,
            "retryInterval": "2m",
            "timeout": TIMEOUT,
            "path": entry_path(&model.env.name),
            "prune": true,
            "wait": true,
            "sourceRef": { "kind": "GitRepository", "name": flux.name, "namespace": flux.namespace },
        },
    })
}

/// `./out/<env>`.
pub fn entry_path(env: &str) -> String {
    format!("./out/{env}")
}
