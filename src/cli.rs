//! Command-line interface (clap derive). Each subcommand's `///` is its help.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success, no findings, no differences
  1  lint findings (nothing written) or differences
  2  error: bad input, bad usage, I/O

Examples:
  hydrate build prod             render out/prod/ from environments/prod.yaml, platform/ and apps/
  hydrate build --all -j 4       render every environment with 4 threads
  hydrate build --changed-since origin/main   only the environments whose inputs changed
  hydrate lint                   check every environment against the lint rules
  hydrate lint prod --format json
  hydrate envs                   list environments and their components
  hydrate diff prod --base HEAD  what a render would change, object by object
  hydrate check --all            exit 1 when the committed out/ is stale
  hydrate --root ../infra build dev";

/// hydrate: a static GitOps manifest compiler. Turns environments/, platform/ and apps/ into a
/// fully hydrated, Flux-ready out/<env>/.
#[derive(Debug, Parser)]
#[command(name = "hydrate", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Repository root (where environments/, platform/, apps/ and out/ are).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub root: Utf8PathBuf,
    /// Render with N threads (output is identical for any N).
    #[arg(short = 'j', long = "jobs", global = true, value_name = "N")]
    pub jobs: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render environments into out/<env>/ (lints first; writes nothing on a finding or error).
    #[command(
        after_help = "Examples:\n  hydrate build prod\n  hydrate build dev prod -j 1\n  hydrate build --all"
    )]
    Build(BuildArgs),
    /// Check environments against the lint rules (docs/lints.md); writes nothing.
    #[command(
        after_help = "Rules are documented in docs/lints.md; exceptions go in `lint.allow` \
                            entries, each with a reason.\n\n\
                            Examples:\n  hydrate lint\n  hydrate lint prod\n  hydrate lint --all --format json"
    )]
    Lint(LintArgs),
    /// List environments and their components.
    Envs,
    /// Compare a fresh render with `out/<env>` as committed at a revision (or the working tree),
    /// object by object; secrets are never shown.
    #[command(
        after_help = "Examples:\n  hydrate diff prod\n  hydrate diff --all --base origin/main --format markdown"
    )]
    Diff(crate::diff::DiffArgs),
    /// CI gate: fail when the committed `out/` differs from a fresh render.
    #[command(after_help = "Examples:\n  hydrate check --all\n  hydrate check prod --worktree")]
    Check(crate::diff::check::CheckArgs),
    /// Resolve chart version constraints into `hydrate.lock` (the only command that uses the network).
    #[command(
        after_help = "Examples:\n  hydrate lock\n  hydrate lock --update traefik\n  hydrate lock --check\n  hydrate lock --download"
    )]
    Lock(crate::lock::LockArgs),
    /// SOPS/age secrets: keygen, seal, rotate, verify (the only place hydrate decrypts).
    #[command(subcommand)]
    Secret(crate::secrets::SecretCommand),
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Environments to build (file stems of environments/*.yaml).
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Build every environment.
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
    /// Only the environments (of those named, or all) whose inputs changed since REF
    /// (committed, staged, unstaged or untracked).
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Environments to check (file stems of environments/*.yaml); all when none is named.
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Check every environment (the default when no ENV is named).
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
    /// Output format: rustc-style text, or a JSON array of findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}
