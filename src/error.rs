//! Errors of every stage, each naming the repo-relative file, the line and column where known,
//! and what to do. The CLI maps any [`Error`] to exit code 2.

use camino::{Utf8Path, Utf8PathBuf};
use miette::{NamedSource, SourceSpan};

pub use crate::span::{Location, Pos, offset_of};

/// A source snippet for miette, when the file's text is at hand: the text as it may be shown
/// (secret values masked, see `crate::redact`) and the position in it.
fn snippet(
    path: &Utf8Path,
    text: &str,
    pos: Option<Pos>,
) -> (Option<NamedSource<String>>, Option<SourceSpan>) {
    match pos {
        Some(pos) => {
            let shown = crate::redact::source_for_display(path, text);
            let at = offset_of(&shown, pos);
            (
                Some(NamedSource::new(path.as_str(), shown)),
                Some(SourceSpan::from((at, 0))),
            )
        }
        None => (None, None),
    }
}

/// Reading inputs failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(code(hydrate::load::read))]
    Read {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: {reason}")]
    #[diagnostic(code(hydrate::load::yaml))]
    Yaml {
        at: Location,
        reason: String,
        #[help]
        help: Option<String>,
        #[source_code]
        src: Option<NamedSource<String>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },
    #[error("no environment `{name}` in `environments/`")]
    #[diagnostic(code(hydrate::load::unknown_env), help("known environments: {known}"))]
    UnknownEnv { name: String, known: String },
    #[error("`{path}` is not a valid environment file name")]
    #[diagnostic(
        code(hydrate::load::env_name),
        help(
            "an environment is `environments/<name>.yaml` with a DNS-label name (lowercase letters, digits and `-`): rename the file, or move it out of `environments/`"
        )
    )]
    BadEnvName { path: Utf8PathBuf },
    #[error("`{path}` {} outside the repository", if *link { "is a symbolic link that leads" } else { "lies" })]
    #[diagnostic(
        code(hydrate::load::outside),
        help(
            "hydrate reads only files inside the repository: replace the link with the file itself, or move what it points at into the repository"
        )
    )]
    OutsideRepo { path: Utf8PathBuf, link: bool },
    #[error("`{path}` is not a regular file")]
    #[diagnostic(
        code(hydrate::load::not_a_file),
        help("inputs are regular files: remove it (a pipe, a socket or a device cannot be an input)")
    )]
    NotAFile { path: Utf8PathBuf },
    #[error("`{path}` is {} MiB; input files are at most {} MiB", bytes / (1024 * 1024), crate::load::MAX_INPUT_BYTES / (1024 * 1024))]
    #[diagnostic(
        code(hydrate::load::too_large),
        help(
            "inputs are configuration: remove the file from the component folder (or move it elsewhere), or split it"
        )
    )]
    TooLarge { path: Utf8PathBuf, bytes: u64 },
    #[error("`{root}` has no `environments/*.yaml`: is it a hydrate repository?")]
    #[diagnostic(
        code(hydrate::load::no_envs),
        help("run hydrate at the repository root or pass `--root DIR`")
    )]
    NoEnvironments { root: Utf8PathBuf },
}

impl LoadError {
    pub fn yaml(
        path: &Utf8Path,
        text: &str,
        pos: Option<Pos>,
        reason: String,
        help: Option<String>,
    ) -> LoadError {
        let (src, span) = snippet(path, text, pos);
        LoadError::Yaml {
            at: Location {
                file: path.to_owned(),
                pos,
            },
            reason,
            help,
            src,
            span,
        }
    }
}

/// An input is well-formed YAML but its content is wrong (unknown variable, bad version, cycle…).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{at}: {message}")]
#[diagnostic(code(hydrate::input))]
pub struct InputError {
    pub at: Location,
    pub message: String,
    #[help]
    pub help: Option<String>,
    #[source_code]
    pub src: Option<NamedSource<String>>,
    #[label("here")]
    pub span: Option<SourceSpan>,
}

