//! `hydrate secret keygen | seal | rotate | verify`: reads the values and identities the operator
//! gives, calls `crate::secrets`, and reports. The clock is read only here, for `seal`/`rotate`
//! (`lastmodified`), and passed down.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::{KeygenArgs, RotateArgs, SealArgs, SecretCommand, VerifyArgs};
use crate::error::Error;
use crate::secrets::policy::POLICY_FILE;
use crate::secrets::repo::{
    check_data_key, check_dns_label, check_dns_name, check_segment, component_namespace, io_err,
    is_ignorable, list_secret_files, load_policy, policy_error, rotate_one, seal_error, secret_path,
    verify_repo, write_atomic, write_identity,
};
use crate::secrets::seal::{self, SecretSpec};
use crate::secrets::{AgeIdentities, SecretsError, age_keys, crypto};

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
pub fn run(root: &Utf8Path, cmd: &SecretCommand) -> Result<Outcome, Error> {
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
    Ok(run_with(root, cmd, &mut session)?)
}

/// The one clock read of hydrate: `lastmodified` for `seal`/`rotate`.
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
pub fn run_with(
    root: &Utf8Path,
    cmd: &SecretCommand,
    session: &mut Session<'_>,
) -> Result<Outcome, SecretsError> {
    let findings = match cmd {
        SecretCommand::Keygen(args) => keygen(args, session)?,
        SecretCommand::Seal(args) => seal_cmd(root, args, session)?,
        SecretCommand::Rotate(args) => rotate_cmd(root, args, session)?,
        SecretCommand::Verify(args) => verify_cmd(root, args, session)?,
    };
    Ok(if findings {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Writes to stdout/stderr; a closed pipe is not worth failing a command over.
fn say(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
}

fn keygen(args: &KeygenArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
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
    Ok(false)
}

fn seal_cmd(root: &Utf8Path, args: &SealArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
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
    Ok(false)
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

/// Loads the identity file from `--identity` or `$SOPS_AGE_KEY_FILE`, if either is given.
fn load_identity(
    flag: Option<&Utf8PathBuf>,
    session: &Session<'_>,
) -> Result<Option<AgeIdentities>, SecretsError> {
    flag.or(session.sops_age_key_file.as_ref())
        .map(|path| crate::secrets::repo::load_identity(path))
        .transpose()
}

fn verify_cmd(root: &Utf8Path, args: &VerifyArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
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
    Ok(!findings.is_empty())
}

fn rotate_cmd(root: &Utf8Path, args: &RotateArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
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
    Ok(false)
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
}
