//! Lint rules, table-driven: each case is a small repository written to a temp folder, compiled
//! for environment `x`, and its findings compared as `code file:line:col yaml_path`. Every rule
//! has positive and negative cases; `no-bitnami` has one per place Bitnami can hide, and free-text
//! mentions that must pass. Then the CLI: `hydrate lint` (text and JSON, exit codes) and a build
//! that fails a lint leaving `out/` byte-identical.

use camino::Utf8PathBuf;

use crate::support::{hydrate, read_tree, repo_root, transcript};

const ENV: &str = "root_domain: example.org\ncluster: {provider: local}\n";
const ENTRY: &str = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: hydrate, namespace: flux-system}\n\
                     spec: {interval: 10m, path: ./out/x, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}\n";

/// Writes `files` (plus `environments/x.yaml` unless given) into a temp repository.
fn repo(files: &[(&str, &str)]) -> (tempfile::TempDir, Utf8PathBuf) {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let root = Utf8PathBuf::from_path_buf(tmp.path().join("repo")).expect("UTF-8 temp path");
    let mut all: Vec<(&str, &str)> = files.to_vec();
    if !files.iter().any(|(p, _)| *p == "environments/x.yaml") {
        all.push(("environments/x.yaml", ENV));
    }
    // Flux's entry point, so that `flux-entry-missing` does not show in every case.
    all.push(("clusters/x/hydrate.yaml", ENTRY));
    for (path, text) in all {
        let path = root.join(path);
        fs_err::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        fs_err::write(path, text).expect("write fixture");
    }
    (tmp, root)
}

/// `code file:line:col yaml_path` of every finding of environment `x`.
fn findings(files: &[(&str, &str)]) -> Vec<String> {
    let (_tmp, root) = repo(files);
    let compiled =
        hydrate::compile_env(&root, "x").unwrap_or_else(|e| panic!("{:?}", miette::Report::new(e)));
    compiled
        .diagnostics
        .iter()
        .map(|d| {
            let path = d.yaml_path.as_ref().map_or("-".to_string(), ToString::to_string);
            format!("{} {} {path}", d.code, d.at)
        })
        .collect()
}

struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    expect: &'static [&'static str],
}

fn run(cases: &[Case]) {
    run_except(cases, &[]);
}

