//! The typed `workload:` of a component: one container image run as a Deployment or a
//! StatefulSet, with its Service and volumes, for applications without a usable non-Bitnami chart.
//!
//! Model stage: the input format only (`deny_unknown_fields` everywhere, so a typo fails the parse
//! with `file:line:column`). Checks that need the rest of the component (declared secrets, the
//! route, the environment's storage class) run in `render::workload`. Reads no disk.
//!
//! ```yaml
//! workload:
//!   image: wordpress:7.1.2-php8.3-apache
//!   ports: [{name: http, port: 80}]
//!   env:
//!     WORDPRESS_DB_HOST: mariadb.data.svc.cluster.local:3306
//!     WORDPRESS_DB_PASSWORD: {secret: wordpress-db, key: password}
//!   volumes:
//!     - {name: wp-content, mount_path: /var/www/html/wp-content, size: 10Gi}
//!   probes:
//!     readiness: {http: {path: /wp-login.php}}
//!     liveness: {tcp: {port: http}}
//! ```

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `workload:` in a component file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// `Deployment` (the default) or `StatefulSet`.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// A full image reference with a tag (or a digest): `ghcr.io/vinceanalytics/vince:v1.11.8`.
    pub image: String,
    #[serde(default = "one")]
    pub replicas: u32,
    /// The `app.kubernetes.io/part-of` label; defaults to the component name.
    #[serde(default)]
    pub part_of: Option<String>,
    /// Replaces the image's entrypoint.
    #[serde(default)]
    pub command: Vec<String>,
    /// Replaces the image's command (the entrypoint's arguments).
    #[serde(default)]
    pub args: Vec<String>,
    /// Container ports; the Service exposes the same port numbers.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Environment variables, in this order (later ones may use `$(EARLIER)`).
    #[serde(default)]
    pub env: IndexMap<String, EnvValue>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub probes: Probes,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub security: Option<Security>,
    /// A ClusterIP Service named after the component; defaults to `true` when there are ports.
    #[serde(default)]
    pub service: Option<bool>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkloadKind {
    #[default]
    Deployment,
    StatefulSet,
}

impl Workload {
    /// A Deployment that mounts a single-node claim must stop the old pod before starting the
    /// new one, or the new pod waits forever for the volume.
    pub fn needs_recreate(&self) -> bool {
        self.kind == WorkloadKind::Deployment
            && self
                .volumes
                .iter()
                .any(|v| v.size.is_some() && v.access_mode.unwrap_or_default().single_node())
    }

    /// `service:` or, when unset, whether there are ports to expose.
    pub fn has_service(&self) -> bool {
        self.service.unwrap_or(!self.ports.is_empty())
    }

    /// `<component>-<volume>`: the claim of a Deployment's sized volume.
    pub fn claim_name(component: &str, volume: &str) -> String {
        format!("{component}-{volume}")
    }
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

/// A container port, also exposed by the Service under the same name and number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// An IANA service name (`http`, `redis`): lowercase, at most 15 characters.
    pub name: String,
    pub port: u16,
    #[serde(default)]
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// The value of an environment variable: a plain string (numbers and booleans are written as
/// text), or a reference to a key of a Secret or ConfigMap, or a pod field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EnvValue {
    Plain(String),
    /// `{secret: NAME, key: KEY}`: a key of a Secret the component declares under `secrets:`.
    Secret {
        secret: String,
        key: String,
    },
    /// `{config_map: NAME, key: KEY}`.
    ConfigMap {
        config_map: String,
        key: String,
    },
    /// `{field: status.podIP}`: the downward API.
    Field {
        field: String,
    },
}

/// The mapping form of [`EnvValue`], before checking that it names exactly one source.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvRef {
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    config_map: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    field: Option<String>,
}

