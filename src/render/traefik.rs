//! Render stage, `traefik` generator: the ingress side of the platform. Pure: reads the model only.
//!
//! 1. The component with `generator: traefik` gets its shared Middlewares (`redirect-https`,
//!    `security-headers`, and `waf` when `features.waf`), the WAF backend (ModSecurity + OWASP CRS,
//!    a Deployment and Service in its namespace) and chart values derived from the environment.
//! 2. Every component with `hosts` gets one IngressRoute in its namespace, all its hosts in one
//!    `Host(…) || Host(…)` rule, routed to its `route` service: entry point `websecure` with the
//!    `<component>-tls` certificate when `features.cert_manager` (prod), plain `web` otherwise (dev).
//! 3. Every component's `tcp_routes` get one IngressRouteTCP each (`HostSNI(*)`, optionally with
//!    the PROXY protocol), on an entry point of their own that the chart values open on the load
//!    balancer.
//! 4. With external-dns on, Traefik's load-balancer Service carries every host of the environment
//!    in its `external-dns.alpha.kubernetes.io/hostname` annotation: external-dns (source
//!    `service`) publishes them with the address the cluster reports for the load balancer, or
//!    with `ingress_target` when set. No address has to be copied by hand after the first deploy.
//!
//! Traefik CRD objects of the component that installs them land in the next layer (see
//! `render::layers`).

use std::net::IpAddr;

use serde_json::{Value, json};

use super::{Object, Output};
use crate::diag::{Code, Diagnostic};
use crate::error::{InputError, RenderError};
use crate::model::{Component, FrameOptions, Generator, Model};

/// API version of the Traefik CRDs; v3.6 schemas (no v3.7-only fields are emitted).
pub const API_VERSION: &str = "traefik.io/v1alpha1";
/// Middleware that redirects plain HTTP to HTTPS (prod redirects globally on the `web` entry point
/// too; this one is for explicit use).
pub const REDIRECT_HTTPS: &str = "redirect-https";
/// Middleware with HSTS and the other security headers, on every IngressRoute (`frameDeny`).
pub const SECURITY_HEADERS: &str = "security-headers";
/// The same headers with `X-Frame-Options: SAMEORIGIN`, for routes with `frames: sameorigin`.
pub const SECURITY_HEADERS_SAMEORIGIN: &str = "security-headers-sameorigin";
/// Middleware that sends each request to the ModSecurity + OWASP CRS backend first.
pub const WAF: &str = "waf";
/// The annotations external-dns' `service` source reads on Traefik's load-balancer Service.
pub const HOSTNAME_ANNOTATION: &str = "external-dns.alpha.kubernetes.io/hostname";
pub const TARGET_ANNOTATION: &str = "external-dns.alpha.kubernetes.io/target";
pub const TTL_ANNOTATION: &str = "external-dns.alpha.kubernetes.io/ttl";
/// TCP entry points listen inside the pod on `TCP_PORT_BASE + <public port>`: Traefik runs as
/// a non-root user, which cannot bind ports below 1024.
pub const TCP_PORT_BASE: u16 = 8000;
/// HSTS max-age: one year.
const HSTS_SECONDS: u64 = 31_536_000;

/// The ModSecurity plugin: declared in the chart's `experimental.plugins` under this key, used by
/// the `waf` Middleware under `spec.plugin.<key>`.
const WAF_PLUGIN_KEY: &str = "modsecurity";
const WAF_PLUGIN_MODULE: &str = "github.com/madebymode/traefik-modsecurity-plugin";
const WAF_PLUGIN_VERSION: &str = "v1.6.0";
/// The OWASP CRS backend (nginx flavour, listens on 8080 as non-root).
const WAF_BACKEND: &str = "modsecurity-crs";
const WAF_BACKEND_PORT: u16 = 8080;
const WAF_CRS_IMAGE: &str = "owasp/modsecurity-crs:4.28.0-nginx-202607160307";
/// CRS proxies requests it lets through to this always-200 sidecar; the plugin only reads the code.
const WAF_DUMMY_IMAGE: &str = "traefik/whoami:v1.11.0";
const WAF_DUMMY_PORT: u16 = 8081;
/// Largest request body the WAF buffers and inspects (50 MiB, Mailu's default message limit).
const WAF_MAX_BODY_BYTES: u64 = 52_428_800;

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let mut out = Output::default();
    if component.spec.generator == Some(Generator::Traefik) {
        out.objects.extend(platform_objects(model, component));
        if let Some(warning) = target_warning(model) {
            out.warnings.push(warning);
        }
    }
    if !component.hosts.is_empty() {
        out.objects.push(ingress_route(model, component)?);
    }
    for route in &component.spec.tcp_routes {
        out.objects.push(ingress_route_tcp(model, component, route)?);
    }
    Ok(out)
}

