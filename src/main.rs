//! The `hydrate` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = hydrate::commands::parse_args(); // clap exits 2 on bad usage
    match hydrate::run(&cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            hydrate::commands::report_error(&cli, &err); // stderr, and stdout JSON when asked
            ExitCode::from(2)
        }
    }
}