impl EnvRef {
    fn into_value(self) -> Result<EnvValue, &'static str> {
        match (self.secret, self.config_map, self.key, self.field) {
            (Some(secret), None, Some(key), None) => Ok(EnvValue::Secret { secret, key }),
            (None, Some(config_map), Some(key), None) => Ok(EnvValue::ConfigMap { config_map, key }),
            (None, None, None, Some(field)) => Ok(EnvValue::Field { field }),
            (Some(_), None, None, None) | (None, Some(_), None, None) => {
                Err("a `secret` or `config_map` reference needs a `key`")
            }
            _ => Err(
                "write one of `{secret: NAME, key: KEY}`, `{config_map: NAME, key: KEY}` or `{field: PATH}`",
            ),
        }
    }
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvVisitor;

        impl<'de> Visitor<'de> for EnvVisitor {
            type Value = EnvValue;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a string, `{secret: NAME, key: KEY}`, `{config_map: NAME, key: KEY}` or `{field: PATH}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue::Plain(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue::Plain(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue::Plain(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue::Plain(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvValue, E> {
                Err(E::custom(format!(
                    "the number `{v}` would be rewritten by YAML: quote it (`\"{v}\"`)"
                )))
            }
            fn visit_unit<E: de::Error>(self) -> Result<EnvValue, E> {
                Err(E::custom(
                    "an environment variable needs a value: write `\"\"` for an empty one",
                ))
            }
            fn visit_none<E: de::Error>(self) -> Result<EnvValue, E> {
                self.visit_unit()
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EnvValue, A::Error> {
                let r = EnvRef::deserialize(de::value::MapAccessDeserializer::new(map))?;
                r.into_value().map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(EnvVisitor)
    }
}

/// A volume mounted into the container: exactly one of `size` (a PersistentVolumeClaim, or a
/// `volumeClaimTemplates` entry for a StatefulSet), `empty_dir: true` or `secret: NAME`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// A DNS label; a Deployment's claim is named `<component>-<name>`.
    pub name: String,
    pub mount_path: String,
    #[serde(default)]
    pub sub_path: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    /// Requested storage, e.g. `10Gi`: makes the volume a PersistentVolumeClaim.
    #[serde(default)]
    pub size: Option<Quantity>,
    /// Defaults to the environment's `storage.block_class` (then to the cluster default).
    #[serde(default)]
    pub storage_class: Option<String>,
    /// Claim access mode (default `ReadWriteOnce`).
    #[serde(default)]
    pub access_mode: Option<AccessMode>,
    /// A scratch directory that lives as long as the pod.
    #[serde(default)]
    pub empty_dir: bool,
    /// A Secret the component declares under `secrets:`, mounted read-only as files.
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessMode {
    #[default]
    ReadWriteOnce,
    ReadWriteOncePod,
    ReadOnlyMany,
    ReadWriteMany,
}

