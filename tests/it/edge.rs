//! The edge of the fullfrontend platform (Traefik, cert-manager, external-dns, Mailu's DNS) rendered
//! from this repository's own inputs, in a temporary copy whose prod gets stand-in SOPS files for the
//! Secrets the components declare (the operator seals the real ones).

use camino::{Utf8Path, Utf8PathBuf};
use hydrate::render::Object;
use serde_json::Value;

use crate::schema::Schemas;
use crate::support::{compile_error, copy_dir, kubectl, repo_root, write_tree};

/// A copy of the repository's inputs (no `out/`, no `target/`), with `edit` applied to its files.
fn repo_copy(edit: impl FnOnce(&Utf8Path)) -> (tempfile::TempDir, Utf8PathBuf) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let root = Utf8PathBuf::from_path_buf(tmp.path().join("repo")).expect("UTF-8 temp path");
    for dir in ["environments", "platform", "apps", "secrets", "lib", "vendor"] {
        let src = repo_root().join(dir);
        if src.is_dir() {
            copy_dir(src.as_std_path(), root.join(dir).as_std_path(), &[]);
        }
    }
    edit(&root);
    add_stand_in_secrets(&root);
    (tmp, root)
}

/// Writes a SOPS-shaped Secret for every Secret a prod component declares and lacks.
fn add_stand_in_secrets(root: &Utf8Path) {
    let inputs = hydrate::load::load(root).expect("the copy loads");
    let model = hydrate::model::resolve(&inputs, "prod").expect("prod resolves");
    for component in &model.components {
        for decl in &component.spec.secrets {
            let path = root.join(hydrate::render::secrets::secret_path(
                "prod",
                &component.name,
                &decl.name,
            ));
            if path.exists() {
                continue;
            }
            let data: String = decl
                .keys
                .iter()
                .map(|k| format!("    {k}: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n"))
                .collect();
            let text = format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n    name: {}\n    namespace: {}\ntype: Opaque\n\
                 stringData:\n{data}sops:\n    age:\n        - recipient: age1testtesttesttesttesttesttesttesttesttesttesttesttesttestte\n\
                 \x20         enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            dGVzdA==\n\
                 \x20           -----END AGE ENCRYPTED FILE-----\n    mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n\
                 \x20   encrypted_regex: ^(data|stringData)$\n    version: 3.9.0\n",
                decl.name, component.namespace
            );
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(&path, text).unwrap();
        }
    }
}

fn compile(root: &Utf8Path, env: &str) -> hydrate::Compiled {
    hydrate::compile_env(root, env).unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)))
}

fn find<'a>(compiled: &'a hydrate::Compiled, kind: &str, name: &str) -> &'a Object {
    compiled
        .objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("no {kind} `{name}` in `{}`", compiled.env))
}

fn of_kind<'a>(compiled: &'a hydrate::Compiled, kind: &str) -> Vec<&'a Object> {
    compiled.objects.iter().filter(|o| o.kind() == kind).collect()
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

