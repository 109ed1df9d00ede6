//! Sealing and rotating, in memory: a plaintext Secret tree becomes SOPS YAML text, and an
//! encrypted file gets its data key re-wrapped (optionally replaced). Pure: the caller gives the
//! `lastmodified` time and writes the text; plaintext never leaves memory and is wiped after use.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::{Zeroize as _, Zeroizing};

use super::age_keys::{self, AgeIdentities};
use super::crypto::{self, CompiledRules, DataKey, EncryptedValue, MacHasher, ValueType};
use super::sops_format::{self, AgeStanza, EncryptionRules, Format, Metadata, Node, SopsDocument, Value};
use super::verify::{self, DecryptedDocument, Problem};

/// The `version` hydrate writes: the oldest sops release whose reader this output targets (the
/// issue's floor, 3.9). sops does not gate decryption on it; it records the format generation.
pub const SOPS_VERSION: &str = "3.9.0";

/// What to seal: a Kubernetes Secret.
pub struct SecretSpec<'a> {
    /// `metadata.name`.
    pub name: &'a str,
    /// `metadata.namespace`, if any (else Flux's `targetNamespace` decides).
    pub namespace: Option<&'a str>,
    /// `type` (`Opaque` unless told).
    pub secret_type: &'a str,
    /// The values by key; UTF-8 ones go to `stringData`, others base64 to `data`.
    pub values: &'a BTreeMap<String, Zeroizing<Vec<u8>>>,
}

/// Why sealing or rotating failed. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// A recipient does not parse.
    Recipient(String),
    /// The rule's `encrypted_regex` is invalid or leaves a payload value in clear.
    Rule(String),
    /// The file could not be read or decrypted (problems found, positioned).
    Document(Vec<Problem>),
    /// The output did not read back as what was sealed (a bug; nothing is written).
    SelfCheck(String),
}

/// Builds the plaintext Secret tree. Keys are sorted (`BTreeMap`), so the layout is stable.
#[must_use]
pub fn secret_tree(spec: &SecretSpec<'_>) -> Vec<(String, Node)> {
    let s = |v: &str| Node::new(Value::Str(v.to_owned()));
    let mut metadata = vec![("name".to_owned(), s(spec.name))];
    if let Some(ns) = spec.namespace {
        metadata.push(("namespace".to_owned(), s(ns)));
    }
    let mut data = Vec::new();
    let mut string_data = Vec::new();
    for (key, bytes) in spec.values {
        match std::str::from_utf8(bytes) {
            Ok(text) => string_data.push((key.clone(), s(text))),
            // Binary values cannot be `stringData`; Kubernetes wants them base64 in `data`.
            Err(_) => data.push((key.clone(), Node::new(Value::Str(B64.encode(bytes.as_slice()))))),
        }
    }
    let mut tree = vec![
        ("apiVersion".to_owned(), s("v1")),
        ("kind".to_owned(), s("Secret")),
        ("metadata".to_owned(), Node::new(Value::Map(metadata))),
        ("type".to_owned(), s(spec.secret_type)),
    ];
    if !data.is_empty() {
        tree.push(("data".to_owned(), Node::new(Value::Map(data))));
    }
    if !string_data.is_empty() {
        tree.push(("stringData".to_owned(), Node::new(Value::Map(string_data))));
    }
    tree
}

/// Wraps the data key for each recipient, in the given (policy) order.
fn stanzas(key: &DataKey, recipients: &[String]) -> Result<Vec<AgeStanza>, SealError> {
    recipients
        .iter()
        .map(|r| {
            let parsed = age_keys::parse_recipient(r).map_err(|e| SealError::Recipient(e.0))?;
            Ok(AgeStanza {
                recipient: r.trim().to_owned(),
                enc: age_keys::wrap(key, &parsed),
                pos: None,
            })
        })
        .collect()
}

