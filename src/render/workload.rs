//! The `workload:` generator: a component's typed [`Workload`] becomes a Deployment or a
//! StatefulSet, a ClusterIP Service named after the component, and a PersistentVolumeClaim per
//! sized volume (a `volumeClaimTemplates` entry for a StatefulSet).
//!
//! Render stage: pure, no disk. The workload was validated by the model stage
//! (`crate::model::validate::workload`): everything here is known to be well-formed.

use camino::Utf8PathBuf;
use serde_json::{Map, Value, json};

use super::{Object, Output};
use crate::error::RenderError;
use crate::model::workload::{EnvValue, PortRef, Probe, Volume, Workload, WorkloadKind};
use crate::model::{Component, Model};

/// Renders the component's workload, if it has one.
pub fn render(model: &Model, component: &Component) -> Result<Output, RenderError> {
    let Some(workload) = &component.spec.workload else {
        return Ok(Output::default());
    };
    Ok(Output::objects(objects(model, component, workload)))
}

/// The objects of a checked workload, in a fixed order: claims, Service, workload.
fn objects(model: &Model, component: &Component, w: &Workload) -> Vec<Object> {
    let own = vec![component.file.path.clone()];
    let uses_env_class = w
        .volumes
        .iter()
        .any(|v| v.size.is_some() && v.storage_class.is_none() && block_class(model).is_some());
    let with_env: Vec<Utf8PathBuf> = if uses_env_class {
        vec![component.file.path.clone(), model.env.file.path.clone()]
    } else {
        own.clone()
    };
    let new = |sources: &Vec<Utf8PathBuf>, value: Value| {
        Object::new(component.layer, &component.name, sources.clone(), value)
    };
    let mut out = Vec::new();
    if w.kind == WorkloadKind::Deployment {
        for volume in w.volumes.iter().filter(|v| v.size.is_some()) {
            out.push(new(&with_env, claim(model, component, w, volume)));
        }
    }
    if w.has_service() {
        out.push(new(&own, service(component, w)));
    }
    let controller = match w.kind {
        WorkloadKind::Deployment => deployment(component, w),
        WorkloadKind::StatefulSet => stateful_set(model, component, w),
    };
    let sources = if w.kind == WorkloadKind::StatefulSet {
        &with_env
    } else {
        &own
    };
    out.push(new(sources, controller));
    out
}

fn block_class(model: &Model) -> Option<&str> {
    model.env.spec.storage.block_class.as_deref()
}

/// Labels of every object; the selector uses `app.kubernetes.io/name` only, so it never changes.
fn labels(component: &Component, w: &Workload) -> Value {
    json!({
        "app.kubernetes.io/name": component.name,
        "app.kubernetes.io/part-of": w.part_of.as_deref().unwrap_or(&component.name),
        "app.kubernetes.io/managed-by": "hydrate",
    })
}

fn selector(component: &Component) -> Value {
    json!({ "app.kubernetes.io/name": component.name })
}

fn metadata(name: &str, component: &Component, w: &Workload) -> Value {
    json!({ "name": name, "namespace": component.namespace, "labels": labels(component, w) })
}

fn claim_spec(model: &Model, volume: &Volume) -> Value {
    let mut spec = Map::new();
    let mode = volume.access_mode.unwrap_or_default();
    spec.insert("accessModes".into(), json!([mode.as_str()]));
    if let Some(class) = volume.storage_class.as_deref().or(block_class(model)) {
        spec.insert("storageClassName".into(), json!(class));
    }
    let size = volume.size.as_ref().map(|q| q.as_str()).unwrap_or_default();
    spec.insert("resources".into(), json!({ "requests": { "storage": size } }));
    Value::Object(spec)
}

fn claim(model: &Model, component: &Component, w: &Workload, volume: &Volume) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(&Workload::claim_name(&component.name, &volume.name), component, w),
        "spec": claim_spec(model, volume),
    })
}

fn service(component: &Component, w: &Workload) -> Value {
    let ports: Vec<Value> = w
        .ports
        .iter()
        .map(|p| json!({ "name": p.name, "port": p.port, "targetPort": p.name, "protocol": p.protocol.as_str() }))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(&component.name, component, w),
        "spec": { "type": "ClusterIP", "selector": selector(component), "ports": ports },
    })
}

