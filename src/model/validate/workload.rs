//! Input validation of a component's `workload`: every problem at once, each at the YAML path
//! of the offending key in the component file. Runs in the model stage (after every component of
//! the environment is resolved, since secrets and routes may involve other components); the
//! workload generator renders only what passed.
//!
//! Pure: no disk.

use std::collections::BTreeSet;

use super::{Problem, Problems};
use crate::model::workload::{EnvValue, PortRef, Workload, WorkloadKind};
use crate::model::{Component, Model, SecretDecl};
use crate::span::YamlPath;

/// Every problem of the component's workload (none when it has no workload), each at its YAML
/// path in the component file.
pub fn check(model: &Model, component: &Component) -> Vec<Problem> {
    let Some(w) = &component.spec.workload else {
        return Vec::new();
    };
    let mut problems = Problems::default();
    let add = &mut problems;

    if let Some((message, help)) = crate::image::reference_problem(&w.image) {
        add.add("workload.image", message, help);
    }
    if let Some(part_of) = &w.part_of
        && !is_label_value(part_of)
    {
        add.add(
            "workload.part_of",
            format!("`{part_of}` is not a valid label value"),
            "use at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    check_ports(w, add);
    check_env(model, component, w, add);
    check_volumes(model, component, w, add);
    check_probes(w, add);
    check_resources(w, add);
    check_security(w, add);
    if w.service == Some(true) && w.ports.is_empty() {
        add.add(
            "workload.service",
            "a Service needs at least one port".into(),
            "add `ports: [{name: http, port: 8080}]`, or remove `service: true`".into(),
        );
    }
    if w.kind == WorkloadKind::Deployment && w.replicas > 1 && w.needs_recreate() {
        add.add(
            "workload.replicas",
            format!(
                "{} replicas of a Deployment cannot share a `ReadWriteOnce` volume",
                w.replicas
            ),
            "use `kind: StatefulSet` (one claim per replica), `access_mode: ReadWriteMany`, or `replicas: 1`"
                .into(),
        );
    }
    check_route(component, w, add);

    problems.0
}

fn check_ports(w: &Workload, add: &mut Problems) {
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, p) in w.ports.iter().enumerate() {
        if !is_port_name(&p.name) {
            add.add(
                YamlPath::parse(&format!("workload.ports[{i}].name")),
                format!("`{}` is not a valid port name", p.name),
                "use at most 15 lowercase letters, digits and `-`, with at least one letter (`http`, `redis`)"
                    .into(),
            );
        } else if !names.insert(p.name.as_str()) {
            add.add(
                YamlPath::parse(&format!("workload.ports[{i}].name")),
                format!("port name `{}` is used twice", p.name),
                "give every port its own name".into(),
            );
        }
        if p.port == 0 {
            add.add(
                YamlPath::parse(&format!("workload.ports[{i}].port")),
                "port 0 is not a port".into(),
                "use a number from 1 to 65535".into(),
            );
        } else if !numbers.insert((p.port, p.protocol.as_str())) {
            add.add(
                YamlPath::parse(&format!("workload.ports[{i}].port")),
                format!("port {} is listed twice", p.port),
                "list every port once".into(),
            );
        }
    }
}

/// An IANA service name, as Kubernetes wants for port names.
fn is_port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && value.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && value.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric())
}

