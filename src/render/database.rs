//! The shared half of the `postgres` and `mariadb` generators. Render stage: pure.
//!
//! Each engine is one StatefulSet of the official image (no operator, no managed database) with a
//! volume claim on the environment's block StorageClass, a headless Service for the StatefulSet and
//! a ClusterIP Service named after the component, plus an init Job that creates, `IF NOT EXISTS`,
//! the database and user of every enabled component declaring `database: {engine, name, user}`.
//!
//! Passwords: the admin password is the Secret `<engine>-admin` (key `password`); the app users'
//! passwords are the Secret `<engine>-app-credentials`, one key per user (the seeds'
//! `postgres_app_credentials` / `mariadb_app_credentials`). Both are SOPS files the operator supplies.
//!
//! Jobs are immutable, so the init Job's name ends with a short sha256 of its spec, which holds the
//! sorted database list: adding a database (or changing the image) makes a new Job, which runs
//! again and creates only what is missing. `ttlSecondsAfterFinished: 120` removes it afterwards;
//! Flux re-applies it at the next reconciliation, harmlessly.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::require::error_at;
use super::secrets::secret_path;
use crate::error::RenderError;
use crate::load::{SourceFile, yaml};
use crate::model::{Component, Engine, Generator, Model};

/// Seconds a finished init Job stays (the seeds: "TTL 120s").
pub const INIT_JOB_TTL: u32 = 120;
/// Where the Velero pre-backup hook writes a logical dump (an `emptyDir`, backed up by file system).
pub const DUMP_DIR: &str = "/backup";

/// `values` of a `generator: postgres|mariadb` component.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseValues {
    /// The official image, pinned (e.g. `postgres:18.6`, `mariadb:11.8.9`).
    pub image: String,
    /// Size of the data volume, e.g. `10Gi`.
    pub storage: String,
    /// Container resources (requests, limits).
    #[serde(default)]
    pub resources: Option<Value>,
}

/// One database to create, with its owner.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Request {
    pub name: String,
    pub user: String,
}

/// The engine's generator and secrets.
#[derive(Debug, Clone, Copy)]
pub struct EngineNames {
    pub engine: Engine,
    pub generator: Generator,
    /// `postgres-admin`.
    pub admin_secret: &'static str,
    /// `postgres-app-credentials`.
    pub app_secret: &'static str,
}

/// Checks the `database` of `component` when it uses `names.engine`: identifiers the init SQL can
/// use, and an enabled component of that engine.
pub fn check_request(model: &Model, component: &Component, names: EngineNames) -> Result<(), RenderError> {
    let Some(db) = component
        .spec
        .database
        .as_ref()
        .filter(|d| d.engine == names.engine)
    else {
        return Ok(());
    };
    for (key, value) in [("name", &db.name), ("user", &db.user)] {
        if !is_identifier(value) {
            return Err(error_at(
                &component.file,
                &format!("database.{key}"),
                format!("database {key} `{value}` is not a plain SQL identifier"),
                "use lowercase letters, digits and `_`, starting with a letter or `_`, at most 63",
            ));
        }
    }
    let present = model
        .components
        .iter()
        .any(|c| c.spec.generator == Some(names.generator));
    if !present {
        let engine = engine_name(names.engine);
        return Err(error_at(
            &component.file,
            "database.engine",
            format!(
                "component `{}` needs a {engine} database but no `generator: {engine}` component is \
                 enabled in `{}`",
                component.name, model.env.name
            ),
            format!("enable `platform/{engine}` in this environment"),
        ));
    }
    Ok(())
}

/// `postgres` or `mariadb`.
pub fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "postgres",
        Engine::Mariadb => "mariadb",
    }
}

/// A lowercase SQL identifier that needs no quoting rules of its own: `[a-z_][a-z0-9_]{0,62}`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