fn middleware_names(route: &Object) -> Vec<String> {
    route.value["spec"]["routes"][0]["middlewares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["namespace"].as_str().unwrap_or(""),
                m["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn release_values<'a>(compiled: &'a hydrate::Compiled, name: &str) -> &'a Value {
    &find(compiled, "HelmRelease", name).value["spec"]["values"]
}

#[test]
fn prod_routes_fullfrontend_be_over_tls_with_waf() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    let n8n = find(&prod, "IngressRoute", "n8n");
    assert_eq!(n8n.namespace(), Some("n8n"));
    assert_eq!(
        n8n.value["spec"]["routes"][0]["match"],
        "Host(`n8n.fullfrontend.be`) || Host(`webhook.fullfrontend.be`)"
    );
    assert_eq!(strs(&n8n.value["spec"]["entryPoints"]), ["websecure"]);
    assert_eq!(n8n.value["spec"]["tls"]["secretName"], "n8n-tls");
    assert_eq!(middleware_names(n8n), ["infra/security-headers", "infra/waf"]);
    let mailu = find(&prod, "IngressRoute", "mailu");
    assert_eq!(
        mailu.value["spec"]["routes"][0]["match"],
        "Host(`mail.fullfrontend.be`)"
    );
    assert_eq!(
        mailu.value["spec"]["routes"][0]["services"][0]["name"],
        "mailu-front"
    );
    assert_eq!(mailu.value["spec"]["tls"]["secretName"], "mailu-tls");
    // Roundcube frames its own pages: the route asks for `frames: sameorigin`.
    assert_eq!(
        middleware_names(mailu),
        ["infra/security-headers-sameorigin", "infra/waf"]
    );
}

#[test]
fn dev_routes_fullfrontend_kube_over_plain_web_without_waf() {
    let (_tmp, root) = repo_copy(|_| {});
    let dev = compile(&root, "dev");
    let n8n = find(&dev, "IngressRoute", "n8n");
    assert_eq!(
        n8n.value["spec"]["routes"][0]["match"],
        "Host(`n8n.fullfrontend.kube`) || Host(`webhook.fullfrontend.kube`)"
    );
    assert_eq!(strs(&n8n.value["spec"]["entryPoints"]), ["web"]);
    assert!(n8n.value["spec"].get("tls").is_none(), "no TLS in dev");
    assert_eq!(middleware_names(n8n), ["infra/security-headers"]);
    for route in of_kind(&dev, "IngressRoute") {
        let rule = route.value["spec"]["routes"][0]["match"].as_str().unwrap();
        assert!(!rule.contains("fullfrontend.be"), "prod host in dev: {rule}");
    }
    assert!(
        !dev.objects
            .iter()
            .any(|o| o.name() == "waf" || o.name() == "modsecurity-crs"),
        "the WAF is prod only"
    );
    assert!(release_values(&dev, "traefik").get("experimental").is_none());
    assert!(
        release_values(&dev, "traefik").get("ports").is_none(),
        "no HTTPS redirect in dev"
    );
}

#[test]
fn dev_has_no_cert_manager_or_external_dns_object() {
    let (_tmp, root) = repo_copy(|_| {});
    let dev = compile(&root, "dev");
    for object in &dev.objects {
        let api = object.api_version();
        assert!(
            !api.starts_with("cert-manager.io/") && !api.starts_with("externaldns.k8s.io/"),
            "{} in dev",
            object.id()
        );
        assert!(
            !matches!(object.name(), "cert-manager" | "external-dns"),
            "{} in dev",
            object.id()
        );
        if let hydrate::render::Placement::Component { component, .. } = &object.placement {
            assert!(
                component != "cert-manager" && component != "external-dns",
                "{} placed under `{component}` in dev",
                object.id()
            );
        }
    }
}

#[test]
fn prod_has_cluster_issuers_and_a_certificate_per_host_set() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    for (name, server) in [
        (
            "letsencrypt-staging",
            "https://acme-staging-v02.api.letsencrypt.org/directory",
        ),
        (
            "letsencrypt-prod",
            "https://acme-v02.api.letsencrypt.org/directory",
        ),
    ] {
        let issuer = find(&prod, "ClusterIssuer", name);
        let acme = &issuer.value["spec"]["acme"];
        assert_eq!(acme["server"], server);
        assert_eq!(acme["email"], "postmaster@fullfrontend.be");
        assert_eq!(
            acme["solvers"][0]["http01"]["ingress"]["ingressClassName"],
            "traefik"
        );
        assert!(matches!(
            &issuer.placement,
            hydrate::render::Placement::Component {
                layer: hydrate::model::Layer::InfraConfigs,
                ..
            }
        ));
    }
    let cert = find(&prod, "Certificate", "n8n-tls");
    assert_eq!(cert.namespace(), Some("n8n"));
    assert_eq!(
        strs(&cert.value["spec"]["dnsNames"]),
        ["n8n.fullfrontend.be", "webhook.fullfrontend.be"]
    );
    assert_eq!(cert.value["spec"]["secretName"], "n8n-tls");
    assert_eq!(cert.value["spec"]["issuerRef"]["name"], "letsencrypt-prod");
    assert_eq!(cert.value["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    assert_eq!(
        strs(&find(&prod, "Certificate", "mailu-tls").value["spec"]["dnsNames"]),
        ["mail.fullfrontend.be"]
    );
    assert_eq!(
        release_values(&prod, "cert-manager")["crds"]["enabled"],
        true,
        "the chart installs its CRDs"
    );
    // Every IngressRoute has its Certificate.
    for route in of_kind(&prod, "IngressRoute") {
        let secret = route.value["spec"]["tls"]["secretName"].as_str().unwrap();
        find(&prod, "Certificate", secret);
    }
}

#[test]
fn prod_middlewares_and_traefik_values() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    let redirect = find(&prod, "Middleware", "redirect-https");
    assert_eq!(redirect.value["spec"]["redirectScheme"]["scheme"], "https");
    let headers = &find(&prod, "Middleware", "security-headers").value["spec"]["headers"];
    assert!(
        headers["stsSeconds"].as_u64().unwrap() >= 31_536_000,
        "HSTS ≥ 1 year"
    );
    assert_eq!(headers["stsIncludeSubdomains"], true);
    assert_eq!(headers["frameDeny"], true);
    assert_eq!(headers["contentTypeNosniff"], true);
    assert!(headers["referrerPolicy"].is_string());
    assert_eq!(headers["customResponseHeaders"]["Server"], "", "no server tokens");
    let sameorigin = &find(&prod, "Middleware", "security-headers-sameorigin").value["spec"]["headers"];
    assert_eq!(sameorigin["customFrameOptionsValue"], "SAMEORIGIN");
    assert_eq!(sameorigin["stsSeconds"], headers["stsSeconds"]);
    let waf = find(&prod, "Middleware", "waf");
    assert_eq!(waf.namespace(), Some("infra"));
    let plugin = &waf.value["spec"]["plugin"]["modsecurity"];
    assert_eq!(
        plugin["modSecurityUrl"],
        "http://modsecurity-crs.infra.svc.cluster.local:8080"
    );
    find(&prod, "Deployment", "modsecurity-crs");
    find(&prod, "Service", "modsecurity-crs");

    let values = release_values(&prod, "traefik");
    assert_eq!(
        values["experimental"]["plugins"]["modsecurity"]["moduleName"],
        "github.com/madebymode/traefik-modsecurity-plugin"
    );
    assert_eq!(values["providers"]["kubernetesCRD"]["allowCrossNamespace"], true);
    assert_eq!(
        values["providers"]["kubernetesIngress"]["enabled"], true,
        "HTTP-01 solver"
    );
    let redirect = &values["ports"]["web"]["http"]["redirections"]["entryPoint"];
    assert_eq!(redirect["to"], "websecure");
    assert_eq!(redirect["scheme"], "https");
}

