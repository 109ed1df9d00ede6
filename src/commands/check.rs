//! `hydrate check`, the CI gate: renders every environment in memory and compares it with the
//! committed `out/<env>` (at `HEAD`, or on disk with `--worktree`); prints what is stale and the
//! fix (build, or just commit when `out/` on disk is already fresh).

use camino::Utf8Path;

use crate::cli::{CheckArgs, Format};
use crate::diff::check;
use crate::error::Error;
use crate::{Outcome, compile};

/// Exit 0 when every `out/<env>` is fresh, 1 when anything is stale, missing or extra.
pub fn run(root: &Utf8Path, args: &CheckArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let known = inputs.env_names();
    let all = args.all || args.envs.is_empty();
    let envs = super::select_envs(&inputs, &args.envs, all)?;
    let result = check::run(root, &envs, all, args.worktree, &known, |env| {
        Ok::<_, Error>(compile(&inputs, env)?.tree)
    })?;
    let text = match args.format {
        Format::Text => result.render(),
        Format::Json => json(&result),
    };
    super::print_out(&text);
    Ok(if result.is_clean() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// `{"clean", "against", "environments": [{"env", "clean", "uncommitted", "stale", "missing",
/// "extra"}], "orphans", "fix"}`; paths relative to `out/<env>`.
fn json(result: &check::CheckResult) -> String {
    let envs: Vec<serde_json::Value> = result
        .reports
        .iter()
        .map(|(env, r)| {
            serde_json::json!({
                "env": env,
                "clean": r.is_clean(),
                "uncommitted": result.uncommitted.contains(env),
                "stale": r.stale,
                "missing": r.missing,
                "extra": r.extra,
            })
        })
        .collect();
    let text = result.render();
    let fix: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("fix: ") || l.starts_with("and: "))
        .map(|l| l.split_once(": ").map_or(l, |(_, rest)| rest))
        .collect();
    let mut out = serde_json::to_string_pretty(&serde_json::json!({
        "clean": result.is_clean(),
        "against": result.against,
        "environments": envs,
        "orphans": result.orphans,
        "fix": fix,
    }))
    .expect("JSON values serialize");
    out.push('\n');
    out
}
