//! The `hydrate` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <hydrate::cli::Cli as clap::Parser>::parse(); // clap exits 2 on bad usage
    match hydrate::run(&cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("{}", hydrate::diag::render_top(&err));
            ExitCode::from(2)
        }
    }
}