/// The databases to create for `engine`, sorted and without duplicates. The same database name
/// owned by two different users is an error.
pub fn requests(model: &Model, engine: Engine) -> Result<Vec<Request>, RenderError> {
    let mut owners: BTreeMap<&str, (&str, &Component)> = BTreeMap::new();
    for c in &model.components {
        let Some(db) = c.spec.database.as_ref().filter(|d| d.engine == engine) else {
            continue;
        };
        if let Some((user, first)) = owners.get(db.name.as_str())
            && *user != db.user
        {
            return Err(error_at(
                &c.file,
                "database.user",
                format!(
                    "database `{}` is owned by user `{user}` in `{}` and by `{}` here",
                    db.name, first.name, db.user
                ),
                "give each component its own database, or the same user for a shared one",
            ));
        }
        owners.insert(&db.name, (&db.user, c));
    }
    Ok(owners
        .into_iter()
        .map(|(name, (user, _))| Request {
            name: name.to_string(),
            user: user.to_string(),
        })
        .collect())
}

/// The distinct users of `requests`, sorted.
pub fn users(requests: &[Request]) -> Vec<&str> {
    let mut users: Vec<&str> = requests.iter().map(|r| r.user.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    users
}

/// The environment variable holding `user`'s password in the init Job: `PASSWORD_<USER>`.
pub fn password_var(user: &str) -> String {
    format!("PASSWORD_{}", user.to_ascii_uppercase())
}

/// An env entry read from key `key` of Secret `secret`.
pub fn secret_env(var: &str, secret: &str, key: &str) -> Value {
    json!({ "name": var, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
}

/// When the app credentials file is present, it must hold a key for every user (SOPS leaves key
/// names in clear, so this is checked without decrypting).
pub fn check_app_secret_keys(
    model: &Model,
    component: &Component,
    secret: &str,
    users: &[&str],
) -> Result<(), RenderError> {
    let path = secret_path(&model.env.name, &component.name, secret);
    let Some(text) = model.secrets.get(&path).and_then(|b| std::str::from_utf8(b).ok()) else {
        return Ok(()); // secrets.rs reports a missing file
    };
    let value: Value = yaml::parse(&path, text)?;
    let has = |user: &str| {
        ["data", "stringData"]
            .iter()
            .any(|field| value.get(*field).and_then(|m| m.get(user)).is_some())
    };
    let missing: Vec<String> = users
        .iter()
        .filter(|u| !has(u))
        .map(|u| format!("`{u}`"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let file = SourceFile::new(path.clone(), text.to_string());
    Err(error_at(
        &file,
        "data",
        format!(
            "Secret `{secret}` has no password for the database user(s) {}",
            missing.join(", ")
        ),
        format!(
            "add one key per user (`<user>: <password>`) and re-encrypt `{path}` with sops; the init \
             Job reads them"
        ),
    ))
}

/// The inputs of the init Job: the engine's component, the environment and every requesting component.
pub fn job_sources(model: &Model, component: &Component, engine: Engine) -> Vec<camino::Utf8PathBuf> {
    let mut sources = vec![component.file.path.clone(), model.env.file.path.clone()];
    sources.extend(
        model
            .components
            .iter()
            .filter(|c| c.spec.database.as_ref().is_some_and(|d| d.engine == engine))
            .map(|c| c.file.path.clone()),
    );
    sources
}

/// `app.kubernetes.io/name` and `managed-by` labels.
pub fn labels(component: &Component) -> Value {
    json!({ "app.kubernetes.io/name": component.name, "app.kubernetes.io/managed-by": "hydrate" })
}

fn selector(component: &Component) -> Value {
    json!({ "app.kubernetes.io/name": component.name })
}

/// The headless Service that names the StatefulSet's pods.
pub fn headless_service(component: &Component, port_name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": format!("{}-headless", component.name),
            "namespace": component.namespace,
            "labels": labels(component),
        },
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": true,
            "selector": selector(component),
            "ports": [{ "name": port_name, "port": port, "targetPort": port_name }],
        },
    })
}

/// The ClusterIP Service the apps connect to: `<component>.<namespace>.svc`.
pub fn service(component: &Component, port_name: &str, port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": component.name, "namespace": component.namespace, "labels": labels(component) },
        "spec": {
            "selector": selector(component),
            "ports": [{ "name": port_name, "port": port, "targetPort": port_name }],
        },
    })
}

/// What differs between engines in the StatefulSet.
pub struct Pod {
    pub container: Value,
    /// Velero backup hook annotations of the pod.
    pub annotations: Value,
    /// The group that owns the data volume (the image's database user).
    pub fs_group: u32,
}