/// Like [`run`], ignoring the findings of the `skip` codes (another rule's table covers them).
fn run_except(cases: &[Case], skip: &[&str]) {
    let mut failures = Vec::new();
    for case in cases {
        let got: Vec<String> = findings(case.files)
            .into_iter()
            .filter(|f| !skip.iter().any(|code| f.starts_with(&format!("{code} "))))
            .collect();
        if got != case.expect {
            failures.push(format!(
                "case `{}`:\n  want {:#?}\n  got  {:#?}",
                case.name, case.expect, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const COMPONENT: &str = "apps/a/component.yaml";

// ---------------------------------------------------------------- no-bitnami

#[test]
fn no_bitnami() {
    run(&[
        Case {
            name: "https chart repository",
            files: &[(
                COMPONENT,
                "chart:\n  repo: https://charts.bitnami.com/bitnami\n  name: redis\n  version: 20.1.0\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:2:9 chart.repo"],
        },
        Case {
            name: "OCI chart source in upper case with a trailing slash",
            files: &[(
                COMPONENT,
                "chart:\n  repo: OCI://REGISTRY-1.DOCKER.IO/BITNAMICHARTS/\n  name: postgresql\n  version: 16.7.4\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:2:9 chart.repo"],
        },
        Case {
            name: "OCI chart source on docker.io",
            files: &[(
                COMPONENT,
                "chart:\n  repo: oci://docker.io/bitnamicharts\n  name: postgresql\n  version: 16.7.4\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:2:9 chart.repo"],
        },
        Case {
            name: "archived index on raw.githubusercontent.com",
            files: &[(
                COMPONENT,
                "chart:\n  repo: https://raw.githubusercontent.com/bitnami/charts/archive-full-index/bitnami\n  \
                 name: redis\n  version: 17.0.0\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:2:9 chart.repo"],
        },
        Case {
            name: "GitRepository under github.com/bitnami/charts in a plain manifest",
            files: &[
                (COMPONENT, "manifests: [source.yaml]\n"),
                (
                    "apps/a/source.yaml",
                    "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: charts\n\
                     spec:\n  interval: 1h\n  url: https://github.com/Bitnami/charts/\n  ref: {tag: v1}\n",
                ),
            ],
            expect: &["no-bitnami apps/a/source.yaml:7:8 spec.url"],
        },
        Case {
            name: "split image fields in values",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  postgresql:\n    \
                 image:\n      registry: docker.io\n      repository: bitnami/postgresql\n      tag: \"16.4.0\"\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:6:19 values.postgresql.image.repository"],
        },
        Case {
            name: "split image whose registry comes from global.imageRegistry",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  global:\n    \
                 imageRegistry: public.ecr.aws\n  redis:\n    image: {repository: bitnami/redis, tag: \"7.4\"}\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:6:25 values.redis.image.repository"],
        },
        Case {
            name: "split image whose registry is a Bitnami namespace",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  image:\n    \
                 registry: gcr.io/bitnami-containers\n    repository: nginx\n    tag: \"1.27\"\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:4:15 values.image.registry"],
        },
        Case {
            name: "nested image string at any depth of the values",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  jobs:\n    \
                 hooks:\n      - name: crds\n        image: bitnamilegacy/kubectl:1.33\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:6:16 values.jobs.hooks[0].image"],
        },
        Case {
            name: "image set by the environment file wins and is named there",
            files: &[
                (
                    COMPONENT,
                    "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  \
                     image: {repository: ghcr.io/x/app, tag: \"1.0\"}\n",
                ),
                (
                    "environments/x.yaml",
                    "root_domain: example.org\ncluster: {provider: local}\ncomponents:\n  a:\n    values:\n      \
                     image:\n        repository: marketplace.azurecr.io/bitnami/app\n",
                ),
            ],
            expect: &["no-bitnami environments/x.yaml:7:21 components.a.values.image.repository"],
        },
        Case {
            name: "initContainer image in a plain manifest, second document",
            files: &[
                (COMPONENT, "manifests: [app.yaml]\n"),
                (
                    "apps/a/app.yaml",
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n---\napiVersion: apps/v1\n\
                     kind: Deployment\nmetadata:\n  name: app\nspec:\n  selector: {matchLabels: {app: a}}\n  \
                     template:\n    metadata: {labels: {app: a}}\n    spec:\n      initContainers:\n        \
                     - name: wait\n          image: docker.io/bitnami/os-shell:12\n      containers:\n        \
                     - name: app\n          image: ghcr.io/x/app:1.0\n",
                ),
            ],
            expect: &["no-bitnami apps/a/app.yaml:17:18 spec.template.spec.initContainers[0].image"],
        },
        Case {
            name: "CronJob template and ephemeral container images",
            files: &[
                (COMPONENT, "manifests: [jobs.yaml]\n"),
                (
                    "apps/a/jobs.yaml",
                    "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: dump\nspec:\n  schedule: \"0 3 * * *\"\n  \
                     jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          \
                     containers:\n            - name: dump\n              image: index.docker.io/bitnamisecure/postgresql:17\n\
                     ---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\nspec:\n  containers:\n    \
                     - {name: a, image: \"busybox:1.36\"}\n  ephemeralContainers:\n    \
                     - {name: b, image: \"mirror.gcr.io/bitnami/kubectl:1.33\"}\n",
                ),
            ],
            expect: &[
                "no-bitnami apps/a/jobs.yaml:14:22 spec.jobTemplate.spec.template.spec.containers[0].image",
                "no-bitnami apps/a/jobs.yaml:24:24 spec.ephemeralContainers[0].image",
            ],
        },
        Case {
            name: "Bitnami subchart enabled by the merged values",
            files: &[(
                COMPONENT,
                "chart:\n  repo: https://nextcloud.github.io/helm\n  name: nextcloud\n  version: 9.2.4\n  \
                 subcharts: [postgresql, redis]\nvalues:\n  postgresql:\n    enabled: true\n  redis:\n    enabled: false\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:8:14 values.postgresql.enabled"],
        },
        Case {
            name: "a declared Bitnami subchart left to the chart's default",
            files: &[(
                COMPONENT,
                "chart:\n  repo: https://nextcloud.github.io/helm\n  name: nextcloud\n  version: 9.2.4\n  \
                 subcharts: [redis]\nvalues:\n  image: {tag: 1.0.0}\n",
            )],
            expect: &["no-bitnami apps/a/component.yaml:5:15 chart.subcharts[0]"],
        },
        Case {
            name: "subchart enabled by the environment override",
            files: &[
                (
                    COMPONENT,
                    "chart:\n  repo: https://nextcloud.github.io/helm\n  name: nextcloud\n  version: 9.2.4\n  \
                     subcharts: [redis]\nvalues:\n  redis:\n    enabled: false\n",
                ),
                (
                    "environments/x.yaml",
                    "root_domain: example.org\ncluster: {provider: local}\ncomponents:\n  a:\n    values:\n      \
                     redis: {enabled: true}\n",
                ),
            ],
            expect: &["no-bitnami environments/x.yaml:6:24 components.a.values.redis.enabled"],
        },
        Case {
            name: "Velero chart before 12 keeps the Bitnami kubectl hook image",
            files: &[(
                "platform/velero/component.yaml",
                "chart:\n  repo: https://vmware-tanzu.github.io/helm-charts\n  name: velero\n  version: 11.4.0\n",
            )],
            expect: &["no-bitnami platform/velero/component.yaml:4:12 chart.version"],
        },
        Case {
            name: "Velero chart before 12 from an OCI registry, and in a plain HelmRelease",
            files: &[
                (
                    "platform/velero/component.yaml",
                    "chart:\n  repo: oci://ghcr.io/mirror/charts\n  name: velero\n  version: 10.0.1\n",
                ),
                ("platform/backup/component.yaml", "manifests: [release.yaml]\n"),
                (
                    "platform/backup/release.yaml",
                    "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: velero\nspec:\n  \
                     interval: 1h\n  chart:\n    spec:\n      chart: velero\n      version: 11.4.0\n      \
                     sourceRef: {kind: HelmRepository, name: vmware}\n",
                ),
            ],
            expect: &[
                "no-bitnami platform/backup/release.yaml:10:16 spec.chart.spec.version",
                "no-bitnami platform/velero/component.yaml:4:12 chart.version",
            ],
        },
        Case {
            name: "Velero 12 and Velero 11 with its kubectl image replaced pass",
            files: &[
                (
                    "platform/velero/component.yaml",
                    "chart:\n  repo: https://vmware-tanzu.github.io/helm-charts\n  name: velero\n  version: 12.1.0\n",
                ),
                (
                    "platform/old/component.yaml",
                    "chart:\n  repo: https://vmware-tanzu.github.io/helm-charts\n  name: velero\n  version: 11.4.0\n\
                     values:\n  kubectl:\n    image: {repository: registry.k8s.io/kubectl, tag: v1.34.5}\n",
                ),
            ],
            expect: &[],
        },
        Case {
            name: "free-text mentions, disabled subcharts and look-alike namespaces pass",
            files: &[
                (
                    COMPONENT,
                    "# Replaces bitnami/postgresql (docker.io/bitnami/postgresql:16), see https://charts.bitnami.com/bitnami\n\
                     description: \"Not Bitnami: we used docker.io/bitnami/postgresql and oci://registry-1.docker.io/bitnamicharts before\"\n\
                     chart:\n  repo: https://charts.example.com/bitnami-free\n  name: app\n  version: 1.0.0\n  \
                     subcharts: [postgresql]\nvalues:\n  postgresql:\n    enabled: false\n  \
                     notes: \"migrated away from bitnami/redis\"\n  image:\n    repository: ghcr.io/bitnami-free/app\n    \
                     tag: \"1.0\"\n  mirror:\n    image: {registry: registry.example.com, repository: bitnami/redis, tag: \"7\"}\n\
                     manifests: [cm.yaml]\n",
                ),
                (
                    "apps/a/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n  annotations:\n    \
                     note: \"image: bitnami/redis was removed\"\ndata:\n  README: |\n    We no longer pull bitnami/redis:7 or\n    \
                     https://charts.bitnami.com/bitnami.\n",
                ),
            ],
            expect: &[],
        },
    ]);
}

// ---------------------------------------------------------------- plaintext-secret

#[test]
fn plaintext_secret() {
    // These hand-written SOPS look-alikes also fail `sops-verify` (its own tests are below).
    run_except(
        &[
            Case {
                name: "Secret with stringData in a plain manifest",
                files: &[
                    (COMPONENT, "manifests: [secret.yaml]\n"),
                    (
                        "apps/a/secret.yaml",
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n",
                    ),
                ],
                expect: &["plaintext-secret apps/a/secret.yaml:6:13 stringData.password"],
            },
            Case {
                name: "a .sops.yaml file whose value is not encrypted",
                files: &[
                    (COMPONENT, "secrets:\n  - {name: db, keys: [password]}\n"),
                    (
                        "secrets/x/a/db.sops.yaml",
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: a\nstringData:\n  \
                     password: hunter2\n  user: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\nsops:\n  \
                     mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n  version: 3.9.0\n",
                    ),
                ],
                expect: &["plaintext-secret secrets/x/a/db.sops.yaml:7:13 stringData.password"],
            },
            Case {
                name: "a .sops.yaml file without sops metadata",
                files: &[
                    (COMPONENT, "secrets:\n  - {name: db, keys: [password]}\n"),
                    (
                        "secrets/x/a/db.sops.yaml",
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: a\ndata:\n  password: aHVudGVyMg==\n",
                    ),
                ],
                expect: &["plaintext-secret secrets/x/a/db.sops.yaml:7:13 data.password"],
            },
            Case {
                name: "SOPS files and Secrets without data pass",
                files: &[
                    (
                        COMPONENT,
                        "secrets:\n  - {name: db, keys: [password]}\nmanifests: [sa.yaml]\n",
                    ),
                    (
                        "apps/a/sa.yaml",
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  annotations:\n    \
                     kubernetes.io/service-account.name: app\ntype: kubernetes.io/service-account-token\n",
                    ),
                    (
                        "secrets/x/a/db.sops.yaml",
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: a\nstringData:\n  \
                     password: ENC[AES256_GCM,data:CwE4O1s=,iv:2k=,tag:ZA==,type:str]\nsops:\n  age:\n    \
                     - recipient: age1xyz\n      enc: x\n  mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n",
                    ),
                ],
                expect: &[],
            },
        ],
        &["sops-verify", "undeclared-secret-key"],
    );
}

// ---------------------------------------------------------------- unpinned-chart

/// A component chart constraint needs `hydrate.lock`: without an entry the build fails and says so.
#[test]
fn chart_constraint_without_lock_entry_fails_the_build() {
    for (name, files) in [
        (
            "a caret range",
            &[(
                COMPONENT,
                "chart:\n  repo: https://charts.example.com\n  name: app\n  version: ^1.2.0\n",
            )][..],
        ),
        (
            "an OCI partial version",
            &[(
                COMPONENT,
                "chart:\n  repo: oci://ghcr.io/x/charts\n  name: app\n  version: \"1.2\"\n",
            )][..],
        ),
        (
            "a range set by the environment file",
            &[
                (
                    COMPONENT,
                    "chart:\n  repo: https://charts.example.com\n  name: app\n  version: 1.2.0\n",
                ),
                (
                    "environments/x.yaml",
                    "root_domain: example.org\ncluster: {provider: local}\ncomponents:\n  a:\n    chart:\n      version: \"1.x\"\n",
                ),
            ][..],
        ),
    ] {
        let (_tmp, root) = repo(files);
        let err = hydrate::compile_env(&root, "x").expect_err(name);
        let text = format!("{:?}", miette::Report::new(err));
        assert!(text.contains("hydrate lock"), "{name}: {text}");
    }
}

#[test]
fn unpinned_chart() {
    run(&[
        Case {
            name: "a HelmRelease manifest without an exact version",
            files: &[
                (COMPONENT, "manifests: [release.yaml]\n"),
                (
                    "apps/a/release.yaml",
                    "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: r\nspec:\n  \
                     interval: 1h\n  chart:\n    spec:\n      chart: app\n      version: \">=1.0.0\"\n      \
                     sourceRef: {kind: HelmRepository, name: x}\n",
                ),
            ],
            expect: &["unpinned-chart apps/a/release.yaml:10:16 spec.chart.spec.version"],
        },
        Case {
            name: "exact versions pass, with or without a v",
            files: &[
                (
                    COMPONENT,
                    "chart:\n  repo: https://charts.example.com\n  name: app\n  version: 1.2.3-rc.1\n",
                ),
                (
                    "apps/b/component.yaml",
                    "chart:\n  repo: oci://ghcr.io/x/charts\n  name: b\n  version: v0.1.122\n",
                ),
            ],
            expect: &[],
        },
    ]);
}

// ---------------------------------------------------------------- unpinned-image

#[test]
fn unpinned_image() {
    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  \
                          selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    \
                          spec:\n      containers:\n        - name: a\n          image: nginx\n        \
                          - name: b\n          image: nginx:latest\n        - name: c\n          image: nginx:1.27.3\n        \
                          - name: d\n          image: nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    run(&[
        Case {
            name: "no tag and latest in a manifest; tag and digest pass",
            files: &[
                (COMPONENT, "manifests: [deploy.yaml]\n"),
                ("apps/a/deploy.yaml", DEPLOY),
            ],
            expect: &[
                "unpinned-image apps/a/deploy.yaml:12:18 spec.template.spec.containers[0].image",
                "unpinned-image apps/a/deploy.yaml:14:18 spec.template.spec.containers[1].image",
            ],
        },
        // See: issue 12 (a workload image tagged `latest` was a hard error no allow entry could
        // cover; it is an `unpinned-image` finding like any other).
        Case {
            name: "a workload image tagged latest is a finding at the component's line",
            files: &[(COMPONENT, "workload:\n  image: nginx:latest\n")],
            expect: &["unpinned-image apps/a/component.yaml:2:10 workload.image"],
        },
        Case {
            name: "and lint.allow covers it",
            files: &[(
                COMPONENT,
                "workload:\n  image: nginx:latest\nlint:\n  allow:\n    - {rule: unpinned-image, path: workload.image, \
                 reason: a throwaway demo}\n",
            )],
            expect: &[],
        },
        // See: issue 12 (with dot-joined paths, the key `"image.repository"` and the `repository`
        // of `image` were one path, and the finding pointed at whichever came last).
        Case {
            name: "a key that contains a dot is one key: the finding points at its own line",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  sidecar:\n    \
                 image:\n      repository: ghcr.io/x/side\n      tag: latest\n    image.tag: x\n",
            )],
            expect: &["unpinned-image apps/a/component.yaml:6:12 values.sidecar.image.tag"],
        },
        Case {
            name: "latest in split values; a missing split tag is the chart's default",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  image:\n    \
                 repository: ghcr.io/x/app\n    tag: latest\n  worker:\n    image:\n      repository: ghcr.io/x/worker\n",
            )],
            expect: &["unpinned-image apps/a/component.yaml:5:10 values.image.tag"],
        },
        Case {
            name: "an environment that requires digests",
            files: &[
                (
                    "environments/x.yaml",
                    "root_domain: example.org\ncluster: {provider: local}\nlint:\n  require_image_digests: true\n",
                ),
                (COMPONENT, "manifests: [deploy.yaml]\n"),
                (
                    "apps/a/deploy.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    \
                     - name: a\n      image: nginx:1.27.3\n    - name: b\n      image: nginx:1.27.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
                ),
            ],
            expect: &["unpinned-image apps/a/deploy.yaml:8:14 spec.containers[0].image"],
        },
    ]);
}

// ---------------------------------------------------------------- host-outside-domain

#[test]
fn host_outside_domain() {
    run(&[
        Case {
            name: "IngressRoute, Ingress, Certificate and DNSEndpoint outside the root domain",
            files: &[
                (COMPONENT, "manifests: [hosts.yaml]\n"),
                (
                    "apps/a/hosts.yaml",
                    "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\nspec:\n  routes:\n    \
                     - match: Host(`a.${root_domain}`) || Host(`a.example.com`)\n      kind: Rule\n      \
                     services: [{name: a, port: 80}]\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n\
                     metadata:\n  name: i\nspec:\n  rules:\n    - host: b.example.org\n    - host: example.net\n  \
                     tls:\n    - hosts: [evil.example.org.com]\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\n\
                     metadata:\n  name: c\nspec:\n  secretName: c\n  issuerRef: {name: le, kind: ClusterIssuer}\n  \
                     commonName: example.org\n  dnsNames: [\"*.example.org\", \"x.example.io\"]\n---\n\
                     apiVersion: externaldns.k8s.io/v1alpha1\nkind: DNSEndpoint\nmetadata:\n  name: d\nspec:\n  \
                     endpoints:\n    - {dnsName: mail.example.org, recordType: MX, targets: [\"10 x\"]}\n    \
                     - {dnsName: mail.other.org, recordType: A, targets: [1.2.3.4]}\n",
                ),
            ],
            expect: &[
                "host-outside-domain apps/a/hosts.yaml:7:14 spec.routes[0].match",
                "host-outside-domain apps/a/hosts.yaml:18:13 spec.rules[1].host",
                "host-outside-domain apps/a/hosts.yaml:20:15 spec.tls[0].hosts[0]",
                "host-outside-domain apps/a/hosts.yaml:30:31 spec.dnsNames[1]",
                "host-outside-domain apps/a/hosts.yaml:39:17 spec.endpoints[1].dnsName",
            ],
        },
        Case {
            name: "names derived from the root domain pass",
            files: &[
                (COMPONENT, "manifests: [hosts.yaml]\n"),
                (
                    "apps/a/hosts.yaml",
                    "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: r\nspec:\n  routes:\n    \
                     - match: Host(`a.${root_domain}`) && PathPrefix(`/x`)\n      kind: Rule\n      \
                     services: [{name: a, port: 80}]\n    - match: HostRegexp(`^.+\\.example\\.org$`)\n      kind: Rule\n      \
                     services: [{name: a, port: 80}]\n",
                ),
            ],
            expect: &[],
        },
    ]);
}

// ---------------------------------------------------------------- credential-in-values

/// See: issue 11 (a password in a HelmRelease's values was committed without a word).
#[test]
fn credential_in_values() {
    const CHART: &str = "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\n";
    run(&[
        Case {
            name: "a password in chart values, at any depth, at the line that wrote it",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  auth:\n    \
                 username: app\n    password: hunter2\n    existingSecret: \"\"\n  smtp: {apiKey: 1234}\n",
            )],
            expect: &[
                "credential-in-values apps/a/component.yaml:5:15 values.auth.password",
                "credential-in-values apps/a/component.yaml:7:18 values.smtp.apiKey",
            ],
        },
        Case {
            name: "references to a Secret pass",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  auth:\n    \
                 existingSecret: app-auth\n    passwordKey: password\n    password: \"\"\n  \
                 env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]\n",
            )],
            expect: &[],
        },
        Case {
            name: "a workload's literal env and a manifest's ConfigMap",
            files: &[
                (
                    COMPONENT,
                    "manifests: [cm.yaml]\nworkload:\n  image: nginx:1.27.3\n  env:\n    LOG_LEVEL: info\n    \
                     ADMIN_TOKEN: s3cr3t\n",
                ),
                (
                    "apps/a/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  SMTP_PASSWORD: pw\n  host: x\n",
                ),
            ],
            expect: &[
                "credential-in-values apps/a/cm.yaml:6:18 data.SMTP_PASSWORD",
                "credential-in-values apps/a/component.yaml:6:18 workload.env.ADMIN_TOKEN",
            ],
        },
        Case {
            name: "lint.allow covers a false positive",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  \
                 signing: {publicKey: MIIB}\n  ui: {secret: not-really}\nlint:\n  allow:\n    \
                 - {rule: credential-in-values, path: values.ui.secret, reason: a feature flag name}\n",
            )],
            expect: &[],
        },
    ]);
    // The value itself is never shown.
    let (_tmp, root) = repo(&[(
        COMPONENT,
        &format!("{CHART}values:\n  auth: {{password: hunter2}}\n"),
    )]);
    let out = hydrate(&root, &["lint", "x"]);
    let text = transcript(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("credential-in-values"), "{text}");
    assert!(!text.contains("hunter2"), "the value leaked:\n{text}");
}

