//! Render stage, `network-policies` generator: the NetworkPolicies of every fenced namespace of
//! the environment, from what the components declare and what hydrate knows of them. Pure.
//!
//! For every namespace of the enabled components, except those of the generator's
//! `exclude_namespaces` (the controllers of `infra`, the monitoring stack):
//!
//! 1. `default-deny`: no ingress, no egress for any pod;
//! 2. `allow-dns`: egress to the cluster DNS (53/UDP, 53/TCP);
//! 3. `allow-same-namespace`: traffic between the pods of the namespace (a namespace is the unit
//!    of isolation: a database and its init Job, an app and its own cache), unless
//!    `allow_same_namespace: false`.
//!
//! Then one pair of policies per allowed flow `from → to` on some ports: an egress policy in the
//! source's namespace and an ingress policy in the destination's, each only where that namespace
//! is fenced. The flows:
//!
//! - Traefik → every component with `hosts` (its pod port: the workload's port behind
//!   `route.port`, or `network.ingress_ports`/`network.ports` for a chart) and `tcp_routes`;
//! - Traefik → cert-manager's HTTP-01 solver pods (label `acme.cert-manager.io/http01-solver`,
//!   port 8089) in every namespace with hosts, when `features.cert_manager` (the challenge needs it);
//! - Prometheus → every component's `network.metrics_port`;
//! - a component → each component of `network.uses` (its ports: declared, its workload's, or its
//!   database generator's);
//! - a component → anywhere on `network.egress_world_ports`; anyone → `network.public_ports`.
//!
//! A missing fact is an error at the component's own file, with the fix.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Object, Output};
use crate::error::{InputError, RenderError};
use crate::model::{Component, Generator, Model};
use crate::span::YamlPath;

pub const API_VERSION: &str = "networking.k8s.io/v1";
/// The port cert-manager's HTTP-01 solver pods listen on.
pub const ACME_SOLVER_PORT: u16 = 8089;
/// The label cert-manager puts on its HTTP-01 solver pods.
pub const ACME_SOLVER_LABEL: &str = "acme.cert-manager.io/http01-solver";

/// The generator's own `values`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Namespaces left open (controllers that talk to the API server and every namespace).
    pub exclude_namespaces: Vec<String>,
    pub allow_same_namespace: bool,
    /// Where the cluster DNS runs.
    pub dns: Peer,
    /// Labels of Traefik's pods (the chart's).
    pub traefik_pod_labels: BTreeMap<String, String>,
    /// The component running Prometheus, and the labels of its pods.
    pub prometheus: PrometheusPeer,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusPeer {
    pub component: String,
    pub pod_labels: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            exclude_namespaces: Vec::new(),
            allow_same_namespace: true,
            dns: Peer {
                namespace: "kube-system".into(),
                pod_labels: BTreeMap::from([("k8s-app".into(), "kube-dns".into())]),
            },
            traefik_pod_labels: BTreeMap::from([("app.kubernetes.io/name".into(), "traefik".into())]),
            prometheus: PrometheusPeer {
                component: "kube-prometheus-stack".into(),
                pod_labels: BTreeMap::from([("app.kubernetes.io/name".into(), "prometheus".into())]),
            },
        }
    }
}

/// A set of pods: a namespace and labels (none: every pod of the namespace).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pods {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
}

