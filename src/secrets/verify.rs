//! Verifying SOPS files: structure, MAC presence, recipients against `.sops.yaml`, no plaintext
//! in `data`/`stringData`; and, given an identity, decryption in memory with the MAC checked.
//! This is the only place hydrate decrypts values (`rotate` reuses it); `build` calls
//! [`verify_file`] without an identity and so never decrypts. Pure: text in, findings out.

use camino::Utf8Path;
use zeroize::Zeroizing;

use super::age_keys::{self, AgeIdentities, UnwrapError};
use super::crypto::{self, CompiledRules, DataKey, EncryptedValue, MacHasher, ValueType};
use super::policy::{POLICY_FILE, Policy};
use super::sops_format::{self, Format, Node, Pos, SopsDocument, Value};

/// One problem with a secret file, positioned in that file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SecretFinding {
    /// The repo-relative file and, when known, the position in it.
    pub at: crate::span::Location,
    /// Stable kebab-case code (see [`CODES`]).
    pub code: &'static str,
    /// What is wrong. Never contains a secret value.
    pub message: String,
    /// The fix.
    pub help: String,
}

impl std::fmt::Display for SecretFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.at)?;
        write!(
            f,
            ": error[{}]: {}\n  hint: {}",
            self.code, self.message, self.help
        )
    }
}

/// Every finding code, for documentation and a snapshot that makes renames visible.
pub const CODES: &[(&str, &str)] = &[
    (
        "sops-parse",
        "the file is not valid YAML/JSON/dotenv, or its `sops` block is malformed",
    ),
    (
        "sops-not-encrypted",
        "a file under `secrets/` has no `sops` metadata",
    ),
    ("sops-no-mac", "the `sops` block has no `mac`"),
    ("sops-bad-mac", "the `mac` is not an `ENC[AES256_GCM,…]` value"),
    ("sops-lastmodified", "`lastmodified` is missing or not RFC 3339"),
    (
        "sops-rules",
        "the file's encryption rules are contradictory or unsupported",
    ),
    (
        "sops-key-source",
        "a key source other than age (`pgp`, `kms`, `key_groups`, …)",
    ),
    (
        "sops-policy",
        "`.sops.yaml` is missing, invalid, or has no usable rule for the file",
    ),
    (
        "sops-recipients",
        "the age recipients differ from the environment's in `.sops.yaml`",
    ),
    (
        "sops-age-block",
        "an age `enc` block is malformed or does not decrypt",
    ),
    ("sops-plaintext", "a value that must be encrypted is in plaintext"),
    ("sops-bad-value", "an `ENC[…]` value is malformed"),
    (
        "sops-no-identity",
        "the given identity is not a recipient of the file",
    ),
    (
        "sops-value-tampered",
        "an encrypted value does not decrypt under its path",
    ),
    (
        "sops-mac-mismatch",
        "the MAC does not decrypt or does not match the values",
    ),
    (
        "sops-layout",
        "a file under `secrets/` is not `<env>/<component>/<name>.sops.yaml`",
    ),
    (
        "sops-undeclared",
        "a sealed file that no enabled component of its environment declares",
    ),
];

/// A problem found while reading or decrypting a document, before it is tied to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub pos: Option<Pos>,
    /// Code from [`CODES`].
    pub code: &'static str,
    /// What.
    pub message: String,
    /// Fix.
    pub help: String,
}

impl Problem {
    fn new(
        pos: Option<Pos>,
        code: &'static str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Self {
            pos,
            code,
            message: message.into(),
            help: help.into(),
        }
    }

    /// Ties the problem to a file.
    #[must_use]
    pub fn in_file(self, file: &Utf8Path) -> SecretFinding {
        SecretFinding {
            at: crate::span::Location {
                file: file.to_owned(),
                pos: self.pos,
            },
            code: self.code,
            message: self.message,
            help: self.help,
        }
    }
}

/// A leaf of a decrypted document.
pub struct DecryptedLeaf {
    /// The key path (`["stringData", "password"]`).
    pub path: Vec<String>,
    /// The plaintext bytes (the decrypted value, or the clear value's MAC bytes).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The `type:` of an encrypted leaf; `None` for a leaf stored in clear.
    pub encrypted_as: Option<ValueType>,
    /// Where the leaf is.
    pub pos: Option<Pos>,
}

