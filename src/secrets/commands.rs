//! `hydrate secret keygen | seal | rotate | verify`: argument parsing and all of this module's
//! I/O. Reads `.sops.yaml`, secret files, identity and value files; writes sealed files
//! atomically (temp file + rename in the same folder) and identity files with mode 0600. The
//! clock is read only by [`run`] for `seal`/`rotate` (for `lastmodified`).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use zeroize::Zeroizing;

use super::SecretsError;
use super::age_keys::{self, AgeIdentities};
use super::crypto;
use super::policy::{POLICY_FILE, Policy, PolicyError};
use super::seal::{self, Rotated, SealError, SecretSpec};
use super::verify::{self, Finding};

/// The `hydrate secret` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SecretCommand {
    /// Generate an age X25519 identity and print its recipient (`age1…`).
    Keygen(KeygenArgs),
    /// Encrypt a Kubernetes Secret to `secrets/<env>/<component>/<name>.sops.yaml` for the
    /// environment's recipients in `.sops.yaml`.
    Seal(SealArgs),
    /// Re-wrap the data key of every secret for its environment's current recipients.
    Rotate(RotateArgs),
    /// Check every secret: parses, has a MAC, exactly the environment's recipients, no plaintext
    /// in `data`/`stringData`. With an identity, also decrypt in memory and check the MAC.
    ///
    /// Exit codes: 0 clean, 1 findings, 2 error.
    Verify(VerifyArgs),
}

/// `hydrate secret keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Write the identity to FILE (created with mode 0600, never overwritten) and print only the
    /// recipient. Without it the identity goes to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<Utf8PathBuf>,
}

/// `hydrate secret seal`.
#[derive(Debug, Clone, clap::Args)]
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

/// `hydrate secret rotate`.
#[derive(Debug, Clone, clap::Args)]
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
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Only these environments (default: all under `secrets/`).
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Decrypt in memory with this age identity file and check the MAC (default:
    /// `$SOPS_AGE_KEY_FILE`, if set).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<Utf8PathBuf>,
}

/// What a command may use from its surroundings; tests pass their own.
pub struct Session<'a> {
    /// `lastmodified` for `seal`/`rotate`, as seconds since the Unix epoch.
    pub now_unix: i64,
    /// `$SOPS_AGE_KEY_FILE`, if set.
    pub sops_age_key_file: Option<Utf8PathBuf>,
    /// Standard input (for `seal --stdin`).
    pub stdin: &'a mut dyn Read,
    /// Standard output.
    pub stdout: &'a mut dyn Write,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
}

