//! Keeping secret values out of review output. Pure.
//!
//! A `kind: Secret` (plain or SOPS-encrypted) and any object with a top-level `sops:` block is
//! *sensitive*: its `data`/`stringData` values become `<redacted>`, every `ENC[…]` string anywhere
//! becomes `<encrypted>`, and the `sops:` block is dropped before any text is diffed. Per key,
//! only added/removed/changed/unchanged is reported; for the `sops:` block only whether it
//! changed and which recipients (public keys) came or went. A file that cannot be read as an
//! object but looks like a secret is never shown at all.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::objects::lookup;

/// Placeholder for a Secret value.
const REDACTED: &str = "<redacted>";
/// Placeholder for a SOPS ciphertext.
const ENCRYPTED: &str = "<encrypted>";
/// The sections of a Secret that hold values.
const SECTIONS: [&str; 2] = ["data", "stringData"];

/// What happened to one key of a Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// The key is new.
    Added,
    /// The key is gone.
    Removed,
    /// The value (or its ciphertext) differs.
    Changed,
    /// The value (or its ciphertext) is the same.
    Unchanged,
    /// Both sides are SOPS ciphertext and they differ: SOPS encrypts with a fresh IV (and, after
    /// `rotate --rekey` or `seal --force`, a fresh data key) each time, so whether the value
    /// changed cannot be told without decrypting.
    Reencrypted,
}

/// One key of a Secret, as `data.<key>` or `stringData.<key>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyChange {
    /// `data.<key>` or `stringData.<key>`.
    pub key: String,
    /// What happened to it; never the value.
    pub status: KeyStatus,
}

/// The value-free account of a change to a sensitive object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretChange {
    /// The object carries a `sops:` block on either side.
    pub encrypted: bool,
    /// Every key of `data` and `stringData` on either side, in key order.
    pub keys: Vec<KeyChange>,
    /// The `sops:` block differs (new data key, recipients or MAC).
    pub reencrypted: bool,
    /// SOPS recipients (age, PGP, KMS…) that are new.
    pub recipients_added: Vec<String>,
    /// SOPS recipients that are gone.
    pub recipients_removed: Vec<String>,
}

impl SecretChange {
    /// One line for a reviewer, with `code` quoting key names and recipients.
    pub fn describe(&self, code: impl Fn(&str) -> String) -> String {
        let changed = self.keys.iter().any(|k| k.status != KeyStatus::Unchanged);
        let mut parts: Vec<String> = Vec::new();
        if self.reencrypted && !changed {
            parts.push("re-encrypted, values unchanged".to_owned());
        } else {
            for status in [
                KeyStatus::Added,
                KeyStatus::Removed,
                KeyStatus::Changed,
                KeyStatus::Reencrypted,
                KeyStatus::Unchanged,
            ] {
                let keys: Vec<String> = self
                    .keys
                    .iter()
                    .filter(|k| k.status == status)
                    .map(|k| code(&k.key))
                    .collect();
                if !keys.is_empty() {
                    parts.push(format!("{} {}", keys.join(", "), status_word(status)));
                }
            }
            // Keys already said to be re-encrypted say it for the file: no second "re-encrypted".
            if self.reencrypted && !self.keys.iter().any(|k| k.status == KeyStatus::Reencrypted) {
                parts.push("re-encrypted".to_owned());
            }
        }
        if !self.recipients_added.is_empty() {
            let r: Vec<String> = self.recipients_added.iter().map(|r| code(r)).collect();
            parts.push(format!("recipients added: {}", r.join(", ")));
        }
        if !self.recipients_removed.is_empty() {
            let r: Vec<String> = self.recipients_removed.iter().map(|r| code(r)).collect();
            parts.push(format!("recipients removed: {}", r.join(", ")));
        }
        if parts.is_empty() {
            parts.push("no value changed".to_owned());
        }
        parts.join("; ")
    }
}

fn status_word(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Added => "added",
        KeyStatus::Removed => "removed",
        KeyStatus::Changed => "changed",
        KeyStatus::Unchanged => "unchanged",
        KeyStatus::Reencrypted => "re-encrypted (value not comparable without decrypting)",
    }
}

/// True for a `kind: Secret`, any object with a top-level `sops:` block, and a list holding one.
pub(crate) fn is_sensitive(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Secret")
        || value.get("sops").is_some()
        || value
            .get("items")
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(is_sensitive))
}

/// True for a file that was not read as an object but may hold secret material.
pub(crate) fn looks_sensitive(path: &str, bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    path.contains(".sops.")
        || text.contains("ENC[")
        || text
            .lines()
            .any(|l| l.starts_with("sops:") || l.trim_start().starts_with("kind: Secret"))
}

