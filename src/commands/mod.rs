//! One file per subcommand; each returns an [`Outcome`] or an [`Error`].

pub mod build;
pub mod envs;
pub mod lint;
pub mod lock;
pub mod review;

use camino::Utf8Path;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::load::Inputs;
use crate::{Outcome, load};

pub fn dispatch(cli: &Cli) -> Result<Outcome, Error> {
    match &cli.command {
        Command::Build(args) => build::run(&cli.root, args),
        Command::Lint(args) => lint::run(&cli.root, args),
        Command::Envs => envs::run(&cli.root),
        Command::Diff(args) => review::diff(&cli.root, args),
        Command::Check(args) => review::check(&cli.root, args),
        Command::Lock(args) => lock::run(&cli.root, args),
        Command::Secret(cmd) => match crate::secrets::run(&cli.root, cmd)? {
            0 => Ok(Outcome::Clean),
            _ => Ok(Outcome::Findings),
        },
    }
}

/// The environments a command acts on: those named, or all with `--all`.
pub fn select_envs(inputs: &Inputs, named: &[String], all: bool) -> Result<Vec<String>, Error> {
    if all {
        return Ok(inputs.env_names());
    }
    if named.is_empty() {
        return Err(Error::Usage(
            "name at least one environment, or pass `--all`".into(),
            Some(format!("known environments: {}", inputs.env_names().join(", "))),
        ));
    }
    for name in named {
        inputs.env(name)?;
    }
    let mut envs = named.to_vec();
    envs.dedup();
    Ok(envs)
}

/// Loads the repository at `root`.
pub fn load_root(root: &Utf8Path) -> Result<Inputs, Error> {
    Ok(load::load(root)?)
}