/// Runs a `hydrate secret` command in the repo at `root` with the process's stdio, environment
/// and (for `seal`/`rotate` only) clock. Returns the exit code: 0 ok, 1 findings.
///
/// # Errors
/// See [`SecretsError`]; the caller prints it and exits 2.
pub fn run(root: &Utf8Path, cmd: &SecretCommand) -> Result<u8, SecretsError> {
    let now_unix = match cmd {
        SecretCommand::Seal(_) | SecretCommand::Rotate(_) => current_unix_time(),
        SecretCommand::Keygen(_) | SecretCommand::Verify(_) => 0,
    };
    let sops_age_key_file = std::env::var("SOPS_AGE_KEY_FILE")
        .ok()
        .filter(|v| !v.is_empty())
        .map(Utf8PathBuf::from);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let mut session = Session {
        now_unix,
        sops_age_key_file,
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    run_with(root, cmd, &mut session)
}

/// The one clock read of the secrets module: `lastmodified` for `seal`/`rotate`.
#[allow(clippy::disallowed_methods)] // reason: sops needs `lastmodified`; never used by build
fn current_unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Runs a command with an explicit [`Session`].
///
/// # Errors
/// See [`SecretsError`].
pub fn run_with(root: &Utf8Path, cmd: &SecretCommand, session: &mut Session<'_>) -> Result<u8, SecretsError> {
    match cmd {
        SecretCommand::Keygen(args) => keygen(args, session),
        SecretCommand::Seal(args) => seal_cmd(root, args, session),
        SecretCommand::Rotate(args) => rotate_cmd(root, args, session),
        SecretCommand::Verify(args) => verify_cmd(root, args, session),
    }
}

fn io_err(path: &Utf8Path) -> impl FnOnce(std::io::Error) -> SecretsError + '_ {
    move |source| SecretsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes to stdout/stderr; a closed pipe is not worth failing a command over.
fn say(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// keygen
// ---------------------------------------------------------------------------------------------

fn keygen(args: &KeygenArgs, session: &mut Session<'_>) -> Result<u8, SecretsError> {
    let key = age_keys::generate();
    match &args.out {
        Some(path) => {
            write_identity(path, &key.file_text)?;
            say(session.stdout, &format!("{}\n", key.recipient));
            say(
                session.stderr,
                &format!(
                    "wrote identity `{path}` (mode 0600); add the recipient above to the environment's rule in `{POLICY_FILE}`\n"
                ),
            );
        }
        None => {
            say(session.stdout, &key.file_text);
            say(session.stderr, &format!("Public key: {}\n", key.recipient));
        }
    }
    Ok(0)
}

/// Creates the identity file with mode 0600 from the start (never widened, never overwritten).
fn write_identity(path: &Utf8Path, text: &str) -> Result<(), SecretsError> {
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            SecretsError::KeyExists {
                path: path.to_owned(),
            }
        } else {
            SecretsError::Io {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    file.write_all(text.as_bytes()).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
}

// ---------------------------------------------------------------------------------------------
// seal
// ---------------------------------------------------------------------------------------------

/// The namespace of `component` in environment `env`. `None` when the repository's inputs do not
/// resolve (a secrets-only checkout); an error when they do and the component is not there.
fn component_namespace(root: &Utf8Path, env: &str, component: &str) -> Result<Option<String>, SecretsError> {
    let Ok(inputs) = crate::load::load(root) else {
        return Ok(None);
    };
    let Ok(model) = crate::model::resolve(&inputs, env) else {
        return Ok(None);
    };
    match model.component(component) {
        Some(c) => Ok(Some(c.namespace.clone())),
        None => Err(SecretsError::UnknownComponent {
            env: env.to_owned(),
            component: component.to_owned(),
        }),
    }
}

/// The repo-relative path of a sealed secret.
#[must_use]
pub fn secret_path(env: &str, component: &str, name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("secrets/{env}/{component}/{name}.sops.yaml"))
}

fn seal_cmd(root: &Utf8Path, args: &SealArgs, session: &mut Session<'_>) -> Result<u8, SecretsError> {
    check_segment("environment", &args.env)?;
    check_segment("component", &args.component)?;
    check_dns_name("Secret name", &args.name)?;
    if let Some(ns) = &args.namespace {
        check_dns_label("namespace", ns)?;
    }
    // `hydrate build` copies the file into the component's folder and requires its namespace.
    let namespace = match &args.namespace {
        Some(ns) => Some(ns.clone()),
        None => component_namespace(root, &args.env, &args.component)?,
    };
    let rel = secret_path(&args.env, &args.component, &args.name);
    let target = root.join(&rel);
    if target.exists() && !args.force {
        return Err(SecretsError::Exists { path: rel });
    }
    let policy = load_policy(root)?.ok_or(SecretsError::NoPolicy)?;
    let rule = policy.recipients_for(&rel).map_err(|e| policy_error(&e))?;
    let values = read_values(args, session)?;
    let spec = SecretSpec {
        name: &args.name,
        namespace: namespace.as_deref(),
        secret_type: &args.secret_type,
        values: &values,
    };
    let lastmodified = crypto::rfc3339_utc(session.now_unix);
    let text = seal::seal_tree(
        seal::secret_tree(&spec),
        &rule.age,
        rule.encrypted_regex_or_default(),
        &lastmodified,
    )
    .map_err(|e| seal_error(&rel, e))?;
    write_atomic(root, &rel, &text)?;
    say(
        session.stdout,
        &format!(
            "sealed `{rel}`: {} key(s) ({}) for {} recipient(s)\n",
            values.len(),
            values.keys().cloned().collect::<Vec<_>>().join(", "),
            rule.age.len()
        ),
    );
    Ok(0)
}

/// Collects the values from `KEY=VALUE` args, `--from-file` and `--stdin`.
fn read_values(
    args: &SealArgs,
    session: &mut Session<'_>,
) -> Result<BTreeMap<String, Zeroizing<Vec<u8>>>, SecretsError> {
    let mut values = BTreeMap::new();
    let mut insert = |key: String, value: Zeroizing<Vec<u8>>| -> Result<(), SecretsError> {
        check_data_key(&key)?;
        if values.contains_key(&key) {
            return Err(SecretsError::DuplicateKey { key });
        }
        values.insert(key, value);
        Ok(())
    };
    for (index, pair) in args.pairs.iter().enumerate() {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(SecretsError::Values {
                source_name: "arguments".to_owned(),
                line: index + 1,
                reason: "an argument without `=`".to_owned(),
            });
        };
        insert(key.to_owned(), Zeroizing::new(value.as_bytes().to_vec()))?;
    }
    let input = if let Some(path) = &args.from_file {
        let mut bytes = Zeroizing::new(Vec::new());
        fs_err::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_err(path))?;
        Some((format!("`--from-file {path}`"), bytes))
    } else if args.stdin {
        let mut bytes = Zeroizing::new(Vec::new());
        session
            .stdin
            .read_to_end(&mut bytes)
            .map_err(io_err(Utf8Path::new("<stdin>")))?;
        Some(("stdin".to_owned(), bytes))
    } else {
        None
    };
    match (input, &args.key) {
        (Some((_, bytes)), Some(key)) => insert(key.clone(), bytes)?,
        (Some((source_name, bytes)), None) => {
            for (key, value) in parse_value_lines(&source_name, &bytes)? {
                insert(key, value)?;
            }
        }
        (None, Some(_)) => {
            return Err(SecretsError::InvalidName {
                what: "option",
                value: "--key".to_owned(),
                reason: "it needs `--from-file` or `--stdin`".to_owned(),
                help: "pass the value's source: `--key NAME --from-file FILE`".to_owned(),
            });
        }
        (None, None) => {}
    }
    if values.is_empty() {
        return Err(SecretsError::NoValues);
    }
    Ok(values)
}

