//! `hydrate envs`: the environments and, for each, its enabled components, as a table or JSON.
//! Every environment is resolved; a problem names the environments it belongs to.

use camino::Utf8Path;

use crate::cli::{EnvsArgs, Format};
use crate::error::Error;
use crate::model::{Component, Model};
use crate::{Outcome, model};

pub fn run(root: &Utf8Path, args: &EnvsArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let names = inputs.env_names();
    let mut models = Vec::new();
    let mut errors = Vec::new();
    for env in &names {
        match model::resolve(&inputs, env) {
            Ok(m) => models.push(m),
            Err(e) => errors.push((env, Error::from(e))),
        }
    }
    if !errors.is_empty() {
        // Even with one error, say which environment it is in when there are several.
        return Err(super::in_envs(names.len(), errors));
    }
    let text = match args.format {
        Format::Text => models.iter().map(text).collect::<String>(),
        Format::Json => json(&models),
    };
    super::print_out(&text);
    Ok(Outcome::Clean)
}

/// One environment: a header line, then one aligned row per component.
fn text(model: &Model) -> String {
    let spec = &model.env.spec;
    let region = spec
        .cluster
        .region
        .as_deref()
        .map(|r| format!(", {r}"))
        .unwrap_or_default();
    let mut text = format!(
        "{}  {}  ({}{region})\n",
        model.env.name,
        spec.root_domain,
        provider(model)
    );
    let rows: Vec<[String; 5]> = model
        .components
        .iter()
        .map(|c| {
            [
                c.layer.as_str().to_string(),
                c.name.clone(),
                c.namespace.clone(),
                what(c),
                if c.hosts.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", c.hosts.join(", "))
                },
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    for r in &rows {
        let line = format!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `{"environments": [{"env", "root_domain", "provider", "region", "components": [{"name",
/// "layer", "namespace", "renders", "hosts"}]}]}`.
fn json(models: &[Model]) -> String {
    let envs: Vec<serde_json::Value> = models
        .iter()
        .map(|m| {
            let components: Vec<serde_json::Value> = m
                .components
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "name": c.name,
                        "layer": c.layer.as_str(),
                        "namespace": c.namespace,
                        "renders": what(c),
                        "hosts": c.hosts,
                    })
                })
                .collect();
            serde_json::json!({
                "env": m.env.name,
                "root_domain": m.env.spec.root_domain,
                "provider": provider(m),
                "region": m.env.spec.cluster.region,
                "components": components,
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "environments": envs }))
        .expect("JSON values serialize");
    text.push('\n');
    text
}

fn provider(model: &Model) -> String {
    let provider = serde_json::to_value(model.env.spec.cluster.provider).expect("an enum serializes");
    provider.as_str().unwrap_or("").to_string()
}

/// What renders the component: its chart, its generator, its workload, or plain manifests.
fn what(c: &Component) -> String {
    if let Some(chart) = &c.chart {
        return format!("chart {} {}", chart.name, chart.version);
    }
    if let Some(g) = c.spec.generator {
        let name = serde_json::to_value(g).expect("an enum serializes");
        return format!("generator {}", name.as_str().unwrap_or(""));
    }
    if let Some(w) = &c.spec.workload {
        return format!("workload {}", w.image);
    }
    if c.files.keys().any(|p| p.file_name() == Some("main.jsonnet")) {
        return "jsonnet".to_string();
    }
    "manifests".to_string()
}
