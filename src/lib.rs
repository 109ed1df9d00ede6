//! hydrate: a static GitOps manifest compiler.
//!
//! The pipeline reads top to bottom: load → resolve → render → lint → write / diff.
//! [`compile`] does everything but the write and touches no disk beyond what [`load`] read.
//!
//! # Map of modules (who may call whom)
//!
//! ```text
//! main.rs ─→ cli (arguments, all of them) ─→ commands/<name>.rs (one per subcommand; the only
//!            printers; pick the Outcome)
//! commands ─→ lib::compile ─→ load → model → render → lint → output   (the pipeline, in order)
//!          ─→ diff, git, lock, secrets                               (beside the pipeline)
//!
//! stage      may call                                 touches
//! load       span, redact                             reads the repository (inputs only)
//! model      load, span, image, lock (parse), error   nothing
//! render     model, load (parse), jsonnet, lock (pin) nothing
//! lint       model, render (objects), image, secrets  nothing
//!            (verify), redact
//! output     render (objects)                         write.rs: out/<env> only
//! diff       output (Tree), git, render (ObjectId)    nothing (git reads through `git`)
//! git        output (Tree)                            reads .git and the working tree
//! lock       model (charts), image                    hydrate.lock, the network
//! secrets    span, load, model                        secrets/, .sops.yaml, identity files
//! jsonnet    span, redact                             reads the repository (imports)
//!
//! shared     span (Pos, Location, YamlPath) · diag (Code, Diagnostic, the one renderer) ·
//!            error (stage errors, thin top-level Error) · image (references, Bitnami) ·
//!            redact (no secret value is ever shown)
//! ```
//!
//! Stages return data (objects, trees, reports, findings); nothing below `commands` prints or
//! chooses an exit code.

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
