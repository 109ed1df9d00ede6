//! `hydrate diff`: renders environments in memory and compares them with `out/<env>` (on disk,
//! or as committed at `--base`), object by object; prints the report.

use camino::Utf8Path;

use crate::cli::{DiffArgs, DiffFormat};
use crate::diff::{self, MARKDOWN_CAP};
use crate::error::Error;
use crate::{Outcome, compile};

/// Exit 0 when nothing differs, 1 when something does.
pub fn run(root: &Utf8Path, args: &DiffArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let known = inputs.env_names();
    let envs = super::select_envs(&inputs, &args.envs, args.all)?;
    let request = diff::Request {
        envs: &envs,
        orphans: args.all,
        base: args.base.as_deref(),
    };
    let reports = diff::run(root, &request, &known, |env| {
        Ok::<_, Error>(compile(&inputs, env)?.tree)
    })?;
    let text = match args.format {
        DiffFormat::Text => reports
            .iter()
            .map(|(env, r)| diff::format_text(r, env))
            .collect::<Vec<_>>()
            .join("\n"),
        DiffFormat::Markdown => diff::format_markdown(&reports, MARKDOWN_CAP),
        DiffFormat::Json => diff::format_json(&reports),
    };
    super::print_out(&text);
    Ok(if reports.iter().any(|(_, r)| !r.is_empty()) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
