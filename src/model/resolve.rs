//! Resolves the inputs of one environment into a [`Model`]:
//!
//! 1. parse the environment file and interpolate it (`${env}`, `${root_domain}`);
//! 2. parse every component file (all of them, so a typo fails every build);
//! 3. keep the components enabled in this environment;
//! 4. interpolate each with its own variables, merge its values and its chart version override;
//! 5. check names, hosts, dependencies (known, enabled, no cycle, not in a later layer);
//! 6. validate what needs the whole environment ([`super::validate`]: workloads, backups),
//!    reporting every problem at once.

use crate::span::YamlPath;
use std::collections::{BTreeMap, BTreeSet};

use camino::Utf8PathBuf;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::interpolate::{InterpolateError, Vars, interpolate_value};
use super::merge::deep_merge;
use super::{Component, Env, Model, ResolvedChart, ValueSource};
use crate::error::{InputError, Location, ResolveError};
use crate::load::{ComponentSource, Inputs, Origin, SourceFile, yaml};
use crate::model::input::{ComponentFile, EnvFile, Layer};

/// Resolves environment `env_name` of `inputs`.
pub fn resolve(inputs: &Inputs, env_name: &str) -> Result<Model, ResolveError> {
    let env = resolve_env(inputs, env_name)?;
    let known_envs = inputs.env_names();
    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    for source in &inputs.components {
        match parse_component(source, &known_envs) {
            Ok(spec) => parsed.push((source, spec)),
            Err(e) => errors.push(e),
        }
    }
    if let Some(err) = ResolveError::collect(std::mem::take(&mut errors)) {
        return Err(err);
    }
    check_unique_names(&parsed)?;
    check_env_overrides(&env, &parsed)?;

    let mut components = Vec::new();
    for (source, spec) in &parsed {
        if !enabled(&env, source, spec) {
            continue;
        }
        match resolve_component(&env, source, spec) {
            Ok(c) => components.push(c),
            Err(e) => errors.push(e),
        }
    }
    if let Some(err) = ResolveError::collect(errors) {
        return Err(err);
    }
    components.sort_by(|a, b| (a.layer, &a.name).cmp(&(b.layer, &b.name)));
    let all: BTreeSet<&str> = parsed.iter().map(|(s, _)| s.name.as_str()).collect();
    check_dependencies(&components, &all)?;

    let prefix = Utf8PathBuf::from(format!("secrets/{env_name}"));
    let secrets = inputs
        .secrets
        .iter()
        .filter(|(path, _)| path.starts_with(&prefix))
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let lock = match &inputs.lock {
        Some(file) => crate::lock::parse_lock(&file.text)?,
        None => crate::lock::Lock::default(),
    };
    let by_name = components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect();
    let model = Model {
        root: inputs.root.clone(),
        env,
        components,
        by_name,
        secrets,
        lock,
        sops_policy: inputs.sops_policy.clone(),
        clusters: inputs
            .clusters
            .iter()
            .filter(|(path, _)| path.starts_with(Utf8PathBuf::from(format!("clusters/{env_name}"))))
            .map(|(p, t)| (p.clone(), t.clone()))
            .collect(),
    };
    validate(&model)?;
    Ok(model)
}