fn check_env(model: &Model, component: &Component, w: &Workload, add: &mut Problems) {
    for (name, value) in &w.env {
        let path = YamlPath::parse("workload.env").key(name.clone());
        let valid_name = name.bytes().next().is_some_and(|b| !b.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !valid_name {
            add.add(
                path.clone(),
                format!("`{name}` is not a valid environment variable name"),
                "use letters, digits, `_`, `-` and `.`, not starting with a digit".into(),
            );
        }
        if let EnvValue::Secret { secret, key } = value
            && let Some((message, help)) = secret_problem(model, component, secret, Some(key))
        {
            add.add(path, message, help);
        }
    }
}

/// Secrets declared by the enabled components of `component`'s namespace.
fn namespace_secrets<'a>(model: &'a Model, component: &'a Component) -> Vec<&'a SecretDecl> {
    model
        .components
        .iter()
        .filter(|c| c.namespace == component.namespace)
        .flat_map(|c| c.spec.secrets.iter())
        .collect()
}

/// Why a reference to Secret `name` (and `key`) is wrong: the Secret must be declared under
/// `secrets:` by a component of the same namespace, with that key.
fn secret_problem(
    model: &Model,
    component: &Component,
    name: &str,
    key: Option<&str>,
) -> Option<(String, String)> {
    let declared = namespace_secrets(model, component);
    let Some(decl) = declared.iter().find(|d| d.name == name) else {
        let known: Vec<String> = declared.iter().map(|d| format!("`{}`", d.name)).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Some((
            format!(
                "no Secret `{name}` is declared in namespace `{}`",
                component.namespace
            ),
            format!(
                "declare it under `secrets:` (`- {{name: {name}, keys: [...]}}`) so hydrate copies \
                 `secrets/<env>/{}/{name}.sops.yaml`; declared: {known}",
                component.name
            ),
        ));
    };
    let key = key?;
    if decl.keys.iter().any(|k| k == key) {
        return None;
    }
    Some((
        format!("Secret `{name}` has no key `{key}`"),
        format!(
            "its declared keys are {}; add `{key}` to its `keys` or use one of them",
            decl.keys
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

fn check_volumes(model: &Model, component: &Component, w: &Workload, add: &mut Problems) {
    let mut names = BTreeSet::new();
    let mut paths = BTreeSet::new();
    for (i, v) in w.volumes.iter().enumerate() {
        let at = |key: &str| YamlPath::parse("workload.volumes").index(i).key(key);
        if !crate::model::is_dns_label(&v.name) {
            add.add(
                at("name"),
                format!("`{}` is not a valid volume name", v.name),
                "use lowercase letters, digits and `-` (a DNS label)".into(),
            );
        } else if !names.insert(v.name.as_str()) {
            add.add(
                at("name"),
                format!("volume `{}` is listed twice", v.name),
                "rename one".into(),
            );
        } else if v.size.is_some()
            && w.kind == WorkloadKind::Deployment
            && Workload::claim_name(&component.name, &v.name).len() > 63
        {
            add.add(
                at("name"),
                format!(
                    "claim name `{}` is longer than 63",
                    Workload::claim_name(&component.name, &v.name)
                ),
                "use a shorter volume name".into(),
            );
        }
        if !v.mount_path.starts_with('/') {
            add.add(
                at("mount_path"),
                format!("`{}` is not an absolute path", v.mount_path),
                "write the path inside the container, starting with `/`".into(),
            );
        } else if !paths.insert((v.mount_path.trim_end_matches('/'), v.sub_path.as_deref())) {
            add.add(
                at("mount_path"),
                format!("two volumes are mounted at `{}`", v.mount_path),
                "mount every volume at its own path".into(),
            );
        }
        let sources =
            usize::from(v.size.is_some()) + usize::from(v.empty_dir) + usize::from(v.secret.is_some());
        if sources != 1 {
            add.add(
                YamlPath::parse(&format!("workload.volumes[{i}]")),
                format!(
                    "volume `{}` needs exactly one of `size`, `empty_dir: true`, `secret`",
                    v.name
                ),
                "`size: 10Gi` makes a PersistentVolumeClaim, `empty_dir: true` a scratch directory, \
                 `secret: NAME` mounts a declared Secret"
                    .into(),
            );
        }
        if v.size.is_none() && (v.storage_class.is_some() || v.access_mode.is_some()) {
            let key = if v.storage_class.is_some() {
                "storage_class"
            } else {
                "access_mode"
            };
            add.add(
                at(key),
                format!("`{key}` applies to a claim only"),
                "add `size` to make the volume a PersistentVolumeClaim, or remove it".into(),
            );
        }
        if let Some(size) = &v.size
            && !is_quantity(size.as_str())
        {
            add.add(
                at("size"),
                format!("`{}` is not a storage size", size.as_str()),
                "write a quantity such as `10Gi` or `500Mi`".into(),
            );
        }
        if let Some(class) = &v.storage_class
            && !is_dns_subdomain(class)
        {
            add.add(
                at("storage_class"),
                format!("`{class}` is not a StorageClass name"),
                "use a lowercase DNS name such as `do-block-storage`".into(),
            );
        }
        if let Some(secret) = &v.secret
            && let Some((message, help)) = secret_problem(model, component, secret, None)
        {
            add.add(at("secret"), message, help);
        }
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(crate::model::is_dns_label)
}

/// A Kubernetes quantity: a decimal number and an optional suffix (`Ki`…`Ei`, `m`, `k`…`E`, `e3`).
pub fn is_quantity(text: &str) -> bool {
    let text = text.strip_prefix('+').unwrap_or(text);
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit())
        && !number.ends_with('.');
    let suffix_ok = matches!(
        suffix,
        "" | "m" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
    ) || suffix.strip_prefix(['e', 'E']).is_some_and(|exp| {
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
    });
    number_ok && suffix_ok
}

fn check_probes(w: &Workload, add: &mut Problems) {
    for (kind, probe) in [
        ("readiness", &w.probes.readiness),
        ("liveness", &w.probes.liveness),
        ("startup", &w.probes.startup),
    ] {
        let Some(p) = probe else { continue };
        let path = YamlPath::parse("workload.probes").key(kind);
        let handlers =
            usize::from(p.http.is_some()) + usize::from(p.tcp.is_some()) + usize::from(p.exec.is_some());
        if handlers != 1 {
            add.add(
                path.clone(),
                format!("the {kind} probe needs exactly one of `http`, `tcp`, `exec`"),
                "e.g. `{http: {path: /healthz}}`, `{tcp: {port: http}}` or `{exec: [cmd, arg]}`".into(),
            );
            continue;
        }
        let port = match (&p.http, &p.tcp) {
            (Some(h), _) => {
                if !h.path.starts_with('/') {
                    add.add(
                        path.key("http").key("path"),
                        format!("`{}` is not an absolute URL path", h.path),
                        "start it with `/`".into(),
                    );
                }
                Some((path.key("http"), h.port.as_ref()))
            }
            (None, Some(t)) => Some((path.key("tcp"), t.port.as_ref())),
            _ => None,
        };
        if let Some((at, port)) = port {
            match port {
                None if w.ports.is_empty() => add.add(
                    at,
                    format!("the {kind} probe has no port and the workload has no `ports`"),
                    "give the probe a `port`, or declare the container's `ports`".into(),
                ),
                Some(PortRef::Name(name)) if !w.ports.iter().any(|p| &p.name == name) => add.add(
                    at.key("port"),
                    format!("no port named `{name}`"),
                    format!("known ports: {}", port_list(w)),
                ),
                _ => {}
            }
        }
        if p.exec.as_ref().is_some_and(Vec::is_empty) {
            add.add(
                path.key("exec"),
                "an `exec` probe needs a command".into(),
                "e.g. `exec: [pg_isready, -U, postgres]`".into(),
            );
        }
    }
}

fn port_list(w: &Workload) -> String {
    if w.ports.is_empty() {
        return "none".into();
    }
    w.ports
        .iter()
        .map(|p| format!("`{}` ({})", p.name, p.port))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_resources(w: &Workload, add: &mut Problems) {
    let Some(r) = &w.resources else { return };
    for (key, list) in [("requests", &r.requests), ("limits", &r.limits)] {
        let Some(list) = list else { continue };
        for (name, q) in [("cpu", &list.cpu), ("memory", &list.memory)] {
            if let Some(q) = q
                && !is_quantity(q.as_str())
            {
                add.add(
                    YamlPath::parse("workload.resources").key(key).key(name),
                    format!("`{}` is not a quantity", q.as_str()),
                    "write e.g. `250m` or `1` for cpu, `256Mi` or `1Gi` for memory".into(),
                );
            }
        }
    }
}

fn check_security(w: &Workload, add: &mut Problems) {
    let Some(s) = &w.security else { return };
    if s.run_as_non_root && s.run_as_user == Some(0) {
        add.add(
            "workload.security.run_as_user",
            "`run_as_user: 0` is root, but `run_as_non_root` is set".into(),
            "use the image's non-root uid (e.g. `1000`) or drop `run_as_non_root`".into(),
        );
    }
}

/// The component's `route` must reach the workload's Service: named after the component, on one
/// of its ports.
fn check_route(component: &Component, w: &Workload, add: &mut Problems) {
    let Some(route) = &component.spec.route else {
        return;
    };
    if route.service == component.name {
        if !w.has_service() {
            add.add(
                "route.service",
                format!(
                    "`route.service` is `{}`, but the workload has no Service",
                    route.service
                ),
                "give the workload `ports` (its Service is named after the component)".into(),
            );
        } else if !w.ports.iter().any(|p| p.port == route.port) {
            add.add(
                "route.port",
                format!("Service `{}` has no port {}", route.service, route.port),
                format!("its ports: {}", port_list(w)),
            );
        }
    } else if component.chart.is_none() && component.spec.manifests.is_empty() {
        add.add(
            "route.service",
            format!("no Service `{}` in this component", route.service),
            format!(
                "the workload's Service is named after the component: write `service: {}`",
                component.name
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        for ok in ["10Gi", "500Mi", "250m", "1", "0.5", "1e3", "+2k"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "Gi", "10GB", "1.", "1..2", "ten", "10 Gi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn port_names() {
        assert!(is_port_name("http"));
        assert!(is_port_name("http-metrics"));
        assert!(!is_port_name("8080"));
        assert!(!is_port_name("Http"));
        assert!(!is_port_name("a-very-long-port-name"));
    }
}
