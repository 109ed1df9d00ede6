//! Velero (`generator: velero`, `features.velero`). Render stage: pure.
//!
//! The chart (vmware-tanzu `velero` ≥ 12) is rendered by `helm.rs`; this generator adds the objects
//! hydrate types itself, in Velero's namespace (`infra-configs` layer, after the chart's CRDs):
//!
//! 1. `BackupStorageLocation/default`: DigitalOcean Spaces (`s3Url` of the region) or the in-cluster
//!    MinIO (`s3ForcePathStyle: "true"`), bucket from the environment's `backup.store`;
//! 2. `Schedule/daily`: `CRON_TZ=<timezone> <schedule>`, ttl `<retention>`, namespace `data`;
//! 3. `Schedule/<component>-daily` for every enabled component with `backup: daily`: its namespace
//!    (every resource, PVC contents by file-system backup).
//!
//! [`chart_values`] turns the chart's own locations and schedules off, so that nothing is made twice.

use serde_json::{Value, json};

use super::require::{declared_secret, error_at};
use super::{Object, Output};
use crate::diag::{Code, Diagnostic};
use crate::error::RenderError;
use crate::model::{Backup, BackupPolicy, Component, Generator, Model, StoreProvider};

/// The Secret (key `cloud`, AWS credentials file) with the object store's access key.
pub const CREDENTIALS_SECRET: &str = "velero-credentials";
pub const CREDENTIALS_KEY: &str = "cloud";
/// The one BackupStorageLocation, default for every backup.
pub const LOCATION: &str = "default";
/// Namespaces of the `daily` schedule (the seeds: "cible namespace `data`").
const DAILY_NAMESPACES: &[&str] = &["data"];
/// The S3 API port of the MinIO Service.
pub const MINIO_PORT: u16 = 9000;

pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let mut out = Output::default();
    if component.spec.backup.is_some() && velero(model).is_none() {
        out.warnings.push(
            Diagnostic::of(
                Code::BackupWithoutVelero,
                component.file.locate("backup"),
                format!(
                    "component `{}` asks for a daily backup, but Velero is off in environment `{}`",
                    component.name, model.env.name
                ),
            )
            .path("backup")
            .with_help("set `features.velero: true` in the environment, or remove `backup`"),
        );
    }
    if component.spec.generator != Some(Generator::Velero) {
        return Ok(out);
    }
    let backup = model
        .env
        .spec
        .backup
        .as_ref()
        .expect("the model stage refuses a Velero component without a `backup` block");
    declared_secret(component, CREDENTIALS_SECRET, &[CREDENTIALS_KEY])?;
    let ns = &component.namespace;
    let location = backup_storage_location(model, backup, ns)?;
    let mut values = vec![(location, vec![model.env.file.path.clone()])];
    let daily = DAILY_NAMESPACES.iter().map(|s| (*s).to_string()).collect();
    values.push((
        schedule("daily", ns, backup, daily),
        vec![model.env.file.path.clone()],
    ));
    for other in model
        .components
        .iter()
        .filter(|c| c.spec.backup == Some(BackupPolicy::Daily))
    {
        let name = format!("{}-daily", other.name);
        let value = schedule(&name, ns, backup, vec![other.namespace.clone()]);
        values.push((value, vec![other.file.path.clone(), model.env.file.path.clone()]));
    }
    for (value, extra) in values {
        let layer = component.layer;
        let mut sources = vec![component.file.path.clone()];
        sources.extend(extra);
        out.objects
            .push(Object::new(layer, &component.name, sources, value));
    }
    Ok(out)
}

/// The enabled Velero component, when `features.velero` is on.
pub fn velero(model: &Model) -> Option<&Component> {
    if !model.env.spec.features.velero {
        return None;
    }
    model
        .components
        .iter()
        .find(|c| c.spec.generator == Some(Generator::Velero))
}

/// Chart values that leave the locations and schedules to hydrate's typed objects and back volumes
/// up by file system (node agent, kopia): DigitalOcean block volumes have no snapshot plugin here.
pub fn chart_values(_model: &Model, _component: &Component) -> Value {
    json!({
        "backupsEnabled": true,
        "snapshotsEnabled": false,
        "deployNodeAgent": true,
        "credentials": { "useSecret": true, "existingSecret": CREDENTIALS_SECRET },
        "configuration": {
            "backupStorageLocation": [],
            "volumeSnapshotLocation": [],
            "defaultBackupStorageLocation": LOCATION,
            "defaultVolumesToFsBackup": true,
            "uploaderType": "kopia",
        },
        "schedules": {},
    })
}

/// The one BackupStorageLocation, on DigitalOcean Spaces or the in-cluster MinIO.
fn backup_storage_location(model: &Model, backup: &Backup, ns: &str) -> Result<Value, RenderError> {
    let store = &backup.store;
    let config = match store.provider {
        StoreProvider::Spaces => {
            let region = store
                .region
                .as_ref()
                .expect("the model stage refuses a Spaces store without a `region`");
            let url = store
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("https://{region}.digitaloceanspaces.com"));
            json!({ "region": region, "s3Url": url })
        }
        StoreProvider::Minio => {
            let url = match &store.endpoint {
                Some(url) => url.clone(),
                None => minio_url(model)?,
            };
            let region = store.region.clone().unwrap_or_else(|| "minio".to_string());
            json!({ "region": region, "s3ForcePathStyle": "true", "s3Url": url })
        }
    };
    Ok(json!({
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": { "name": LOCATION, "namespace": ns },
        "spec": {
            "provider": "aws",
            "objectStorage": { "bucket": store.bucket },
            "config": config,
            "credential": { "name": CREDENTIALS_SECRET, "key": CREDENTIALS_KEY },
            "default": true,
            "accessMode": "ReadWrite",
        },
    }))
}

/// The S3 URL of the enabled MinIO component's Service.
fn minio_url(model: &Model) -> Result<String, RenderError> {
    let Some(minio) = model
        .components
        .iter()
        .find(|c| c.spec.generator == Some(Generator::Minio))
    else {
        return Err(error_at(
            &model.env.file,
            "backup.store.provider",
            format!(
                "the backup store is MinIO but no MinIO component is enabled in `{}`",
                model.env.name
            ),
            "enable `platform/minio` (`generator: minio`) here, or give the store an `endpoint`",
        ));
    };
    Ok(format!(
        "http://{}.{}.svc.cluster.local:{MINIO_PORT}",
        minio.name, minio.namespace
    ))
}

/// A Schedule of Velero's namespace `ns` backing `namespaces` up, volumes by file system.
fn schedule(name: &str, ns: &str, backup: &Backup, namespaces: Vec<String>) -> Value {
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "schedule": format!("CRON_TZ={} {}", backup.timezone, backup.schedule),
            "useOwnerReferencesInBackup": false,
            "template": {
                "includedNamespaces": namespaces,
                "storageLocation": LOCATION,
                "snapshotVolumes": false,
                "defaultVolumesToFsBackup": true,
                "ttl": backup.retention,
            },
        },
    })
}