/// Every host of the environment, in component then host order, once each.
pub fn all_hosts(model: &Model) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for host in model.components.iter().flat_map(|c| &c.hosts) {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    }
    hosts
}

/// Chart values derived from the environment; the component's own `values` win key by key.
pub fn chart_values(model: &Model, _component: &Component) -> Value {
    let features = &model.env.spec.features;
    let mut values = json!({
        "providers": {
            // IngressRoutes of every namespace use the Middlewares of the Traefik namespace.
            "kubernetesCRD": { "enabled": true, "allowCrossNamespace": true },
            // cert-manager's HTTP-01 solver answers the challenge through a plain Ingress.
            "kubernetesIngress": { "enabled": features.cert_manager },
        },
        "ingressClass": { "enabled": true, "isDefaultClass": false, "name": "traefik" },
    });
    if features.cert_manager {
        values["ports"] = json!({
            "web": { "http": { "redirections": { "entryPoint": {
                "to": "websecure", "scheme": "https", "permanent": true,
            }}}},
        });
    }
    let mut service = json!({
        // The client's address reaches Traefik (and, through the PROXY protocol, the mail
        // server): needed for rate limits, spam checks and logs.
        "spec": { "externalTrafficPolicy": "Local" },
    });
    if features.external_dns {
        let mut annotations = json!({
            HOSTNAME_ANNOTATION: all_hosts(model).join(","),
            TTL_ANNOTATION: model.env.spec.dns.ttl.to_string(),
        });
        if let Some(target) = &model.env.spec.ingress_target {
            annotations[TARGET_ANNOTATION] = json!(target);
        }
        service["annotations"] = annotations;
    }
    values["service"] = service;
    for (name, port) in tcp_entry_points(model) {
        values["ports"][name] = json!({
            "port": TCP_PORT_BASE + port,
            "exposedPort": port,
            "expose": { "default": true },
            "protocol": "TCP",
        });
    }
    if features.waf {
        values["experimental"] = json!({ "plugins": { WAF_PLUGIN_KEY: {
            "moduleName": WAF_PLUGIN_MODULE,
            "version": WAF_PLUGIN_VERSION,
        }}});
    }
    values
}

/// The TCP entry points of every component's `tcp_routes`: (name, public port), in component
/// order (the model stage checks names and ports are unique).
pub fn tcp_entry_points(model: &Model) -> Vec<(String, u16)> {
    model
        .components
        .iter()
        .flat_map(|c| c.spec.tcp_routes.iter().map(|r| (r.name.clone(), r.port)))
        .collect()
}

/// The IngressRouteTCP of one of a component's `tcp_routes`: every connection on its entry
/// point goes to the Service port, as is (TLS, if any, ends at the backend).
fn ingress_route_tcp(
    model: &Model,
    component: &Component,
    route: &crate::model::TcpRoute,
) -> Result<Object, RenderError> {
    if traefik_component(model).is_none() {
        return Err(InputError::new(
            component.file.locate("tcp_routes"),
            Some(&component.file.text),
            format!(
                "component `{}` has `tcp_routes` but no enabled component has `generator: traefik`",
                component.name
            ),
        )
        .with_help("enable the `traefik` component in this environment, or remove the routes")
        .into());
    }
    let mut service = json!({ "name": route.service, "port": route.backend_port() });
    if route.proxy_protocol {
        service["proxyProtocol"] = json!({ "version": 2 });
    }
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "IngressRouteTCP",
        "metadata": { "name": format!("{}-{}", component.name, route.name), "namespace": component.namespace },
        "spec": {
            "entryPoints": [route.name],
            "routes": [{ "match": "HostSNI(`*`)", "services": [service] }],
        },
    });
    Ok(Object::new(
        component.layer,
        &component.name,
        vec![component.file.path.clone()],
        value,
    ))
}

/// The enabled component with `generator: traefik`, if any.
pub fn traefik_component(model: &Model) -> Option<&Component> {
    model
        .components
        .iter()
        .find(|c| c.spec.generator == Some(Generator::Traefik))
}

/// True when routes are served over TLS with cert-manager certificates (prod).
pub fn tls_enabled(model: &Model) -> bool {
    model.env.spec.features.cert_manager
}

/// The TLS Secret (and Certificate) name of a component's hosts.
pub fn tls_secret_name(component: &Component) -> String {
    format!("{}-tls", component.name)
}

/// `Host(`a`) || Host(`b`)`.
pub fn host_rule(hosts: &[String]) -> String {
    hosts
        .iter()
        .map(|h| format!("Host(`{h}`)"))
        .collect::<Vec<_>>()
        .join(" || ")
}