/// The object as YAML with every secret value replaced, after the file's leading comment lines.
pub(crate) fn redacted_text(original: &[u8], value: &Value) -> String {
    let mut v = value.clone();
    mask_secrets(&mut v);
    mask_ciphertext(&mut v);
    let head: String = String::from_utf8_lossy(original)
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let body = serde_saphyr::to_string(&v).unwrap_or_else(|_| {
        "# (object not shown: it could not be re-rendered without its secret values)\n".to_owned()
    });
    format!("{head}{body}")
}

/// Removes `sops:` blocks and replaces the values of every Secret, in lists too.
fn mask_secrets(v: &mut Value) {
    if let Some(Value::Array(items)) = v.get_mut("items") {
        items.iter_mut().for_each(mask_secrets);
    }
    if let Value::Object(map) = v {
        map.shift_remove("sops");
        if map.get("kind").and_then(Value::as_str) == Some("Secret") {
            for section in SECTIONS {
                match map.get_mut(section) {
                    Some(Value::Object(values)) => {
                        for val in values.values_mut() {
                            *val = Value::String(REDACTED.to_owned());
                        }
                    }
                    Some(other) => *other = Value::String(REDACTED.to_owned()),
                    None => {}
                }
            }
        }
    }
}

/// Replaces every `ENC[…]` string at any depth.
fn mask_ciphertext(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("ENC[") => *s = ENCRYPTED.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(mask_ciphertext),
        Value::Object(map) => map.values_mut().for_each(mask_ciphertext),
        _ => {}
    }
}

/// Compares the values of two versions of a sensitive object without revealing them.
pub(crate) fn secret_change(old: Option<&Value>, new: Option<&Value>) -> SecretChange {
    let entries = |v: Option<&Value>| -> std::collections::BTreeMap<String, Value> {
        let mut out = std::collections::BTreeMap::new();
        for section in SECTIONS {
            match v.and_then(|v| v.get(section)) {
                Some(Value::Object(m)) => {
                    for (k, val) in m {
                        out.insert(format!("{section}.{k}"), val.clone());
                    }
                }
                Some(other) if !other.is_null() => {
                    out.insert(section.to_owned(), other.clone());
                }
                _ => {}
            }
        }
        out
    };
    let (o, n) = (entries(old), entries(new));
    let names: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    let keys = names
        .into_iter()
        .map(|k| {
            let status = match (o.get(k), n.get(k)) {
                (None, _) => KeyStatus::Added,
                (_, None) => KeyStatus::Removed,
                (Some(a), Some(b)) if a == b => KeyStatus::Unchanged,
                (Some(Value::String(a)), Some(Value::String(b)))
                    if a.starts_with("ENC[") && b.starts_with("ENC[") =>
                {
                    KeyStatus::Reencrypted
                }
                _ => KeyStatus::Changed,
            };
            KeyChange {
                key: k.clone(),
                status,
            }
        })
        .collect();
    let sops = |v: Option<&Value>| v.and_then(|v| v.get("sops")).cloned();
    let (so, sn) = (sops(old), sops(new));
    let (ro, rn) = (recipients(so.as_ref()), recipients(sn.as_ref()));
    SecretChange {
        encrypted: so.is_some() || sn.is_some(),
        keys,
        reencrypted: old.is_some() && new.is_some() && so != sn,
        recipients_added: rn.difference(&ro).cloned().collect(),
        recipients_removed: ro.difference(&rn).cloned().collect(),
    }
}

/// The public recipients of a `sops:` block: age recipients, PGP fingerprints, cloud KMS keys.
fn recipients(sops: Option<&Value>) -> BTreeSet<String> {
    const FIELDS: [(&str, &str); 5] = [
        ("age", "recipient"),
        ("pgp", "fp"),
        ("kms", "arn"),
        ("gcp_kms", "resource_id"),
        ("hc_vault", "vault_address"),
    ];
    let mut out = BTreeSet::new();
    let Some(sops) = sops else { return out };
    for (list, field) in FIELDS {
        for item in sops.get(list).and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = lookup(item, field).and_then(Value::as_str) {
                out.insert(r.to_owned());
            }
        }
    }
    for item in sops
        .get("azure_kv")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = item.get("vault_url").and_then(Value::as_str).unwrap_or_default();
        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
        out.insert(format!("{url}/keys/{name}"));
    }
    out
}

#[cfg(test)]
mod tests {

