//! Command-line interface (clap derive): every argument type of every command lives here. Each
//! subcommand's `///` is its help; `commands/<name>.rs` runs it.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The most threads `-j` accepts: more than enough for any machine, and a bound on what a typo
/// (`-j 10000`) can start.
pub const MAX_JOBS: usize = 256;

const AFTER_HELP: &str = "\
Exit codes:
  0  success, no findings, no differences
  1  lint findings (nothing written), differences, a stale lock, secret findings
  2  error: bad input, bad usage, I/O

Examples:
  hydrate build prod             render out/prod/ from environments/prod.yaml, platform/ and apps/
  hydrate build --all -j 4       render every environment with 4 threads
  hydrate build --changed-since origin/main   only the environments whose inputs changed
  hydrate lint                   check every environment against the lint rules
  hydrate lint prod --format json
  hydrate envs                   list environments and their components
  hydrate diff prod              what a render changes against out/prod as committed at HEAD
  hydrate diff prod --worktree   ... against the files in out/prod on disk
  hydrate check                  exit 1 when out/ as committed at HEAD is stale (CI)
  hydrate --root ../infra build dev
  hydrate completions bash       shell completions (bash, zsh, fish, elvish, powershell)
  hydrate man                    the man page (roff)";

/// hydrate: a static GitOps manifest compiler. Turns environments/, platform/ and apps/ into a
/// fully hydrated, Flux-ready out/<env>/.
#[derive(Debug, Parser)]
#[command(name = "hydrate", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Repository root (where environments/, platform/, apps/ and out/ are).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub root: Utf8PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// `-j N`, for the commands that work in parallel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Args)]
pub struct Jobs {
    /// Work with N threads, 1 to 256 (output is identical for any N; default: one per core).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
}

impl Command {
    /// The `-j` of the command, for those that take one.
    pub fn jobs(&self) -> Option<usize> {
        match self {
            Command::Build(a) => a.jobs.jobs,
            Command::Lint(a) => a.jobs.jobs,
            Command::Diff(a) => a.jobs.jobs,
            Command::Check(a) => a.jobs.jobs,
            Command::Lock(a) => a.jobs.jobs,
            Command::Envs(_)
            | Command::Secret(_)
            | Command::FluxEntry(_)
            | Command::Completions(_)
            | Command::Man(_) => None,
        }
    }
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
    #[command(after_help = "Examples:\n  hydrate envs\n  hydrate envs --format json")]
    Envs(EnvsArgs),
    /// Compare a fresh render with `out/<env>` as committed at `HEAD` (or `--base REF`, or the
    /// files on disk with `--worktree`), object by object; secrets are never shown.
    #[command(
        after_help = "Examples:\n  hydrate diff prod                 against out/prod as committed at HEAD\n  hydrate diff prod --worktree      against the files in out/prod on disk\n  hydrate diff --all --base origin/main --format markdown"
    )]
    Diff(DiffArgs),
    /// CI gate: fail when `out/` as committed at `HEAD` (or on disk, with `--worktree`) differs
    /// from a fresh render.
    #[command(
        after_help = "Examples:\n  hydrate check                     every environment, against HEAD\n  hydrate check prod --worktree     against the files on disk (before committing)"
    )]
    Check(CheckArgs),
    /// Resolve chart version constraints into `hydrate.lock` (the only command that uses the network).
    #[command(
        after_help = "Examples:\n  hydrate lock\n  hydrate lock --update traefik\n  hydrate lock --check\n  hydrate lock --download"
    )]
    Lock(LockArgs),
    /// SOPS/age secrets: keygen, seal, reseal, rotate, verify (the only place hydrate decrypts).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Print the Flux Kustomization that applies `out/<env>`, for `clusters/<env>/` (the folder
    /// `flux bootstrap --path=clusters/<env>` applies).
    #[command(
        after_help = "Example:\n  hydrate flux-entry prod > clusters/prod/hydrate.yaml\n  flux bootstrap github --owner=… --repository=… --path=clusters/prod"
    )]
    FluxEntry(FluxEntryArgs),
    /// Print a shell completion script (generated from this command line).
    #[command(
        after_help = "Examples:\n  hydrate completions bash > ~/.local/share/bash-completion/completions/hydrate\n  hydrate completions zsh > ~/.zfunc/_hydrate\n  hydrate completions fish > ~/.config/fish/completions/hydrate.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a folder.
    #[command(after_help = "Examples:\n  hydrate man | man -l -\n  hydrate man --out target/man")]
    Man(ManArgs),
}

/// `hydrate flux-entry`.
#[derive(Debug, Args)]
pub struct FluxEntryArgs {
    /// The environment (file stem of environments/*.yaml).
    #[arg(value_name = "ENV")]
    pub env: String,
}

/// `hydrate completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `hydrate man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write `hydrate.1` and one `hydrate-<command>.1` per subcommand into DIR (created if
    /// missing) instead of printing `hydrate.1`.
    #[arg(long, value_name = "DIR")]
    pub out: Option<Utf8PathBuf>,
}

