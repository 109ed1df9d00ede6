//! The secrets tree on disk: `.sops.yaml`, `secrets/<env>/<component>/<name>.sops.yaml`, identity
//! files. Reads them, writes sealed files atomically (temp file + rename in the same folder) and
//! identity files with mode 0600; never writes a plaintext value. Prints nothing: the `hydrate
//! secret` commands (`crate::commands::secret`) report.

use std::io::Write;

use camino::{Utf8Path, Utf8PathBuf};
use zeroize::Zeroizing;

use super::SecretsError;
use super::age_keys::AgeIdentities;
use super::policy::{POLICY_FILE, Policy, PolicyError};
use super::seal::{self, Rotated, SealError};
use super::verify::{self, SecretFinding};
use crate::span::Location;

pub fn io_err(path: &Utf8Path) -> impl FnOnce(std::io::Error) -> SecretsError + '_ {
    move |source| SecretsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The repo-relative path of a sealed secret.
#[must_use]
pub fn secret_path(env: &str, component: &str, name: &str) -> Utf8PathBuf {
    Utf8PathBuf::from(format!("secrets/{env}/{component}/{name}.sops.yaml"))
}

/// What `seal` checks against: a component of an environment, its namespace and the Secrets it
/// declares (`secrets: [{name, keys}]` in its component file).
#[derive(Debug, Clone)]
pub struct Declared {
    pub namespace: String,
    /// The component file (where a new Secret or key is declared).
    pub file: Utf8PathBuf,
    pub secrets: Vec<crate::model::input::SecretDecl>,
}

/// `component` of environment `env`. `None` when the repository's inputs do not resolve (a
/// secrets-only checkout); an error when they do and the component is not enabled there.
pub fn component_in_env(
    root: &Utf8Path,
    env: &str,
    component: &str,
) -> Result<Option<Declared>, SecretsError> {
    let Ok(inputs) = crate::load::load(root) else {
        return Ok(None);
    };
    let Ok(model) = crate::model::resolve(&inputs, env) else {
        return Ok(None);
    };
    match model.component(component) {
        Some(c) => Ok(Some(Declared {
            namespace: c.namespace.clone(),
            file: c.file.path.clone(),
            secrets: c.spec.secrets.clone(),
        })),
        None => Err(SecretsError::UnknownComponent {
            env: env.to_owned(),
            component: component.to_owned(),
        }),
    }
}

/// Creates the missing folders above `path`, outermost first, each with mode 0700 (an existing
/// folder is never changed); returns those it created.
pub fn create_private_parents(path: &Utf8Path) -> Result<Vec<Utf8PathBuf>, SecretsError> {
    let mut missing = Vec::new();
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_str().is_empty() || d.exists() {
            break;
        }
        missing.push(d.to_owned());
        dir = d.parent();
    }
    missing.reverse();
    for d in &missing {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder.create(d).map_err(io_err(d))?;
    }
    Ok(missing)
}

/// Writes `text` to `root/rel` atomically: a temp file in the same folder, then a rename.
pub fn write_atomic(root: &Utf8Path, rel: &Utf8Path, text: &str) -> Result<(), SecretsError> {
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

/// Creates the identity file with mode 0600 from the start (never widened, never overwritten).
pub fn write_identity(path: &Utf8Path, text: &str) -> Result<(), SecretsError> {
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

/// An environment or component folder name: lowercase letters, digits, `-`, `_`, `.`, not
/// starting with `.`.
pub fn check_segment(what: &'static str, value: &str) -> Result<(), SecretsError> {
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
pub fn check_dns_name(what: &'static str, value: &str) -> Result<(), SecretsError> {
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
pub fn check_dns_label(what: &'static str, value: &str) -> Result<(), SecretsError> {
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
pub fn check_data_key(key: &str) -> Result<(), SecretsError> {
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

pub fn seal_error(rel: &Utf8Path, e: SealError) -> SecretsError {
    let (pos, message, help) = match e {
        SealError::Recipient(m) => (None, m, format!("fix the recipient in `{POLICY_FILE}`")),
        SealError::Rule(m) => (
            None,
            m,
            format!(
                "set the rule's `encrypted_regex` in `{POLICY_FILE}` to `^(data|stringData)$` (or remove it)"
            ),
        ),
        SealError::SelfCheck(m) => (
            None,
            format!("internal error, nothing written: {m}"),
            "report this as a bug in hydrate".to_owned(),
        ),
        SealError::Document(problems) => {
            let first = problems.into_iter().next();
            first.map_or((None, "cannot read the file".to_owned(), String::new()), |p| {
                (p.pos, p.message, p.help)
            })
        }
    };
    SecretsError::Seal {
        file: rel.to_owned(),
        pos,
        message,
        help,
    }
}

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

pub fn policy_error(e: &PolicyError) -> SecretsError {
    SecretsError::Policy {
        file: Utf8PathBuf::from(POLICY_FILE),
        pos: e.pos,
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

/// Loads an age identity file.
///
/// # Errors
/// The file cannot be read or holds no valid identity.
pub fn load_identity(path: &Utf8Path) -> Result<AgeIdentities, SecretsError> {
    let text = Zeroizing::new(fs_err::read_to_string(path).map_err(io_err(path))?);
    AgeIdentities::parse(&text).map_err(|e| SecretsError::Identity {
        path: path.to_owned(),
        line: e.line,
        reason: e.reason,
    })
}

/// One file under `secrets/`.
pub struct SecretFile {
    pub rel: Utf8PathBuf,
    pub env: String,
    pub layout_ok: bool,
    /// Symlinks are reported, never followed: one could point at a plaintext file elsewhere.
    pub symlink: bool,
}

/// Lists the files under `<root>/secrets/` in path order, keeping those of `envs` (all if
/// empty). Symlinks are not followed.
pub fn list_secret_files(root: &Utf8Path, envs: &[String]) -> Result<Vec<SecretFile>, SecretsError> {
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
pub fn is_ignorable(rel: &Utf8Path) -> bool {
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
) -> Result<Vec<SecretFinding>, SecretsError> {
    let files = list_secret_files(root, envs)?;
    let mut findings = Vec::new();
    if files.is_empty() {
        return Ok(findings);
    }
    let policy = match load_policy(root) {
        Ok(p) => p,
        Err(SecretsError::Policy {
            file,
            pos,
            message,
            help,
        }) => {
            findings.push(SecretFinding {
                at: Location { file, pos },
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
            findings.push(SecretFinding {
                at: Location::file(file.rel.clone()),
                code: "sops-layout",
                message: "a symlink under `secrets/`".to_owned(),
                help: "replace it with the sealed file itself; symlinks are not followed".to_owned(),
            });
            continue;
        }
        if !file.layout_ok {
            findings.push(SecretFinding {
                at: Location::file(file.rel.clone()),
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
            findings.push(SecretFinding {
                at: Location::file(file.rel.clone()),
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

/// Rotates one file; `Ok(true)` if it was rewritten.
pub fn rotate_one(
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
