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

use super::object::layer_for;
use super::require::{declared_secret, error_at};
use super::{Object, Output};
use crate::diag::Diagnostic;
use crate::error::Error;
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

pub fn render(model: &Model, component: &Component) -> Result<Output, Error> {
    let mut out = Output::default();
    if component.spec.backup.is_some() && velero(model).is_none() {
        out.warnings.push(
            Diagnostic::warning(
                "backup-without-velero",
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
    let backup = check_env(model)?;
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
        let layer = layer_for(value["apiVersion"].as_str().unwrap_or(""), component.layer);
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

/// `features.velero` is on and `backup` is complete and well-formed.
fn check_env(model: &Model) -> Result<&Backup, Error> {
    let env = &model.env.file;
    if !model.env.spec.features.velero {
        return Err(error_at(
            env,
            "features.velero",
            format!(
                "a Velero component is enabled but `features.velero` is off in `{}`",
                env.path
            ),
            "set `features.velero: true`, or disable the component (`components.velero.enabled: false`)",
        ));
    }
    let Some(backup) = &model.env.spec.backup else {
        return Err(error_at(
            env,
            "features",
            "Velero is on but the environment has no `backup` block",
            "add `backup: {schedule: \"0 3 * * *\", timezone: Europe/Brussels, retention: 720h0m0s, \
             store: {provider: spaces, bucket: …, region: fra1}}`",
        ));
    };
    if backup.schedule.split_whitespace().count() != 5 || backup.schedule.contains("TZ=") {
        return Err(error_at(
            env,
            "backup.schedule",
            format!("`{}` is not a five-field cron expression", backup.schedule),
            "write minute hour day month weekday, e.g. `0 3 * * *`; the time zone goes in `backup.timezone`",
        ));
    }
    if !is_time_zone(&backup.timezone) {
        return Err(error_at(
            env,
            "backup.timezone",
            format!("`{}` is not an IANA time zone name", backup.timezone),
            "write e.g. `Europe/Brussels` or `UTC`",
        ));
    }
    check_bucket(model, &backup.store.bucket)?;
    if !is_duration(&backup.retention) {
        return Err(error_at(
            env,
            "backup.retention",
            format!("`{}` is not a Kubernetes duration", backup.retention),
            "write hours, minutes and seconds, e.g. `720h0m0s` for 30 days",
        ));
    }
    Ok(backup)
}

/// The bucket is an S3 bucket name: 3 to 63 of `a-z0-9.-`, starting and ending with a letter or digit.
pub fn check_bucket(model: &Model, bucket: &str) -> Result<(), Error> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        return Ok(());
    }
    Err(error_at(
        &model.env.file,
        "backup.store.bucket",
        format!("`{bucket}` is not an S3 bucket name"),
        "use 3 to 63 lowercase letters, digits, `.` and `-`, e.g. `fullfrontend-prod-velero`",
    ))
}

/// `Europe/Brussels`, `UTC`, `America/Argentina/Buenos_Aires`: letters, digits, `/_+-`.
fn is_time_zone(tz: &str) -> bool {
    !tz.is_empty()
        && !tz.starts_with('/')
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'))
}

/// A Go duration as Velero reads it: `720h0m0s`, `720h`, `90m` (units h, m, s; at least one).
fn is_duration(text: &str) -> bool {
    let mut digits = 0;
    let mut units = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => digits += 1,
            'h' | 'm' | 's' if digits > 0 => {
                units.push(c);
                digits = 0;
            }
            _ => return false,
        }
    }
    digits == 0 && !units.is_empty() && ["hms", "hm", "hs", "ms", "h", "m", "s"].contains(&units.as_str())
}

/// The one BackupStorageLocation, on DigitalOcean Spaces or the in-cluster MinIO.
fn backup_storage_location(model: &Model, backup: &Backup, ns: &str) -> Result<Value, Error> {
    let store = &backup.store;
    let env = &model.env.file;
    let config = match store.provider {
        StoreProvider::Spaces => {
            let Some(region) = &store.region else {
                return Err(error_at(
                    env,
                    "backup.store",
                    "a Spaces backup store needs its `region`",
                    "add `region: fra1` (the Spaces datacenter) under `backup.store`",
                ));
            };
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
fn minio_url(model: &Model) -> Result<String, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for ok in ["720h0m0s", "720h", "90m", "30s", "1h30m"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "720", "h", "30d", "0m720h", "720 h", "1.5h"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }

    #[test]
    fn time_zones() {
        assert!(is_time_zone("Europe/Brussels"));
        assert!(is_time_zone("UTC"));
        assert!(!is_time_zone("Europe Brussels"));
        assert!(!is_time_zone(""));
    }
}
