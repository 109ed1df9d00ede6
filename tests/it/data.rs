//! The data part on `tests/cases/data`: Velero (BackupStorageLocation per environment, the `daily`
//! and `<component>-daily` Schedules, chart values), MinIO in dev, and Postgres/MariaDB (StatefulSet
//! on the environment's block StorageClass, init Job named by a hash of its database list).

use camino::Utf8Path;
use hydrate::Compiled;
use serde_json::{Value, json};

use crate::schema::Schemas;
use crate::support::{case, compile, compile_error, copy_case, kubectl, write_tree};

/// The object `kind/name` of `compiled`.
fn object<'a>(compiled: &'a Compiled, kind: &str, name: &str) -> &'a Value {
    &compiled
        .objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {}", compiled.env))
        .value
}

/// The one object of `kind` whose name starts with `prefix`.
fn named_like<'a>(compiled: &'a Compiled, kind: &str, prefix: &str) -> &'a Value {
    let found: Vec<&Value> = compiled
        .objects
        .iter()
        .filter(|o| o.kind() == kind && o.name().starts_with(prefix))
        .map(|o| &o.value)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} named {prefix}* in {}", compiled.env);
    found[0]
}

/// The shell script of an init Job's container.
fn script(job: &Value) -> &str {
    job.pointer("/spec/template/spec/containers/0/command/2")
        .and_then(Value::as_str)
        .expect("the init container runs `sh -c <script>`")
}

/// A SOPS-shaped Secret with dummy ciphertexts (hydrate never decrypts).
fn sops_secret(name: &str, namespace: &str, keys: &[&str]) -> String {
    let data: String = keys
        .iter()
        .map(|k| format!("    {k}: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n"))
        .collect();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: {name}\n    namespace: {namespace}\n\
         type: Opaque\nstringData:\n{data}sops:\n    age:\n        - recipient: \
         age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29\n          enc: |\n\
         \x20           -----BEGIN AGE ENCRYPTED FILE-----\n            YWdl\n\
         \x20           -----END AGE ENCRYPTED FILE-----\n    lastmodified: \"2026-01-01T00:00:00Z\"\n\
         \x20   mac: ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAA,type:str]\n\
         \x20   encrypted_regex: ^(data|stringData)$\n    version: 3.9.0\n"
    )
}

fn write(root: &Utf8Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().expect("a parent")).expect("create dir");
    fs_err::write(path, text).expect("write");
}

#[test]
fn daily_schedule_backs_up_namespace_data_at_three_brussels_time_for_30_days() {
    let prod = compile(&case("data"), "prod");
    let daily = object(&prod, "Schedule", "daily");
    assert_eq!(daily["metadata"]["namespace"], "infra", "in Velero's namespace");
    assert_eq!(daily["spec"]["schedule"], "CRON_TZ=Europe/Brussels 0 3 * * *");
    assert_eq!(daily["spec"]["template"]["ttl"], "720h0m0s");
    assert_eq!(daily["spec"]["template"]["includedNamespaces"], json!(["data"]));
    assert_eq!(daily["spec"]["template"]["storageLocation"], "default");
    assert!(
        prod.tree
            .contains_key(Utf8Path::new("infra-configs/velero/schedule-daily.yaml")),
        "Velero objects go to the infra-configs layer"
    );
}

#[test]
fn a_component_with_backup_daily_gets_its_own_schedule() {
    let prod = compile(&case("data"), "prod");
    let wiki = object(&prod, "Schedule", "wiki-daily");
    assert_eq!(wiki["metadata"]["namespace"], "infra");
    assert_eq!(wiki["spec"]["schedule"], "CRON_TZ=Europe/Brussels 0 3 * * *");
    assert_eq!(wiki["spec"]["template"]["includedNamespaces"], json!(["wiki"]));
    assert_eq!(
        wiki["spec"]["template"]["defaultVolumesToFsBackup"], true,
        "PVC contents too"
    );
    assert!(
        !prod.objects.iter().any(|o| o.name() == "blog-daily"),
        "`blog` asks for no backup"
    );
}

#[test]
fn prod_backs_up_to_spaces_and_dev_to_minio() {
    let prod = compile(&case("data"), "prod");
    let bsl = object(&prod, "BackupStorageLocation", "default");
    assert_eq!(bsl["spec"]["provider"], "aws");
    assert_eq!(bsl["spec"]["objectStorage"]["bucket"], "example-prod-velero");
    assert_eq!(
        bsl["spec"]["config"],
        json!({ "region": "fra1", "s3Url": "https://fra1.digitaloceanspaces.com" })
    );
    assert_eq!(
        bsl["spec"]["credential"],
        json!({ "name": "velero-credentials", "key": "cloud" })
    );

    let dev = compile(&case("data"), "dev");
    let bsl = object(&dev, "BackupStorageLocation", "default");
    assert_eq!(bsl["spec"]["objectStorage"]["bucket"], "velero-dev");
    assert_eq!(
        bsl["spec"]["config"]["s3ForcePathStyle"], "true",
        "a string, as the CRD wants"
    );
    assert_eq!(
        bsl["spec"]["config"]["s3Url"],
        "http://minio.infra.svc.cluster.local:9000"
    );
    assert!(
        !prod.objects.iter().any(|o| o.name() == "minio"),
        "MinIO is dev only"
    );
}