/// Encrypts a plaintext tree: every leaf the rule selects becomes `ENC[…]` under a fresh data
/// key (AAD = its key path), the MAC is taken over all leaves in document order and stored
/// encrypted with AAD = `lastmodified`, and the data key is wrapped for every recipient.
/// Returns the YAML text. Plaintext strings in `tree` are wiped as they are replaced.
///
/// # Errors
/// An invalid recipient or regex, a payload value the regex leaves in clear, or a self-check
/// failure (the output is decrypted again with the data key before it is returned).
pub fn seal_tree(
    mut tree: Vec<(String, Node)>,
    recipients: &[String],
    encrypted_regex: &str,
    lastmodified: &str,
) -> Result<String, SealError> {
    let rules = EncryptionRules {
        encrypted_regex: Some(encrypted_regex.to_owned()),
        ..EncryptionRules::default()
    };
    let compiled = CompiledRules::compile(&rules).map_err(|e| SealError::Rule(format!("the rule {e}")))?;
    let key = DataKey::generate();
    let mut mac = MacHasher::new(false);
    crypto::walk_leaves_mut(&mut tree, &mut |path, node| -> Result<(), SealError> {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let encrypted = compiled.encrypts(&refs);
        if matches!(refs.first(), Some(&("data" | "stringData"))) && !encrypted {
            return Err(SealError::Rule(format!(
                "the creation rule's `encrypted_regex` `{encrypted_regex}` leaves `{}` in plaintext",
                refs.join(".")
            )));
        }
        if let Some(bytes) = crypto::mac_bytes_of(&node.value) {
            mac.add(&bytes, encrypted);
        }
        if encrypted && let Some((plaintext, ty)) = crypto::plaintext_of(&node.value) {
            let text = crypto::encrypt(&key, &plaintext, ty, &crypto::path_aad(&refs));
            let old = std::mem::replace(&mut node.value, Value::Str(text));
            wipe(old);
        }
        Ok(())
    })?;
    let mac_hex = Zeroizing::new(mac.finish());
    let metadata = Metadata {
        age: stanzas(&key, recipients)?,
        lastmodified: Some((lastmodified.to_owned(), None)),
        mac: Some((
            crypto::encrypt(&key, mac_hex.as_bytes(), ValueType::Str, lastmodified),
            None,
        )),
        rules,
        version: Some(SOPS_VERSION.to_owned()),
        ..Metadata::default()
    };
    let text = sops_format::emit_yaml(&tree, &metadata);
    self_check(&text, &key, &mac_hex)?;
    Ok(text)
}

/// Wipes the plaintext a tree value held.
fn wipe(value: Value) {
    if let Value::Str(mut s) = value {
        s.zeroize();
    }
}

/// Reads `text` back through the same parser `verify` uses and decrypts it with `key`: the MAC
/// must match and every payload value must be encrypted. Guards against an emitter bug ever
/// writing a file that sops or Flux would refuse.
fn self_check(text: &str, key: &DataKey, mac_hex: &str) -> Result<(), SealError> {
    let doc = sops_format::parse(text, Format::Yaml)
        .map_err(|e| SealError::SelfCheck(format!("the output does not parse: {}", e.message)))?;
    let decrypted = verify::decrypt_with_key(&doc, DataKey::from_slice(key.as_bytes()).expect("32 bytes"))
        .map_err(|p| {
            SealError::SelfCheck(format!(
                "the output does not decrypt: {}",
                p.first().map_or("", |p| p.message.as_str())
            ))
        })?;
    if decrypted.mac != mac_hex {
        return Err(SealError::SelfCheck("the output's MAC differs".to_owned()));
    }
    Ok(())
}

/// What `rotate` did to one file.
pub enum Rotated {
    /// Recipients already current and no re-key asked: the file is left as it is.
    UpToDate,
    /// The new file text.
    Rewritten(String),
}

/// Re-wraps a file's data key for `recipients`, after decrypting it with `identities` and
/// checking its MAC (a tampered file is never re-signed). Without `rekey` the values are left
/// byte-identical and only the `sops` block is replaced (new `enc` blocks, `lastmodified`, and
/// the same MAC re-encrypted under the new `lastmodified`). With `rekey` every value is
/// re-encrypted under a fresh data key with fresh IVs.
///
/// # Errors
/// The file does not parse or decrypt, the MAC fails, or a recipient is invalid.
pub fn rotate_text(
    text: &str,
    recipients: &[String],
    identities: &AgeIdentities,
    rekey: bool,
    lastmodified: &str,
) -> Result<Rotated, SealError> {
    let doc = sops_format::parse(text, Format::Yaml).map_err(|e| {
        SealError::Document(vec![Problem {
            pos: e.pos,
            code: "sops-parse",
            message: e.message,
            help: e.help,
        }])
    })?;
    let decrypted = verify::decrypt_document(&doc, identities).map_err(SealError::Document)?;
    let current: Vec<&str> = doc.metadata.age.iter().map(|s| s.recipient.trim()).collect();
    let same_set = current.len() == recipients.len()
        && recipients.iter().all(|r| current.contains(&r.as_str()))
        && doc.metadata.foreign_key_sources.is_empty();
    if same_set && !rekey {
        return Ok(Rotated::UpToDate);
    }
    let DecryptedDocument {
        data_key: old_key,
        mac: mac_hex,
        ..
    } = decrypted;
    let mac_hex = Zeroizing::new(mac_hex);
    let mut tree = doc.tree.clone();
    let key = if rekey {
        let new_key = DataKey::generate();
        rekey_tree(&doc, &mut tree, &old_key, &new_key)?;
        new_key
    } else {
        old_key
    };
    let metadata = Metadata {
        age: stanzas(&key, recipients)?,
        lastmodified: Some((lastmodified.to_owned(), None)),
        mac: Some((
            crypto::encrypt(&key, mac_hex.as_bytes(), ValueType::Str, lastmodified),
            None,
        )),
        rules: doc.metadata.rules.clone(),
        mac_only_encrypted: doc.metadata.mac_only_encrypted,
        version: Some(SOPS_VERSION.to_owned()),
        ..Metadata::default()
    };
    let out = if rekey {
        sops_format::emit_yaml(&tree, &metadata)
    } else {
        replace_sops_block(text, &doc, &metadata).unwrap_or_else(|| sops_format::emit_yaml(&tree, &metadata))
    };
    self_check(&out, &key, &mac_hex)?;
    Ok(Rotated::Rewritten(out))
}