#[test]
fn external_dns_runs_the_digitalocean_webhook() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    let values = release_values(&prod, "external-dns");
    assert_eq!(values["provider"]["name"], "webhook");
    let webhook = &values["provider"]["webhook"];
    assert_eq!(
        webhook["image"]["repository"],
        "ghcr.io/amoniacou/external-dns-digitalocean-webhook"
    );
    let env: Vec<(&str, &Value)> = webhook["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    let var = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, e)| *e).unwrap();
    assert_eq!(var("WEBHOOK_PORT")["value"], "8080");
    assert_eq!(
        var("DO_TOKEN")["valueFrom"]["secretKeyRef"]["name"],
        "external-dns-digitalocean"
    );
    assert_eq!(
        values["extraArgs"]["webhook-provider-url"],
        "http://localhost:8080"
    );
    assert_eq!(webhook["readinessProbe"]["httpGet"]["port"], 8888);
    assert_eq!(strs(&values["sources"]), ["service", "crd"]);
    assert_eq!(strs(&values["domainFilters"]), ["fullfrontend.be"]);
    let types = strs(&values["managedRecordTypes"]);
    assert!(types.contains(&"TXT") && types.contains(&"MX"), "{types:?}");
    assert_eq!(values["txtOwnerId"], "fullfrontend-prod");
    // The token Secret the values reference is rendered (copied from its SOPS file).
    let secret = find(&prod, "Secret", "external-dns-digitalocean");
    assert_eq!(secret.namespace(), Some("infra"));
}

#[test]
fn mail_dns_records_of_mailu() {
    let (_tmp, root) = repo_copy(|root| {
        let path = root.join("apps/mailu/component.yaml");
        let text = fs_err::read_to_string(&path).unwrap();
        let text = text.replace(
            "    selector: dkim\n",
            "    selector: dkim\n    public_key: MIIBtestkey\n",
        );
        fs_err::write(&path, text).unwrap();
    });
    let prod = compile(&root, "prod");
    let endpoint = find(&prod, "DNSEndpoint", "mailu-mail");
    assert_eq!(endpoint.api_version(), "externaldns.k8s.io/v1alpha1");
    assert_eq!(endpoint.namespace(), Some("mailu"));
    let records: Vec<(String, String, String)> = endpoint.value["spec"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["dnsName"].as_str().unwrap().to_string(),
                e["recordType"].as_str().unwrap().to_string(),
                e["targets"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |name: &str, kind: &str, pred: &dyn Fn(&str) -> bool| {
        records.iter().any(|(n, k, t)| n == name && k == kind && pred(t))
    };
    assert!(
        has("fullfrontend.be", "MX", &|t| t == "10 mail.fullfrontend.be"),
        "{records:?}"
    );
    assert!(
        has("fullfrontend.be", "TXT", &|t| t.starts_with("v=spf1")),
        "{records:?}"
    );
    assert!(
        has("_dmarc.fullfrontend.be", "TXT", &|t| t.starts_with("v=DMARC1")),
        "{records:?}"
    );
    assert!(
        has("dkim._domainkey.fullfrontend.be", "TXT", &|t| t
            .contains("p=MIIBtestkey")),
        "{records:?}"
    );
}

#[test]
fn a_missing_dkim_key_leaves_out_its_record_with_a_warning() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    let endpoint = find(&prod, "DNSEndpoint", "mailu-mail");
    let names: Vec<&str> = endpoint.value["spec"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["dnsName"].as_str().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.contains("_domainkey")), "{names:?}");
    assert!(prod.diagnostics.iter().any(|d| d.code == "dkim-key-missing"));
}

