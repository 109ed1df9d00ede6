//! MinIO (`generator: minio`): the S3 target of Velero in a local cluster, where the environment's
//! `backup.store.provider` is `minio`. Render stage: pure.
//!
//! Objects, in the component's namespace: a `Deployment` of the pinned community image serving a
//! hostPath folder, a `Service` (S3 API 9000, console 9001), and a `Job` that creates the bucket
//! (`mc mb --ignore-existing`). Root credentials come from the SOPS Secret `minio-root`.
//!
//! The seeds keep the data in `./data/<bucket>`, a folder relative to the repository. A hostPath is a
//! path of the node, so a relative `backup.store.host_path` is placed under the component's
//! `values.host_root` (the node folder that stands for the repository root); an absolute one is used
//! as is.

use camino::{Utf8Component, Utf8Path};
use serde::Deserialize;
use serde_json::{Value, json};

use super::require::{declared_secret, error_at, values};
use super::velero::MINIO_PORT;
use super::{Object, Output};
use crate::error::RenderError;
use crate::model::{Component, Generator, Model, StoreProvider};

/// The Secret with the root user (`user`) and password (`password`).
pub const ROOT_SECRET: &str = "minio-root";
const CONSOLE_PORT: u16 = 9001;
/// Seconds a finished bucket Job stays before Kubernetes deletes it (Flux re-creates it, harmlessly).
const JOB_TTL: u32 = 120;

/// `values` of a `generator: minio` component.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinioValues {
    /// The server image, pinned (e.g. `quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z`).
    image: String,
    /// The client image of the bucket Job, pinned.
    mc_image: String,
    /// Node folder under which a relative `backup.store.host_path` lives.
    host_root: String,
    #[serde(default)]
    resources: Option<Value>,
}

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    if component.spec.generator != Some(Generator::Minio) {
        return Ok(Output::default());
    }
    let env = &model.env.file;
    let Some(store) = model
        .env
        .spec
        .backup
        .as_ref()
        .map(|b| &b.store)
        .filter(|s| s.provider == StoreProvider::Minio)
    else {
        return Err(error_at(
            env,
            "backup",
            format!(
                "component `{}` (MinIO) is enabled but the backup store of `{}` is not `minio`",
                component.name, model.env.name
            ),
            format!(
                "set `backup.store.provider: minio`, or disable `{}` in this environment",
                component.name
            ),
        ));
    };
    declared_secret(component, ROOT_SECRET, &["user", "password"])?;
    let values: MinioValues = values(model, component)?;
    let host_path = node_path(
        model,
        component,
        &values,
        store.host_path.as_deref(),
        &store.bucket,
    )?;
    let sources = vec![component.file.path.clone(), env.path.clone()];
    let objects = [
        deployment(component, &values, &host_path),
        service(component),
        bucket_job(component, &values, &store.bucket),
    ]
    .into_iter()
    .map(|v| Object::new(component.layer, &component.name, sources.clone(), v))
    .collect();
    Ok(Output::objects(objects))
}

/// The node folder of the data: `host_path` (default `./data/<bucket>`) under `host_root` when relative.
fn node_path(
    model: &Model,
    component: &Component,
    values: &MinioValues,
    host_path: Option<&str>,
    bucket: &str,
) -> Result<String, RenderError> {
    let default = format!("./data/{bucket}");
    let rel = Utf8Path::new(host_path.unwrap_or(&default));
    if rel.is_absolute() {
        return Ok(rel.to_string());
    }
    let parts: Vec<&str> = rel
        .components()
        .filter(|c| *c != Utf8Component::CurDir)
        .map(|c| match c {
            Utf8Component::Normal(s) => Ok(s),
            _ => Err(()),
        })
        .collect::<Result<_, _>>()
        .map_err(|()| {
            error_at(
                &model.env.file,
                "backup.store.host_path",
                format!("`{rel}` leaves the folder it is relative to"),
                "write `./data/<bucket>`, or an absolute node path",
            )
        })?;
    let root = Utf8Path::new(&values.host_root);
    if !root.is_absolute() || parts.is_empty() {
        return Err(error_at(
            &component.file,
            "values.host_root",
            format!("`host_root` must be an absolute node path, and `host_path` `{rel}` must name a folder"),
            "e.g. `host_root: /var/lib/fullfrontend` and `host_path: ./data/velero-dev`",
        ));
    }
    Ok(parts.iter().fold(root.to_owned(), |p, s| p.join(s)).to_string())
}