/// Re-encrypts every encrypted leaf of `tree` from `old` to `new`, same type and path.
fn rekey_tree(
    doc: &SopsDocument,
    tree: &mut [(String, Node)],
    old: &DataKey,
    new: &DataKey,
) -> Result<(), SealError> {
    let rules = CompiledRules::compile(&doc.metadata.rules).map_err(SealError::Rule)?;
    crypto::walk_leaves_mut(tree, &mut |path, node| -> Result<(), SealError> {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        if !rules.encrypts(&refs) {
            return Ok(());
        }
        let Value::Str(text) = &node.value else {
            return Ok(());
        };
        if text.is_empty() {
            return Ok(());
        }
        let aad = crypto::path_aad(&refs);
        let value = EncryptedValue::parse(text).map_err(|e| {
            SealError::Document(vec![Problem {
                pos: node.pos,
                code: "sops-bad-value",
                message: format!("`{}` {e}", refs.join(".")),
                help: "restore the file from git".to_owned(),
            }])
        })?;
        let plaintext = crypto::decrypt(old, &value, &aad).map_err(|_| {
            SealError::Document(vec![Problem {
                pos: node.pos,
                code: "sops-value-tampered",
                message: format!("`{}` does not decrypt", refs.join(".")),
                help: "restore the file from git".to_owned(),
            }])
        })?;
        node.value = Value::Str(crypto::encrypt(new, &plaintext, value.ty, &aad));
        Ok(())
    })
}

/// Replaces only the top-level `sops:` block of `text`, if it can be found and the rest reads
/// back as the same tree; `None` otherwise (the caller re-emits the whole file).
fn replace_sops_block(text: &str, doc: &SopsDocument, metadata: &Metadata) -> Option<String> {
    let (start, end) = sops_format::sops_block_lines(text)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out: String = lines[..start].concat();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&sops_format::emit_metadata_block(metadata));
    out.push_str(&lines[end..].concat());
    let back = sops_format::parse(&out, Format::Yaml).ok()?;
    (back.tree == doc.tree).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Zeroizing<Vec<u8>>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Zeroizing::new(v.to_vec())))
            .collect()
    }

    #[test]
    fn sealed_layout_is_stable() {
        let vals = values(&[("b", b"two"), ("a", b"one"), ("bin", &[0xff, 0x00])]);
        let spec = SecretSpec {
            name: "db",
            namespace: Some("apps"),
            secret_type: "Opaque",
            values: &vals,
        };
        let key = age_keys::generate();
        let text = seal_tree(
            secret_tree(&spec),
            std::slice::from_ref(&key.recipient),
            "^(data|stringData)$",
            "2025-01-02T03:04:05Z",
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "apiVersion: v1");
        assert_eq!(lines[1], "kind: Secret");
        assert_eq!(lines[2], "metadata:");
        assert_eq!(lines[3], "  name: db");
        assert_eq!(lines[4], "  namespace: apps");
        assert_eq!(lines[5], "type: Opaque");
        assert_eq!(lines[6], "data:");
        assert!(lines[7].starts_with("  bin: ENC[AES256_GCM,data:"));
        assert_eq!(lines[8], "stringData:");
        assert!(lines[9].starts_with("  a: ENC[AES256_GCM,data:"));
        assert!(lines[9].ends_with(",type:str]"));
        assert!(lines[10].starts_with("  b: ENC["));
        assert_eq!(lines[11], "sops:");
        assert_eq!(lines[12], "  age:");
        assert_eq!(lines[13], format!("    - recipient: {}", key.recipient));
        assert_eq!(lines[14], "      enc: |");
        assert_eq!(lines[15], "        -----BEGIN AGE ENCRYPTED FILE-----");
        let tail: Vec<&str> = lines.iter().rev().take(4).rev().copied().collect();
        assert_eq!(tail[0], "  lastmodified: \"2025-01-02T03:04:05Z\"");
        assert!(tail[1].starts_with("  mac: ENC[AES256_GCM,data:"));
        assert_eq!(tail[2], "  encrypted_regex: ^(data|stringData)$");
        assert_eq!(tail[3], "  version: \"3.9.0\"");
        assert!(!text.contains("one") && !text.contains("two"));
    }

    #[test]
    fn a_regex_that_leaves_payload_clear_is_refused() {
        let vals = values(&[("a", b"one")]);
        let spec = SecretSpec {
            name: "x",
            namespace: None,
            secret_type: "Opaque",
            values: &vals,
        };
        let key = age_keys::generate();
        let err = seal_tree(
            secret_tree(&spec),
            &[key.recipient],
            "^data$",
            "2025-01-02T03:04:05Z",
        )
        .unwrap_err();
        assert!(matches!(err, SealError::Rule(m) if m.contains("stringData.a")));
    }
}