/// Traefik's HelmRelease values of an environment.
fn traefik_values(compiled: &hydrate::Compiled) -> serde_json::Value {
    find(compiled, "HelmRelease", "traefik").value["spec"]["values"].clone()
}

/// See: issue 14 (no host was published until an operator copied the load balancer's address
/// into `ingress_target`).
#[test]
fn every_host_is_published_from_traefiks_load_balancer() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    let service = &traefik_values(&prod)["service"];
    assert_eq!(service["type"], "LoadBalancer");
    assert_eq!(service["spec"]["externalTrafficPolicy"], "Local");
    let annotations = &service["annotations"];
    let published: Vec<&str> = annotations["external-dns.alpha.kubernetes.io/hostname"]
        .as_str()
        .unwrap()
        .split(',')
        .collect();
    for route in of_kind(&prod, "IngressRoute") {
        let rule = route.value["spec"]["routes"][0]["match"].as_str().unwrap();
        for host in rule.split("Host(`").skip(1).map(|h| h.split('`').next().unwrap()) {
            assert!(
                published.contains(&host),
                "{host} of {} is not published",
                route.id()
            );
        }
    }
    assert_eq!(annotations["external-dns.alpha.kubernetes.io/ttl"], "300");
    assert!(
        annotations
            .get("external-dns.alpha.kubernetes.io/target")
            .is_none()
    );
    let values = &find(&prod, "HelmRelease", "external-dns").value["spec"]["values"];
    assert_eq!(strs(&values["sources"]), ["service", "crd"]);
    assert!(
        !prod
            .diagnostics
            .iter()
            .any(|d| d.code == "ingress-target-missing")
    );
    // Dev has no external-dns: no annotation.
    let dev = compile(&root, "dev");
    assert!(traefik_values(&dev)["service"].get("annotations").is_none());
}

#[test]
fn ingress_target_and_ttl_override_the_published_records() {
    let (_tmp, root) = repo_copy(|root| {
        let path = root.join("environments/prod.yaml");
        let text = fs_err::read_to_string(&path).unwrap();
        fs_err::write(
            &path,
            format!("{text}ingress_target: 203.0.113.10\ndns: {{ttl: 60}}\n"),
        )
        .unwrap();
    });
    let prod = compile(&root, "prod");
    let annotations = &traefik_values(&prod)["service"]["annotations"];
    assert_eq!(
        annotations["external-dns.alpha.kubernetes.io/target"],
        "203.0.113.10"
    );
    assert_eq!(annotations["external-dns.alpha.kubernetes.io/ttl"], "60");
}

/// See: issue 14 (Mailu received no mail: 25, 465, 587 and 993 were not exposed).
#[test]
fn mail_ports_reach_mailu_through_traefik() {
    let (_tmp, root) = repo_copy(|_| {});
    let prod = compile(&root, "prod");
    let ports = &traefik_values(&prod)["ports"];
    for (name, port) in [("smtp", 25), ("smtps", 465), ("submission", 587), ("imaps", 993)] {
        assert_eq!(ports[name]["exposedPort"], port, "{name}");
        assert_eq!(ports[name]["expose"]["default"], true, "{name}");
        assert!(
            ports[name]["port"].as_u64().unwrap() > 1024,
            "{name}: Traefik is not root"
        );
        let route = find(&prod, "IngressRouteTCP", &format!("mailu-{name}"));
        assert_eq!(route.namespace(), Some("mailu"));
        let spec = &route.value["spec"];
        assert_eq!(spec["entryPoints"][0], name);
        assert_eq!(spec["routes"][0]["match"], "HostSNI(`*`)");
        assert_eq!(spec["routes"][0]["services"][0]["name"], "mailu-front");
        assert_eq!(spec["routes"][0]["services"][0]["port"], port);
        assert_eq!(spec["routes"][0]["services"][0]["proxyProtocol"]["version"], 2);
    }
    let mailu = &find(&prod, "HelmRelease", "mailu").value["spec"]["values"]["ingress"]["proxyProtocol"];
    for key in ["smtp", "smtps", "submission", "imaps"] {
        assert_eq!(mailu[key], true, "Mailu must expect the PROXY protocol on {key}");
    }
}