/// A document decrypted in memory, MAC verified.
pub struct DecryptedDocument {
    /// The data key.
    pub data_key: DataKey,
    /// The MAC plaintext (upper-case hex SHA-512), equal to the stored one.
    pub mac: String,
    /// Every leaf in document order.
    pub leaves: Vec<DecryptedLeaf>,
}

impl DecryptedDocument {
    /// The plaintext of the leaf at a dotted path (`stringData.key`).
    #[must_use]
    pub fn get(&self, dotted: &str) -> Option<&[u8]> {
        self.leaves
            .iter()
            .find(|l| l.path.join(".") == dotted)
            .map(|l| l.plaintext.as_slice())
    }
}

/// The dotted path of a leaf, for messages (keys are not secret; values never appear).
fn dotted(path: &[impl AsRef<str>]) -> String {
    path.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(".")
}

/// Decrypts a parsed document with `identities` and checks its MAC.
///
/// # Errors
/// Every problem found: no matching identity, a block that does not unwrap, values that do not
/// decrypt, a MAC that does not decrypt or does not match.
pub fn decrypt_document(
    doc: &SopsDocument,
    identities: &AgeIdentities,
) -> Result<DecryptedDocument, Vec<Problem>> {
    let meta = &doc.metadata;
    compile_rules(meta)?;
    let stanzas = meta.age.iter().map(|s| (s.recipient.as_str(), s.enc.as_str()));
    let data_key = age_keys::unwrap(stanzas, identities).map_err(|e| {
        vec![match e {
            UnwrapError::NoMatchingIdentity => Problem::new(
                meta.pos,
                "sops-no-identity",
                format!(
                    "none of the identity's recipients ({}) is a recipient of this file",
                    identities
                        .recipients()
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "use the identity of this file's environment (`SOPS_AGE_KEY_FILE`), or verify only its environments: `hydrate secret verify <env>`",
            ),
            UnwrapError::Failed { recipient, reason } => Problem::new(
                meta.age
                    .iter()
                    .find(|s| s.recipient.trim() == recipient)
                    .map_or(meta.pos, |s| s.pos),
                "sops-age-block",
                format!("the age block for `{recipient}`: {reason}"),
                "the block was changed or wrapped for another key; restore it from git or run `hydrate secret rotate`",
            ),
        }]
    })?;
    decrypt_with_key(doc, data_key)
}

/// Decrypts a parsed document with a known data key and checks its MAC.
///
/// # Errors
/// The file's encryption rules, or the `sops-rules` problem.
fn compile_rules(meta: &sops_format::Metadata) -> Result<CompiledRules, Vec<Problem>> {
    CompiledRules::compile(&meta.rules).map_err(|e| {
        vec![Problem::new(
            meta.pos,
            "sops-rules",
            format!("the file {e}"),
            "seal the secret again with `hydrate secret seal`",
        )]
    })
}

/// Values that do not decrypt, a MAC that does not decrypt or does not match.
pub fn decrypt_with_key(doc: &SopsDocument, data_key: DataKey) -> Result<DecryptedDocument, Vec<Problem>> {
    let meta = &doc.metadata;
    let rules = compile_rules(meta)?;
    let mut problems = Vec::new();
    let mut mac = MacHasher::new(meta.mac_only_encrypted);
    let mut leaves = Vec::new();
    crypto::walk_leaves(&doc.tree, &mut |path, node| {
        let encrypted = rules.encrypts(path);
        let leaf = if encrypted {
            decrypt_leaf(&data_key, path, node)
        } else {
            crypto::mac_bytes_of(&node.value)
                .map(|bytes| (bytes, None))
                .ok_or_else(|| unreachable_leaf(path, node))
        };
        match leaf {
            Ok((plaintext, ty)) => {
                if ty != Some(ValueType::Comment) {
                    mac.add(&plaintext, encrypted);
                }
                leaves.push(DecryptedLeaf {
                    path: path.iter().map(|p| (*p).to_owned()).collect(),
                    plaintext,
                    encrypted_as: ty,
                    pos: node.pos,
                });
            }
            Err(problem) => problems.push(problem),
        }
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let computed = mac.finish();
    check_stored_mac(doc, &data_key, &computed).map_err(|p| vec![p])?;
    Ok(DecryptedDocument {
        data_key,
        mac: computed,
        leaves,
    })
}

/// A leaf the walker never yields (collections and nulls are not leaves).
fn unreachable_leaf(path: &[&str], node: &Node) -> Problem {
    Problem::new(
        node.pos,
        "sops-parse",
        format!("`{}` is not a scalar", dotted(path)),
        "restore the file from git",
    )
}

/// Decrypts one leaf that the rules say is encrypted; returns its MAC bytes and type.
fn decrypt_leaf(
    key: &DataKey,
    path: &[&str],
    node: &Node,
) -> Result<(Zeroizing<Vec<u8>>, Option<ValueType>), Problem> {
    let name = dotted(path);
    let text = match &node.value {
        // sops leaves empty strings as they are (`isEmpty` in `aes/cipher.go`) and MACs "".
        Value::Str(s) if s.is_empty() => return Ok((Zeroizing::new(Vec::new()), None)),
        Value::Str(s) => s,
        _ => {
            return Err(Problem::new(
                node.pos,
                "sops-plaintext",
                format!("`{name}` is in plaintext"),
                "seal the value with `hydrate secret seal`",
            ));
        }
    };
    let value = EncryptedValue::parse(text).map_err(|e| {
        let code = if crypto::looks_encrypted(text) {
            "sops-bad-value"
        } else {
            "sops-plaintext"
        };
        let message = if code == "sops-plaintext" {
            format!("`{name}` is in plaintext")
        } else {
            format!("`{name}` {e}")
        };
        Problem::new(
            node.pos,
            code,
            message,
            "seal the value again with `hydrate secret seal`",
        )
    })?;
    let plaintext = crypto::decrypt(key, &value, &crypto::path_aad(path)).map_err(|_| {
        Problem::new(
            node.pos,
            "sops-value-tampered",
            format!("`{name}` does not decrypt: its ciphertext, IV, tag or key path was changed"),
            "restore the file from git, or seal the secret again",
        )
    })?;
    let bytes = crypto::typed_mac_bytes(&plaintext, value.ty).map_err(|e| {
        Problem::new(
            node.pos,
            "sops-bad-value",
            format!("`{name}` {e}"),
            "seal the secret again",
        )
    })?;
    Ok((
        // Comments are not MACed; keep their plaintext for completeness.
        bytes.unwrap_or(plaintext),
        Some(value.ty),
    ))
}

/// Decrypts the stored MAC (AAD: `lastmodified` as Go re-formats it) and compares.
fn check_stored_mac(doc: &SopsDocument, key: &DataKey, computed: &str) -> Result<(), Problem> {
    let meta = &doc.metadata;
    let Some((mac_text, mac_pos)) = &meta.mac else {
        return Err(Problem::new(
            meta.pos,
            "sops-no-mac",
            "the `sops` block has no `mac`",
            "seal the secret again: a file without MAC can be altered undetected",
        ));
    };
    let Some(lastmodified) = meta
        .lastmodified
        .as_ref()
        .and_then(|(t, _)| crypto::normalize_rfc3339(t))
    else {
        return Err(Problem::new(
            meta.pos,
            "sops-lastmodified",
            "`lastmodified` is missing or not RFC 3339",
            "restore the file from git, or seal the secret again",
        ));
    };
    let mismatch = |message: &str| {
        Problem::new(
            *mac_pos,
            "sops-mac-mismatch",
            message.to_owned(),
            "the file was changed outside sops/hydrate; restore it from git or seal the secret again",
        )
    };
    let value = EncryptedValue::parse(mac_text)
        .map_err(|_| mismatch("the `mac` is not an `ENC[AES256_GCM,…]` value"))?;
    let stored = crypto::decrypt(key, &value, &lastmodified)
        .map_err(|_| mismatch("the `mac` does not decrypt: it or `lastmodified` was changed"))?;
    if stored.as_slice() != computed.as_bytes() {
        return Err(mismatch(
            "MAC mismatch: the values are not the ones the MAC was computed over",
        ));
    }
    Ok(())
}

/// Checks one secret file (repo-relative `rel_path`, its `text`) against `.sops.yaml`. With an
/// identity it also decrypts in memory and checks the MAC. Returns every finding, sorted.
#[must_use]
pub fn verify_file(
    policy: Option<&Policy>,
    rel_path: &Utf8Path,
    text: &str,
    identity: Option<&AgeIdentities>,
) -> Vec<SecretFinding> {
    let mut problems = Vec::new();
    let format = Format::from_path(rel_path.as_str());
    match sops_format::parse(text, format) {
        Err(e) => {
            let code = if e.message.contains("not encrypted") {
                "sops-not-encrypted"
            } else {
                "sops-parse"
            };
            problems.push(Problem::new(e.pos, code, e.message, e.help));
        }
        Ok(doc) => {
            let structural_ok = check_structure(&doc, &mut problems);
            check_recipients(&doc, policy, rel_path, &mut problems);
            check_plaintext(&doc, &mut problems);
            if let Some(ids) = identity
                && structural_ok
                && let Err(found) = decrypt_document(&doc, ids)
            {
                for p in found {
                    // A value already reported as plaintext/malformed is not reported twice.
                    if !problems.iter().any(|q| q.pos == p.pos && q.code == p.code) {
                        problems.push(p);
                    }
                }
            }
        }
    }
    let mut findings: Vec<SecretFinding> = problems.into_iter().map(|p| p.in_file(rel_path)).collect();
    findings.sort();
    findings.dedup();
    findings
}

/// MAC, `lastmodified`, rules and key sources. Returns whether decryption can be attempted.
fn check_structure(doc: &SopsDocument, problems: &mut Vec<Problem>) -> bool {
    let meta = &doc.metadata;
    let mut ok = true;
    match &meta.mac {
        None => {
            ok = false;
            problems.push(Problem::new(
                meta.pos,
                "sops-no-mac",
                "the `sops` block has no `mac`",
                "seal the secret again: without a MAC values can be swapped or dropped undetected",
            ));
        }
        Some((mac, pos)) => {
            if let Err(e) = EncryptedValue::parse(mac) {
                ok = false;
                problems.push(Problem::new(
                    *pos,
                    "sops-bad-mac",
                    format!("the `mac` {e}"),
                    "restore the file from git, or seal the secret again",
                ));
            }
        }
    }
    let lastmodified_ok = meta
        .lastmodified
        .as_ref()
        .is_some_and(|(t, _)| crypto::normalize_rfc3339(t).is_some());
    if !lastmodified_ok {
        ok = false;
        let pos = meta.lastmodified.as_ref().map_or(meta.pos, |(_, p)| *p);
        problems.push(Problem::new(
            pos,
            "sops-lastmodified",
            "`lastmodified` is missing or not an RFC 3339 time",
            "restore the file from git, or seal the secret again",
        ));
    }
    if let Err(e) = CompiledRules::compile(&meta.rules) {
        ok = false;
        problems.push(Problem::new(
            meta.pos,
            "sops-rules",
            format!("the file {e}"),
            "seal the secret again with `hydrate secret seal`",
        ));
    }
    for (source, pos) in &meta.foreign_key_sources {
        problems.push(Problem::new(
            *pos,
            "sops-key-source",
            format!("the file is also encrypted with `{source}`, which is not in `{POLICY_FILE}` for it"),
            "rotate it to the environment's age recipients: `hydrate secret rotate <env>`",
        ));
    }
    if meta.age.is_empty() {
        ok = false;
        problems.push(Problem::new(
            meta.pos,
            "sops-recipients",
            "the file has no age recipient",
            "seal the secret with `hydrate secret seal`",
        ));
    }
    for stanza in &meta.age {
        if let Err(e) = age_keys::check_block(&stanza.enc) {
            problems.push(Problem::new(
                stanza.pos,
                "sops-age-block",
                format!("the age block for `{}` {e}", stanza.recipient.trim()),
                "restore the file from git, or run `hydrate secret rotate`",
            ));
        }
    }
    ok
}

/// The recipients must be exactly those of the file's creation rule.
fn check_recipients(
    doc: &SopsDocument,
    policy: Option<&Policy>,
    rel_path: &Utf8Path,
    problems: &mut Vec<Problem>,
) {
    let meta = &doc.metadata;
    let Some(policy) = policy else {
        problems.push(Problem::new(
            None,
            "sops-policy",
            format!("no `{POLICY_FILE}` at the repo root: the file's recipients cannot be checked"),
            format!("add `{POLICY_FILE}` with a creation rule (`path_regex` + `age`) per environment"),
        ));
        return;
    };
    let rule = match policy.recipients_for(rel_path) {
        Ok(rule) => rule,
        Err(e) => {
            problems.push(Problem::new(None, "sops-policy", e.message, e.help));
            return;
        }
    };
    let mut seen: Vec<&str> = Vec::new();
    for stanza in &meta.age {
        let recipient = stanza.recipient.trim();
        if seen.contains(&recipient) {
            problems.push(Problem::new(
                stanza.pos,
                "sops-recipients",
                format!("`{recipient}` is listed twice"),
                "run `hydrate secret rotate` to rewrite the recipients",
            ));
            continue;
        }
        seen.push(recipient);
        if !rule.age.iter().any(|r| r == recipient) {
            problems.push(Problem::new(
                stanza.pos,
                "sops-recipients",
                format!(
                    "encrypted for `{recipient}`, which the `{POLICY_FILE}` rule for this file does not list"
                ),
                "run `hydrate secret rotate <env>` to re-wrap the data key for the current recipients",
            ));
        }
    }
    for expected in &rule.age {
        if !seen.contains(&expected.as_str()) {
            problems.push(Problem::new(
                meta.pos,
                "sops-recipients",
                format!("not encrypted for `{expected}`, which the `{POLICY_FILE}` rule for this file lists"),
                "run `hydrate secret rotate <env>` to re-wrap the data key for the current recipients",
            ));
        }
    }
}

/// No plaintext in `data`/`stringData`, nor anywhere the file's own rules say is encrypted.
fn check_plaintext(doc: &SopsDocument, problems: &mut Vec<Problem>) {
    let rules = CompiledRules::compile(&doc.metadata.rules).ok();
    crypto::walk_leaves(&doc.tree, &mut |path, node| {
        let secret_payload = matches!(path.first(), Some(&("data" | "stringData")));
        let by_rule = rules.as_ref().is_some_and(|r| r.encrypts(path));
        if !(secret_payload || by_rule) {
            return;
        }
        let name = dotted(path);
        match &node.value {
            Value::Str(s) if s.is_empty() => {}
            Value::Str(s) if crypto::looks_encrypted(s) => {
                if let Err(e) = EncryptedValue::parse(s) {
                    problems.push(Problem::new(
                        node.pos,
                        "sops-bad-value",
                        format!("`{name}` {e}"),
                        "restore the file from git, or seal the secret again",
                    ));
                }
            }
            _ => problems.push(Problem::new(
                node.pos,
                "sops-plaintext",
                format!("`{name}` is in plaintext"),
                if by_rule {
                    "seal the secret with `hydrate secret seal`; never commit a plaintext value"
                } else {
                    "the file's `encrypted_regex` leaves it clear; seal it with `hydrate secret seal` (which encrypts `^(data|stringData)$`)"
                },
            )),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut names: Vec<_> = CODES.iter().map(|(c, _)| *c).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CODES.len());
        assert!(
            names
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-'))
        );
    }

    #[test]
    fn every_check_code_is_documented() {
        let docs = include_str!("../../docs/lints.md");
        for (code, _) in CODES {
            assert!(
                docs.contains(&format!("| `{code}` |")),
                "docs/lints.md lacks `{code}`"
            );
        }
    }

    #[test]
    fn plaintext_secret_is_flagged_without_leaking_the_value() {
        let text = "apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2\nsops:\n  age: []\n  lastmodified: \"2024-01-01T00:00:00Z\"\n  mac: ENC[AES256_GCM,data:AA==,iv:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n  encrypted_regex: ^(data|stringData)$\n  version: 3.9.0\n";
        let findings = verify_file(None, Utf8Path::new("secrets/dev/a/b.sops.yaml"), text, None);
        let plaintext: Vec<_> = findings.iter().filter(|f| f.code == "sops-plaintext").collect();
        assert_eq!(plaintext.len(), 1, "{findings:#?}");
        assert_eq!(plaintext[0].at.pos, Some(Pos { line: 4, column: 13 }));
        assert!(findings.iter().all(|f| !f.message.contains("hunter2")));
        assert!(findings.iter().any(|f| f.code == "sops-policy"));
    }
}