// ---------------------------------------------------------------- flux-substitution

#[test]
fn flux_substitution() {
    run(&[
        Case {
            name: "escaped `$${` in values and in a manifest",
            files: &[
                (
                    COMPONENT,
                    "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  \
                     command: \"echo $${HOME}\"\nmanifests: [cm.yaml]\n",
                ),
                (
                    "apps/a/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  run.sh: \"echo $${USER}\"\n",
                ),
            ],
            expect: &[
                "flux-substitution apps/a/cm.yaml:6:11 data.\"run.sh\"",
                "flux-substitution apps/a/component.yaml:3:12 values.command",
            ],
        },
        Case {
            name: "plain `$` and objects Flux does not substitute pass",
            files: &[
                (
                    COMPONENT,
                    "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  \
                     price: \"$5 or $HOME\"\nmanifests: [cm.yaml]\n",
                ),
                (
                    "apps/a/cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  annotations:\n    \
                     kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  run.sh: \"echo $${USER}\"\n",
                ),
            ],
            expect: &[],
        },
    ]);
}

// ---------------------------------------------------------------- lint.allow

#[test]
fn allow_entries() {
    run(&[
        Case {
            name: "a component entry covers its own finding by YAML path",
            files: &[(
                COMPONENT,
                "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues:\n  \
                 command: \"echo $${HOME}\"\nlint:\n  allow:\n    - rule: flux-substitution\n      path: values.command\n      \
                 reason: the shell expands it; no Kustomization uses postBuild\n",
            )],
            expect: &[],
        },
        Case {
            name: "an environment entry covers a finding by object, another by file",
            files: &[
                (
                    "environments/x.yaml",
                    "root_domain: example.org\ncluster: {provider: local}\nlint:\n  allow:\n    \
                     - {rule: unpinned-image, path: Pod/a/p, reason: vendor demo pod}\n    \
                     - {rule: flux-substitution, path: apps/a/pod.yaml, reason: literal in a script}\n",
                ),
                (COMPONENT, "manifests: [pod.yaml]\n"),
                (
                    "apps/a/pod.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    \
                     - {name: a, image: nginx, args: [\"$${X}\"]}\n",
                ),
            ],
            expect: &[],
        },
        Case {
            name: "an entry that matches nothing is a warning; one without a reason allows nothing",
            files: &[
                (
                    "environments/x.yaml",
                    "root_domain: example.org\ncluster: {provider: local}\nlint:\n  allow:\n    \
                     - {rule: no-bitnami, path: values.image, reason: old}\n    \
                     - {rule: unpinned-image, path: Pod/a/p, reason: \"\"}\n    \
                     - {rule: no-such-rule, path: x, reason: typo}\n",
                ),
                (COMPONENT, "manifests: [pod.yaml]\n"),
                (
                    "apps/a/pod.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - {name: a, image: nginx}\n",
                ),
            ],
            expect: &[
                "unpinned-image apps/a/pod.yaml:7:24 spec.containers[0].image",
                "unused-allow environments/x.yaml:5:7 lint.allow[0]",
                "unused-allow environments/x.yaml:6:7 lint.allow[1]",
                "unused-allow environments/x.yaml:7:7 lint.allow[2]",
            ],
        },
        Case {
            name: "a component entry does not reach another component",
            files: &[
                (
                    COMPONENT,
                    "manifests: [pod.yaml]\nlint:\n  allow:\n    \
                     - {rule: unpinned-image, path: spec.containers, reason: demo}\n",
                ),
                (
                    "apps/a/pod.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - {name: a, image: nginx}\n",
                ),
                ("apps/b/component.yaml", "manifests: [pod.yaml]\n"),
                (
                    "apps/b/pod.yaml",
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - {name: a, image: nginx}\n",
                ),
            ],
            expect: &["unpinned-image apps/b/pod.yaml:7:24 spec.containers[0].image"],
        },
    ]);
}