fn labels(component: &Component) -> Value {
    json!({ "app.kubernetes.io/name": component.name, "app.kubernetes.io/managed-by": "hydrate" })
}

fn selector(component: &Component) -> Value {
    json!({ "app.kubernetes.io/name": component.name })
}

fn root_env() -> Value {
    json!([
        { "name": "MINIO_ROOT_USER",
          "valueFrom": { "secretKeyRef": { "name": ROOT_SECRET, "key": "user" } } },
        { "name": "MINIO_ROOT_PASSWORD",
          "valueFrom": { "secretKeyRef": { "name": ROOT_SECRET, "key": "password" } } },
    ])
}

fn deployment(component: &Component, values: &MinioValues, host_path: &str) -> Value {
    let resources = values.resources.clone().unwrap_or_else(
        || json!({ "requests": { "cpu": "50m", "memory": "256Mi" }, "limits": { "memory": "1Gi" } }),
    );
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": component.name, "namespace": component.namespace, "labels": labels(component) },
        "spec": {
            "replicas": 1,
            "strategy": { "type": "Recreate" },
            "selector": { "matchLabels": selector(component) },
            "template": {
                "metadata": { "labels": labels(component) },
                "spec": {
                    "containers": [{
                        "name": "minio",
                        "image": values.image,
                        "args": ["server", "/data", "--console-address", format!(":{CONSOLE_PORT}")],
                        "env": root_env(),
                        "ports": [
                            { "name": "s3", "containerPort": MINIO_PORT },
                            { "name": "console", "containerPort": CONSOLE_PORT },
                        ],
                        "readinessProbe": {
                            "httpGet": { "path": "/minio/health/ready", "port": "s3" },
                            "periodSeconds": 10,
                        },
                        "livenessProbe": {
                            "httpGet": { "path": "/minio/health/live", "port": "s3" },
                            "periodSeconds": 20,
                            "failureThreshold": 6,
                        },
                        "resources": resources,
                        "volumeMounts": [{ "name": "data", "mountPath": "/data" }],
                    }],
                    "volumes": [{
                        "name": "data",
                        "hostPath": { "path": host_path, "type": "DirectoryOrCreate" },
                    }],
                },
            },
        },
    })
}

fn service(component: &Component) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": component.name, "namespace": component.namespace, "labels": labels(component) },
        "spec": {
            "selector": selector(component),
            "ports": [
                { "name": "s3", "port": MINIO_PORT, "targetPort": "s3" },
                { "name": "console", "port": CONSOLE_PORT, "targetPort": "console" },
            ],
        },
    })
}

/// The Job that creates `bucket`; its name carries a hash of its spec, since a Job is immutable.
fn bucket_job(component: &Component, values: &MinioValues, bucket: &str) -> Value {
    let script = format!(
        "set -eu\n\
         i=0\n\
         until mc alias set local http://{svc}:{MINIO_PORT} \"$MINIO_ROOT_USER\" \"$MINIO_ROOT_PASSWORD\" >/dev/null; do\n  \
           i=$((i + 1)); [ \"$i\" -lt 60 ] || exit 1; sleep 5\n\
         done\n\
         mc mb --ignore-existing local/{bucket}\n",
        svc = component.name,
    );
    let spec = json!({
        "backoffLimit": 4,
        "ttlSecondsAfterFinished": JOB_TTL,
        "template": {
            "metadata": { "labels": labels(component) },
            "spec": {
                "restartPolicy": "OnFailure",
                "containers": [{
                    "name": "mc",
                    "image": values.mc_image,
                    "command": ["/bin/sh", "-c", script],
                    "env": root_env(),
                }],
            },
        },
    });
    let name = format!("{}-bucket-{}", component.name, super::database::short_hash(&spec));
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "namespace": component.namespace, "labels": labels(component) },
        "spec": spec,
    })
}