#[test]
fn minio_serves_the_seeds_host_folder_and_creates_the_bucket() {
    let dev = compile(&case("data"), "dev");
    let deployment = object(&dev, "Deployment", "minio");
    assert_eq!(
        deployment.pointer("/spec/template/spec/volumes/0/hostPath/path"),
        Some(&json!("/var/lib/fullfrontend/data/velero-dev"))
    );
    assert!(
        deployment
            .pointer("/spec/template/spec/containers/0/image")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("quay.io/minio/minio:RELEASE.")
    );
    let job = named_like(&dev, "Job", "minio-bucket-");
    assert!(script(job).contains("mc mb --ignore-existing local/velero-dev"));
}

#[test]
fn the_velero_chart_makes_no_location_or_schedule_of_its_own() {
    let prod = compile(&case("data"), "prod");
    let values = &object(&prod, "HelmRelease", "velero")["spec"]["values"];
    assert_eq!(values["configuration"]["backupStorageLocation"], json!([]));
    assert_eq!(values["configuration"]["volumeSnapshotLocation"], json!([]));
    assert_eq!(values["schedules"], json!({}));
    assert_eq!(values["snapshotsEnabled"], false);
    assert_eq!(values["deployNodeAgent"], true);
    assert_eq!(values["credentials"]["existingSecret"], "velero-credentials");
    assert_eq!(
        values["kubectl"]["image"]["repository"],
        "registry.k8s.io/kubectl"
    );
    assert_eq!(
        values["initContainers"][0]["image"],
        "velero/velero-plugin-for-aws:v1.14.2"
    );
}

#[test]
fn databases_use_the_environment_block_storage_class() {
    for (env, class) in [("prod", "do-block-storage"), ("dev", "hostpath")] {
        let compiled = compile(&case("data"), env);
        for engine in ["postgres", "mariadb"] {
            let sts = object(&compiled, "StatefulSet", engine);
            assert_eq!(sts["metadata"]["namespace"], "data");
            assert_eq!(
                sts.pointer("/spec/volumeClaimTemplates/0/spec/storageClassName"),
                Some(&json!(class)),
                "{env} {engine}"
            );
            assert_eq!(sts["spec"]["serviceName"], format!("{engine}-headless"));
            assert!(
                compiled
                    .tree
                    .contains_key(Utf8Path::new(&format!("data/{engine}/statefulset-{engine}.yaml"))),
                "layer data"
            );
            object(&compiled, "Service", engine);
            object(&compiled, "Service", &format!("{engine}-headless"));
        }
    }
}

#[test]
fn init_jobs_create_each_requested_database_if_not_exists() {
    let prod = compile(&case("data"), "prod");
    let pg = named_like(&prod, "Job", "postgres-init-");
    assert_eq!(pg["spec"]["ttlSecondsAfterFinished"], 120);
    assert!(script(pg).contains("WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'wiki')"));
    assert!(script(pg).contains("WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'wiki')"));
    let maria = named_like(&prod, "Job", "mariadb-init-");
    assert_eq!(maria["spec"]["ttlSecondsAfterFinished"], 120);
    assert!(script(maria).contains("CREATE DATABASE IF NOT EXISTS \\`blog\\`;"));
    assert!(script(maria).contains("CREATE USER IF NOT EXISTS 'blogger'@'%'"));
    let env = &maria.pointer("/spec/template/spec/containers/0/env").unwrap();
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "PASSWORD_BLOGGER"
                && e["valueFrom"]["secretKeyRef"]
                    == json!({ "name": "mariadb-app-credentials", "key": "blogger" })),
        "the user's password comes from the app credentials Secret: {env}"
    );
}

