//! Secrets: SOPS + age files under `secrets/<env>/<component>/<name>.sops.yaml`, the format
//! Flux's kustomize-controller decrypts in the cluster.
//!
//! Stage: a side tool of the pipeline. `build` only calls [`verify_file`] (or [`verify_repo`])
//! without an identity, as a lint: it parses, checks MAC presence, recipients and plaintext, and
//! never decrypts. Decryption happens in memory in `secret verify` with an identity and in
//! `secret rotate`, nowhere else.
//!
//! Touches the disk only in [`repo`]: it reads `.sops.yaml`, secret files, identity files
//! and value files, and writes sealed files (atomically) and new identity files (mode 0600).
//! Plaintext values are never written. The clock is read once per `seal`/`rotate` run, for
//! `lastmodified`, and passed down as a parameter.
//!
//! | file | what |
//! | --- | --- |
//! | `sops_format.rs` | parse YAML/JSON/dotenv SOPS documents, emit YAML |
//! | `crypto.rs` | AES-256-GCM values, `ENC[…]` form, encrypted-path rules, the MAC |
//! | `age_keys.rs` | X25519 identities/recipients, wrapping the data key as armored age |
//! | `policy.rs` | `.sops.yaml` creation rules |
//! | `verify.rs` | findings, in-memory decryption and MAC check |
//! | `seal.rs` | sealing a Secret, rotating recipients / data key |
//! | `repo.rs` | the secrets tree on disk: policy, sealed files, identities |

pub mod age_keys;
pub mod crypto;
pub mod policy;
pub mod repo;
pub mod seal;
pub mod sops_format;
pub mod verify;

use camino::Utf8PathBuf;

pub use age_keys::AgeIdentities;
pub use policy::Policy;
pub use repo::{env_recipients, load_policy, secret_path, verify_repo};
pub use verify::{SecretFinding, decrypt_document, verify_file};

/// Everything that stops a `hydrate secret` command. Messages name repo-relative files and
/// never contain a secret value or key material.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SecretsError {
    /// A file could not be read or written.
    #[error("cannot access `{path}`")]
    #[diagnostic(code(hydrate::secrets::io))]
    Io {
        /// The file (as given, or repo-relative).
        path: Utf8PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// `.sops.yaml` is missing.
    #[error("no `.sops.yaml` at the repo root")]
    #[diagnostic(
        code(hydrate::secrets::no_policy),
        help(
            "create `.sops.yaml` with `creation_rules`: one rule per environment, e.g. `- path_regex: ^secrets/prod/` with `age: age1…` (see docs/secrets.md)"
        )
    )]
    NoPolicy,

    /// `seal` names a component the environment does not have (so no namespace is known).
    #[error("environment `{env}` has no enabled component `{component}`")]
    #[diagnostic(
        code(hydrate::secrets::unknown_component),
        help("name a component of `hydrate envs`, or pass `--namespace` to seal a Secret outside one")
    )]
    UnknownComponent {
        /// The environment.
        env: String,
        /// The component named.
        component: String,
    },

    /// `seal` names a Secret or key its component does not declare (or leaves a declared key out).
    #[error("{message}")]
    #[diagnostic(code(hydrate::secrets::undeclared), help("{help}"))]
    Undeclared {
        /// What is wrong.
        message: String,
        /// The did-you-mean, what is declared, and where to declare.
        help: String,
    },

    /// `.sops.yaml` is invalid or has no usable rule.
    #[error("{}: {message}", position(file, *pos))]
    #[diagnostic(code(hydrate::secrets::policy), help("{help}"))]
    Policy {
        /// `.sops.yaml`.
        file: Utf8PathBuf,
        /// Where in it, when known.
        pos: Option<crate::span::Pos>,
        /// What is wrong.
        message: String,
        /// The fix.
        help: String,
    },

    /// An identity file could not be used.
    #[error("identity file `{path}`{}: {reason}", if *line > 0 { format!(" line {line}") } else { String::new() })]
    #[diagnostic(
        code(hydrate::secrets::identity),
        help(
            "point `SOPS_AGE_KEY_FILE` (or `--identity`) at a file made by `hydrate secret keygen` or `age-keygen`"
        )
    )]
    Identity {
        /// The identity file.
        path: Utf8PathBuf,
        /// 1-based line, 0 for the whole file.
        line: usize,
        /// What is wrong (no key material).
        reason: String,
    },

    /// `rotate` needs an identity and none was given.
    #[error("`hydrate secret rotate` needs an age identity to unwrap the data keys")]
    #[diagnostic(
        code(hydrate::secrets::no_identity),
        help("set `SOPS_AGE_KEY_FILE` to an identity file of the environment, or pass `--identity FILE`")
    )]
    NoIdentity,

    /// An argument is not a valid name.
    #[error("{what} `{value}` is not valid: {reason}")]
    #[diagnostic(code(hydrate::secrets::name), help("{help}"))]
    InvalidName {
        /// What the argument is (`environment`, `key`, …).
        what: &'static str,
        /// The argument.
        value: String,
        /// Why.
        reason: String,
        /// The fix.
        help: String,
    },

    /// A value source is malformed (positions only, never the content).
    #[error("{source_name} line {line}: {reason}")]
    #[diagnostic(
        code(hydrate::secrets::values),
        help(
            "write one `KEY=VALUE` per line (`#` comments and blank lines are ignored), or use `--key NAME` to take the whole input as one value"
        )
    )]
    Values {
        /// `--from-file <F>` or `stdin`.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },

    /// The same key was given twice.
    #[error("key `{key}` is given more than once")]
    #[diagnostic(
        code(hydrate::secrets::duplicate_key),
        help("give each key once across `KEY=VALUE`, `--from-file` and `--stdin`")
    )]
    DuplicateKey {
        /// The key.
        key: String,
    },

    /// No value was given to seal.
    #[error("no value to seal")]
    #[diagnostic(
        code(hydrate::secrets::no_values),
        help(
            "pass `--from-file FILE` (KEY=VALUE lines), `--stdin`, or `KEY=VALUE` arguments (these land in shell history)"
        )
    )]
    NoValues,

    /// `seal` would overwrite a sealed file.
    #[error("`{path}` already exists")]
    #[diagnostic(
        code(hydrate::secrets::exists),
        help(
            "seal writes the whole Secret: pass every value again with `--force` to replace it, or `hydrate secret rotate` to change recipients"
        )
    )]
    Exists {
        /// The repo-relative file.
        path: Utf8PathBuf,
    },

    /// `keygen` would overwrite an identity.
    #[error("`{path}` already exists; refusing to overwrite an identity")]
    #[diagnostic(
        code(hydrate::secrets::key_exists),
        help(
            "choose another `--out` path, or remove the old identity yourself once nothing is encrypted to it"
        )
    )]
    KeyExists {
        /// The file.
        path: Utf8PathBuf,
    },

    /// Sealing or rotating one file failed.
    #[error("{}: {message}", position(file, *pos))]
    #[diagnostic(code(hydrate::secrets::seal), help("{help}"))]
    Seal {
        /// The repo-relative file.
        file: Utf8PathBuf,
        /// Where in it, when known.
        pos: Option<crate::span::Pos>,
        /// What is wrong.
        message: String,
        /// The fix.
        help: String,
    },
}

/// `file:line:column`, or `file` when the position is unknown.
fn position(file: &Utf8PathBuf, pos: Option<crate::span::Pos>) -> crate::span::Location {
    crate::span::Location {
        file: file.clone(),
        pos,
    }
}