impl InputError {
    /// An error at `at`, with the file's `text` for a snippet when available.
    pub fn new(at: Location, text: Option<&str>, message: impl Into<String>) -> InputError {
        let (src, span) = match text {
            Some(text) => snippet(&at.file, text, at.pos),
            None => (None, None),
        };
        InputError {
            at,
            message: message.into(),
            help: None,
            src,
            span,
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> InputError {
        self.help = Some(help.into());
        self
    }
}

/// Laying out or writing `out/<env>` failed; every `out/<env>` is left as it was (except after
/// [`OutputError::Restore`], which says what is left).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OutputError {
    #[error("`out/{env}/flux-system/` holds Flux's bootstrap files: `out/{env}` is hydrate's alone")]
    #[diagnostic(
        code(hydrate::output::flux_system),
        help(
            "`flux bootstrap --path=out/{env}` wrote them, and every build replaces `out/{env}` whole. Bootstrap with `--path=clusters/{env}` instead: `git mv out/{env}/flux-system clusters/{env}/flux-system`, add `hydrate flux-entry {env} > clusters/{env}/hydrate.yaml`, commit, and run `flux bootstrap` again with the new path (README, \"Deploying with Flux\")"
        )
    )]
    FluxBootstrapInOut { env: String },
    #[error("two objects would be written to `{path}`: {first} and {second}")]
    #[diagnostic(
        code(hydrate::output::duplicate),
        help("rename one of them: every object of a component needs a distinct kind and name")
    )]
    Duplicate {
        path: Utf8PathBuf,
        first: String,
        second: String,
    },
    #[error("refusing to write outside `out/<env>/`: `{path}`")]
    #[diagnostic(code(hydrate::output::not_local))]
    NotLocal { path: Utf8PathBuf },
    #[error("cannot write `{path}`: {source}")]
    #[diagnostic(
        code(hydrate::output::io),
        help("check the permissions of `out/` and the free disk space")
    )]
    Io {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialize {what} as YAML: {reason}")]
    #[diagnostic(code(hydrate::output::yaml))]
    Yaml { what: String, reason: String },
    #[error(
        "{object} of component `{component}` would be written to `{path}`, whose file name is \
         {len} bytes long; file systems allow at most 255"
    )]
    #[diagnostic(
        code(hydrate::output::name_too_long),
        help("shorten the object's `metadata.name` (in {sources}) by at least {excess} characters")
    )]
    NameTooLong {
        object: String,
        component: String,
        path: Utf8PathBuf,
        len: usize,
        excess: usize,
        sources: String,
    },
    #[error("`{lock}` is held by {holder}; gave up after waiting {waited} s")]
    #[diagnostic(
        code(hydrate::output::locked),
        help(
            "another hydrate build is writing `out/`: let it finish and run this build again, or \
             wait longer with `HYDRATE_LOCK_TIMEOUT=<seconds>`; the lock ends with its process, \
             so it is never stale"
        )
    )]
    Locked {
        lock: Utf8PathBuf,
        holder: String,
        waited: String,
    },
    #[error("`{var}={value}` is not {expected}")]
    #[diagnostic(
        code(hydrate::output::bad_env),
        help("set `{var}` to {expected}, or unset it")
    )]
    BadEnv {
        var: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot swap the new `{path}` in: {source}; {restored}")]
    #[diagnostic(
        code(hydrate::output::swap),
        help("check that `out/` and its folders are on one file system that supports renames")
    )]
    Swap {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
        /// What became of the environments swapped before this one.
        restored: String,
    },
    #[error(
        "cannot swap the new `{path}` in ({source}), nor put the previous `{unrestored}` back: \
         {restore_error}"
    )]
    #[diagnostic(
        code(hydrate::output::restore),
        help(
            "every `out/<env>` is still a complete tree, but some are new and some old; \
             `out/.hydrate.swap` records the swap and the next `hydrate build` puts the previous \
             trees back before it writes"
        )
    )]
    Restore {
        path: Utf8PathBuf,
        #[source]
        source: std::io::Error,
        unrestored: Utf8PathBuf,
        restore_error: std::io::Error,
    },
}

/// The model stage failed: an input does not parse, or its content is wrong.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ResolveError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(Box<LoadError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Input(Box<InputError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(Box<crate::lock::LockError>),
    #[error("{} errors", .0.len())]
    #[diagnostic(code(hydrate::errors))]
    Many(#[related] Vec<ResolveError>),
}

/// The render stage failed: a generator found its input unusable, or Jsonnet failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RenderError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(Box<LoadError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Input(Box<InputError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Jsonnet(Box<crate::jsonnet::JsonnetError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(Box<OutputError>),
    #[error("{} errors", .0.len())]
    #[diagnostic(code(hydrate::errors))]
    Many(#[related] Vec<RenderError>),
}

/// `collect` for each error type: one error, or all of them, in input order.
macro_rules! collect {
    ($($ty:ident),*) => {$(
        impl $ty {
            /// One error, or all of them, in input order; `None` when `errors` is empty.
            pub fn collect(mut errors: Vec<$ty>) -> Option<$ty> {
                match errors.len() {
                    0 => None,
                    1 => errors.pop(),
                    _ => Some($ty::Many(errors)),
                }
            }
        }
    )*};
}
collect!(ResolveError, RenderError, Error);

/// Any failure of hydrate; the CLI prints it and exits with code 2.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(Box<LoadError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Resolve(Box<ResolveError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Render(Box<RenderError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Output(Box<OutputError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Diff(Box<crate::diff::DiffError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Git(Box<crate::git::GitError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Secrets(Box<crate::secrets::SecretsError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(Box<crate::lock::LockError>),
    #[error("{} errors", .0.len())]
    #[diagnostic(code(hydrate::errors))]
    Many(#[related] Vec<Error>),
    #[error("{0}")]
    #[diagnostic(code(hydrate::usage))]
    Usage(String, #[help] Option<String>),
    /// Errors of several environments, already rendered: each printed once, with the
    /// environments it concerns (see `commands::compile_envs`).
    #[error("{} errors", .errors.len())]
    #[diagnostic(code(hydrate::errors))]
    InEnvs {
        /// (rendered error, environments), in the order first met.
        errors: Vec<(String, Vec<String>)>,
    },
}

/// Errors box into the enum that wraps them, to keep `Result`s small.
macro_rules! boxed_from {
    ($outer:ident: $($ty:ident => $variant:ident),*) => {$(
        impl From<$ty> for $outer {
            fn from(e: $ty) -> $outer {
                $outer::$variant(Box::new(e))
            }
        }
    )*};
}
use crate::diff::DiffError;
use crate::git::GitError;
use crate::jsonnet::JsonnetError;
use crate::lock::LockError;
use crate::secrets::SecretsError;
boxed_from!(Error: LoadError => Load, ResolveError => Resolve, RenderError => Render, OutputError => Output, DiffError => Diff, GitError => Git, SecretsError => Secrets, LockError => Lock);
boxed_from!(ResolveError: LoadError => Load, InputError => Input, LockError => Lock);
boxed_from!(RenderError: LoadError => Load, InputError => Input, JsonnetError => Jsonnet, OutputError => Output);
