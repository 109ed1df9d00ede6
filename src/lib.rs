//! hydrate: a static GitOps manifest compiler.
//!
//! The pipeline reads top to bottom: load → resolve → render → lint → write / diff.
//! [`compile`] does everything but the write and touches no disk beyond what [`load`] read.

// Errors carry the input text for snippets; they are built once, on the failure path only.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod commands;
pub mod diag;
pub mod diff;
pub mod error;
pub mod git;
pub mod image;
pub mod jsonnet;
pub mod lint;
pub mod load;
pub mod lock;
pub mod model;
pub mod output;
pub mod redact;
pub mod render;
pub mod secrets;
pub mod span;

use camino::Utf8Path;

pub use diag::{Diagnostic, Severity};
pub use error::Error;
pub use output::Tree;

use load::Inputs;

/// One environment compiled in memory: the files of `out/<env>/` and every finding.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub env: String,
    pub tree: Tree,
    pub objects: Vec<render::Object>,
    /// Sorted by (file, position, code).
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// True when a finding of error severity forbids writing.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.severity == Severity::Error)
    }
}

/// Renders environment `env` of `inputs`: resolve → render → lint → lay out. Writes nothing.
pub fn compile(inputs: &Inputs, env: &str) -> Result<Compiled, Error> {
    let model = model::resolve(inputs, env)?; // overrides applied, every value validated
    let rendered = render::render(&model)?; // objects in a stable order
    let diagnostics = lint::check(&model, &rendered.objects, rendered.warnings); // allow applied
    let tree = output::layout(&model.env.file.path, &rendered.objects)?; // duplicates rejected
    Ok(Compiled {
        env: env.to_string(),
        tree,
        objects: rendered.objects,
        diagnostics,
    })
}

/// Loads the repository at `root` and compiles `env`.
pub fn compile_env(root: &Utf8Path, env: &str) -> Result<Compiled, Error> {
    let inputs = load::load(root)?;
    compile(&inputs, env)
}

/// What a command ended with, short of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Clean,
    /// Exit 1: lint findings, differences, a stale lock.
    Findings,
}

impl Outcome {
    pub fn exit_code(self) -> std::process::ExitCode {
        match self {
            Outcome::Clean => std::process::ExitCode::SUCCESS,
            Outcome::Findings => std::process::ExitCode::from(1),
        }
    }
}

/// Runs a parsed command line, on a pool of `-j` threads when given.
pub fn run(cli: &cli::Cli) -> Result<Outcome, Error> {
    match cli.command.jobs() {
        Some(n) if n == 0 || n > cli::MAX_JOBS => Err(Error::Usage(
            format!("`-j {n}` is out of range"),
            Some(format!("give 1 to {} threads", cli::MAX_JOBS)),
        )),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::Usage(format!("cannot start {n} threads: {e}"), None))?
            .install(|| commands::dispatch(cli)),
        None => commands::dispatch(cli),
    }
}