fn deployment(component: &Component, w: &Workload) -> Value {
    let mut spec = Map::new();
    spec.insert("replicas".into(), json!(w.replicas));
    spec.insert("selector".into(), json!({ "matchLabels": selector(component) }));
    if w.needs_recreate() {
        spec.insert("strategy".into(), json!({ "type": "Recreate" }));
    }
    spec.insert("template".into(), pod_template(component, w));
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(&component.name, component, w),
        "spec": spec,
    })
}

fn stateful_set(model: &Model, component: &Component, w: &Workload) -> Value {
    let mut spec = Map::new();
    spec.insert("replicas".into(), json!(w.replicas));
    if w.has_service() {
        spec.insert("serviceName".into(), json!(component.name));
    }
    spec.insert("selector".into(), json!({ "matchLabels": selector(component) }));
    spec.insert("template".into(), pod_template(component, w));
    let templates: Vec<Value> = w
        .volumes
        .iter()
        .filter(|v| v.size.is_some())
        .map(|v| {
            json!({
                "metadata": { "name": v.name, "labels": labels(component, w) },
                "spec": claim_spec(model, v),
            })
        })
        .collect();
    if !templates.is_empty() {
        spec.insert("volumeClaimTemplates".into(), Value::Array(templates));
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(&component.name, component, w),
        "spec": spec,
    })
}

fn pod_template(component: &Component, w: &Workload) -> Value {
    let mut pod = Map::new();
    // No API access and no `<SERVICE>_PORT` variables, which clash with apps that read
    // `<APP>_*` settings (`VINCE_PORT`, `N8N_PORT`).
    pod.insert("automountServiceAccountToken".into(), json!(false));
    pod.insert("enableServiceLinks".into(), json!(false));
    pod.insert("securityContext".into(), pod_security(w));
    pod.insert("containers".into(), json!([container(component, w)]));
    let volumes: Vec<Value> = w
        .volumes
        .iter()
        .filter_map(|v| pod_volume(component, w, v))
        .collect();
    if !volumes.is_empty() {
        pod.insert("volumes".into(), Value::Array(volumes));
    }
    json!({ "metadata": { "labels": labels(component, w) }, "spec": pod })
}

fn pod_security(w: &Workload) -> Value {
    let mut sc = Map::new();
    if let Some(s) = &w.security {
        if s.run_as_non_root {
            sc.insert("runAsNonRoot".into(), json!(true));
        }
        if let Some(uid) = s.run_as_user {
            sc.insert("runAsUser".into(), json!(uid));
        }
        if let Some(gid) = s.run_as_group {
            sc.insert("runAsGroup".into(), json!(gid));
        }
        if let Some(fs) = s.fs_group {
            sc.insert("fsGroup".into(), json!(fs));
        }
    }
    sc.insert("seccompProfile".into(), json!({ "type": "RuntimeDefault" }));
    Value::Object(sc)
}

/// The pod volume of `v`; none for a StatefulSet's claim (its template provides it).
fn pod_volume(component: &Component, w: &Workload, v: &Volume) -> Option<Value> {
    if v.size.is_some() {
        return (w.kind == WorkloadKind::Deployment).then(|| {
            json!({ "name": v.name, "persistentVolumeClaim": { "claimName": Workload::claim_name(&component.name, &v.name) } })
        });
    }
    if let Some(secret) = &v.secret {
        return Some(json!({ "name": v.name, "secret": { "secretName": secret } }));
    }
    Some(json!({ "name": v.name, "emptyDir": {} }))
}

fn container(component: &Component, w: &Workload) -> Value {
    let mut c = Map::new();
    c.insert("name".into(), json!(component.name));
    c.insert("image".into(), json!(w.image));
    c.insert("imagePullPolicy".into(), json!("IfNotPresent"));
    if !w.command.is_empty() {
        c.insert("command".into(), json!(w.command));
    }
    if !w.args.is_empty() {
        c.insert("args".into(), json!(w.args));
    }
    if !w.ports.is_empty() {
        let ports: Vec<Value> = w
            .ports
            .iter()
            .map(|p| json!({ "name": p.name, "containerPort": p.port, "protocol": p.protocol.as_str() }))
            .collect();
        c.insert("ports".into(), Value::Array(ports));
    }
    if !w.env.is_empty() {
        let env: Vec<Value> = w.env.iter().map(|(name, v)| env_var(name, v)).collect();
        c.insert("env".into(), Value::Array(env));
    }
    if let Some(resources) = resources(w) {
        c.insert("resources".into(), resources);
    }
    if !w.volumes.is_empty() {
        let mounts: Vec<Value> = w.volumes.iter().map(mount).collect();
        c.insert("volumeMounts".into(), Value::Array(mounts));
    }
    for (key, probe) in [
        ("livenessProbe", &w.probes.liveness),
        ("readinessProbe", &w.probes.readiness),
        ("startupProbe", &w.probes.startup),
    ] {
        if let Some(p) = probe {
            c.insert(key.into(), probe_value(p, w));
        }
    }
    if let Some(sc) = container_security(w) {
        c.insert("securityContext".into(), sc);
    }
    Value::Object(c)
}