/// A key and its plaintext value (wiped on drop).
type KeyedValue = (String, Zeroizing<Vec<u8>>);

/// Parses `KEY=VALUE` lines: blank lines and `#` comments skipped, the value is everything
/// after the first `=` up to the end of the line (no quoting or escapes), `\r\n` accepted.
fn parse_value_lines(source_name: &str, bytes: &[u8]) -> Result<Vec<KeyedValue>, SecretsError> {
    let mut out = Vec::new();
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) || line.first() == Some(&b'#') {
            continue;
        }
        let bad = |reason: &str| SecretsError::Values {
            source_name: source_name.to_owned(),
            line: index + 1,
            reason: reason.to_owned(),
        };
        let eq = line
            .iter()
            .position(|b| *b == b'=')
            .ok_or_else(|| bad("a line without `=`"))?;
        let key = std::str::from_utf8(&line[..eq])
            .map_err(|_| bad("a key that is not UTF-8"))?
            .trim()
            .to_owned();
        out.push((key, Zeroizing::new(line[eq + 1..].to_vec())));
    }
    Ok(out)
}

/// Writes `text` to `root/rel` atomically: a temp file in the same folder, then a rename.
fn write_atomic(root: &Utf8Path, rel: &Utf8Path, text: &str) -> Result<(), SecretsError> {
    let target = root.join(rel);
    let dir = target.parent().expect("a secret path has a parent folder");
    fs_err::create_dir_all(dir).map_err(io_err(rel))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".hydrate-seal.")
        .tempfile_in(dir)
        .map_err(io_err(rel))?;
    temp.write_all(text.as_bytes()).map_err(io_err(rel))?;
    temp.as_file().sync_all().map_err(io_err(rel))?;
    temp.persist(&target).map_err(|e| io_err(rel)(e.error))?;
    Ok(())
}

/// An environment or component folder name: lowercase letters, digits, `-`, `_`, `.`, not
/// starting with `.`.
fn check_segment(what: &'static str, value: &str) -> Result<(), SecretsError> {
    let ok = !value.is_empty()
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SecretsError::InvalidName {
            what,
            value: value.to_owned(),
            reason: "use lowercase letters, digits, `-`, `_` or `.`, not starting with `.`".to_owned(),
            help: format!("name the {what} as its folder is named"),
        })
    }
}

/// A DNS-1123 subdomain (a Secret name).
fn check_dns_name(what: &'static str, value: &str) -> Result<(), SecretsError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value
            .split('.')
            .all(|label| dns_label_ok(label) && label.len() <= 63);
    if ok {
        Ok(())
    } else {
        Err(SecretsError::InvalidName {
            what,
            value: value.to_owned(),
            reason: "not a DNS-1123 subdomain".to_owned(),
            help: "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
                .to_owned(),
        })
    }
}

