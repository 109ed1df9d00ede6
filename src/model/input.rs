//! The input file formats, exactly as written by users: `environments/<env>.yaml` and
//! `platform|apps/<name>/component.yaml`. Unknown keys are errors (`deny_unknown_fields`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `environments/<env>.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    /// Every host is derived from it: `n8n.${root_domain}`.
    pub root_domain: String,
    pub cluster: Cluster,
    /// Optional override of where the hosts point (an IPv4/IPv6 address, or a DNS name). Unset,
    /// external-dns publishes every host with the address of Traefik's load balancer as the
    /// cluster reports it.
    #[serde(default)]
    pub ingress_target: Option<String>,
    /// DNS settings of the records external-dns publishes.
    #[serde(default)]
    pub dns: DnsSettings,
    #[serde(default)]
    pub features: Features,
    #[serde(default)]
    pub backup: Option<Backup>,
    #[serde(default)]
    pub flux: FluxSource,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub secrets: SecretsPolicy,
    #[serde(default)]
    pub lint: LintConfig,
    /// Per-component overrides, keyed by component name.
    #[serde(default)]
    pub components: IndexMap<String, ComponentOverride>,
}

/// `dns`: the records external-dns publishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// TTL of host records, in seconds (lower it during a migration).
    #[serde(default = "default_ttl")]
    pub ttl: u32,
}

fn default_ttl() -> u32 {
    300
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings { ttl: default_ttl() }
    }
}

/// Descriptive only: hydrate never contacts a cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub provider: Provider,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// DigitalOcean Kubernetes.
    Doks,
    /// A local cluster (docker-desktop, kind, minikube).
    Local,
}

/// Platform switches. A component whose `generator` has a switch here (`cert-manager`,
/// `external-dns`, `velero`) is enabled only when its switch is on; the switch wins over `enabled`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    #[serde(default)]
    pub cert_manager: bool,
    #[serde(default)]
    pub external_dns: bool,
    #[serde(default)]
    pub velero: bool,
    #[serde(default)]
    pub waf: bool,
    /// Default-deny NetworkPolicies with the allows the components declare.
    #[serde(default)]
    pub network_policies: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Cron expression, e.g. `0 3 * * *`.
    pub schedule: String,
    /// IANA time zone, e.g. `Europe/Brussels`.
    pub timezone: String,
    /// Kubernetes duration, e.g. `720h0m0s` (30 days).
    pub retention: String,
    pub store: BackupStore,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupStore {
    pub provider: StoreProvider,
    pub bucket: String,
    #[serde(default)]
    pub region: Option<String>,
    /// S3 endpoint; derived from the region for DigitalOcean Spaces.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// MinIO only: host folder backing the bucket (`./data/<bucket>`).
    #[serde(default)]
    pub host_path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreProvider {
    /// DigitalOcean Spaces (S3 API).
    Spaces,
    /// In-cluster MinIO.
    Minio,
}

/// The GitRepository that `flux bootstrap` created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxSource {
    #[serde(default = "flux_system")]
    pub name: String,
    #[serde(default = "flux_system")]
    pub namespace: String,
    /// Prefix of the Flux Kustomizations hydrate writes (`<prefix><layer>`), so that two
    /// environments can share one cluster (`staging-`, `prod-`). Empty by default.
    #[serde(default)]
    pub prefix: String,
}

fn flux_system() -> String {
    "flux-system".to_string()
}

