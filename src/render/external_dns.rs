//! Render stage, `external-dns` generator: DigitalOcean DNS records from the cluster. Pure.
//!
//! Runs only where `features.external_dns` is on (prod); the switch disables the component
//! otherwise, and no DNSEndpoint is made without it.
//!
//! 1. The component with `generator: external-dns` gets chart values (chart `external-dns` ≥ 1.21):
//!    external-dns ≥ 0.21 has no DigitalOcean provider, so it runs the `webhook` provider with the
//!    DigitalOcean webhook as a sidecar (API on `localhost:8080`, health on 8888), sources
//!    `service` (every host, from Traefik's load-balancer Service) and `crd` (mail records), one
//!    domain filter (`root_domain`), TXT ownership records, and TXT and MX among the managed
//!    record types. The DigitalOcean token comes from the component's SOPS
//!    Secret [`TOKEN_SECRET`] (key `token`), which it must declare.
//! 2. Every component with `mail_dns` gets a DNSEndpoint `<component>-mail`: MX, SPF, DMARC, DKIM.
//!
//! Host records come from the annotations of Traefik's Service ([`super::traefik`]).

use serde_json::{Value, json};

use super::{Object, Output};
use crate::diag::{Code, Diagnostic};
use crate::error::{InputError, RenderError};
use crate::model::{Component, Generator, MailDns, Model};

pub const API_VERSION: &str = "externaldns.k8s.io/v1alpha1";
/// The Secret with the DigitalOcean API token, declared by the external-dns component.
pub const TOKEN_SECRET: &str = "external-dns-digitalocean";
/// Key of the token in [`TOKEN_SECRET`].
pub const TOKEN_KEY: &str = "token";
pub const WEBHOOK_IMAGE: &str = "ghcr.io/amoniacou/external-dns-digitalocean-webhook";
/// Tags are the release without its `v` (docker/metadata-action `{{version}}`).
pub const WEBHOOK_TAG: &str = "1.0.2";
/// The webhook's API port (its own default), on localhost only.
pub const WEBHOOK_PORT: u16 = 8080;
/// The webhook's health and metrics port (its own default), probed by the kubelet.
pub const WEBHOOK_HEALTH_PORT: u16 = 8888;
/// Record types external-dns may change; its default (A, AAAA, CNAME) would ignore MX and TXT.
pub const MANAGED_RECORD_TYPES: [&str; 5] = ["A", "AAAA", "CNAME", "TXT", "MX"];
/// TTL of the mail records (seconds).
const MAIL_TTL: u64 = 3600;

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    if !model.env.spec.features.external_dns {
        return Ok(Output::default());
    }
    let mut out = Output::default();
    if component.spec.generator == Some(Generator::ExternalDns) {
        check_token_secret(component)?;
    }
    if let Some(mail) = &component.spec.mail_dns {
        let (endpoint, warning) = mail_records(model, component, mail)?;
        out.objects.push(endpoint);
        out.warnings.extend(warning);
    }
    Ok(out)
}

/// Chart values for the webhook provider; the component's own `values` win key by key.
pub fn chart_values(model: &Model, _component: &Component) -> Value {
    let env = &model.env.spec;
    let owner = env
        .cluster
        .name
        .clone()
        .unwrap_or_else(|| format!("hydrate-{}", model.env.name));
    let health = json!({ "httpGet": { "path": "/healthz", "port": WEBHOOK_HEALTH_PORT } });
    let env_var = |name: &str, value: String| json!({ "name": name, "value": value });
    json!({
        "provider": {
            "name": "webhook",
            "webhook": {
                "image": { "repository": WEBHOOK_IMAGE, "tag": WEBHOOK_TAG },
                "env": [
                    { "name": "DO_TOKEN", "valueFrom": { "secretKeyRef": { "name": TOKEN_SECRET, "key": TOKEN_KEY } } },
                    env_var("DO_DOMAIN_FILTER", env.root_domain.clone()),
                    env_var("WEBHOOK_HOST", "127.0.0.1".into()),
                    env_var("WEBHOOK_PORT", WEBHOOK_PORT.to_string()),
                    env_var("HEALTH_HOST", "0.0.0.0".into()),
                    env_var("HEALTH_PORT", WEBHOOK_HEALTH_PORT.to_string()),
                ],
                "livenessProbe": health.clone(),
                "readinessProbe": health,
                "securityContext": {
                    "runAsNonRoot": true,
                    "runAsUser": 65532,
                    "runAsGroup": 65532,
                    "allowPrivilegeEscalation": false,
                    "readOnlyRootFilesystem": true,
                    "capabilities": { "drop": ["ALL"] },
                },
            },
        },
        "extraArgs": { "webhook-provider-url": format!("http://localhost:{WEBHOOK_PORT}") },
        // Hosts: the hostname annotation of Traefik's load-balancer Service (see `traefik.rs`);
        // mail records: DNSEndpoints.
        "sources": ["service", "crd"],
        "policy": "sync",
        "registry": "txt",
        "txtOwnerId": owner,
        "domainFilters": [env.root_domain],
        "managedRecordTypes": MANAGED_RECORD_TYPES,
    })
}

/// The external-dns component must declare the token Secret its values reference.
fn check_token_secret(component: &Component) -> Result<(), RenderError> {
    let declared = component
        .spec
        .secrets
        .iter()
        .any(|s| s.name == TOKEN_SECRET && s.keys.iter().any(|k| k == TOKEN_KEY));
    if declared {
        return Ok(());
    }
    Err(InputError::new(
        component.file.locate("secrets"),
        Some(&component.file.text),
        format!(
            "component `{}` (generator `external-dns`) does not declare the Secret `{TOKEN_SECRET}` with key `{TOKEN_KEY}`",
            component.name
        ),
    )
    .with_help(format!(
        "add `secrets: [{{name: {TOKEN_SECRET}, keys: [{TOKEN_KEY}]}}]`: the DigitalOcean API token (DNS write)"
    ))
    .into())
}

