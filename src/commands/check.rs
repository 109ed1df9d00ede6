//! `hydrate check`, the CI gate: renders every environment in memory and compares it with the
//! committed `out/<env>` (at `HEAD`, or on disk with `--worktree`); prints what is stale.

use camino::Utf8Path;

use crate::cli::CheckArgs;
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
    super::print_out(&result.render());
    Ok(if result.is_clean() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}