/// `hydrate envs`.
#[derive(Debug, Clone, Default, Args)]
pub struct EnvsArgs {
    /// Output format: a table per environment, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output format of `hydrate check` and `hydrate envs`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for a terminal.
    #[default]
    Text,
    /// One JSON document (on an error too: `{"error": …}`).
    Json,
}

/// `hydrate build`.
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
    #[command(flatten)]
    pub jobs: Jobs,
}

/// `hydrate lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Environments to check (file stems of environments/*.yaml); all when none is named.
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Check every environment (the default when no ENV is named).
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
    /// Output format: rustc-style text, or a JSON array of findings (on an error, a JSON object
    /// `{"error": …}`; the exit code is still 2).
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// Output format of `hydrate lint`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// rustc-style text with the offending input line.
    #[default]
    Text,
    /// A JSON array of findings.
    Json,
}

/// Compare a fresh render with `out/<env>` as committed at a git revision (`HEAD` unless
/// `--base` says otherwise), or with the files on disk (`--worktree`), as `hydrate check` does.
///
/// Exit status: 0 no differences, 1 differences, 2 error.
#[derive(Debug, Clone, Default, Args)]
pub struct DiffArgs {
    /// Environments to compare (file names in `environments/`, without `.yaml`).
    #[arg(value_name = "ENV", conflicts_with = "all")]
    pub envs: Vec<String>,
    /// Compare every environment (and any `out/<name>` left without one).
    #[arg(long)]
    pub all: bool,
    /// Compare with `out/<env>` as committed at this revision (read from git, nothing checked
    /// out). Default: `HEAD`.
    #[arg(long, value_name = "REF", conflicts_with = "worktree")]
    pub base: Option<String>,
    /// Compare with the files in `out/<env>` on disk instead of a commit.
    #[arg(long)]
    pub worktree: bool,
    /// Output format (`json`: on an error too, as `{"error": …}`).
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// Output format of `hydrate diff`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Plain text for a terminal.
    #[default]
    Text,
    /// GitHub-flavoured Markdown for a pull-request comment, capped at 65,000 characters.
    Markdown,
    /// JSON, fields in a fixed order.
    Json,
}

/// Fail (exit status 1) when the committed `out/` differs from a fresh render.
///
/// Compares with `out/<env>` as committed at `HEAD`, read from git (as `hydrate diff` does);
/// `--worktree` compares with the files on disk instead. Without names or `--all`, checks every
/// environment. When `out/` on disk is fresh but not committed, it says to commit it.
#[derive(Debug, Clone, Default, Args)]
pub struct CheckArgs {
    /// Environments to check (default: all).
    #[arg(value_name = "ENV", conflicts_with = "all")]
    pub envs: Vec<String>,
    /// Check every environment, and flag `out/<name>` folders no environment renders.
    #[arg(long)]
    pub all: bool,
    /// Compare with the files in `out/` on disk instead of the commit at `HEAD`.
    #[arg(long)]
    pub worktree: bool,
    /// Output format: text, or one JSON document (on an error too: `{"error": …}`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// Resolve chart version constraints and write `hydrate.lock`.
///
/// Without options, entries already in the lock stay where they are (their upstream digest is
/// re-checked); missing ones are resolved to the highest matching release. Repositories are
/// fetched in parallel, `-j` at a time (default 8). Exit codes: 0 ok; 1 the lock is out of date
/// (`--check`) or an upstream digest changed; 2 error.
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
pub struct LockArgs {
    /// Re-resolve the named components (every component when none is named).
    #[arg(long, value_name = "COMPONENT", num_args = 0..)]
    pub update: Option<Vec<String>>,

    /// Change nothing; exit 1 when an entry is missing, stale or unused, or a digest changed.
    #[arg(long, conflicts_with_all = ["update", "download"])]
    pub check: bool,

    /// With `--check`: only compare the lock with the inputs, without the network.
    #[arg(long, requires = "check")]
    pub offline: bool,

    /// Fetch every chart archive, verify its sha256, and record Bitnami parts and images.
    #[arg(long)]
    pub download: bool,

    /// Read repository indexes from this folder instead of the network.
    ///
    /// Each repository is found in one of two layouts, named after its URL without the scheme:
    /// `DIR/charts.example.org_stable.yaml` (`/` and other symbols turned into `_`), or Helm's
    /// own layout, a folder holding `index.yaml`: `DIR/charts_example_org_stable/index.yaml`
    /// (`.` turned into `_` too) or `DIR/charts.example.org_stable/index.yaml`, for
    /// `https://charts.example.org/stable`.
    #[arg(long, value_name = "DIR")]
    pub index_dir: Option<Utf8PathBuf>,