#[test]
fn an_apex_host_cannot_take_a_dns_name_target() {
    let (_tmp, root) = repo_copy(|root| {
        let env = root.join("environments/prod.yaml");
        let text = fs_err::read_to_string(&env).unwrap();
        fs_err::write(&env, format!("{text}ingress_target: lb.fullfrontend.be\n")).unwrap();
        let n8n = root.join("apps/n8n/component.yaml");
        let text = fs_err::read_to_string(&n8n).unwrap();
        let text = text.replace(
            "  - webhook.${root_domain}\n",
            "  - webhook.${root_domain}\n  - ${root_domain}\n",
        );
        fs_err::write(&n8n, text).unwrap();
    });
    let message = compile_error(&root, "prod");
    assert!(message.contains("cannot be a CNAME"), "{message}");
}

#[test]
fn hosts_without_a_route_are_an_error() {
    let (_tmp, root) = repo_copy(|root| {
        let path = root.join("apps/n8n/component.yaml");
        let text = fs_err::read_to_string(&path).unwrap();
        let text = text.replace("route:\n  service: n8n\n  port: 80\n", "");
        fs_err::write(&path, text).unwrap();
    });
    let message = compile_error(&root, "dev");
    assert!(message.contains("has `hosts` but no `route`"), "{message}");
    assert!(message.contains("apps/n8n/component.yaml"), "{message}");
}

#[test]
fn the_feature_switch_beats_enabled() {
    let (_tmp, root) = repo_copy(|root| {
        let path = root.join("platform/cert-manager/component.yaml");
        let text = fs_err::read_to_string(&path).unwrap();
        fs_err::write(&path, format!("{text}envs:\n  dev:\n    enabled: true\n")).unwrap();
    });
    let dev = compile(&root, "dev");
    assert!(of_kind(&dev, "ClusterIssuer").is_empty());
    assert!(!dev.objects.iter().any(|o| o.name() == "cert-manager"));
}

#[test]
fn external_dns_must_declare_its_token_secret() {
    let (_tmp, root) = repo_copy(|root| {
        let path = root.join("platform/external-dns/component.yaml");
        let text = fs_err::read_to_string(&path).unwrap();
        let at = text.find("secrets:").unwrap();
        fs_err::write(&path, &text[..at]).unwrap();
    });
    let message = compile_error(&root, "prod");
    assert!(message.contains("external-dns-digitalocean"), "{message}");
}

/// Every env and layer of the repository's platform kustomizes, and every object validates.
#[test]
fn edge_output_kustomizes_and_validates() {
    let (tmp, root) = repo_copy(|root| {
        let path = root.join("environments/prod.yaml");
        let text = fs_err::read_to_string(&path).unwrap();
        fs_err::write(&path, format!("{text}ingress_target: 203.0.113.10\n")).unwrap();
        let mailu = root.join("apps/mailu/component.yaml");
        let text = fs_err::read_to_string(&mailu).unwrap();
        let text = text.replace(
            "    selector: dkim\n",
            "    selector: dkim\n    public_key: MIIBtestkey\n",
        );
        fs_err::write(&mailu, text).unwrap();
    });
    let mut schemas = Schemas::open();
    let kubectl = kubectl();
    let mut failures = Vec::new();
    for env in ["prod", "dev"] {
        let compiled = compile(&root, env);
        if let Some(schemas) = schemas.as_mut() {
            for object in &compiled.objects {
                for error in schemas.errors(&object.value) {
                    failures.push(format!("{env}: {}: {error}", object.id()));
                }
            }
        }
        let Some(kubectl) = &kubectl else { continue };
        let dir = Utf8Path::from_path(tmp.path()).unwrap().join("out").join(env);
        write_tree(&compiled.tree, &dir);
        let mut targets = vec![dir.clone()];
        for entry in fs_err::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                targets.push(dir.join(entry.file_name().to_str().unwrap()));
            }
        }
        for target in targets {
            let out = std::process::Command::new(kubectl)
                .arg("kustomize")
                .arg(target.as_str())
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "kubectl kustomize {target}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
