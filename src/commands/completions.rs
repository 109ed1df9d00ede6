//! `hydrate completions SHELL`: a completion script generated from the clap definitions, so it
//! never lags behind the command line.

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};
use crate::error::Error;

pub fn run(args: &CompletionsArgs) -> Result<Outcome, Error> {
    super::print_out(&script(args.shell));
    Ok(Outcome::Clean)
}

/// The completion script of `hydrate` for `shell`.
pub fn script(shell: clap_complete::Shell) -> String {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut command, "hydrate", &mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}