    /// SOPS ciphertext changes on every seal (fresh IV, maybe a fresh data key): a differing
    /// `ENC[…]` is "re-encrypted", never claimed as a changed value.
    #[test]
    fn differing_sops_ciphertexts_are_reencrypted_not_changed() {
        let old = serde_json::json!({"kind": "Secret", "stringData": {"a": "ENC[AES256_GCM,data:AA==,iv:x,tag:y,type:str]"}, "sops": {"mac": "m1"}});
        let new = serde_json::json!({"kind": "Secret", "stringData": {"a": "ENC[AES256_GCM,data:BB==,iv:z,tag:w,type:str]"}, "sops": {"mac": "m2"}});
        let change = secret_change(Some(&old), Some(&new));
        assert_eq!(change.keys[0].status, KeyStatus::Reencrypted);
        let text = change.describe(|s| format!("`{s}`"));
        assert!(text.contains("re-encrypted (value not comparable"), "{text}");
        assert!(!text.contains("BB=="), "{text}");
        // See: issue 13 (item 9): "re-encrypted (...); re-encrypted" said it twice.
        assert_eq!(text.matches("re-encrypted").count(), 1, "{text}");
    }

    use super::*;
    use serde_json::json;

    fn sops_secret(pw: &str, recipient: &str, mac: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "data"},
            "stringData": {"password": pw, "user": "ENC[AES256_GCM,data:dXNlcg==,iv:a,tag:b,type:str]"},
            "sops": {"age": [{"recipient": recipient, "enc": "-----BEGIN AGE ENCRYPTED FILE-----"}],
                     "mac": mac, "lastmodified": "2024-01-01T00:00:00Z"}
        })
    }

    #[test]
    fn redacted_text_has_no_values_or_ciphertext() {
        let v = sops_secret(
            "ENC[AES256_GCM,data:c2VjcmV0,iv:x,tag:y,type:str]",
            "age1abc",
            "ENC[mac]",
        );
        let text = redacted_text(b"# Source: secrets/prod/db.sops.yaml\napiVersion: v1\n", &v);
        assert!(
            text.starts_with("# Source: secrets/prod/db.sops.yaml\n"),
            "{text}"
        );
        for leak in ["c2VjcmV0", "dXNlcg", "ENC[", "BEGIN AGE", "mac"] {
            assert!(!text.contains(leak), "{leak} leaked in:\n{text}");
        }
        assert!(text.contains("password: <redacted>"), "{text}");
    }

    #[test]
    fn plain_secret_data_is_redacted() {
        let v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"token": "aHVudGVyMg=="}});
        let text = redacted_text(b"", &v);
        assert!(!text.contains("aHVudGVyMg"), "{text}");
    }

    #[test]
    fn rewrapped_sops_block_reads_as_reencrypted() {
        let enc = "ENC[AES256_GCM,data:c2VjcmV0,iv:x,tag:y,type:str]";
        let old = sops_secret(enc, "age1old", "ENC[m1]");
        let new = sops_secret(enc, "age1new", "ENC[m2]");
        let c = secret_change(Some(&old), Some(&new));
        assert!(c.encrypted && c.reencrypted);
        assert!(c.keys.iter().all(|k| k.status == KeyStatus::Unchanged));
        assert_eq!(c.recipients_added, ["age1new"]);
        assert_eq!(c.recipients_removed, ["age1old"]);
        let line = c.describe(|s| format!("`{s}`"));
        assert!(line.starts_with("re-encrypted, values unchanged"), "{line}");
    }

    #[test]
    fn key_statuses_are_reported() {
        let old = json!({"kind": "Secret", "data": {"a": "MQ==", "b": "Mg==", "c": "Mw=="}});
        let new = json!({"kind": "Secret", "data": {"a": "MQ==", "b": "NA==", "d": "NQ=="}});
        let c = secret_change(Some(&old), Some(&new));
        let got: Vec<(&str, KeyStatus)> = c.keys.iter().map(|k| (k.key.as_str(), k.status)).collect();
        assert_eq!(
            got,
            [
                ("data.a", KeyStatus::Unchanged),
                ("data.b", KeyStatus::Changed),
                ("data.c", KeyStatus::Removed),
                ("data.d", KeyStatus::Added)
            ]
        );
        assert!(!c.encrypted && !c.reencrypted);
    }

    #[test]
    fn unreadable_secret_files_are_recognised() {
        assert!(looks_sensitive("apps/x/db.sops.yaml", b"garbage"));
        assert!(looks_sensitive("apps/x/a.yaml", b"---\nkind: Secret\n---\n"));
        assert!(!looks_sensitive(
            "apps/kustomization.yaml",
            b"resources: [a.yaml]\n"
        ));
    }
}