/// Middlewares, WAF backend: the objects of the Traefik component itself.
fn platform_objects(model: &Model, traefik: &Component) -> Vec<Object> {
    let ns = &traefik.namespace;
    let sources = vec![traefik.file.path.clone(), model.env.file.path.clone()];
    let crd_layer = traefik.layer;
    let mut sameorigin = security_headers();
    sameorigin["headers"]["customFrameOptionsValue"] = json!("SAMEORIGIN");
    let mut middlewares = vec![
        json!({ "redirectScheme": { "scheme": "https", "permanent": true } }),
        security_headers(),
        sameorigin,
    ];
    let mut names = vec![REDIRECT_HTTPS, SECURITY_HEADERS, SECURITY_HEADERS_SAMEORIGIN];
    if model.env.spec.features.waf {
        middlewares.push(json!({ "plugin": { WAF_PLUGIN_KEY: {
            "modSecurityUrl": format!("http://{WAF_BACKEND}.{ns}.svc.cluster.local:{WAF_BACKEND_PORT}"),
            "timeoutMillis": 2000,
            "maxBodySize": WAF_MAX_BODY_BYTES,
        }}}));
        names.push(WAF);
    }
    let mut objects: Vec<Object> = names
        .into_iter()
        .zip(middlewares)
        .map(|(name, spec)| {
            let value = json!({
                "apiVersion": API_VERSION,
                "kind": "Middleware",
                "metadata": { "name": name, "namespace": ns },
                "spec": spec,
            });
            Object::new(crd_layer, &traefik.name, sources.clone(), value)
        })
        .collect();
    if model.env.spec.features.waf {
        for value in [waf_deployment(ns), waf_service(ns)] {
            objects.push(Object::new(traefik.layer, &traefik.name, sources.clone(), value));
        }
    }
    objects
}

/// HSTS (one year, subdomains), no framing, no MIME sniffing, a referrer policy, no server tokens.
fn security_headers() -> Value {
    json!({ "headers": {
        "stsSeconds": HSTS_SECONDS,
        "stsIncludeSubdomains": true,
        "frameDeny": true,
        "contentTypeNosniff": true,
        "browserXssFilter": true,
        "referrerPolicy": "strict-origin-when-cross-origin",
        // An empty value removes the header: no server tokens.
        "customResponseHeaders": { "Server": "", "X-Powered-By": "" },
    }})
}

fn waf_labels() -> Value {
    json!({ "app.kubernetes.io/name": WAF_BACKEND, "app.kubernetes.io/component": "waf" })
}

/// OWASP CRS in front of a dummy backend: the CRS answers 403 on an attack, 200 otherwise.
fn waf_deployment(ns: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": WAF_BACKEND, "namespace": ns, "labels": waf_labels() },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": waf_labels() },
            "template": {
                "metadata": { "labels": waf_labels() },
                "spec": {
                    "containers": [
                        {
                            "name": "crs",
                            "image": WAF_CRS_IMAGE,
                            "env": [
                                { "name": "BACKEND", "value": format!("http://127.0.0.1:{WAF_DUMMY_PORT}") },
                                { "name": "PORT", "value": WAF_BACKEND_PORT.to_string() },
                                { "name": "PARANOIA", "value": "1" },
                                { "name": "ANOMALY_INBOUND", "value": "10" },
                                { "name": "ANOMALY_OUTBOUND", "value": "5" },
                                { "name": "MODSEC_RULE_ENGINE", "value": "On" },
                                { "name": "MODSEC_REQ_BODY_LIMIT", "value": WAF_MAX_BODY_BYTES.to_string() },
                            ],
                            "ports": [{ "name": "http", "containerPort": WAF_BACKEND_PORT }],
                            "readinessProbe": {
                                "tcpSocket": { "port": "http" },
                                "periodSeconds": 10,
                            },
                            "resources": {
                                "requests": { "cpu": "100m", "memory": "128Mi" },
                                "limits": { "memory": "512Mi" },
                            },
                        },
                        {
                            "name": "dummy",
                            "image": WAF_DUMMY_IMAGE,
                            "args": ["--port", WAF_DUMMY_PORT.to_string()],
                            "ports": [{ "name": "dummy", "containerPort": WAF_DUMMY_PORT }],
                            "resources": {
                                "requests": { "cpu": "10m", "memory": "16Mi" },
                                "limits": { "memory": "64Mi" },
                            },
                        },
                    ],
                },
            },
        },
    })
}

fn waf_service(ns: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": WAF_BACKEND, "namespace": ns, "labels": waf_labels() },
        "spec": {
            "selector": waf_labels(),
            "ports": [{ "name": "http", "port": WAF_BACKEND_PORT, "targetPort": "http" }],
        },
    })
}