/// The StatefulSet: one replica, the data claim on the environment's block StorageClass.
pub fn stateful_set(model: &Model, component: &Component, values: &DatabaseValues, pod: Pod) -> Value {
    let mut claim = serde_json::Map::new();
    claim.insert("accessModes".into(), json!(["ReadWriteOnce"]));
    if let Some(class) = &model.env.spec.storage.block_class {
        claim.insert("storageClassName".into(), json!(class));
    }
    claim.insert(
        "resources".into(),
        json!({ "requests": { "storage": values.storage } }),
    );
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": component.name, "namespace": component.namespace, "labels": labels(component) },
        "spec": {
            "serviceName": format!("{}-headless", component.name),
            "replicas": 1,
            "selector": { "matchLabels": selector(component) },
            "template": {
                "metadata": { "labels": labels(component), "annotations": pod.annotations },
                "spec": {
                    "securityContext": { "fsGroup": pod.fs_group },
                    "terminationGracePeriodSeconds": 60,
                    "containers": [pod.container],
                    "volumes": [{ "name": "dump", "emptyDir": {} }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data", "labels": labels(component) },
                "spec": claim,
            }],
        },
    })
}

/// The init Job around `container`, named `<component>-init-<hash of its spec>`.
pub fn init_job(component: &Component, container: Value) -> Value {
    let spec = json!({
        "backoffLimit": 6,
        "activeDeadlineSeconds": 900,
        "ttlSecondsAfterFinished": INIT_JOB_TTL,
        "template": {
            "metadata": { "labels": labels(component) },
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [container],
            },
        },
    });
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format!("{}-init-{}", component.name, short_hash(&spec)),
            "namespace": component.namespace,
            "labels": labels(component),
        },
        "spec": spec,
    })
}

/// The first 8 hex digits of the sha256 of `value`'s JSON text (keys in insertion order).
pub fn short_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// What differs between the two engines' generators; everything else is [`render`].
pub struct EngineDef {
    pub names: EngineNames,
    /// The Service name (and the StatefulSet's), e.g. `postgres`.
    pub service: &'static str,
    pub port: u16,
    pub pod: fn(&DatabaseValues) -> Pod,
    pub init_container: fn(&Component, &DatabaseValues, &[Request]) -> serde_json::Value,
}

/// The objects of a database engine component: Services, StatefulSet and, when components ask for
/// databases, the init Job. Every component is checked for a request to this engine.
pub fn render(model: &Model, component: &Component, def: &EngineDef) -> Result<super::Output, RenderError> {
    use super::Object;
    use super::require::{declared_secret, values};
    check_request(model, component, def.names)?;
    if component.spec.generator != Some(def.names.generator) {
        return Ok(super::Output::default());
    }
    declared_secret(component, def.names.admin_secret, &["password"])?;
    let values: DatabaseValues = values(model, component)?;
    let requests = requests(model, def.names.engine)?;
    let users = users(&requests);
    if !users.is_empty() {
        declared_secret(component, def.names.app_secret, &users)?;
        check_app_secret_keys(model, component, def.names.app_secret, &users)?;
    }
    let own = vec![component.file.path.clone(), model.env.file.path.clone()];
    let mut objects: Vec<Object> = [
        headless_service(component, def.service, def.port),
        service(component, def.service, def.port),
        stateful_set(model, component, &values, (def.pod)(&values)),
    ]
    .into_iter()
    .map(|v| Object::new(component.layer, &component.name, own.clone(), v))
    .collect();
    if !requests.is_empty() {
        let job = init_job(component, (def.init_container)(component, &values, &requests));
        let sources = job_sources(model, component, def.names.engine);
        objects.push(Object::new(component.layer, &component.name, sources, job));
    }
    Ok(super::Output::objects(objects))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in ["n8n", "wordpress", "_x", "a_b_9"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "9a", "N8N", "a-b", "a;drop", "a'b", &"a".repeat(64)] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn short_hash_is_eight_hex_digits_and_follows_the_content() {
        let a = short_hash(&json!({"sql": "CREATE n8n"}));
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, short_hash(&json!({"sql": "CREATE n8n"})));
        assert_ne!(a, short_hash(&json!({"sql": "CREATE n8n, twenty"})));
    }

    #[test]
    fn password_variables() {
        assert_eq!(password_var("n8n"), "PASSWORD_N8N");
    }
}