/// A DNS-1123 label (a namespace).
fn check_dns_label(what: &'static str, value: &str) -> Result<(), SecretsError> {
    if dns_label_ok(value) && value.len() <= 63 {
        Ok(())
    } else {
        Err(SecretsError::InvalidName {
            what,
            value: value.to_owned(),
            reason: "not a DNS-1123 label".to_owned(),
            help: "use lowercase letters, digits and `-`, starting and ending with a letter or digit"
                .to_owned(),
        })
    }
}

fn dns_label_ok(label: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    label.chars().next().is_some_and(alnum)
        && label.chars().last().is_some_and(alnum)
        && label.chars().all(|c| alnum(c) || c == '-')
}

/// A Secret data key: `[-._a-zA-Z0-9]+` (Kubernetes' rule).
fn check_data_key(key: &str) -> Result<(), SecretsError> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(())
    } else {
        Err(SecretsError::InvalidName {
            what: "key",
            value: key.to_owned(),
            reason: "a Secret key is made of letters, digits, `-`, `_` and `.`".to_owned(),
            help: "rename the key".to_owned(),
        })
    }
}

fn seal_error(rel: &Utf8Path, e: SealError) -> SecretsError {
    let (line, column, message, help) = match e {
        SealError::Recipient(m) => (0, 0, m, format!("fix the recipient in `{POLICY_FILE}`")),
        SealError::Rule(m) => (
            0,
            0,
            m,
            format!(
                "set the rule's `encrypted_regex` in `{POLICY_FILE}` to `^(data|stringData)$` (or remove it)"
            ),
        ),
        SealError::SelfCheck(m) => (
            0,
            0,
            format!("internal error, nothing written: {m}"),
            "report this as a bug in hydrate".to_owned(),
        ),
        SealError::Document(problems) => {
            let first = problems.into_iter().next();
            first.map_or((0, 0, "cannot read the file".to_owned(), String::new()), |p| {
                (p.pos.line, p.pos.column, p.message, p.help)
            })
        }
    };
    SecretsError::Seal {
        file: rel.to_owned(),
        line,
        column,
        message,
        help,
    }
}

// ---------------------------------------------------------------------------------------------
// policy and identities
// ---------------------------------------------------------------------------------------------

/// Reads and parses `<root>/.sops.yaml`; `Ok(None)` when there is none.
///
/// # Errors
/// The file cannot be read or is invalid.
pub fn load_policy(root: &Utf8Path) -> Result<Option<Policy>, SecretsError> {
    let path = root.join(POLICY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = fs_err::read_to_string(&path).map_err(io_err(Utf8Path::new(POLICY_FILE)))?;
    Policy::parse(&text).map(Some).map_err(|e| policy_error(&e))
}

fn policy_error(e: &PolicyError) -> SecretsError {
    SecretsError::Policy {
        file: Utf8PathBuf::from(POLICY_FILE),
        line: e.pos.line,
        column: e.pos.column,
        message: e.message.clone(),
        help: e.help.clone(),
    }
}

/// The age recipients of an environment, from `<root>/.sops.yaml`.
///
/// # Errors
/// No `.sops.yaml`, an invalid one, or no usable rule for the environment.
pub fn env_recipients(root: &Utf8Path, env: &str) -> Result<Vec<String>, SecretsError> {
    let policy = load_policy(root)?.ok_or(SecretsError::NoPolicy)?;
    policy.env_recipients(env).map_err(|e| policy_error(&e))
}

/// Loads the identity file from `--identity` or `$SOPS_AGE_KEY_FILE`, if either is given.
fn load_identity(
    flag: Option<&Utf8PathBuf>,
    session: &Session<'_>,
) -> Result<Option<AgeIdentities>, SecretsError> {
    let Some(path) = flag.or(session.sops_age_key_file.as_ref()) else {
        return Ok(None);
    };
    let text = Zeroizing::new(fs_err::read_to_string(path).map_err(io_err(path))?);
    AgeIdentities::parse(&text)
        .map(Some)
        .map_err(|e| SecretsError::Identity {
            path: path.clone(),
            line: e.line,
            reason: e.reason,
        })
}

// ---------------------------------------------------------------------------------------------
// the secrets tree
// ---------------------------------------------------------------------------------------------

/// One file under `secrets/`.
struct SecretFile {
    rel: Utf8PathBuf,
    env: String,
    layout_ok: bool,
    /// Symlinks are reported, never followed: one could point at a plaintext file elsewhere.
    symlink: bool,
}

/// Lists the files under `<root>/secrets/` in path order, keeping those of `envs` (all if
/// empty). Symlinks are not followed.
fn list_secret_files(root: &Utf8Path, envs: &[String]) -> Result<Vec<SecretFile>, SecretsError> {
    let dir = root.join("secrets");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let entry = entry.map_err(|e| SecretsError::Io {
            path: Utf8PathBuf::from("secrets"),
            source: e.into(),
        })?;
        let symlink = entry.file_type().is_symlink();
        if !entry.file_type().is_file() && !symlink {
            continue;
        }
        let Some(rel) = entry
            .path()
            .strip_prefix(root.as_std_path())
            .ok()
            .and_then(|p| Utf8Path::from_path(p))
            .map(|p| {
                // Always `/`-separated: `.sops.yaml` regexes are written that way.
                Utf8PathBuf::from(p.components().map(|c| c.as_str()).collect::<Vec<_>>().join("/"))
            })
        else {
            continue;
        };
        let parts: Vec<&str> = rel.as_str().split('/').collect();
        let env = parts.get(1).copied().unwrap_or_default().to_owned();
        if !envs.is_empty() && !envs.contains(&env) {
            continue;
        }
        let layout_ok = !symlink && parts.len() == 4 && parts[3].ends_with(".sops.yaml");
        files.push(SecretFile {
            rel,
            env,
            layout_ok,
            symlink,
        });
    }
    Ok(files)
}

