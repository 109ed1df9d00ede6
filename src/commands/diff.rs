//! `hydrate diff`: renders environments in memory and compares them with `out/<env>` as committed
//! at `HEAD` (or `--base REF`, or on disk with `--worktree`: the same default as `hydrate
//! check`), object by object; prints the report.

use camino::Utf8Path;

use crate::cli::{DiffArgs, DiffFormat};
use crate::diff::{self, MARKDOWN_CAP};
use crate::error::Error;
use crate::{Outcome, compile};

/// The revision `hydrate diff` compares with unless `--base` or `--worktree` is given.
pub const DEFAULT_BASE: &str = crate::diff::check::CHECK_REV;

/// Exit 0 when nothing differs, 1 when something does.
pub fn run(root: &Utf8Path, args: &DiffArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let known = inputs.env_names();
    let envs = super::select_envs(&inputs, &args.envs, args.all)?;
    let base = if args.worktree {
        None
    } else {
        Some(args.base.as_deref().unwrap_or(DEFAULT_BASE))
    };
    let request = diff::Request {
        envs: &envs,
        orphans: args.all,
        base,
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