// ---------------------------------------------------------------- messages, JSON, CLI

const BITNAMI_APP: &str = "chart:\n  repo: https://charts.example.com\n  name: app\n  version: 1.0.0\nvalues:\n  \
                           image:\n    repository: bitnami/redis\n    tag: \"7.4\"\n";

#[test]
fn finding_names_file_position_path_rule_and_fix() {
    let (_tmp, root) = repo(&[(COMPONENT, BITNAMI_APP)]);
    let compiled = hydrate::compile_env(&root, "x").expect("compiles");
    let [d] = compiled.diagnostics.as_slice() else {
        panic!("one finding expected: {:?}", compiled.diagnostics)
    };
    let inputs = hydrate::load::load(&root).expect("loads");
    let text = hydrate::commands::lint::text(&inputs, std::slice::from_ref(&compiled));
    assert_eq!(d.object.as_deref(), Some("HelmRelease/a/a"));
    insta::assert_snapshot!(text, @r"
    error[no-bitnami]: image `docker.io/bitnami/redis` is published by Bitnami
      --> apps/a/component.yaml:7:17 values.image.repository
      |
    7 |     repository: bitnami/redis
      |                 ^
      = object: HelmRelease/a/a
      = help: use the upstream image (e.g. `postgres`, `redis`, `registry.k8s.io/kubectl`) or the shared platform service; Bitnami images are banned

    x: 1 error, 0 warnings
    ");
}

#[test]
fn manifest_finding_names_its_document_and_object() {
    let (_tmp, root) = repo(&[
        (COMPONENT, "manifests: [s.yaml]\n"),
        (
            "apps/a/s.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: Secret\n\
             metadata:\n  name: s\ndata: {k: dg==}\n",
        ),
    ]);
    let compiled = hydrate::compile_env(&root, "x").expect("compiles");
    let [d] = compiled.diagnostics.as_slice() else {
        panic!("one finding expected: {:?}", compiled.diagnostics)
    };
    assert_eq!(d.at.to_string(), "apps/a/s.yaml:10:11");
    assert_eq!(d.object.as_deref(), Some("Secret/a/s"));
    assert_eq!(d.code, "plaintext-secret");
}

#[test]
fn cli_lint_json_lists_every_field_and_exits_1() {
    let (_tmp, root) = repo(&[(COMPONENT, BITNAMI_APP)]);
    let out = hydrate(&root, &["lint", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap(), @r#"
    [
      {
        "file": "apps/a/component.yaml",
        "line": 7,
        "column": 17,
        "yaml_path": "values.image.repository",
        "code": "no-bitnami",
        "severity": "error",
        "message": "image `docker.io/bitnami/redis` is published by Bitnami",
        "help": "use the upstream image (e.g. `postgres`, `redis`, `registry.k8s.io/kubectl`) or the shared platform service; Bitnami images are banned",
        "object": "HelmRelease/a/a",
        "env": "x"
      }
    ]
    "#);
}

#[test]
fn cli_lint_exit_codes() {
    let (_tmp, root) = repo(&[(
        COMPONENT,
        "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues: {cmd: \"$${X}\"}\n",
    )]);
    let out = hydrate(&root, &["lint", "x"]);
    assert_eq!(out.status.code(), Some(0), "warnings only: {}", transcript(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("warning[flux-substitution]"));
    assert_eq!(hydrate(&root, &["lint", "nope"]).status.code(), Some(2));
    assert_eq!(
        hydrate(&root, &["lint", "--format", "yaml"]).status.code(),
        Some(2)
    );
    assert!(!root.join("out").exists(), "lint writes nothing");
}

#[test]
fn build_that_fails_a_lint_leaves_out_byte_identical() {
    let (_tmp, root) = repo(&[(
        COMPONENT,
        "chart: {repo: https://charts.example.com, name: app, version: 1.0.0}\nvalues: {image: {repository: ghcr.io/x/app, tag: \"1\"}}\n",
    )]);
    let out = hydrate(&root, &["build", "x"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    fs_err::write(root.join("out/x/stray.txt"), "kept as is").unwrap();
    let before = read_tree(&root.join("out"));
    fs_err::write(root.join(COMPONENT), BITNAMI_APP).unwrap();
    let out = hydrate(&root, &["build", "x"]);
    assert_eq!(out.status.code(), Some(1), "{}", transcript(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[no-bitnami]") && stderr.contains("apps/a/component.yaml:7:17"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing written"), "{stderr}");
    assert_eq!(
        before,
        read_tree(&root.join("out")),
        "out/ changed after a failed lint"
    );
}

#[test]
fn repository_environments_lint_clean() {
    let out = hydrate(&repo_root(), &["lint", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    // No finding of any lint rule (generators may still warn about operator to-dos, such as a
    // DKIM key that Mailu only makes once deployed).
    let rules: Vec<&str> = hydrate::lint::RULES
        .iter()
        .map(|r| r.code.as_str())
        .chain(["unused-allow"])
        .collect();
    let root = repo_root();
    for env in hydrate::load::load(&root).unwrap().env_names() {
        let compiled = hydrate::compile_env(&root, &env).unwrap();
        let findings: Vec<String> = compiled
            .diagnostics
            .iter()
            .filter(|d| rules.contains(&d.code.as_str()))
            .map(ToString::to_string)
            .collect();
        assert!(findings.is_empty(), "{env}:\n{}", findings.join("\n"));
    }
}

// ---------------------------------------------------------------- sops-verify

/// A file sealed by hydrate for the recipient of `.sops.yaml` passes; the same file after the
/// policy changed recipient, or with a damaged MAC, fails the build's lint.
#[test]
fn sops_verify() {
    let identity = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    let policy =
        |r: &age::x25519::Recipient| format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {r}\n");
    let component = "secrets:\n  - name: db\n    keys: [password]\n";
    let (_tmp, root) = repo(&[
        (COMPONENT, component),
        (".sops.yaml", &policy(&identity.to_public())),
    ]);
    let cmd = <hydrate::cli::Cli as clap::Parser>::try_parse_from([
        "hydrate",
        "secret",
        "seal",
        "x",
        "a",
        "db",
        "-n",
        "a",
        "password=s3cret",
    ])
    .unwrap();
    let hydrate::cli::Command::Secret(seal) = cmd.command else {
        panic!("not a secret command")
    };
    assert_eq!(
        hydrate::commands::secret::run(&root, &seal).unwrap(),
        hydrate::Outcome::Clean
    );
    let codes = |root: &camino::Utf8Path| -> Vec<String> {
        hydrate::compile_env(root, "x")
            .unwrap()
            .diagnostics
            .iter()
            .filter(|d| d.code == "sops-verify")
            .map(|d| d.message.split(']').next().unwrap_or("").to_string() + "]")
            .collect()
    };
    assert_eq!(codes(&root), Vec::<String>::new(), "a freshly sealed file passes");

    fs_err::write(root.join(".sops.yaml"), policy(&other.to_public())).unwrap();
    assert!(
        codes(&root).iter().any(|c| c.contains("recipient")),
        "{:?}",
        codes(&root)
    );

    fs_err::write(root.join(".sops.yaml"), policy(&identity.to_public())).unwrap();
    let path = root.join("secrets/x/a/db.sops.yaml");
    let text = fs_err::read_to_string(&path).unwrap();
    let damaged: String = text
        .lines()
        .map(|l| match l.split_once("mac:") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}mac: nonsense"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    fs_err::write(&path, damaged + "\n").unwrap();
    assert!(
        codes(&root).iter().any(|c| c.contains("mac")),
        "{:?}",
        codes(&root)
    );
}