impl AccessMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWriteOnce => "ReadWriteOnce",
            AccessMode::ReadWriteOncePod => "ReadWriteOncePod",
            AccessMode::ReadOnlyMany => "ReadOnlyMany",
            AccessMode::ReadWriteMany => "ReadWriteMany",
        }
    }

    /// True when one node at most may mount the volume.
    pub fn single_node(self) -> bool {
        matches!(self, AccessMode::ReadWriteOnce | AccessMode::ReadWriteOncePod)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probes {
    #[serde(default)]
    pub readiness: Option<Probe>,
    #[serde(default)]
    pub liveness: Option<Probe>,
    #[serde(default)]
    pub startup: Option<Probe>,
}

/// One probe: exactly one of `http`, `tcp`, `exec`, plus optional timings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub http: Option<HttpProbe>,
    #[serde(default)]
    pub tcp: Option<TcpProbe>,
    /// A command run in the container; exit code 0 is healthy.
    #[serde(default)]
    pub exec: Option<Vec<String>>,
    #[serde(default)]
    pub initial_delay_seconds: Option<u32>,
    #[serde(default)]
    pub period_seconds: Option<u32>,
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbe {
    pub path: String,
    /// A port name or number; defaults to the first port.
    #[serde(default)]
    pub port: Option<PortRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpProbe {
    /// A port name or number; defaults to the first port.
    #[serde(default)]
    pub port: Option<PortRef>,
}

/// A port by number (`8080`) or by the name of one of the workload's `ports` (`http`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl Serialize for PortRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PortRef::Number(n) => serializer.serialize_u16(*n),
            PortRef::Name(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for PortRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortVisitor;

        impl Visitor<'_> for PortVisitor {
            type Value = PortRef;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number (1-65535) or a port name")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortRef, E> {
                match u16::try_from(v) {
                    Ok(n) if n > 0 => Ok(PortRef::Number(n)),
                    _ => Err(E::custom(format!("`{v}` is not a port number (1-65535)"))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortRef, E> {
                Err(E::custom(format!("`{v}` is not a port number (1-65535)")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRef, E> {
                Ok(PortRef::Name(v.to_string()))
            }
        }

        deserializer.deserialize_any(PortVisitor)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: Option<ResourceList>,
    #[serde(default)]
    pub limits: Option<ResourceList>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceList {
    /// Cores: `250m`, `1`.
    #[serde(default)]
    pub cpu: Option<Quantity>,
    /// Bytes: `256Mi`, `1Gi`.
    #[serde(default)]
    pub memory: Option<Quantity>,
}

/// A Kubernetes quantity (`10Gi`, `250m`, `1`), kept as text; numbers are accepted as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub String);

impl Quantity {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;

        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a quantity such as `10Gi`, `256Mi`, `250m` or `1`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }

        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// The few security settings most images need. Without it the pod only gets the runtime's
/// default seccomp profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Refuse to start as root; also drops every capability and privilege escalation.
    #[serde(default)]
    pub run_as_non_root: bool,
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default)]
    pub run_as_group: Option<i64>,
    /// Group that owns mounted volumes (so a non-root process can write them).
    #[serde(default)]
    pub fs_group: Option<i64>,
    #[serde(default)]
    pub read_only_root_filesystem: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use camino::Utf8Path;

    fn parse(text: &str) -> Result<Workload, crate::error::LoadError> {
        crate::load::yaml::parse(Utf8Path::new("apps/x/component.yaml"), text)
    }

    #[test]
    fn env_accepts_strings_numbers_and_references_in_order() {
        let w = parse(
            "image: a:1\nenv:\n  Z: text\n  A: 8080\n  B: true\n  C: {secret: s, key: k}\n  \
             D: {config_map: c, key: k}\n  E: {field: status.podIP}\n",
        )
        .unwrap();
        let names: Vec<&str> = w.env.keys().map(String::as_str).collect();
        assert_eq!(names, ["Z", "A", "B", "C", "D", "E"]);
        assert_eq!(w.env["A"], EnvValue::Plain("8080".into()));
        assert_eq!(w.env["B"], EnvValue::Plain("true".into()));
        assert_eq!(
            w.env["C"],
            EnvValue::Secret {
                secret: "s".into(),
                key: "k".into()
            }
        );
        assert_eq!(
            w.env["E"],
            EnvValue::Field {
                field: "status.podIP".into()
            }
        );
    }

    #[test]
    fn bad_inputs_fail_with_file_line_and_column() {
        let cases = [
            (
                "image: a:1\nreplica: 2\n",
                "apps/x/component.yaml:2:1",
                "replicas",
            ),
            (
                "image: a:1\nenv:\n  A: {secret: s}\n",
                "apps/x/component.yaml:3",
                "needs a `key`",
            ),
            (
                "image: a:1\nenv:\n  A: {secret: s, key: k, extra: 1}\n",
                "apps/x/component.yaml:3",
                "extra",
            ),
            (
                "image: a:1\nenv:\n  A: 1.10\n",
                "apps/x/component.yaml:3",
                "quote it",
            ),
            (
                "image: a:1\nenv:\n  A:\n",
                "apps/x/component.yaml:3",
                "needs a value",
            ),
            ("image: a:1\nkind: Job\n", "apps/x/component.yaml:2", "Job"),
            (
                "image: a:1\nvolumes:\n  - {name: d, mount_path: /d, size: 1Gi, acces_mode: ReadWriteOnce}\n",
                "apps/x/component.yaml:3",
                "access_mode",
            ),
            (
                "image: a:1\nprobes:\n  readiness: {tcp: {port: 70000}}\n",
                "apps/x/component.yaml:3",
                "70000",
            ),
            ("ports: []\n", "apps/x/component.yaml:1", "image"),
        ];
        for (text, at, needle) in cases {
            let err = parse(text).expect_err(text);
            let crate::error::LoadError::Yaml {
                at: loc,
                reason,
                help,
                ..
            } = &err
            else {
                panic!("not a YAML error: {err}");
            };
            let shown = format!("{loc}: {reason} {}", help.as_deref().unwrap_or(""));
            assert!(shown.starts_with(at), "{text:?}: {shown}");
            assert!(shown.contains(needle), "{text:?}: {shown}");
        }
    }

    #[test]
    fn round_trips_through_json_for_interpolation() {
        let w = parse(
            "kind: StatefulSet\nimage: redis:7.4.11-alpine\nports: [{name: redis, port: 6379}]\n\
             env: {A: {secret: s, key: k}, B: x}\nvolumes: [{name: data, mount_path: /data, size: 1Gi}]\n\
             probes: {liveness: {tcp: {port: redis}}, readiness: {exec: [redis-cli, ping]}}\n\
             resources: {requests: {cpu: 0.5, memory: 64Mi}}\n",
        )
        .unwrap();
        let json = serde_json::to_value(&w).unwrap();
        let back: Workload = serde_json::from_value(json).unwrap();
        assert_eq!(back, w);
        assert_eq!(
            back.resources.unwrap().requests.unwrap().cpu,
            Some(Quantity("0.5".into()))
        );
    }
}