/// One allowed flow.
#[derive(Debug, Clone)]
struct Flow {
    /// Names the policies: `allow-<name>` (egress side: `allow-egress-<name>` when both sides
    /// share a namespace).
    name: String,
    from: Option<Pods>,
    to: Option<Pods>,
    ports: Vec<(u16, &'static str)>,
}

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    if component.spec.generator != Some(Generator::NetworkPolicies) {
        return Ok(Output::default());
    }
    let config: Config = serde_json::from_value(component.values.clone()).map_err(|e| {
        InputError::new(
            component.file.locate("values"),
            Some(&component.file.text),
            format!("the values of the network-policies generator are not valid: {e}"),
        )
        .with_help(
            "known keys: `exclude_namespaces`, `allow_same_namespace`, `dns`, `traefik_pod_labels`, `prometheus`",
        )
    })?;
    let flows = flows(model, &config)?;
    let fenced: BTreeSet<&str> = model
        .components
        .iter()
        .map(|c| c.namespace.as_str())
        .filter(|ns| !config.exclude_namespaces.iter().any(|e| e == ns))
        .collect();
    let mut policies: Vec<Value> = Vec::new();
    for ns in &fenced {
        policies.extend(base(ns, &config));
    }
    for flow in &flows {
        policies.extend(flow_policies(flow, &fenced));
    }
    policies.sort_by(|a, b| {
        let key = |p: &Value| {
            (
                p["metadata"]["namespace"].to_string(),
                p["metadata"]["name"].to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    policies.dedup();
    let sources = vec![component.file.path.clone(), model.env.file.path.clone()];
    Ok(Output::objects(
        policies
            .into_iter()
            .map(|p| Object::new(component.layer, &component.name, sources.clone(), p))
            .collect(),
    ))
}

/// The pods of a component: its `network.pod_labels`, the labels of its workload or database
/// generator, or (for a chart) every pod of its namespace.
pub fn pods_of(component: &Component) -> Pods {
    let mut labels: BTreeMap<String, String> = component
        .spec
        .network
        .as_ref()
        .map(|n| n.pod_labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let generated = component.spec.workload.is_some()
        || matches!(
            component.spec.generator,
            Some(Generator::Postgres | Generator::Mariadb | Generator::Minio)
        );
    if labels.is_empty() && generated {
        labels.insert("app.kubernetes.io/name".into(), component.name.clone());
    }
    Pods {
        namespace: component.namespace.clone(),
        labels,
    }
}

/// The ports a component's pods serve: declared, its workload's, its database's.
pub fn ports_of(component: &Component) -> Vec<u16> {
    let mut ports: BTreeSet<u16> = BTreeSet::new();
    if let Some(network) = &component.spec.network {
        ports.extend(&network.ports);
    }
    if let Some(w) = &component.spec.workload {
        ports.extend(w.ports.iter().map(|p| p.port));
    }
    match component.spec.generator {
        Some(Generator::Postgres) => {
            ports.insert(5432);
        }
        Some(Generator::Mariadb) => {
            ports.insert(3306);
        }
        Some(Generator::Minio) => {
            ports.insert(super::velero::MINIO_PORT);
        }
        _ => {}
    }
    ports.into_iter().collect()
}

/// The pod ports Traefik reaches on a component with hosts: `network.ingress_ports`, else the
/// workload port behind `route.port`, else `network.ports`.
fn routed_ports(component: &Component) -> Result<Vec<u16>, RenderError> {
    let network = component.spec.network.as_ref();
    if let Some(ports) = network.map(|n| &n.ingress_ports).filter(|p| !p.is_empty()) {
        return Ok(ports.clone());
    }
    if let (Some(w), Some(route)) = (&component.spec.workload, &component.spec.route)
        && w.ports.iter().any(|p| p.port == route.port)
    {
        return Ok(vec![route.port]);
    }
    if let Some(ports) = network.map(|n| &n.ports).filter(|p| !p.is_empty()) {
        return Ok(ports.clone());
    }
    Err(InputError::new(
        component.file.locate(if component.spec.route.is_some() { "route.port" } else { "hosts" }),
        Some(&component.file.text),
        format!(
            "component `{}` has hosts, but the port its pods listen on is unknown, so no network policy can let Traefik in",
            component.name
        ),
    )
    .with_help(
        "add `network: {ports: [<the container port behind the Service>]}` (a chart's Service port \
         is often not its pods' port: n8n serves 80, its pod 5678)",
    )
    .into())
}

/// Every flow the environment needs.
fn flows(model: &Model, config: &Config) -> Result<Vec<Flow>, RenderError> {
    let mut flows = Vec::new();
    let mut errors = Vec::new();
    let traefik = super::traefik::traefik_component(model).map(|t| Pods {
        namespace: t.namespace.clone(),
        labels: config.traefik_pod_labels.clone(),
    });
    let prometheus = model.component(&config.prometheus.component).map(|p| Pods {
        namespace: p.namespace.clone(),
        labels: config.prometheus.pod_labels.clone(),
    });
    let mut solver_namespaces = BTreeSet::new();
    for c in &model.components {
        let pods = pods_of(c);
        let network = c.spec.network.clone().unwrap_or_default();
        let mut ingress: BTreeSet<u16> = BTreeSet::new();
        if !c.hosts.is_empty() {
            match routed_ports(c) {
                Ok(ports) => ingress.extend(ports),
                Err(e) => errors.push(e),
            }
            solver_namespaces.insert(c.namespace.clone());
        }
        for route in &c.spec.tcp_routes {
            ingress.insert(route.backend_port());
        }
        if !ingress.is_empty()
            && let Some(traefik) = &traefik
            && traefik.namespace != c.namespace
        {
            flows.push(Flow {
                name: format!("traefik-to-{}", c.name),
                from: Some(traefik.clone()),
                to: Some(pods.clone()),
                ports: ingress.iter().map(|p| (*p, "TCP")).collect(),
            });
        }
        if let (Some(port), Some(prometheus)) = (network.metrics_port, &prometheus) {
            flows.push(Flow {
                name: format!("metrics-to-{}", c.name),
                from: Some(prometheus.clone()),
                to: Some(pods.clone()),
                ports: vec![(port, "TCP")],
            });
        }
        for (i, target) in network.uses.iter().enumerate() {
            let Some(d) = model.component(target) else {
                errors.push(
                    InputError::new(
                        c.file.locate(YamlPath::parse("network.uses").index(i)),
                        Some(&c.file.text),
                        format!(
                            "component `{}` uses `{target}`, which is not enabled in environment `{}`",
                            c.name, model.env.name
                        ),
                    )
                    .with_help("name an enabled component (`hydrate envs` lists them), or remove it")
                    .into(),
                );
                continue;
            };
            let ports = ports_of(d);
            if ports.is_empty() {
                errors.push(
                    InputError::new(
                        c.file.locate(YamlPath::parse("network.uses").index(i)),
                        Some(&c.file.text),
                        format!("component `{}` uses `{target}`, whose ports are unknown", c.name),
                    )
                    .with_help(format!("declare them on `{target}`: `network: {{ports: [...]}}`"))
                    .into(),
                );
                continue;
            }
            flows.push(Flow {
                name: format!("{}-to-{}", c.name, d.name),
                from: Some(pods.clone()),
                to: Some(pods_of(d)),
                ports: ports.into_iter().map(|p| (p, "TCP")).collect(),
            });
        }
        if !network.egress_world_ports.is_empty() {
            flows.push(Flow {
                name: format!("{}-to-world", c.name),
                from: Some(pods.clone()),
                to: None,
                ports: network.egress_world_ports.iter().map(|p| (*p, "TCP")).collect(),
            });
        }
        if !network.public_ports.is_empty() {
            flows.push(Flow {
                name: format!("world-to-{}", c.name),
                from: None,
                to: Some(pods.clone()),
                ports: network.public_ports.iter().map(|p| (*p, "TCP")).collect(),
            });
        }
    }
    if model.env.spec.features.cert_manager
        && let Some(traefik) = &traefik
    {
        for ns in solver_namespaces
            .into_iter()
            .filter(|ns| *ns != traefik.namespace)
        {
            flows.push(Flow {
                name: format!("traefik-to-acme-solver-{ns}"),
                from: Some(traefik.clone()),
                to: Some(Pods {
                    namespace: ns,
                    labels: BTreeMap::from([(ACME_SOLVER_LABEL.into(), "true".into())]),
                }),
                ports: vec![(ACME_SOLVER_PORT, "TCP")],
            });
        }
    }
    match RenderError::collect(errors) {
        Some(err) => Err(err),
        None => Ok(flows),
    }
}

fn policy(name: &str, namespace: &str, spec: Value) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": { "app.kubernetes.io/managed-by": "hydrate", "app.kubernetes.io/part-of": "network-policies" },
        },
        "spec": spec,
    })
}

fn pod_selector(labels: &BTreeMap<String, String>) -> Value {
    if labels.is_empty() {
        json!({})
    } else {
        json!({ "matchLabels": labels })
    }
}

/// A peer: pods of a namespace (by its `kubernetes.io/metadata.name` label), or anywhere.
fn peers(pods: Option<&Pods>) -> Value {
    match pods {
        Some(p) => {
            let mut peer = json!({ "namespaceSelector": { "matchLabels": {
                "kubernetes.io/metadata.name": p.namespace,
            }}});
            if !p.labels.is_empty() {
                peer["podSelector"] = json!({ "matchLabels": p.labels });
            }
            json!([peer])
        }
        None => json!([{ "ipBlock": { "cidr": "0.0.0.0/0" } }, { "ipBlock": { "cidr": "::/0" } }]),
    }
}

fn port_list(ports: &[(u16, &str)]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|(port, protocol)| json!({ "protocol": protocol, "port": port }))
            .collect(),
    )
}

