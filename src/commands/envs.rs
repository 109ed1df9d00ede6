//! `hydrate envs`: the environments and, for each, its enabled components.

use std::io::Write;

use camino::Utf8Path;

use crate::error::Error;
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
        for c in &model.components {
            let what = match &c.chart {
                Some(chart) => format!("chart {} {}", chart.name, chart.version),
                None => match c.spec.generator {
                    Some(g) => format!(
                        "generator {}",
                        serde_json::to_value(g)
                            .expect("an enum serializes")
                            .as_str()
                            .unwrap_or("")
                    ),
                    None => "manifests".to_string(),
                },
            };
            text.push_str(&format!(
                "  {:<14} {:<20} {:<16} {what}{}\n",
                c.layer.as_str(),
                c.name,
                c.namespace,
                if c.hosts.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", c.hosts.join(", "))
                }
            ));
        }
    }
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(Outcome::Clean)
}