#[test]
fn adding_a_database_renames_the_init_job() {
    let (_tmp, root) = copy_case("data");
    let before = compile(&root, "prod");
    let job_before = named_like(&before, "Job", "postgres-init-").clone();
    let maria_before = named_like(&before, "Job", "mariadb-init-")["metadata"]["name"].clone();

    write(
        &root,
        "apps/notes/component.yaml",
        "layer: apps\ndatabase: {engine: postgres, name: notes, user: notes}\n",
    );
    write(
        &root,
        "secrets/prod/postgres/postgres-app-credentials.sops.yaml",
        &sops_secret("postgres-app-credentials", "data", &["notes", "wiki"]),
    );
    let after = compile(&root, "prod");
    let job_after = named_like(&after, "Job", "postgres-init-");

    let name_before = job_before["metadata"]["name"].as_str().unwrap();
    let name_after = job_after["metadata"]["name"].as_str().unwrap();
    assert_ne!(
        name_before, name_after,
        "a Job is immutable: a new list needs a new name"
    );
    for name in [name_before, name_after] {
        let hash = name.strip_prefix("postgres-init-").unwrap();
        assert!(
            hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
    }
    assert!(!script(&job_before).contains("'notes'"));
    assert!(script(job_after).contains("datname = 'notes'"));
    assert!(
        script(job_after).contains("datname = 'wiki'"),
        "the old databases stay"
    );
    assert_eq!(
        named_like(&after, "Job", "mariadb-init-")["metadata"]["name"],
        maria_before,
        "MariaDB's list did not change"
    );
    assert_eq!(
        compile(&root, "prod").tree,
        after.tree,
        "the name is a function of the inputs"
    );
}

#[test]
fn a_database_user_without_a_password_key_fails_the_build() {
    let (_tmp, root) = copy_case("data");
    write(
        &root,
        "apps/notes/component.yaml",
        "layer: apps\ndatabase: {engine: postgres, name: notes, user: notes}\n",
    );
    let err = compile_error(&root, "prod");
    assert!(
        err.contains("has no password for the database user(s) `notes`"),
        "{err}"
    );
    assert!(err.contains("postgres-app-credentials.sops.yaml"), "{err}");
}

#[test]
fn a_database_needs_its_engine_component() {
    let (_tmp, root) = copy_case("data");
    let env = fs_err::read_to_string(root.join("environments/prod.yaml")).unwrap();
    write(
        &root,
        "environments/prod.yaml",
        &format!("{env}components:\n  postgres:\n    enabled: false\n"),
    );
    let err = compile_error(&root, "prod");
    assert!(
        err.contains("needs a postgres database but no `generator: postgres` component"),
        "{err}"
    );
    assert!(err.contains("apps/wiki/component.yaml"), "{err}");
}

#[test]
fn a_bad_database_identifier_is_rejected_where_it_is_written() {
    let (_tmp, root) = copy_case("data");
    write(
        &root,
        "apps/notes/component.yaml",
        "layer: apps\ndatabase: {engine: mariadb, name: \"notes'; DROP\", user: notes}\n",
    );
    let err = compile_error(&root, "prod");
    assert!(err.contains("apps/notes/component.yaml:2"), "{err}");
    assert!(err.contains("is not a plain SQL identifier"), "{err}");
}

#[test]
fn the_velero_feature_switch_decides() {
    // The feature switch is authoritative: with `features.velero: false` the Velero component is
    // disabled whatever its own `enabled` says, and nothing of Velero is rendered.
    let (_tmp, root) = copy_case("data");
    let env = fs_err::read_to_string(root.join("environments/prod.yaml")).unwrap();
    write(
        &root,
        "environments/prod.yaml",
        &env.replace("  velero: true", "  velero: false"),
    );
    let prod = compile(&root, "prod");
    assert!(
        prod.objects
            .iter()
            .all(|o| !o.api_version().starts_with("velero.io/") && o.name() != "velero"),
        "no Velero object when the feature is off"
    );
    assert!(prod.diagnostics.iter().any(|d| d.code == "backup-without-velero"));
}

#[test]
fn a_daily_backup_without_velero_is_a_warning_and_no_schedule() {
    let (_tmp, root) = copy_case("data");
    let env = fs_err::read_to_string(root.join("environments/dev.yaml")).unwrap();
    write(
        &root,
        "environments/dev.yaml",
        &format!(
            "{}components:\n  velero:\n    enabled: false\n",
            env.replace("  velero: true", "  velero: false")
        ),
    );
    let dev = compile(&root, "dev");
    let warning = dev
        .diagnostics
        .iter()
        .find(|d| d.code == "backup-without-velero")
        .expect("a warning for `wiki`");
    assert_eq!(warning.at.file, "apps/wiki/component.yaml");
    assert!(!dev.objects.iter().any(|o| o.kind() == "Schedule"));
}

#[test]
fn fixture_objects_validate_and_kustomize() {
    let root = case("data");
    let mut schemas = Schemas::open();
    let kubectl = kubectl();
    let tmp = tempfile::tempdir().unwrap();
    for env in ["prod", "dev"] {
        let compiled = compile(&root, env);
        if let Some(schemas) = schemas.as_mut() {
            let failures: Vec<String> = compiled
                .objects
                .iter()
                .flat_map(|o| {
                    schemas
                        .errors(&o.value)
                        .into_iter()
                        .map(move |e| format!("{}: {e}", o.id()))
                })
                .collect();
            assert!(failures.is_empty(), "{env}:\n{}", failures.join("\n"));
        }
        let Some(kubectl) = &kubectl else { continue };
        let dir = Utf8Path::from_path(tmp.path()).unwrap().join(env);
        write_tree(&compiled.tree, &dir);
        for target in ["", "infra", "infra-configs", "data", "apps"] {
            let out = std::process::Command::new(kubectl)
                .arg("kustomize")
                .arg(dir.join(target).as_str())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "kubectl kustomize {env}/{target}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
