//! The `hydrate` binary: parse arguments, run, map the result to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = <hydrate::cli::Cli as clap::Parser>::parse(); // clap exits 2 on bad usage
    // Long lines stay whole: messages name files and commands that must be copyable.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    match hydrate::run(&cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("{:?}", miette::Report::new(err));
            ExitCode::from(2)
        }
    }
}