    /// Give up on a request after this many seconds (default 60).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Talk plain HTTP to OCI registries on the loopback interface (tests, local registries).
    #[arg(long)]
    pub plain_http: bool,
    #[command(flatten)]
    pub jobs: Jobs,
}

/// The `hydrate secret` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum SecretCommand {
    /// Generate an age X25519 identity and print its recipient (`age1…`).
    Keygen(KeygenArgs),
    /// Encrypt a Kubernetes Secret to `secrets/<env>/<component>/<name>.sops.yaml` for the
    /// environment's recipients in `.sops.yaml`. The Secret and its keys must be declared in the
    /// component's `secrets`.
    Seal(SealArgs),
    /// Seal every Secret an environment's components declare, from a folder of values you
    /// provide, for the current `.sops.yaml` recipients; lists what had no value. For taking a
    /// repository over with your own keys.
    #[command(
        after_help = "Values: DIR/<component>/<name>.env holds KEY=VALUE lines (`#` comments and blank lines skipped),\nDIR/<component>/<name>/<KEY> holds one value each (bytes as they are). Plaintext is read into\nmemory only; nothing but the sealed files is written, and no value is printed.\n\nExamples:\n  hydrate secret reseal prod --from-dir ~/prod-values\n  hydrate secret reseal prod --from-dir ~/prod-values --only n8n --dry-run"
    )]
    Reseal(ResealArgs),
    /// Re-wrap the data key of every secret for its environment's current recipients.
    Rotate(RotateArgs),
    /// Check every secret: parses, has a MAC, exactly the environment's recipients, no plaintext
    /// in `data`/`stringData`. With an identity, also decrypt in memory and check the MAC.
    ///
    /// Exit codes: 0 clean, 1 findings, 2 error.
    Verify(VerifyArgs),
}

/// `hydrate secret keygen`.
#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// Write the identity to FILE (created with mode 0600, never overwritten) and print only the
    /// recipient. Without it the identity goes to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<Utf8PathBuf>,
}

/// `hydrate secret seal`.
#[derive(Debug, Clone, Args)]
pub struct SealArgs {
    /// The environment (`secrets/<ENV>/…`; its recipients come from `.sops.yaml`).
    pub env: String,
    /// The component the Secret belongs to.
    pub component: String,
    /// The Secret's `metadata.name` and file name.
    pub name: String,
    /// Values as `KEY=VALUE`. These land in shell history and the process list: prefer
    /// `--from-file` or `--stdin` for real secrets.
    #[arg(value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    /// Read values from FILE: `KEY=VALUE` lines, or with `--key` the whole file as one value.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<Utf8PathBuf>,
    /// Read values from standard input, like `--from-file`.
    #[arg(long, conflicts_with = "from_file")]
    pub stdin: bool,
    /// Take the whole `--from-file`/`--stdin` content (bytes as they are) as the value of NAME.
    #[arg(long, value_name = "NAME")]
    pub key: Option<String>,
    /// The Secret's `metadata.namespace` (default: the component's namespace in that environment).
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// The Secret's `type`.
    #[arg(long = "type", value_name = "TYPE", default_value = "Opaque")]
    pub secret_type: String,
    /// Replace an existing sealed file (seal always writes the whole Secret).
    #[arg(long)]
    pub force: bool,
}

/// `hydrate secret reseal`.
#[derive(Debug, Clone, Args)]
pub struct ResealArgs {
    /// The environment whose declared Secrets are sealed.
    pub env: String,
    /// The folder of values: `<component>/<name>.env` (`KEY=VALUE` lines) or
    /// `<component>/<name>/<KEY>` (one file per value).
    #[arg(long, value_name = "DIR")]
    pub from_dir: Utf8PathBuf,
    /// Only these components (default: every component of the environment that declares
    /// Secrets).
    #[arg(long, value_name = "COMPONENT", num_args = 1..)]
    pub only: Vec<String>,
    /// Report what would be sealed and what is missing; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `hydrate secret rotate`.
#[derive(Debug, Clone, Args)]
pub struct RotateArgs {
    /// Only these environments (default: all under `secrets/`).
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Also replace each file's data key and re-encrypt every value with fresh IVs.
    #[arg(long)]
    pub rekey: bool,
    /// The age identity file that unwraps the current data keys (default: `$SOPS_AGE_KEY_FILE`).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<Utf8PathBuf>,
}

/// `hydrate secret verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Only these environments (default: all under `secrets/`).
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Decrypt in memory with this age identity file and check the MAC (default:
    /// `$SOPS_AGE_KEY_FILE`, if set).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<Utf8PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    /// See: issue 12 (`hydrate lock -j 0` hit the global check because `lock` had its own `-j`).
    #[test]
    fn lock_takes_the_global_jobs() {
        let cli = Cli::try_parse_from(["hydrate", "lock", "-j", "2", "--check"]).expect("parses");
        assert_eq!(cli.command.jobs(), Some(2));
        assert!(matches!(cli.command, Command::Lock(LockArgs { check: true, .. })));
    }
}