impl Default for FluxSource {
    fn default() -> Self {
        FluxSource {
            name: flux_system(),
            namespace: flux_system(),
            prefix: String::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// StorageClass of block volumes (`do-block-storage` on DOKS).
    #[serde(default)]
    pub block_class: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsPolicy {
    /// What a missing `secrets/<env>/<component>/<name>.sops.yaml` is.
    #[serde(default)]
    pub missing: MissingSecret,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingSecret {
    #[default]
    Error,
    Warn,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    #[serde(default)]
    pub allow: Vec<Allow>,
    #[serde(default)]
    pub require_image_digests: bool,
}

/// An explicit exception to a lint rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    pub rule: String,
    /// YAML path or output path the exception covers.
    pub path: String,
    pub reason: String,
}

/// `components.<name>` in an environment file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentOverride {
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Deep-merged over the component's values (after its `envs.<env>.values`).
    #[serde(default)]
    pub values: Option<Value>,
    #[serde(default)]
    pub chart: Option<ChartOverride>,
}

/// `platform/<name>/component.yaml` or `apps/<name>/component.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentFile {
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to the folder name.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub layer: Option<Layer>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub chart: Option<Chart>,
    /// Helm values (or generator values).
    #[serde(default)]
    pub values: Option<Value>,
    /// FQDN templates, e.g. `n8n.${root_domain}`.
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub envs: IndexMap<String, EnvOverride>,
    /// Extra plain YAML files of the component folder, copied as objects.
    #[serde(default)]
    pub manifests: Vec<String>,
    /// A typed generator of hydrate that renders this component's objects.
    #[serde(default)]
    pub generator: Option<Generator>,
    /// Where the hosts are routed: a Service of the component's namespace.
    #[serde(default)]
    pub route: Option<Route>,
    /// A Velero Schedule of its own: `daily`.
    #[serde(default)]
    pub backup: Option<BackupPolicy>,
    /// A database and user created in the shared Postgres or MariaDB.
    #[serde(default)]
    pub database: Option<Database>,
    /// Secrets the component needs, supplied as `secrets/<env>/<component>/<name>.sops.yaml`.
    #[serde(default)]
    pub secrets: Vec<SecretDecl>,
    /// A Deployment/StatefulSet + Service + PVCs for components without a usable chart.
    #[serde(default)]
    pub workload: Option<super::workload::Workload>,
    /// Mail DNS records (MX, SPF, DMARC, DKIM) published through external-dns.
    #[serde(default)]
    pub mail_dns: Option<MailDns>,
    /// ACME account of the `cert-manager` generator (its ClusterIssuers).
    #[serde(default)]
    pub acme: Option<Acme>,
    /// Network needs, read by the `network-policies` generator.
    #[serde(default)]
    pub network: Option<Network>,
    /// TCP entry points routed to a Service of the component (Traefik `IngressRouteTCP`): mail,
    /// say.
    #[serde(default)]
    pub tcp_routes: Vec<TcpRoute>,
    /// API groups whose CRDs this component installs (`traefik.io`): objects of these groups
    /// made in the same layer are applied by the next one, once the CRDs exist.
    #[serde(default)]
    pub crds: Vec<String>,
    /// Labels and annotations of the component's Namespace object (the one hydrate writes).
    #[serde(default)]
    pub namespace_metadata: NamespaceMetadata,
    #[serde(default)]
    pub lint: LintConfig,
}

/// `envs.<env>` in a component file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvOverride {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub values: Option<Value>,
    #[serde(default)]
    pub chart: Option<ChartOverride>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    /// `https://…` Helm repository or `oci://…` registry path (without the chart name).
    pub repo: String,
    pub name: String,
    /// An exact semver version (or a constraint resolved by `hydrate lock`).
    pub version: String,
    /// Bitnami subcharts of the upstream chart: value key → must stay disabled (`<key>.enabled`).
    #[serde(default)]
    pub subcharts: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartOverride {
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    Infra,
    InfraConfigs,
    Data,
    Metrics,
    Apps,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::Infra,
        Layer::InfraConfigs,
        Layer::Data,
        Layer::Metrics,
        Layer::Apps,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Infra => "infra",
            Layer::InfraConfigs => "infra-configs",
            Layer::Data => "data",
            Layer::Metrics => "metrics",
            Layer::Apps => "apps",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generator {
    Traefik,
    CertManager,
    ExternalDns,
    Velero,
    /// The in-cluster S3 target of Velero in a local cluster.
    Minio,
    Postgres,
    Mariadb,
    /// NetworkPolicies of every namespace, from the components' `network` needs.
    NetworkPolicies,
}

impl Generator {
    /// Whether the environment's feature switch lets a component of this generator run
    /// (`true` for generators without a switch).
    pub fn feature_enabled(self, features: &Features) -> bool {
        match self {
            Generator::CertManager => features.cert_manager,
            Generator::ExternalDns => features.external_dns,
            // MinIO is Velero's target in a local cluster (seeds: "MinIO + hostPath si enable_velero").
            Generator::Velero | Generator::Minio => features.velero,
            Generator::NetworkPolicies => features.network_policies,
            Generator::Traefik | Generator::Postgres | Generator::Mariadb => true,
        }
    }
}

/// `acme` of the `cert-manager` component.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acme {
    /// Let's Encrypt account e-mail (expiry notices), e.g. `postmaster@${root_domain}`.
    pub email: String,
    /// The ClusterIssuer every Certificate uses: `letsencrypt-prod` (default) or `letsencrypt-staging`.
    #[serde(default)]
    pub issuer: AcmeIssuer,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcmeIssuer {
    Staging,
    #[default]
    Prod,
}

impl AcmeIssuer {
    /// The ClusterIssuer name.
    pub fn cluster_issuer(self) -> &'static str {
        match self {
            AcmeIssuer::Staging => "letsencrypt-staging",
            AcmeIssuer::Prod => "letsencrypt-prod",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Service name in the component's namespace.
    pub service: String,
    /// Service port (number).
    pub port: u16,
    /// Extra Traefik middlewares of the component's namespace.
    #[serde(default)]
    pub middlewares: Vec<String>,
    /// Who may frame the pages: `deny` (default) or `sameorigin` (apps whose own pages use
    /// frames, e.g. webmail previews).
    #[serde(default)]
    pub frames: FrameOptions,
}

/// `X-Frame-Options` of a route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameOptions {
    #[default]
    Deny,
    Sameorigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupPolicy {
    Daily,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub engine: Engine,
    pub name: String,
    pub user: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mariadb,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDecl {
    pub name: String,
    pub keys: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailDns {
    /// Mail server host, e.g. `mail.${root_domain}`.
    pub host: String,
    #[serde(default = "default_mx_priority")]
    pub mx_priority: u16,
    /// SPF record text, e.g. `v=spf1 mx -all`.
    pub spf: String,
    /// DMARC record text, e.g. `v=DMARC1; p=quarantine`.
    pub dmarc: String,
    pub dkim: Dkim,
}

fn default_mx_priority() -> u16 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dkim {
    pub selector: String,
    /// Base64 public key (the `p=` of the DKIM record). Unset until the mail server has made its
    /// key pair: no DKIM record then (warning `dkim-key-missing`).
    #[serde(default)]
    pub public_key: Option<String>,
}

/// `tcp_routes[]`: one TCP entry point of the ingress controller, forwarded to a Service port.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRoute {
    /// Entry point name (`smtp`): lowercase letters, digits and `-`.
    pub name: String,
    /// The public port (`25`).
    pub port: u16,
    /// Service of the component's namespace.
    pub service: String,
    /// Service port; the public port when unset.
    #[serde(default)]
    pub service_port: Option<u16>,
    /// Send the client's address with the PROXY protocol (v2): the backend must expect it.
    #[serde(default)]
    pub proxy_protocol: bool,
}

impl TcpRoute {
    pub fn backend_port(&self) -> u16 {
        self.service_port.unwrap_or(self.port)
    }
}

/// `namespace_metadata`: merged into the Namespace object of the component's namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceMetadata {
    #[serde(default)]
    pub labels: IndexMap<String, String>,
    #[serde(default)]
    pub annotations: IndexMap<String, String>,
}

impl NamespaceMetadata {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Ports the component's pods listen on (reached from Traefik when it has hosts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// The ports Traefik reaches, when not all of `ports`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_ports: Vec<u16>,
    /// Components it connects to (e.g. `postgres`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<String>,
    /// Labels that select its pods (default: every pod of its namespace).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub pod_labels: IndexMap<String, String>,
    /// Ports open to any client (the ingress controller's entry points).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_ports: Vec<u16>,
    /// Ports it may reach on any address (external APIs, ACME, S3, SMTP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress_world_ports: Vec<u16>,
    /// The port Prometheus scrapes (ingress from the metrics layer's Prometheus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,
}