fn base(ns: &str, config: &Config) -> Vec<Value> {
    let mut out = vec![
        policy(
            "default-deny",
            ns,
            json!({ "podSelector": {}, "policyTypes": ["Ingress", "Egress"] }),
        ),
        policy(
            "allow-dns",
            ns,
            json!({
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": peers(Some(&Pods {
                        namespace: config.dns.namespace.clone(),
                        labels: config.dns.pod_labels.clone(),
                    })),
                    "ports": [{ "protocol": "UDP", "port": 53 }, { "protocol": "TCP", "port": 53 }],
                }],
            }),
        ),
    ];
    if config.allow_same_namespace {
        out.push(policy(
            "allow-same-namespace",
            ns,
            json!({
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{ "from": [{ "podSelector": {} }] }],
                "egress": [{ "to": [{ "podSelector": {} }] }],
            }),
        ));
    }
    out
}

/// The egress policy of a flow in its source's namespace and its ingress policy in its
/// destination's, each where that namespace is fenced.
fn flow_policies(flow: &Flow, fenced: &BTreeSet<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let same_namespace = matches!((&flow.from, &flow.to), (Some(a), Some(b)) if a.namespace == b.namespace);
    if let Some(from) = &flow.from
        && fenced.contains(from.namespace.as_str())
    {
        let name = if same_namespace {
            format!("allow-egress-{}", flow.name)
        } else {
            format!("allow-{}", flow.name)
        };
        out.push(policy(
            &name,
            &from.namespace,
            json!({
                "podSelector": pod_selector(&from.labels),
                "policyTypes": ["Egress"],
                "egress": [{ "to": peers(flow.to.as_ref()), "ports": port_list(&flow.ports) }],
            }),
        ));
    }
    if let Some(to) = &flow.to
        && fenced.contains(to.namespace.as_str())
    {
        let name = if same_namespace {
            format!("allow-ingress-{}", flow.name)
        } else {
            format!("allow-{}", flow.name)
        };
        out.push(policy(
            &name,
            &to.namespace,
            json!({
                "podSelector": pod_selector(&to.labels),
                "policyTypes": ["Ingress"],
                "ingress": [{ "from": peers(flow.from.as_ref()), "ports": port_list(&flow.ports) }],
            }),
        ));
    }
    out
}