/// The DNSEndpoint with the MX, SPF, DMARC and DKIM records of the root domain.
fn mail_records(
    model: &Model,
    component: &Component,
    mail: &MailDns,
) -> Result<(Object, Option<Diagnostic>), RenderError> {
    let domain = &model.env.spec.root_domain;
    if mail.host != *domain && !mail.host.ends_with(&format!(".{domain}")) {
        return Err(InputError::new(
            component.file.locate("mail_dns.host"),
            Some(&component.file.text),
            format!("mail host `{}` is outside `{domain}`", mail.host),
        )
        .with_help("derive it from the root domain, e.g. `mail.${root_domain}`")
        .into());
    }
    let record = |name: String, kind: &str, target: String| json!({ "dnsName": name, "recordType": kind, "recordTTL": MAIL_TTL, "targets": [target] });
    let mut endpoints = vec![
        record(
            domain.clone(),
            "MX",
            format!("{} {}", mail.mx_priority, mail.host),
        ),
        record(domain.clone(), "TXT", mail.spf.clone()),
        record(format!("_dmarc.{domain}"), "TXT", mail.dmarc.clone()),
    ];
    let dkim_name = format!("{}._domainkey.{domain}", mail.dkim.selector);
    let warning = match mail.dkim.public_key.as_deref().filter(|k| !k.is_empty()) {
        Some(key) => {
            endpoints.push(record(dkim_name, "TXT", format!("v=DKIM1; k=rsa; p={key}")));
            None
        }
        None => Some(
            Diagnostic::of(
                Code::DkimKeyMissing,
                component.file.locate("mail_dns.dkim"),
                format!("no DKIM public key: `{dkim_name}` is not published"),
            )
            .path("mail_dns.dkim.public_key")
            .with_help(
                "generate the domain's DKIM key in the mail server's admin, then copy the base64 `p=` \
                 value to `mail_dns.dkim.public_key`",
            ),
        ),
    };
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": "DNSEndpoint",
        "metadata": { "name": format!("{}-mail", component.name), "namespace": component.namespace },
        "spec": { "endpoints": endpoints },
    });
    let object = Object::new(
        component.layer,
        &component.name,
        vec![component.file.path.clone(), model.env.file.path.clone()],
        value,
    );
    Ok((object, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A project with one environment and the given components (`(folder, component.yaml)`).
    fn model(env: &str, components: &[(&str, &str)]) -> (tempfile::TempDir, Model) {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let root = camino::Utf8Path::from_path(tmp.path()).expect("UTF-8").to_owned();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs_err::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            fs_err::write(path, text).expect("write");
        };
        write("environments/prod.yaml", env);
        for (dir, text) in components {
            write(&format!("{dir}/component.yaml"), text);
        }
        let inputs = crate::load::load(&root).expect("loads");
        let model = crate::model::resolve(&inputs, "prod").expect("resolves");
        (tmp, model)
    }

    const ENV: &str = "root_domain: example.org\ncluster: {provider: doks, name: c1}\n\
                       features: {external_dns: true}\nsecrets: {missing: warn}\n";

    const MAIL: &str = "layer: apps\nmail_dns:\n  host: mx.${root_domain}\n  mx_priority: 20\n  \
                        spf: v=spf1 mx -all\n  dmarc: v=DMARC1; p=reject\n  dkim: {selector: s1, public_key: KEY}\n";

    #[test]
    fn mail_records_cover_mx_spf_dmarc_and_dkim() {
        let (_tmp, model) = model(ENV, &[("apps/mail", MAIL)]);
        let out = render(&model, model.component("mail").unwrap()).unwrap();
        assert!(out.warnings.is_empty());
        let endpoints = &out.objects[0].value["spec"]["endpoints"];
        let rows: Vec<String> = endpoints
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{} {} {}", e["dnsName"], e["recordType"], e["targets"][0]))
            .collect();
        assert_eq!(
            rows,
            [
                r#""example.org" "MX" "20 mx.example.org""#,
                r#""example.org" "TXT" "v=spf1 mx -all""#,
                r#""_dmarc.example.org" "TXT" "v=DMARC1; p=reject""#,
                r#""s1._domainkey.example.org" "TXT" "v=DKIM1; k=rsa; p=KEY""#,
            ]
        );
    }

    #[test]
    fn a_mail_host_outside_the_root_domain_is_an_error() {
        let mail = MAIL.replace("mx.${root_domain}", "mx.elsewhere.net");
        let (_tmp, model) = model(ENV, &[("apps/mail", &mail)]);
        let err = render(&model, model.component("mail").unwrap()).unwrap_err();
        assert!(err.to_string().contains("outside `example.org`"), "{err}");
    }

    #[test]
    fn no_records_without_the_feature() {
        let env = ENV.replace("external_dns: true", "external_dns: false");
        let (_tmp, model) = model(&env, &[("apps/mail", MAIL)]);
        let out = render(&model, model.component("mail").unwrap()).unwrap();
        assert!(out.objects.is_empty());
    }

    #[test]
    fn values_name_the_owner_and_the_domain() {
        let (_tmp, model) = model(ENV, &[("apps/mail", MAIL)]);
        let values = chart_values(&model, model.component("mail").unwrap());
        assert_eq!(values["txtOwnerId"], "c1");
        assert_eq!(values["domainFilters"][0], "example.org");
        assert_eq!(
            values["extraArgs"]["webhook-provider-url"],
            format!("http://localhost:{WEBHOOK_PORT}")
        );
    }
}
