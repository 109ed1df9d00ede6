//! `hydrate secret keygen | seal | rotate | verify`: reads the values and identities the operator
//! gives, calls `crate::secrets`, and reports. The clock is read only here, for `seal`/`rotate`
//! (`lastmodified`), and passed down.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use camino::{Utf8Path, Utf8PathBuf};
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::{KeygenArgs, ResealArgs, RotateArgs, SealArgs, SecretCommand, VerifyArgs};
use crate::error::Error;
use crate::secrets::policy::POLICY_FILE;
use crate::secrets::repo::{
    Declared, check_data_key, check_dns_label, check_dns_name, check_segment, component_in_env,
    create_private_parents, io_err, is_ignorable, list_secret_files, load_policy, policy_error, rotate_one,
    seal_error, secret_path, verify_repo, write_atomic, write_identity,
};
use crate::secrets::seal::{self, SecretSpec};
use crate::secrets::verify::SecretFinding;
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
        SecretCommand::Seal(_) | SecretCommand::Reseal(_) | SecretCommand::Rotate(_) => current_unix_time(),
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
        SecretCommand::Reseal(args) => reseal_cmd(root, args, session)?,
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
            // The README's first step names `~/.config/hydrate/…`, missing on a fresh machine.
            let created = create_private_parents(path)?;
            write_identity(path, &key.file_text)?;
            say(session.stdout, &format!("{}\n", key.recipient));
            for dir in &created {
                say(
                    session.stderr,
                    &format!("created folder `{}` (mode 0700)\n", shown(dir)),
                );
            }
            say(
                session.stderr,
                &format!(
                    "wrote identity `{}` (mode 0600); add the recipient above to the environment's rule in `{POLICY_FILE}`\n",
                    shown(path)
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

/// A path the operator gave, as shown in messages: under the home folder as `~/…`.
fn shown(path: &Utf8Path) -> String {
    let home = std::env::var("HOME").ok().filter(|h| h.len() > 1);
    match home.as_deref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{rest}"),
        None => path.to_string(),
    }
}

fn seal_cmd(root: &Utf8Path, args: &SealArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
    check_segment("environment", &args.env)?;
    check_segment("component", &args.component)?;
    check_dns_name("Secret name", &args.name)?;
    if let Some(ns) = &args.namespace {
        check_dns_label("namespace", ns)?;
    }
    // `hydrate build` copies the file into the component's folder and requires its namespace;
    // it copies only the Secrets the component declares, with the keys it declares.
    let declared = component_in_env(root, &args.env, &args.component)?;
    if let Some(declared) = &declared {
        check_declared_name(declared, &args.component, &args.name)?;
    }
    let namespace = match (&args.namespace, &declared) {
        (Some(ns), _) => Some(ns.clone()),
        (None, d) => d.as_ref().map(|d| d.namespace.clone()),
    };
    let rel = secret_path(&args.env, &args.component, &args.name);
    let target = root.join(&rel);
    if target.exists() && !args.force {
        return Err(SecretsError::Exists { path: rel });
    }
    let policy = load_policy(root)?.ok_or(SecretsError::NoPolicy)?;
    let rule = policy.recipients_for(&rel).map_err(|e| policy_error(&e))?;
    let values = read_values(args, session)?;
    if let Some(declared) = &declared {
        check_declared_keys(declared, &args.component, &args.name, values.keys())?;
    }
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

/// The Secret `name` must be one `component` declares (see: issue 13, `n8n-foo` sealed without a
/// word, never copied by the build).
fn check_declared_name(declared: &Declared, component: &str, name: &str) -> Result<(), SecretsError> {
    if declared.secrets.iter().any(|d| d.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = declared.secrets.iter().map(|d| d.name.as_str()).collect();
    Err(SecretsError::Undeclared {
        message: format!("component `{component}` declares no Secret `{name}`"),
        help: format!(
            "{}declare it in `{}` under `secrets` (`- name: {name}` with its `keys`) to add it",
            did_you_mean(name, &names, &format!("`{component}` declares")),
            declared.file
        ),
    })
}

/// Every key given must be declared, and every declared key given: the build refuses a sealed
/// Secret without a declared key, and copies none it does not declare.
fn check_declared_keys<'k>(
    declared: &Declared,
    component: &str,
    name: &str,
    given: impl Iterator<Item = &'k String>,
) -> Result<(), SecretsError> {
    let decl = declared
        .secrets
        .iter()
        .find(|d| d.name == name)
        .expect("the name was checked first");
    let keys: Vec<&str> = decl.keys.iter().map(String::as_str).collect();
    let given: Vec<&String> = given.collect();
    let unknown: Vec<&str> = given
        .iter()
        .map(|k| k.as_str())
        .filter(|k| !keys.contains(k))
        .collect();
    if let Some(first) = unknown.first() {
        let quoted: Vec<String> = unknown.iter().map(|k| format!("`{k}`")).collect();
        return Err(SecretsError::Undeclared {
            message: format!(
                "Secret `{name}` of `{component}` declares no key {}",
                quoted.join(", ")
            ),
            help: format!(
                "{}add it to `keys` of `{name}` in `{}` if it is a new key",
                did_you_mean(first, &keys, &format!("`{name}` declares")),
                declared.file
            ),
        });
    }
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !given.iter().any(|g| g.as_str() == **k))
        .map(|k| format!("`{k}`"))
        .collect();
    if !missing.is_empty() {
        return Err(SecretsError::Undeclared {
            message: format!(
                "no value for {} of Secret `{name}` (seal writes the whole Secret)",
                missing.join(", ")
            ),
            help: format!(
                "give every key `{name}` declares in `{}`: {}",
                declared.file,
                keys.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    Ok(())
}

/// `did you mean `x`? ` (when one is close), then `<what> `a`, `b`; `.
fn did_you_mean(name: &str, known: &[&str], what: &str) -> String {
    let best = known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    let list = if known.is_empty() {
        "nothing".to_string()
    } else {
        known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{best}{what} {list}; ")
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
        let named = Utf8PathBuf::from(shown(path)); // `~/…`, as the operator typed it
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_err(&named))?;
        Some((format!("`--from-file {named}`"), bytes))
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
    let mut findings = verify_repo(root, &args.envs, identity.as_ref())?;
    findings.extend(undeclared_files(root, &files));
    findings.sort();
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

/// `hydrate secret reseal ENV --from-dir DIR`: every Secret the environment's components declare
/// is sealed again from the operator's values, for the current recipients; a checklist names
/// what had no value (or a value for an undeclared key), and those files are left as they were.
/// Values live in memory only (wiped on drop); none is printed.
fn reseal_cmd(root: &Utf8Path, args: &ResealArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
    check_segment("environment", &args.env)?;
    let inputs = crate::load::load(root).map_err(|e| SecretsError::Undeclared {
        message: format!("the repository does not load: {e}"),
        help: "fix the inputs first (`hydrate build`), reseal reads what each component declares".to_string(),
    })?;
    let model = crate::model::resolve(&inputs, &args.env).map_err(|e| SecretsError::Undeclared {
        message: format!(
            "environment `{}` does not resolve: {}",
            args.env,
            crate::diag::render_error(&e)
        ),
        help: format!(
            "fix it first (`hydrate build {}`): reseal reads what each component declares",
            args.env
        ),
    })?;
    for only in &args.only {
        if model.component(only).is_none() {
            let names: Vec<&str> = model.components.iter().map(|c| c.name.as_str()).collect();
            return Err(SecretsError::Undeclared {
                message: format!("environment `{}` has no enabled component `{only}`", args.env),
                help: did_you_mean(only, &names, "enabled components:")
                    .trim_end_matches("; ")
                    .to_string(),
            });
        }
    }
    if !args.from_dir.is_dir() {
        return Err(SecretsError::Undeclared {
            message: format!("`{}` is not a folder", shown(&args.from_dir)),
            help: "give a folder holding `<component>/<name>.env` files (`KEY=VALUE` lines) or `<component>/<name>/<KEY>` files".to_string(),
        });
    }
    let policy = load_policy(root)?.ok_or(SecretsError::NoPolicy)?;
    let lastmodified = crypto::rfc3339_utc(session.now_unix);
    let dir = shown(&args.from_dir);
    let (mut sealed, mut left) = (0usize, 0usize);
    for component in &model.components {
        if !args.only.is_empty() && !args.only.contains(&component.name) {
            continue;
        }
        for decl in &component.spec.secrets {
            let rel = secret_path(&args.env, &component.name, &decl.name);
            let (values, source) = read_dir_values(&args.from_dir, &component.name, &decl.name)?;
            let missing: Vec<String> = decl
                .keys
                .iter()
                .filter(|k| !values.contains_key(*k))
                .map(|k| format!("`{k}`"))
                .collect();
            let extra: Vec<String> = values
                .keys()
                .filter(|k| !decl.keys.contains(k))
                .map(|k| format!("`{k}`"))
                .collect();
            if !missing.is_empty() || !extra.is_empty() {
                left += 1;
                let mut why = Vec::new();
                if source.is_none() {
                    why.push(format!(
                        "no `{dir}/{c}/{n}.env` nor `{dir}/{c}/{n}/`",
                        c = component.name,
                        n = decl.name
                    ));
                } else if !missing.is_empty() {
                    why.push(format!("no value for {}", missing.join(", ")));
                }
                if !extra.is_empty() {
                    why.push(format!(
                        "{} not declared (keys: {})",
                        extra.join(", "),
                        decl.keys.join(", ")
                    ));
                }
                say(session.stdout, &format!("[ ] {rel}: {}\n", why.join("; ")));
                continue;
            }
            let rule = policy.recipients_for(&rel).map_err(|e| policy_error(&e))?;
            if args.dry_run {
                sealed += 1;
                say(
                    session.stdout,
                    &format!(
                        "[x] {rel}: would seal {} for {} recipient(s)\n",
                        decl.keys.join(", "),
                        rule.age.len()
                    ),
                );
                continue;
            }
            let secret_type = existing_type(root, &rel).unwrap_or_else(|| "Opaque".to_string());
            let spec = SecretSpec {
                name: &decl.name,
                namespace: Some(&component.namespace),
                secret_type: &secret_type,
                values: &values,
            };
            let text = seal::seal_tree(
                seal::secret_tree(&spec),
                &rule.age,
                rule.encrypted_regex_or_default(),
                &lastmodified,
            )
            .map_err(|e| seal_error(&rel, e))?;
            write_atomic(root, &rel, &text)?;
            sealed += 1;
            say(
                session.stdout,
                &format!(
                    "[x] {rel}: sealed {} for {} recipient(s)\n",
                    decl.keys.join(", "),
                    rule.age.len()
                ),
            );
        }
    }
    let verb = if args.dry_run { "would be sealed" } else { "sealed" };
    say(
        session.stderr,
        &format!(
            "reseal {}: {sealed} Secret(s) {verb}, {left} left as they were\n",
            args.env
        ),
    );
    if left > 0 {
        say(
            session.stderr,
            &format!(
                "next: put the missing values in `{dir}` (`<component>/<name>.env`: `KEY=VALUE` lines) and run the same command again; then `hydrate secret verify {}`\n",
                args.env
            ),
        );
    } else if !args.dry_run {
        say(
            session.stderr,
            &format!(
                "next: `hydrate secret verify {}`, then `hydrate build {}`\n",
                args.env, args.env
            ),
        );
    }
    Ok(left > 0)
}

/// The values of Secret `name` of `component` in the operator's folder: `<component>/<name>.env`
/// (`KEY=VALUE` lines), else `<component>/<name>/<KEY>` files (whole files, bytes as they are).
/// Returns the values and which of the two was found.
#[allow(clippy::type_complexity)]
fn read_dir_values(
    dir: &Utf8Path,
    component: &str,
    name: &str,
) -> Result<(BTreeMap<String, Zeroizing<Vec<u8>>>, Option<Utf8PathBuf>), SecretsError> {
    let mut values = BTreeMap::new();
    let env_file = dir.join(component).join(format!("{name}.env"));
    let key_dir = dir.join(component).join(name);
    if env_file.is_file() {
        let mut bytes = Zeroizing::new(Vec::new());
        fs_err::File::open(&env_file)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io_err(&env_file))?;
        let label = format!("`{}`", shown(&env_file));
        for (key, value) in parse_value_lines(&label, &bytes)? {
            check_data_key(&key)?;
            if values.insert(key.clone(), value).is_some() {
                return Err(SecretsError::DuplicateKey { key });
            }
        }
        return Ok((values, Some(env_file)));
    }
    if key_dir.is_dir() {
        let mut entries: Vec<Utf8PathBuf> = Vec::new();
        for entry in fs_err::read_dir(&key_dir).map_err(io_err(&key_dir))? {
            let entry = entry.map_err(io_err(&key_dir))?;
            if let Ok(path) = Utf8PathBuf::from_path_buf(entry.path())
                && path.is_file()
                && !path.file_name().is_some_and(|n| n.starts_with('.'))
            {
                entries.push(path);
            }
        }
        entries.sort();
        for path in entries {
            let key = path.file_name().unwrap_or_default().to_string();
            check_data_key(&key)?;
            let mut bytes = Zeroizing::new(Vec::new());
            fs_err::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(io_err(&path))?;
            values.insert(key, bytes);
        }
        return Ok((values, Some(key_dir)));
    }
    Ok((values, None))
}

/// The `type` of an existing sealed file (kept in clear), so a re-seal keeps it.
fn existing_type(root: &Utf8Path, rel: &Utf8Path) -> Option<String> {
    let text = fs_err::read_to_string(root.join(rel)).ok()?;
    let value: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    value.get("type")?.as_str().map(str::to_string)
}

/// Sealed files that no enabled component of their environment declares (`sops-undeclared`):
/// the build never copies them. Environments whose inputs do not resolve are skipped (the build
/// reports those).
fn undeclared_files(root: &Utf8Path, files: &[crate::secrets::repo::SecretFile]) -> Vec<SecretFinding> {
    let Ok(inputs) = crate::load::load(root) else {
        return Vec::new();
    };
    let mut models = BTreeMap::new();
    let mut findings = Vec::new();
    for file in files.iter().filter(|f| f.layout_ok) {
        let model = models
            .entry(file.env.clone())
            .or_insert_with(|| crate::model::resolve(&inputs, &file.env).ok());
        let Some(model) = model else { continue };
        let parts: Vec<&str> = file.rel.as_str().split('/').collect();
        let (component, name) = (parts[2], parts[3].trim_end_matches(".sops.yaml"));
        let (message, help) = match model.component(component) {
            Some(c) if c.spec.secrets.iter().any(|d| d.name == name) => continue,
            Some(c) => {
                let names: Vec<&str> = c.spec.secrets.iter().map(|d| d.name.as_str()).collect();
                (
                    format!(
                        "component `{component}` declares no Secret `{name}`: the build never copies this file"
                    ),
                    format!(
                        "{}declare it in `{}` under `secrets`, or delete the file",
                        did_you_mean(name, &names, &format!("`{component}` declares")),
                        c.file.path
                    ),
                )
            }
            None => (
                format!(
                    "no component `{component}` is enabled in `{}`: the build never copies this file",
                    file.env
                ),
                "move it to the folder of the component that declares it, or delete it".to_string(),
            ),
        };
        findings.push(SecretFinding {
            at: crate::span::Location::file(file.rel.clone()),
            code: "sops-undeclared",
            message,
            help,
        });
    }
    findings
}

fn rotate_cmd(root: &Utf8Path, args: &RotateArgs, session: &mut Session<'_>) -> Result<bool, SecretsError> {
    for env in &args.envs {
        check_segment("environment", env)?;
    }
    let identity = load_identity(args.identity.as_ref(), session)?.ok_or(SecretsError::NoIdentity)?;
    let policy = load_policy(root)?.ok_or(SecretsError::NoPolicy)?;
    let lastmodified = crypto::rfc3339_utc(session.now_unix);
    let (mut rotated, mut current) = (0, 0);
    let mut failed: Vec<(Utf8PathBuf, String)> = Vec::new();
    let mut envs_failed: Vec<String> = Vec::new();
    for file in list_secret_files(root, &args.envs)? {
        if !file.layout_ok {
            continue;
        }
        let result = rotate_one(root, &file.rel, &policy, &identity, args.rekey, &lastmodified);
        match result {
            Ok(true) => {
                rotated += 1;
                say(session.stdout, &format!("rotated `{}`\n", file.rel));
            }
            Ok(false) => {
                current += 1;
                say(session.stdout, &format!("up to date `{}`\n", file.rel));
            }
            Err(e) => {
                let reason = match &e {
                    SecretsError::Seal { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                if !envs_failed.contains(&file.env) {
                    envs_failed.push(file.env.clone());
                }
                failed.push((file.rel.clone(), reason));
            }
        }
    }
    if failed.is_empty() {
        return Ok(false);
    }
    // A partial rotation is a finding, not an error: what could be rotated was, and the rest
    // needs its values again (typically files the identity is not a recipient of).
    say(
        session.stderr,
        &format!(
            "not rotated: {} file(s) ({rotated} rotated, {current} up to date); each left as it was:\n",
            failed.len()
        ),
    );
    for (rel, reason) in &failed {
        say(session.stderr, &format!("  {rel}: {reason}\n"));
    }
    let envs = envs_failed.join(" ");
    say(
        session.stderr,
        &format!(
            "next: seal them again from their values for the current recipients: `hydrate secret reseal {} --from-dir DIR` (or `hydrate secret seal … --force` one by one), then `hydrate secret verify {envs}`\n",
            envs_failed.first().map_or("<env>", String::as_str)
        ),
    );
    Ok(true)
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