/// With external-dns on, hosts are published from Traefik's Service: it must be a load balancer.
fn target_warning(model: &Model) -> Option<Diagnostic> {
    let env = &model.env.spec;
    let traefik = traefik_component(model)?;
    let service_type = traefik
        .values
        .pointer("/service/type")
        .and_then(Value::as_str)
        .unwrap_or("LoadBalancer");
    if !env.features.external_dns || env.ingress_target.is_some() || service_type == "LoadBalancer" {
        return None;
    }
    Some(
        Diagnostic::of(
            Code::IngressTargetMissing,
            traefik.file.locate("values.service.type"),
            format!(
                "external-dns is on but Traefik's Service is a `{service_type}`: it has no address to publish the hosts with"
            ),
        )
        .with_help("make it `type: LoadBalancer`, or set `ingress_target` in the environment file"),
    )
}

/// The IngressRoute of a component with hosts.
fn ingress_route(model: &Model, component: &Component) -> Result<Object, RenderError> {
    let Some(route) = &component.spec.route else {
        return Err(InputError::new(
            component.file.locate("hosts"),
            Some(&component.file.text),
            format!("component `{}` has `hosts` but no `route`", component.name),
        )
        .with_help(
            "add `route: {service: <Service of the component>, port: <its port>}` so Traefik knows \
             where the hosts go",
        )
        .into());
    };
    let Some(traefik) = traefik_component(model) else {
        return Err(InputError::new(
            component.file.locate("hosts"),
            Some(&component.file.text),
            format!(
                "component `{}` has `hosts` but no enabled component has `generator: traefik`",
                component.name
            ),
        )
        .with_help("enable the `traefik` component in this environment, or remove the hosts")
        .into());
    };
    let shared = |name: &str| json!({ "name": name, "namespace": traefik.namespace });
    let headers = match route.frames {
        FrameOptions::Deny => SECURITY_HEADERS,
        FrameOptions::Sameorigin => SECURITY_HEADERS_SAMEORIGIN,
    };
    let mut middlewares = vec![shared(headers)];
    if model.env.spec.features.waf {
        middlewares.push(shared(WAF));
    }
    middlewares.extend(route.middlewares.iter().map(|m| json!({ "name": m })));

    dns_target(model, component)?;
    let metadata = json!({ "name": component.name, "namespace": component.namespace });
    let tls = tls_enabled(model);
    let mut spec = json!({
        "entryPoints": [if tls { "websecure" } else { "web" }],
        "routes": [{
            "kind": "Rule",
            "match": host_rule(&component.hosts),
            "middlewares": middlewares,
            "services": [{ "name": route.service, "port": route.port }],
        }],
    });
    if tls {
        spec["tls"] = json!({ "secretName": tls_secret_name(component) });
    }
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "IngressRoute",
        "metadata": metadata,
        "spec": spec,
    });
    Ok(Object::new(
        component.layer,
        &component.name,
        vec![component.file.path.clone(), model.env.file.path.clone()],
        value,
    ))
}

/// Checks `ingress_target` against a component's hosts, when external-dns is on.
///
/// A DNS-name target makes every host a CNAME, which the zone apex and the target itself cannot be.
fn dns_target(model: &Model, component: &Component) -> Result<Option<String>, RenderError> {
    let env = &model.env.spec;
    let Some(target) = env
        .ingress_target
        .as_deref()
        .filter(|_| env.features.external_dns)
    else {
        return Ok(None);
    };
    let at = || model.env.file.locate("ingress_target");
    if target.parse::<IpAddr>().is_ok() {
        return Ok(Some(target.to_string()));
    }
    let valid_name = !target.is_empty()
        && target.len() <= 253
        && target.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !valid_name {
        return Err(InputError::new(
            at(),
            Some(&model.env.file.text),
            format!("`ingress_target` `{target}` is neither an IP address nor a DNS name"),
        )
        .with_help("write the load balancer's public IP, e.g. `203.0.113.10`")
        .into());
    }
    if let Some(host) = component
        .hosts
        .iter()
        .find(|h| **h == env.root_domain || h.as_str() == target)
    {
        return Err(InputError::new(
            at(),
            Some(&model.env.file.text),
            format!(
                "host `{host}` of `{}` cannot be a CNAME to `ingress_target` `{target}`",
                component.name
            ),
        )
        .with_help("the zone apex needs an A record: set `ingress_target` to the load balancer's IP")
        .into());
    }
    Ok(Some(target.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rule_joins_every_host() {
        let hosts = vec!["n8n.example.org".to_string(), "webhook.example.org".to_string()];
        assert_eq!(
            host_rule(&hosts),
            "Host(`n8n.example.org`) || Host(`webhook.example.org`)"
        );
    }

    #[test]
    fn host_rule_of_one_host_has_no_operator() {
        assert_eq!(host_rule(&["a.b".to_string()]), "Host(`a.b`)");
    }
}