/// Files that may sit under `secrets/` without being secrets.
fn is_ignorable(rel: &Utf8Path) -> bool {
    matches!(rel.file_name(), Some(".gitkeep" | "README.md"))
}

/// Checks every secret file of `envs` (all if empty) without decrypting, or with `identity`
/// also decrypting in memory. This is the build lint. Findings are sorted.
///
/// # Errors
/// A file cannot be read.
pub fn verify_repo(
    root: &Utf8Path,
    envs: &[String],
    identity: Option<&AgeIdentities>,
) -> Result<Vec<Finding>, SecretsError> {
    let files = list_secret_files(root, envs)?;
    let mut findings = Vec::new();
    if files.is_empty() {
        return Ok(findings);
    }
    let policy = match load_policy(root) {
        Ok(p) => p,
        Err(SecretsError::Policy {
            file,
            line,
            column,
            message,
            help,
        }) => {
            findings.push(Finding {
                file,
                line,
                column,
                code: "sops-policy",
                message,
                help,
            });
            None
        }
        Err(e) => return Err(e),
    };
    for file in files {
        if is_ignorable(&file.rel) {
            continue;
        }
        if file.symlink {
            findings.push(Finding {
                file: file.rel.clone(),
                line: 0,
                column: 0,
                code: "sops-layout",
                message: "a symlink under `secrets/`".to_owned(),
                help: "replace it with the sealed file itself; symlinks are not followed".to_owned(),
            });
            continue;
        }
        if !file.layout_ok {
            findings.push(Finding {
                file: file.rel.clone(),
                line: 0,
                column: 0,
                code: "sops-layout",
                message: "not a `secrets/<env>/<component>/<name>.sops.yaml` file".to_owned(),
                help: "only sealed files belong under `secrets/`: move it, or seal its values with `hydrate secret seal` and delete the plaintext".to_owned(),
            });
            if !file.rel.as_str().ends_with(".sops.yaml") {
                continue;
            }
        }
        let bytes = fs_err::read(root.join(&file.rel)).map_err(io_err(&file.rel))?;
        let Ok(text) = String::from_utf8(bytes) else {
            findings.push(Finding {
                file: file.rel.clone(),
                line: 0,
                column: 0,
                code: "sops-parse",
                message: "the file is not UTF-8".to_owned(),
                help: "seal the secret again with `hydrate secret seal`".to_owned(),
            });
            continue;
        };
        findings.extend(verify::verify_file(policy.as_ref(), &file.rel, &text, identity));
    }
    findings.sort();
    Ok(findings)
}

