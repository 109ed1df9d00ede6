//! The application components of this repository, rendered for every environment: hosts derive
//! from `root_domain` only, every Bitnami subchart is disabled in the rendered HelmRelease, and
//! every `route` reaches a Service port.

use std::collections::BTreeSet;

use camino::Utf8PathBuf;
use hydrate::model::{self, Model};
use hydrate::{Compiled, load};
use serde_json::{Value, json};

fn repo() -> Utf8PathBuf {
    Utf8PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Each environment and the root domain its file must have.
const ENVS: &[(&str, &str)] = &[("prod", "fullfrontend.be"), ("dev", "fullfrontend.kube")];

/// Component → host prefixes (`""` is the root domain itself).
const HOSTS: &[(&str, &[&str])] = &[
    ("wordpress", &[""]),
    ("n8n", &["n8n.", "webhook."]),
    ("twenty", &["twenty."]),
    ("nextcloud", &["cloud."]),
    ("vince", &["insights."]),
    ("zot", &["registry."]),
];

fn build(env: &str) -> (Model, Compiled) {
    let inputs = load::load(&repo()).expect("the repository loads");
    let model = model::resolve(&inputs, env).unwrap_or_else(|e| panic!("{env}: {e:?}"));
    let compiled = hydrate::compile(&inputs, env).unwrap_or_else(|e| panic!("{env}: {e:?}"));
    (model, compiled)
}

fn object<'a>(compiled: &'a Compiled, kind: &str, namespace: &str, name: &str) -> Option<&'a Value> {
    compiled
        .objects
        .iter()
        .find(|o| o.kind() == kind && o.namespace() == Some(namespace) && o.name() == name)
        .map(|o| &o.value)
}

#[test]
fn hosts_derive_from_the_root_domain_of_each_environment() {
    for (env, root) in ENVS {
        let (model, _) = build(env);
        assert_eq!(&model.env.spec.root_domain, root);
        for (name, prefixes) in HOSTS {
            let c = model
                .component(name)
                .unwrap_or_else(|| panic!("{env}: component `{name}` is not enabled"));
            let expected: Vec<String> = prefixes.iter().map(|p| format!("{p}{root}")).collect();
            assert_eq!(c.hosts, expected, "{env}: hosts of `{name}`");
        }
    }
}

#[test]
fn applications_are_configured_with_their_own_hosts() {
    for (env, root) in ENVS {
        let (_, compiled) = build(env);
        let values = |ns: &str, name: &str| {
            object(&compiled, "HelmRelease", ns, name)
                .and_then(|r| r.pointer("/spec/values"))
                .unwrap_or_else(|| panic!("{env}: no HelmRelease {ns}/{name}"))
                .clone()
        };
        let n8n = values("n8n", "n8n");
        assert_eq!(
            n8n.pointer("/main/config/n8n/host"),
            Some(&json!(format!("n8n.{root}")))
        );
        assert_eq!(
            n8n.pointer("/main/config/webhook_url"),
            Some(&json!(format!("https://webhook.{root}/")))
        );
        let nextcloud = values("nextcloud", "nextcloud");
        assert_eq!(
            nextcloud.pointer("/nextcloud/host"),
            Some(&json!(format!("cloud.{root}")))
        );
        let env_of = |ns: &str, name: &str, var: &str| {
            let d = object(&compiled, "Deployment", ns, name)
                .unwrap_or_else(|| panic!("{env}: no Deployment {ns}/{name}"));
            d.pointer("/spec/template/spec/containers/0/env")
                .and_then(Value::as_array)
                .and_then(|vars| vars.iter().find(|v| v["name"] == var))
                .map(|v| v["value"].clone())
        };
        assert_eq!(
            env_of("twenty", "twenty", "SERVER_URL"),
            Some(json!(format!("https://twenty.{root}")))
        );
        assert_eq!(
            env_of("vince", "vince", "VINCE_URL"),
            Some(json!(format!("https://insights.{root}")))
        );
    }
}

#[test]
fn no_environment_mentions_another_environments_domain() {
    for (env, _) in ENVS {
        let (_, compiled) = build(env);
        for (other_env, other_root) in ENVS.iter().filter(|(e, _)| e != env) {
            for (path, bytes) in &compiled.tree {
                let text = String::from_utf8_lossy(bytes);
                assert!(
                    !text.contains(other_root),
                    "out/{env}/{path} names `{other_root}`, the root domain of `{other_env}`"
                );
            }
        }
    }
}

#[test]
fn every_declared_bitnami_subchart_is_disabled_in_the_rendered_release() {
    for (env, _) in ENVS {
        let (model, compiled) = build(env);
        let mut checked = BTreeSet::new();
        for c in &model.components {
            let Some(chart) = &c.chart else { continue };
            let release = object(&compiled, "HelmRelease", &c.namespace, &c.name)
                .unwrap_or_else(|| panic!("{env}: no HelmRelease for `{}`", c.name));
            for sub in &chart.subcharts {
                assert_eq!(
                    release.pointer(&format!("/spec/values/{sub}/enabled")),
                    Some(&json!(false)),
                    "{env}: `{sub}.enabled` of `{}` must be false",
                    c.name
                );
                checked.insert(format!("{}/{sub}", c.name));
            }
        }
        for expected in [
            "n8n/valkey",
            "nextcloud/mariadb",
            "nextcloud/postgresql",
            "nextcloud/redis",
        ] {
            assert!(
                checked.contains(expected),
                "{env}: `{expected}` is not declared in `chart.subcharts`"
            );
        }
    }
}

#[test]
fn every_route_reaches_a_service_port() {
    for (env, _) in ENVS {
        let (model, compiled) = build(env);
        for c in &model.components {
            let Some(route) = &c.spec.route else { continue };
            if c.spec.workload.is_none() {
                // A chart's Service exists only once Helm renders it; charts name their objects
                // after the release (the component): `<release>` or `<release>-<part>`.
                let release_named =
                    route.service == c.name || route.service.starts_with(&format!("{}-", c.name));
                assert!(
                    release_named,
                    "{env}: route of chart component `{}` names `{}`, not a Service of its release",
                    c.name, route.service
                );
                continue;
            }
            let service = object(&compiled, "Service", &c.namespace, &route.service)
                .unwrap_or_else(|| panic!("{env}: no Service {}/{}", c.namespace, route.service));
            let ports: Vec<u64> = service["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["port"].as_u64())
                .collect();
            assert!(
                ports.contains(&u64::from(route.port)),
                "{env}: Service {}/{} has ports {ports:?}, route wants {}",
                c.namespace,
                route.service,
                route.port
            );
        }
    }
}

#[test]
fn workload_images_are_pinned_and_secrets_are_only_referenced() {
    for (env, _) in ENVS {
        let (_, compiled) = build(env);
        for o in &compiled.objects {
            let Some(containers) = o
                .value
                .pointer("/spec/template/spec/containers")
                .and_then(Value::as_array)
            else {
                continue;
            };
            for c in containers {
                let image = c["image"].as_str().unwrap_or("");
                assert!(
                    hydrate::image::pin_problem(image).is_none(),
                    "{env}: {} runs unpinned `{image}`",
                    o.id()
                );
                for var in c["env"].as_array().into_iter().flatten() {
                    let name = var["name"].as_str().unwrap_or("");
                    let secretish = ["PASSWORD", "SECRET", "KEY", "TOKEN"]
                        .iter()
                        .any(|w| name.contains(w));
                    assert!(
                        !secretish || var.get("value").is_none(),
                        "{env}: {} sets `{name}` in plain text",
                        o.id()
                    );
                }
            }
        }
    }
}
