//! `hydrate diff` and `hydrate check`: render in memory and compare with `out/` (see `crate::diff`).

use std::io::Write;

use camino::Utf8Path;

use crate::diff::DiffArgs;
use crate::diff::check::CheckArgs;
use crate::error::Error;
use crate::{Outcome, compile};

pub fn diff(root: &Utf8Path, args: &DiffArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let known = inputs.env_names();
    let outcome = crate::diff::run(root, args, &known, |env| {
        Ok::<_, Error>(compile(&inputs, env)?.tree)
    })?;
    finish(outcome)
}

pub fn check(root: &Utf8Path, args: &CheckArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let known = inputs.env_names();
    let outcome = crate::diff::check::run(root, args, &known, |env| {
        Ok::<_, Error>(compile(&inputs, env)?.tree)
    })?;
    finish(outcome)
}

fn finish(outcome: crate::diff::Outcome) -> Result<Outcome, Error> {
    let _ = std::io::stdout().write_all(outcome.stdout.as_bytes());
    Ok(if outcome.exit_code == 0 {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}