fn env_var(name: &str, value: &EnvValue) -> Value {
    match value {
        EnvValue::Plain(v) => json!({ "name": name, "value": v }),
        EnvValue::Secret { secret, key } => {
            json!({ "name": name, "valueFrom": { "secretKeyRef": { "name": secret, "key": key } } })
        }
        EnvValue::ConfigMap { config_map, key } => {
            json!({ "name": name, "valueFrom": { "configMapKeyRef": { "name": config_map, "key": key } } })
        }
        EnvValue::Field { field } => {
            json!({ "name": name, "valueFrom": { "fieldRef": { "fieldPath": field } } })
        }
    }
}

fn resources(w: &Workload) -> Option<Value> {
    let r = w.resources.as_ref()?;
    let mut out = Map::new();
    for (key, list) in [("limits", &r.limits), ("requests", &r.requests)] {
        let Some(list) = list else { continue };
        let mut m = Map::new();
        if let Some(cpu) = &list.cpu {
            m.insert("cpu".into(), json!(cpu.as_str()));
        }
        if let Some(memory) = &list.memory {
            m.insert("memory".into(), json!(memory.as_str()));
        }
        if !m.is_empty() {
            out.insert(key.into(), Value::Object(m));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn mount(v: &Volume) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    m.insert("mountPath".into(), json!(v.mount_path));
    if let Some(sub) = &v.sub_path {
        m.insert("subPath".into(), json!(sub));
    }
    if v.read_only || v.secret.is_some() {
        m.insert("readOnly".into(), json!(true));
    }
    Value::Object(m)
}

fn probe_value(p: &Probe, w: &Workload) -> Value {
    let mut m = Map::new();
    if let Some(http) = &p.http {
        m.insert(
            "httpGet".into(),
            json!({ "path": http.path, "port": port_value(http.port.as_ref(), w) }),
        );
    } else if let Some(tcp) = &p.tcp {
        m.insert(
            "tcpSocket".into(),
            json!({ "port": port_value(tcp.port.as_ref(), w) }),
        );
    } else if let Some(command) = &p.exec {
        m.insert("exec".into(), json!({ "command": command }));
    }
    for (key, v) in [
        ("initialDelaySeconds", p.initial_delay_seconds),
        ("periodSeconds", p.period_seconds),
        ("timeoutSeconds", p.timeout_seconds),
        ("failureThreshold", p.failure_threshold),
    ] {
        if let Some(v) = v {
            m.insert(key.into(), json!(v));
        }
    }
    Value::Object(m)
}

/// A probe's port: as written, or the name of the first port.
fn port_value(port: Option<&PortRef>, w: &Workload) -> Value {
    match port {
        Some(PortRef::Number(n)) => json!(n),
        Some(PortRef::Name(name)) => json!(name),
        None => json!(w.ports.first().map(|p| p.name.as_str()).unwrap_or_default()),
    }
}

fn container_security(w: &Workload) -> Option<Value> {
    let s = w.security.as_ref()?;
    let mut sc = Map::new();
    if s.run_as_non_root {
        sc.insert("allowPrivilegeEscalation".into(), json!(false));
        sc.insert("capabilities".into(), json!({ "drop": ["ALL"] }));
    }
    if s.read_only_root_filesystem {
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    (!sc.is_empty()).then_some(Value::Object(sc))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::load::{ComponentSource, Inputs, Origin, SourceFile};

    const ENV: &str = "root_domain: example.test\ncluster: {provider: local}\nstorage: {block_class: standard}\n\
                       secrets: {missing: warn}\n";

    /// Inputs held in memory: `environments/dev.yaml` (`env` text) and `apps/<name>/component.yaml`.
    fn inputs(env: &str, components: &[(&str, &str)]) -> Inputs {
        Inputs {
            root: "repo".into(),
            envs: BTreeMap::from([(
                "dev".to_string(),
                SourceFile::new("environments/dev.yaml".into(), env.to_string()),
            )]),
            components: components
                .iter()
                .map(|(name, text)| ComponentSource {
                    name: name.to_string(),
                    origin: Origin::Apps,
                    dir: format!("apps/{name}").into(),
                    file: SourceFile::new(format!("apps/{name}/component.yaml").into(), text.to_string()),
                    files: BTreeMap::new(),
                    binary: Default::default(),
                })
                .collect(),
            secrets: BTreeMap::new(),
            lock: None,
            sops_policy: None,
            clusters: BTreeMap::new(),
        }
    }

    /// The objects the workload generator renders for component `x`, by `Kind/name`.
    fn render_x(env: &str, components: &[(&str, &str)]) -> Result<BTreeMap<String, Value>, crate::Error> {
        let model = crate::model::resolve(&inputs(env, components), "dev")?;
        let x = model.component("x").expect("component x is enabled");
        let out = render(&model, x)?;
        Ok(out
            .objects
            .into_iter()
            .map(|o| (format!("{}/{}", o.kind(), o.name()), o.value))
            .collect())
    }

    /// Every message of an error, each as `file:line:column: message`.
    fn messages(err: &dyn miette::Diagnostic) -> Vec<String> {
        match err.related() {
            Some(related) => related.flat_map(messages).collect(),
            None => vec![err.to_string()],
        }
    }

    fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
        v.pointer(pointer)
            .unwrap_or_else(|| panic!("no `{pointer}` in {v:#}"))
    }

    #[test]
    fn renders_the_right_objects_and_fields() {
        type Check = fn(&BTreeMap<String, Value>);
        let cases: Vec<(&str, &str, Vec<&str>, Check)> = vec![
            (
                "deployment with a claim: Recreate, claim on the env's block class, Service by name",
                "route: {service: x, port: 80}\nworkload:\n  image: nginx:1.29.3\n  ports: [{name: http, port: 80}]\n  \
                 volumes: [{name: data, mount_path: /data, size: 2Gi}]\n  probes: {readiness: {http: {path: /}}}\n",
                vec!["Deployment/x", "PersistentVolumeClaim/x-data", "Service/x"],
                |o| {
                    let d = &o["Deployment/x"];
                    assert_eq!(at(d, "/spec/strategy/type"), "Recreate");
                    assert_eq!(
                        at(d, "/spec/selector/matchLabels"),
                        &json!({"app.kubernetes.io/name": "x"})
                    );
                    assert_eq!(at(d, "/metadata/labels/app.kubernetes.io~1part-of"), "x");
                    assert_eq!(at(d, "/metadata/namespace"), "x");
                    let pod = at(d, "/spec/template/spec");
                    assert_eq!(at(pod, "/volumes/0/persistentVolumeClaim/claimName"), "x-data");
                    assert_eq!(
                        at(pod, "/containers/0/readinessProbe/httpGet"),
                        &json!({"path": "/", "port": "http"})
                    );
                    assert_eq!(at(pod, "/containers/0/ports/0/containerPort"), 80);
                    let pvc = &o["PersistentVolumeClaim/x-data"];
                    assert_eq!(at(pvc, "/spec/storageClassName"), "standard");
                    assert_eq!(at(pvc, "/spec/accessModes/0"), "ReadWriteOnce");
                    assert_eq!(at(pvc, "/spec/resources/requests/storage"), "2Gi");
                    let svc = &o["Service/x"];
                    assert_eq!(
                        at(svc, "/spec/ports/0"),
                        &json!({"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"})
                    );
                    assert_eq!(at(svc, "/spec/selector"), at(d, "/spec/selector/matchLabels"));
                },
            ),
            (
                "statefulset: volumeClaimTemplates, env from secrets in order, serviceName",
                "secrets: [{name: x-db, keys: [password]}]\nworkload:\n  kind: StatefulSet\n  image: postgres:18.6\n  \
                 replicas: 2\n  ports: [{name: pg, port: 5432}]\n  \
                 env:\n    POSTGRES_PASSWORD: {secret: x-db, key: password}\n    PGDATA: /var/lib/postgresql/18/docker\n    \
                 POD_IP: {field: status.podIP}\n  \
                 volumes: [{name: data, mount_path: /var/lib/postgresql, size: 5Gi, storage_class: fast}]\n  \
                 probes: {liveness: {tcp: {port: 5432}}, readiness: {exec: [pg_isready]}}\n",
                vec!["Service/x", "StatefulSet/x"],
                |o| {
                    let s = &o["StatefulSet/x"];
                    assert_eq!(at(s, "/spec/replicas"), 2);
                    assert_eq!(at(s, "/spec/serviceName"), "x");
                    assert!(s.pointer("/spec/strategy").is_none());
                    assert_eq!(at(s, "/spec/volumeClaimTemplates/0/metadata/name"), "data");
                    assert_eq!(
                        at(s, "/spec/volumeClaimTemplates/0/spec/storageClassName"),
                        "fast"
                    );
                    assert_eq!(
                        at(s, "/spec/volumeClaimTemplates/0/spec/resources/requests/storage"),
                        "5Gi"
                    );
                    let c = at(s, "/spec/template/spec/containers/0");
                    assert!(
                        s.pointer("/spec/template/spec/volumes").is_none(),
                        "claims come from the templates"
                    );
                    assert_eq!(
                        at(c, "/volumeMounts/0"),
                        &json!({"name": "data", "mountPath": "/var/lib/postgresql"})
                    );
                    assert_eq!(
                        at(c, "/env"),
                        &json!([
                            {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "x-db", "key": "password"}}},
                            {"name": "PGDATA", "value": "/var/lib/postgresql/18/docker"},
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        ])
                    );
                    assert_eq!(at(c, "/livenessProbe/tcpSocket/port"), 5432);
                    assert_eq!(at(c, "/readinessProbe/exec/command"), &json!(["pg_isready"]));
                },
            ),
            (
                "worker: no ports, no Service, emptyDir, no Recreate; security hardening",
                "workload:\n  image: ghcr.io/acme/worker:2.0.1\n  part_of: acme\n  args: [work, --fast]\n  \
                 volumes: [{name: tmp, mount_path: /tmp, empty_dir: true}]\n  \
                 resources: {requests: {cpu: 0.5, memory: 128Mi}, limits: {memory: 1Gi}}\n  \
                 security: {run_as_non_root: true, run_as_user: 1000, fs_group: 1000, read_only_root_filesystem: true}\n",
                vec!["Deployment/x"],
                |o| {
                    let d = &o["Deployment/x"];
                    assert!(d.pointer("/spec/strategy").is_none());
                    assert_eq!(at(d, "/metadata/labels/app.kubernetes.io~1part-of"), "acme");
                    let pod = at(d, "/spec/template/spec");
                    assert_eq!(at(pod, "/volumes/0"), &json!({"name": "tmp", "emptyDir": {}}));
                    assert_eq!(at(pod, "/securityContext/runAsNonRoot"), true);
                    assert_eq!(at(pod, "/securityContext/fsGroup"), 1000);
                    assert_eq!(at(pod, "/securityContext/seccompProfile/type"), "RuntimeDefault");
                    assert_eq!(at(pod, "/enableServiceLinks"), false);
                    let c = at(pod, "/containers/0");
                    assert_eq!(at(c, "/args"), &json!(["work", "--fast"]));
                    assert!(c.get("ports").is_none());
                    assert_eq!(at(c, "/resources/requests/cpu"), "0.5");
                    assert_eq!(at(c, "/resources/limits/memory"), "1Gi");
                    assert_eq!(at(c, "/securityContext/capabilities/drop"), &json!(["ALL"]));
                    assert_eq!(at(c, "/securityContext/readOnlyRootFilesystem"), true);
                },
            ),
            (
                "a RWX claim keeps the rolling update; a secret volume is mounted read-only",
                "secrets: [{name: cfg, keys: [a]}]\nworkload:\n  image: busybox:1.37.0\n  replicas: 3\n  \
                 volumes:\n    - {name: shared, mount_path: /shared, size: 1Gi, access_mode: ReadWriteMany}\n    \
                 - {name: cfg, mount_path: /etc/cfg, secret: cfg}\n",
                vec!["Deployment/x", "PersistentVolumeClaim/x-shared"],
                |o| {
                    let d = &o["Deployment/x"];
                    assert!(d.pointer("/spec/strategy").is_none());
                    assert_eq!(at(d, "/spec/template/spec/volumes/1/secret/secretName"), "cfg");
                    assert_eq!(
                        at(d, "/spec/template/spec/containers/0/volumeMounts/1/readOnly"),
                        true
                    );
                    assert_eq!(
                        at(&o["PersistentVolumeClaim/x-shared"], "/spec/accessModes/0"),
                        "ReadWriteMany"
                    );
                },
            ),
        ];
        for (what, text, kinds, check) in cases {
            let objects = render_x(ENV, &[("x", text)]).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            assert_eq!(
                objects.keys().map(String::as_str).collect::<Vec<_>>(),
                kinds,
                "{what}"
            );
            check(&objects);
        }
    }

    #[test]
    fn without_a_block_class_claims_use_the_cluster_default() {
        let env = "root_domain: example.test\ncluster: {provider: local}\n";
        let text = "workload:\n  image: a:1\n  volumes: [{name: d, mount_path: /d, size: 1Gi}]\n";
        let objects = render_x(env, &[("x", text)]).unwrap();
        assert!(
            objects["PersistentVolumeClaim/x-d"]
                .pointer("/spec/storageClassName")
                .is_none()
        );
    }

    #[test]
    fn a_secret_of_another_component_of_the_namespace_may_be_used() {
        let owner = "secrets: [{name: shared-db, keys: [password]}]\n";
        let user =
            "namespace: owner\nworkload:\n  image: a:1\n  env: {P: {secret: shared-db, key: password}}\n";
        render_x(ENV, &[("owner", owner), ("x", user)]).unwrap();
        // The same reference from another namespace is an error.
        let elsewhere = "workload:\n  image: a:1\n  env: {P: {secret: shared-db, key: password}}\n";
        let err = render_x(ENV, &[("owner", owner), ("x", elsewhere)]).unwrap_err();
        assert!(
            messages(&err)[0].contains("no Secret `shared-db` is declared in namespace `x`"),
            "{err}"
        );
    }

    #[test]
    fn bad_workloads_fail_at_the_line_of_the_offending_key() {
        let cases = [
            (
                "workload:\n  image: Nginx:1\n",
                "apps/x/component.yaml:2:10: `Nginx:1` is not a valid image name",
            ),
            (
                "workload:\n  image: a:1\n  env:\n    A: x\n    P: {secret: nope, key: k}\n",
                "apps/x/component.yaml:5:8: no Secret `nope` is declared in namespace `x`",
            ),
            (
                "secrets: [{name: s, keys: [a]}]\nworkload:\n  image: a:1\n  env:\n    P: {secret: s, key: b}\n",
                "apps/x/component.yaml:5:8: Secret `s` has no key `b`",
            ),
            (
                "route: {service: x, port: 8080}\nworkload:\n  image: a:1\n  ports: [{name: http, port: 80}]\n",
                "apps/x/component.yaml:1:27: Service `x` has no port 8080",
            ),
            (
                "route: {service: web, port: 80}\nworkload:\n  image: a:1\n  ports: [{name: http, port: 80}]\n",
                "apps/x/component.yaml:1:18: no Service `web` in this component",
            ),
            (
                "workload:\n  image: a:1\n  ports: [{name: http, port: 80}]\n  probes:\n    liveness: {tcp: {port: web}}\n",
                "apps/x/component.yaml:5:28: no port named `web`",
            ),
            (
                "workload:\n  image: a:1\n  volumes:\n    - {name: d, mount_path: /d, size: 1Gi, empty_dir: true}\n",
                "apps/x/component.yaml:4:7: volume `d` needs exactly one of",
            ),
            (
                "workload:\n  image: a:1\n  replicas: 2\n  volumes:\n    - {name: d, mount_path: /d, size: 1Gi}\n",
                "apps/x/component.yaml:3:13: 2 replicas of a Deployment cannot share",
            ),
            (
                "workload:\n  image: a:1\n  volumes:\n    - {name: d, mount_path: d, size: ten}\n",
                "apps/x/component.yaml:4:29: `d` is not an absolute path",
            ),
            (
                "workload:\n  image: a:1\n  probes:\n    readiness: {http: {path: /}, tcp: {}}\n",
                "apps/x/component.yaml:4:16: the readiness probe needs exactly one of",
            ),
        ];
        for (text, expected) in cases {
            let err = render_x(ENV, &[("x", text)]).expect_err(text);
            let all = messages(&err);
            assert!(
                all.iter().any(|m| m.starts_with(expected)),
                "{text:?}\nexpected {expected:?}\ngot {all:#?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "workload:\n  image: A\n  ports: [{name: HTTP, port: 80}]\n  \
                    volumes: [{name: d, mount_path: /d, size: 10GB}]\n";
        let err = render_x(ENV, &[("x", text)]).unwrap_err();
        let all = messages(&err);
        assert_eq!(all.len(), 3, "{all:#?}");
        assert!(
            all[0].contains("not a valid image name")
                && all[1].contains("port name")
                && all[2].contains("storage size")
        );
    }
}
