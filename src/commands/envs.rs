//! `hydrate envs`: the environments and, for each, its enabled components.

use camino::Utf8Path;

use crate::error::Error;
use crate::model::Component;
use crate::{Outcome, model};

pub fn run(root: &Utf8Path) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let mut text = String::new();
    for env in inputs.env_names() {
        let model = model::resolve(&inputs, &env)?;
        let spec = &model.env.spec;
        let provider = serde_json::to_value(spec.cluster.provider).expect("an enum serializes");
        let region = spec
            .cluster
            .region
            .as_deref()
            .map(|r| format!(", {r}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "{env}  {}  ({}{region})\n",
            spec.root_domain,
            provider.as_str().unwrap_or("")
        ));
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
    }
    super::print_out(&text);
    Ok(Outcome::Clean)
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