/// Every problem of the environment's backup settings and of every workload, at once.
fn validate(model: &Model) -> Result<(), ResolveError> {
    let has_velero = model
        .components
        .iter()
        .any(|c| c.spec.generator == Some(super::Generator::Velero));
    let mut errors: Vec<ResolveError> = Vec::new();
    let mut report = |file: &SourceFile, problems: Vec<super::validate::Problem>| {
        for p in problems {
            errors.push(
                InputError::new(file.locate(&p.path), Some(&file.text), p.message)
                    .with_help(p.help)
                    .into(),
            );
        }
    };
    report(
        &model.env.file,
        super::validate::backup::check(&model.env, has_velero).0,
    );
    for component in &model.components {
        report(
            &component.file,
            super::validate::workload::check(model, component),
        );
    }
    match ResolveError::collect(errors) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

fn resolve_env(inputs: &Inputs, name: &str) -> Result<Env, ResolveError> {
    let file = inputs.env(name)?.clone();
    let spec: EnvFile = yaml::parse(&file.path, &file.text)?;
    check_dns_name(&spec.root_domain, &file, "root_domain")?;
    let prefix = &spec.flux.prefix;
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 40
            && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    if !prefix_ok {
        return Err(InputError::new(
            file.locate("flux.prefix"),
            Some(&file.text),
            format!("`{prefix}` cannot start a Kubernetes name"),
        )
        .with_help("use lowercase letters, digits and `-` (at most 40), e.g. `staging-`")
        .into());
    }
    let vars = Vars::from([
        ("env", name.to_string()),
        ("root_domain", spec.root_domain.clone()),
    ]);
    // Component overrides are interpolated later, with the component's own variables.
    let mut spec = spec;
    let overrides = std::mem::take(&mut spec.components);
    let mut spec: EnvFile = interpolate_typed(&spec, &vars, &file)?;
    spec.components = overrides;
    Ok(Env {
        name: name.to_string(),
        file,
        spec,
    })
}

fn parse_component(source: &ComponentSource, envs: &[String]) -> Result<ComponentFile, ResolveError> {
    check_label(&source.name, &source.file, "").map_err(|e| {
        e.with_help(
            "component folder names must be DNS labels: lowercase letters, digits and `-`, at most 63",
        )
    })?;
    let has_content = source
        .file
        .text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
    if !has_content {
        return Err(InputError::new(
            Location::file(source.file.path.clone()),
            None,
            "the component file is empty",
        )
        .with_help(
            "describe the component (`chart`, `manifests`, `workload`, `generator`…), or remove its folder",
        )
        .into());
    }
    let spec: ComponentFile = yaml::parse(&source.file.path, &source.file.text)?;
    if let Some(route) = &spec.route
        && route.port == 0
    {
        let at = source.file.locate("route.port");
        return Err(InputError::new(at, Some(&source.file.text), "`route.port` is 0")
            .with_help("give the Service port the hosts are routed to (1-65535)")
            .into());
    }
    for env in spec.envs.keys() {
        if !envs.contains(env) {
            let at = source.file.locate_key(YamlPath::parse("envs").key(env.clone()));
            return Err(InputError::new(
                at,
                Some(&source.file.text),
                format!("unknown environment `{env}`"),
            )
            .with_help(suggest(env, envs.iter().map(String::as_str), "environments"))
            .into());
        }
    }
    Ok(spec)
}

fn check_unique_names(parsed: &[(&ComponentSource, ComponentFile)]) -> Result<(), ResolveError> {
    let mut seen: BTreeMap<&str, &ComponentSource> = BTreeMap::new();
    for (source, _) in parsed {
        if let Some(first) = seen.insert(&source.name, source) {
            let at = Location::file(source.file.path.clone());
            return Err(InputError::new(
                at,
                None,
                format!("component `{}` also exists as `{}`", source.name, first.dir),
            )
            .with_help("component names are unique across platform/ and apps/: rename one folder")
            .into());
        }
    }
    Ok(())
}

fn check_env_overrides(env: &Env, parsed: &[(&ComponentSource, ComponentFile)]) -> Result<(), ResolveError> {
    let names: Vec<&str> = parsed.iter().map(|(s, _)| s.name.as_str()).collect();
    for name in env.spec.components.keys() {
        if !names.contains(&name.as_str()) {
            // The name is what is wrong: point at the key, not at the block under it.
            let at = env
                .file
                .locate_key(YamlPath::parse("components").key(name.clone()));
            return Err(
                InputError::new(at, Some(&env.file.text), format!("no component `{name}`"))
                    .with_help(suggest(name, names.iter().copied(), "components"))
                    .into(),
            );
        }
    }
    Ok(())
}

/// Enabled unless `envs.<env>.enabled` or the environment's `components.<name>.enabled` says no;
/// the environment file has the last word. A generator's feature switch (`features.cert_manager`…)
/// is authoritative: off, its component is disabled whatever `enabled` says.
fn enabled(env: &Env, source: &ComponentSource, spec: &ComponentFile) -> bool {
    if let Some(generator) = spec.generator
        && !generator.feature_enabled(&env.spec.features)
    {
        return false;
    }
    let from_env = env.spec.components.get(&source.name).and_then(|o| o.enabled);
    let from_component = spec.envs.get(&env.name).and_then(|o| o.enabled);
    from_env.or(from_component).unwrap_or(true)
}

fn resolve_component(
    env: &Env,
    source: &ComponentSource,
    spec: &ComponentFile,
) -> Result<Component, ResolveError> {
    let file = &source.file;
    let base_vars = Vars::from([
        ("env", env.name.clone()),
        ("root_domain", env.spec.root_domain.clone()),
        ("component", source.name.clone()),
    ]);
    let namespace = match &spec.namespace {
        Some(ns) => super::interpolate::interpolate_str(ns, &base_vars).map_err(|(message, help)| {
            InputError::new(file.locate("namespace"), Some(&file.text), message).with_help(help)
        })?,
        None => source.name.clone(),
    };
    check_label(&namespace, file, "namespace")?;
    let mut vars = base_vars;
    vars.insert("namespace", namespace.clone());
    let spec: ComponentFile = interpolate_typed(spec, &vars, file)?;

    let env_override = env.spec.components.get(&source.name);
    let mut values = spec
        .values
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let mut value_sources = vec![ValueSource {
        file: file.path.clone(),
        prefix: "values".into(),
    }];
    if let Some(own) = spec.envs.get(&env.name).and_then(|o| o.values.as_ref()) {
        deep_merge(&mut values, own);
        value_sources.push(ValueSource {
            file: file.path.clone(),
            prefix: YamlPath::parse("envs").key(env.name.clone()).key("values"),
        });
    }
    if let Some(over) = env_override.and_then(|o| o.values.as_ref()) {
        let prefix = YamlPath::parse("components")
            .key(source.name.clone())
            .key("values");
        let mut over = over.clone();
        interpolate_value(&mut over, &vars, &prefix).map_err(|e| interpolation_error(e, &env.file))?;
        deep_merge(&mut values, &over);
        value_sources.push(ValueSource {
            file: env.file.path.clone(),
            prefix,
        });
    }
    if !values.is_object() {
        let at = file.locate("values");
        return Err(InputError::new(at, Some(&file.text), "`values` must be a mapping").into());
    }

    let chart = spec
        .chart
        .as_ref()
        .map(|chart| resolve_chart(env, source, &spec, chart))
        .transpose()?;

    for (i, host) in spec.hosts.iter().enumerate() {
        check_dns_name(host, file, &format!("hosts[{i}]"))?;
    }
    let layer = spec.layer.unwrap_or(match source.origin {
        Origin::Platform => Layer::Infra,
        Origin::Apps => Layer::Apps,
    });
    Ok(Component {
        name: source.name.clone(),
        origin: source.origin,
        dir: source.dir.clone(),
        file: file.clone(),
        files: source.files.clone(),
        binary: source.binary.clone(),
        namespace,
        layer,
        hosts: spec.hosts.clone(),
        chart,
        values,
        value_sources,
        spec,
    })
}

fn resolve_chart(
    env: &Env,
    source: &ComponentSource,
    spec: &ComponentFile,
    chart: &crate::model::input::Chart,
) -> Result<ResolvedChart, ResolveError> {
    let file = &source.file;
    let lower = chart.repo.to_ascii_lowercase();
    if !(lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("oci://")
        || lower.starts_with("file://"))
    {
        let at = file.locate("chart.repo");
        return Err(InputError::new(
            at,
            Some(&file.text),
            format!("chart repository `{}` has no scheme", chart.repo),
        )
        .with_help("write `https://…` for a Helm repository or `oci://…` for an OCI registry")
        .into());
    }
    let mut resolved = ResolvedChart {
        repo: chart.repo.trim_end_matches('/').to_string(),
        name: chart.name.clone(),
        version: chart.version.clone(),
        subcharts: chart.subcharts.clone(),
        version_at: file.locate("chart.version"),
        overridden_in: None,
    };
    if let Some(v) = spec
        .envs
        .get(&env.name)
        .and_then(|o| o.chart.as_ref())
        .and_then(|c| c.version.clone())
    {
        resolved.version = v;
        resolved.version_at = file.locate(
            YamlPath::parse("envs")
                .key(env.name.clone())
                .join(&"chart.version".into()),
        );
        resolved.overridden_in = Some(env.name.clone());
    }
    if let Some(v) = env
        .spec
        .components
        .get(&source.name)
        .and_then(|o| o.chart.as_ref())
        .and_then(|c| c.version.clone())
    {
        resolved.version = v;
        resolved.version_at = env.file.locate(
            YamlPath::parse("components")
                .key(source.name.clone())
                .join(&"chart.version".into()),
        );
        resolved.overridden_in = Some(env.name.clone());
    }
    Ok(resolved)
}

/// Every dependency exists, is enabled here, is not in a later layer, and there is no cycle.
fn check_dependencies(components: &[Component], all: &BTreeSet<&str>) -> Result<(), ResolveError> {
    let by_name: BTreeMap<&str, &Component> = components.iter().map(|c| (c.name.as_str(), c)).collect();
    for c in components {
        for (i, dep) in c.spec.depends_on.iter().enumerate() {
            let at = c.file.locate(YamlPath::parse("depends_on").index(i));
            let Some(target) = by_name.get(dep.as_str()) else {
                let (message, help) = if all.contains(dep.as_str()) {
                    (
                        format!(
                            "`{}` depends on `{dep}`, which is disabled in this environment",
                            c.name
                        ),
                        format!("enable `{dep}` in this environment, or disable `{}` too", c.name),
                    )
                } else {
                    (
                        format!("unknown component `{dep}`"),
                        suggest(dep, all.iter().copied(), "components"),
                    )
                };
                return Err(InputError::new(at, Some(&c.file.text), message)
                    .with_help(help)
                    .into());
            };
            if target.layer > c.layer {
                return Err(InputError::new(
                    at,
                    Some(&c.file.text),
                    format!(
                        "`{}` (layer `{}`) depends on `{dep}` of the later layer `{}`",
                        c.name, c.layer, target.layer
                    ),
                )
                .with_help(
                    "layers apply in order infra → infra-configs → data → metrics → apps; move one of them",
                )
                .into());
            }
        }
    }
    if let Some(cycle) = find_cycle(components) {
        let first = by_name[cycle[0].as_str()];
        return Err(InputError::new(
            first.file.locate("depends_on"),
            Some(&first.file.text),
            format!("dependency cycle: {}", cycle.join(" → ")),
        )
        .with_help("remove one of these `depends_on` entries")
        .into());
    }
    Ok(())
}

/// A dependency cycle, as the names along it (first repeated at the end), if any.
fn find_cycle(components: &[Component]) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, Vec<&str>> = components
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.spec.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    fn visit<'a>(
        node: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for dep in deps.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(dep, deps, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for name in deps.keys() {
        if let Some(cycle) = visit(name, &deps, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

/// Interpolates every string of a typed input through its JSON form, so errors carry the YAML path.
fn interpolate_typed<T: Serialize + DeserializeOwned>(
    value: &T,
    vars: &Vars,
    file: &SourceFile,
) -> Result<T, ResolveError> {
    let mut json = serde_json::to_value(value).expect("input types serialize to JSON");
    interpolate_value(&mut json, vars, &YamlPath::root()).map_err(|e| interpolation_error(e, file))?;
    Ok(serde_json::from_value(json).expect("interpolation keeps the shape of a parsed input"))
}

fn interpolation_error(e: InterpolateError, file: &SourceFile) -> ResolveError {
    // At the `$` of the variable when the string is on one line (see: issue 13, item 7).
    InputError::new(
        file.locate_in_string(&e.path, e.offset),
        Some(&file.text),
        e.message,
    )
    .with_help(e.help)
    .into()
}

/// A DNS-1123 label (namespaces, component names).
fn check_label(name: &str, file: &SourceFile, path: &str) -> Result<(), InputError> {
    if super::is_dns_label(name) {
        return Ok(());
    }
    let at = if path.is_empty() {
        Location::file(file.path.clone())
    } else {
        file.locate(path)
    };
    Err(
        InputError::new(at, Some(&file.text), format!("`{name}` is not a valid DNS label")).with_help(
            "use lowercase letters, digits and `-`, starting and ending with a letter or digit, at most 63",
        ),
    )
}

/// A lowercase DNS name made of labels (a host or the root domain).
fn check_dns_name(name: &str, file: &SourceFile, path: &str) -> Result<(), InputError> {
    if name.len() <= 253 && name.split('.').all(super::is_dns_label) {
        return Ok(());
    }
    Err(InputError::new(
        file.locate(path),
        Some(&file.text),
        format!("`{name}` is not a valid DNS name"),
    )
    .with_help("write a lowercase fully qualified name such as `n8n.${root_domain}`"))
}

/// "did you mean `x`?" plus the known names.
fn suggest<'a>(name: &str, known: impl Iterator<Item = &'a str>, what: &str) -> String {
    let known: Vec<&str> = known.collect();
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let list = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match best {
        Some((_, k)) => format!("did you mean `{k}`? known {what}: {list}"),
        None => format!("known {what}: {list}"),
    }
}