fn verify_cmd(root: &Utf8Path, args: &VerifyArgs, session: &mut Session<'_>) -> Result<u8, SecretsError> {
    for env in &args.envs {
        check_segment("environment", env)?;
    }
    let identity = load_identity(args.identity.as_ref(), session)?;
    let files = list_secret_files(root, &args.envs)?;
    for env in &args.envs {
        if !files.iter().any(|f| &f.env == env) {
            say(
                session.stderr,
                &format!("note: no secrets for environment `{env}` (`secrets/{env}/`)\n"),
            );
        }
    }
    let findings = verify_repo(root, &args.envs, identity.as_ref())?;
    for finding in &findings {
        say(session.stdout, &format!("{finding}\n"));
    }
    let checked = files.iter().filter(|f| !is_ignorable(&f.rel)).count();
    let mode = if identity.is_some() && findings.is_empty() {
        "each decrypted in memory, MAC checked"
    } else if identity.is_some() {
        "decryption attempted in memory; files with findings were not verified"
    } else {
        "not decrypted: set `SOPS_AGE_KEY_FILE` to also check decryption and MAC"
    };
    say(
        session.stderr,
        &format!(
            "verified {checked} file(s) ({mode}): {} finding(s)\n",
            findings.len()
        ),
    );
    Ok(u8::from(!findings.is_empty()))
}

// ---------------------------------------------------------------------------------------------
// rotate
// ---------------------------------------------------------------------------------------------

fn rotate_cmd(root: &Utf8Path, args: &RotateArgs, session: &mut Session<'_>) -> Result<u8, SecretsError> {
    for env in &args.envs {
        check_segment("environment", env)?;
    }
    let identity = load_identity(args.identity.as_ref(), session)?.ok_or(SecretsError::NoIdentity)?;
    let policy = load_policy(root)?.ok_or(SecretsError::NoPolicy)?;
    let lastmodified = crypto::rfc3339_utc(session.now_unix);
    let mut failures = 0;
    for file in list_secret_files(root, &args.envs)? {
        if !file.layout_ok {
            continue;
        }
        let result = rotate_one(root, &file.rel, &policy, &identity, args.rekey, &lastmodified);
        match result {
            Ok(true) => say(session.stdout, &format!("rotated `{}`\n", file.rel)),
            Ok(false) => say(session.stdout, &format!("up to date `{}`\n", file.rel)),
            Err(e) => {
                failures += 1;
                say(session.stderr, &format!("error: {e}\n"));
                if let Some(help) = miette::Diagnostic::help(&e) {
                    say(session.stderr, &format!("  hint: {help}\n"));
                }
            }
        }
    }
    if failures > 0 {
        return Err(SecretsError::RotateFailed { count: failures });
    }
    Ok(0)
}

/// Rotates one file; `Ok(true)` if it was rewritten.
fn rotate_one(
    root: &Utf8Path,
    rel: &Utf8Path,
    policy: &Policy,
    identity: &AgeIdentities,
    rekey: bool,
    lastmodified: &str,
) -> Result<bool, SecretsError> {
    let rule = policy.recipients_for(rel).map_err(|e| policy_error(&e))?;
    let text = fs_err::read_to_string(root.join(rel)).map_err(io_err(rel))?;
    match seal::rotate_text(&text, &rule.age, identity, rekey, lastmodified)
        .map_err(|e| seal_error(rel, e))?
    {
        Rotated::UpToDate => Ok(false),
        Rotated::Rewritten(new_text) => {
            write_atomic(root, rel, &new_text)?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_lines() {
        let parsed = parse_value_lines("x", b"# c\n\nA=1\r\nB=x=y\nC=\n").unwrap();
        let got: Vec<(String, Vec<u8>)> = parsed.into_iter().map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(
            got,
            vec![
                ("A".to_owned(), b"1".to_vec()),
                ("B".to_owned(), b"x=y".to_vec()),
                ("C".to_owned(), b"".to_vec()),
            ]
        );
        let err = parse_value_lines("stdin", b"A=1\nsecret-without-equals\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("secret-without-equals"), "{text}");
    }

    #[test]
    fn names() {
        assert!(check_segment("environment", "prod").is_ok());
        assert!(check_segment("environment", "../x").is_err());
        assert!(check_segment("environment", "a/b").is_err());
        assert!(check_dns_name("Secret name", "db-creds.v1").is_ok());
        assert!(check_dns_name("Secret name", "Db").is_err());
        assert!(check_data_key("tls.crt").is_ok());
        assert!(check_data_key("a b").is_err());
    }
}
