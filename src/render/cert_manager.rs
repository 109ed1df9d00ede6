//! Render stage, `cert-manager` generator: Let's Encrypt certificates for every host. Pure.
//!
//! Runs only where `features.cert_manager` is on (prod): the switch disables the component
//! otherwise (see `Generator::feature_enabled`), and no Certificate is made without it.
//!
//! 1. The component with `generator: cert-manager` gets the ClusterIssuers `letsencrypt-staging`
//!    and `letsencrypt-prod` (ACME HTTP-01 answered through Traefik's Ingress provider) and the
//!    chart values that install the CRDs.
//! 2. Every component with `hosts` gets a Certificate `<component>-tls` for all of them, in its
//!    namespace; its IngressRoute serves that Secret ([`super::traefik`]).

use serde_json::{Value, json};

use super::traefik::tls_secret_name;
use super::{Object, Output};
use crate::error::{InputError, RenderError};
use crate::model::{AcmeIssuer, Component, Generator, Model};

pub const API_VERSION: &str = "cert-manager.io/v1";
const STAGING_SERVER: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
const PROD_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// The IngressClass of Traefik (see `traefik::chart_values`) that serves the HTTP-01 solver.
const SOLVER_INGRESS_CLASS: &str = "traefik";

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    if !model.env.spec.features.cert_manager {
        return Ok(Output::default());
    }
    let mut objects = Vec::new();
    if component.spec.generator == Some(Generator::CertManager) {
        objects.extend(cluster_issuers(model, component)?);
    }
    if !component.hosts.is_empty() {
        let issuer = issuer_of(model, component)?;
        objects.push(certificate(model, component, issuer));
    }
    Ok(Output::objects(objects))
}

/// The chart installs and keeps its CRDs (`crds.enabled`, `crds.keep`).
pub fn chart_values(_model: &Model, _component: &Component) -> Value {
    json!({ "crds": { "enabled": true, "keep": true } })
}

/// The ClusterIssuer the Certificates use, from the cert-manager component's `acme.issuer`.
fn issuer_of(model: &Model, component: &Component) -> Result<AcmeIssuer, RenderError> {
    let cert_manager = model
        .components
        .iter()
        .find(|c| c.spec.generator == Some(Generator::CertManager));
    match cert_manager {
        Some(c) => Ok(c.spec.acme.as_ref().map(|a| a.issuer).unwrap_or_default()),
        None => Err(InputError::new(
            component.file.locate("hosts"),
            Some(&component.file.text),
            format!(
                "`features.cert_manager` is on but no enabled component has `generator: cert-manager`, \
                 so the certificate of `{}` has no issuer",
                component.name
            ),
        )
        .with_help("enable the `cert-manager` component, or set `features.cert_manager: false`")
        .into()),
    }
}

fn cluster_issuers(model: &Model, component: &Component) -> Result<Vec<Object>, RenderError> {
    let Some(acme) = &component.spec.acme else {
        return Err(InputError::new(
            component.file.locate("generator"),
            Some(&component.file.text),
            format!(
                "component `{}` (generator `cert-manager`) has no `acme`",
                component.name
            ),
        )
        .with_help("add `acme: {email: postmaster@${root_domain}}`: Let's Encrypt's account address")
        .into());
    };
    if !acme.email.contains('@') {
        return Err(InputError::new(
            component.file.locate("acme.email"),
            Some(&component.file.text),
            format!("`{}` is not an e-mail address", acme.email),
        )
        .with_help("write the address Let's Encrypt sends expiry notices to")
        .into());
    }
    let sources = vec![component.file.path.clone(), model.env.file.path.clone()];
    let layer = component.layer;
    Ok([
        (AcmeIssuer::Staging, STAGING_SERVER),
        (AcmeIssuer::Prod, PROD_SERVER),
    ]
    .into_iter()
    .map(|(issuer, server)| {
        let name = issuer.cluster_issuer();
        let value = json!({
            "apiVersion": API_VERSION,
            "kind": "ClusterIssuer",
            "metadata": { "name": name },
            "spec": { "acme": {
                "email": acme.email,
                "server": server,
                "privateKeySecretRef": { "name": format!("{name}-account-key") },
                "solvers": [{ "http01": { "ingress": { "ingressClassName": SOLVER_INGRESS_CLASS } } }],
            }},
        });
        Object::new(layer, &component.name, sources.clone(), value)
    })
    .collect())
}

/// The Certificate of all the hosts of `component`.
fn certificate(model: &Model, component: &Component, issuer: AcmeIssuer) -> Object {
    let name = tls_secret_name(component);
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "Certificate",
        "metadata": { "name": name, "namespace": component.namespace },
        "spec": {
            "secretName": name,
            "dnsNames": component.hosts,
            "issuerRef": {
                "name": issuer.cluster_issuer(),
                "kind": "ClusterIssuer",
                "group": "cert-manager.io",
            },
        },
    });
    Object::new(
        component.layer,
        &component.name,
        vec![component.file.path.clone(), model.env.file.path.clone()],
        value,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(components: &[(&str, &str)]) -> (tempfile::TempDir, Model) {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let root = camino::Utf8Path::from_path(tmp.path()).expect("UTF-8").to_owned();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            fs_err::write(path, text).expect("write");
        };
        write(
            "environments/prod.yaml",
            "root_domain: example.org\ncluster: {provider: doks}\nfeatures: {cert_manager: true}\n",
        );
        for (dir, text) in components {
            write(&format!("{dir}/component.yaml"), text);
        }
        let inputs = crate::load::load(&root).expect("loads");
        let model = crate::model::resolve(&inputs, "prod").expect("resolves");
        (tmp, model)
    }

    const APP: &str = "hosts:\n  - app.${root_domain}\nroute: {service: app, port: 80}\n";

    #[test]
    fn certificates_use_the_chosen_issuer() {
        let issuer = "generator: cert-manager\nacme: {email: ops@example.org, issuer: staging}\n";
        let (_tmp, model) = model(&[("platform/certs", issuer), ("apps/app", APP)]);
        let out = render(&model, model.component("app").unwrap()).unwrap();
        let cert = &out.objects[0].value;
        assert_eq!(cert["metadata"]["name"], "app-tls");
        assert_eq!(cert["spec"]["issuerRef"]["name"], "letsencrypt-staging");
        assert_eq!(cert["spec"]["dnsNames"][0], "app.example.org");
    }

    #[test]
    fn the_cert_manager_component_needs_an_acme_account() {
        let (_tmp, model) = model(&[("platform/certs", "generator: cert-manager\n")]);
        let err = render(&model, model.component("certs").unwrap()).unwrap_err();
        assert!(err.to_string().contains("has no `acme`"), "{err}");
    }

    #[test]
    fn hosts_without_a_cert_manager_component_are_an_error() {
        let (_tmp, model) = model(&[("apps/app", APP)]);
        let err = render(&model, model.component("app").unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .contains("no enabled component has `generator: cert-manager`"),
            "{err}"
        );
    }
}
