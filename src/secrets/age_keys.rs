//! age keys for SOPS: X25519 identities and recipients, and wrapping the document data key as
//! one armored age file per recipient (what sops' `age/keysource.go` stores in `enc`). Pure: the
//! callers read key files; nothing here touches the disk.

use std::io::{Read as _, Write as _};
use std::iter;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use age::secrecy::ExposeSecret as _;
use zeroize::Zeroizing;

use super::crypto::DataKey;

/// Why a recipient string is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientError(pub String);

/// Parses an `age1…` X25519 recipient (surrounding whitespace allowed, as sops trims it).
///
/// # Errors
/// Post-quantum (`age1pq1…`), plugin, SSH or malformed recipients: hydrate speaks X25519 only.
pub fn parse_recipient(s: &str) -> Result<age::x25519::Recipient, RecipientError> {
    let s = s.trim();
    if s.starts_with("age1pq1") {
        return Err(RecipientError(format!(
            "`{s}` is a post-quantum (ML-KEM-768 + X25519) recipient; hydrate supports X25519 `age1…` recipients only"
        )));
    }
    if s.starts_with("ssh-") {
        return Err(RecipientError(format!(
            "`{s}` is an SSH recipient; hydrate supports X25519 `age1…` recipients only"
        )));
    }
    // Bech32 data has no `1`, so a second one means a plugin recipient (`age1yubikey1…`);
    // sops tells them apart the same way.
    if s.starts_with("age1") && s.matches('1').count() > 1 {
        return Err(RecipientError(format!(
            "`{s}` is an age plugin recipient; hydrate supports X25519 `age1…` recipients only"
        )));
    }
    s.parse::<age::x25519::Recipient>()
        .map_err(|e| RecipientError(format!("`{s}` is not an age X25519 recipient: {e}")))
}

/// The age identities used to unwrap data keys, with their recipients (public keys).
pub struct AgeIdentities {
    identities: Vec<age::x25519::Identity>,
    recipients: Vec<String>,
}

impl std::fmt::Debug for AgeIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgeIdentities")
            .field("recipients", &self.recipients)
            .finish_non_exhaustive()
    }
}

/// Why an identity file could not be read. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityError {
    /// 1-based line of the identity file.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl AgeIdentities {
    /// Parses an age identity file (the `age-keygen` format sops reads from
    /// `SOPS_AGE_KEY_FILE`): one `AGE-SECRET-KEY-1…` per line, `#` comments and blank lines
    /// ignored.
    ///
    /// # Errors
    /// A line that is not an X25519 identity (post-quantum and plugin identities are named), or
    /// a file without any identity.
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let mut identities = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| IdentityError {
                line: index + 1,
                reason: reason.to_owned(),
            };
            if line.starts_with("AGE-SECRET-KEY-PQ-1") {
                return Err(err(
                    "a post-quantum (ML-KEM-768 + X25519) identity; hydrate supports X25519 identities only",
                ));
            }
            if line.starts_with("AGE-PLUGIN-") {
                return Err(err(
                    "an age plugin identity; hydrate supports X25519 identities only",
                ));
            }
            let identity = line
                .parse::<age::x25519::Identity>()
                .map_err(|_| err("not an `AGE-SECRET-KEY-1…` X25519 identity"))?;
            identities.push(identity);
        }
        if identities.is_empty() {
            return Err(IdentityError {
                line: 0,
                reason: "no `AGE-SECRET-KEY-1…` identity in the file".to_owned(),
            });
        }
        let recipients = identities.iter().map(|i| i.to_public().to_string()).collect();
        Ok(Self {
            identities,
            recipients,
        })
    }

    /// The recipients (public keys) these identities decrypt for.
    #[must_use]
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    /// The identity whose recipient is `recipient`, as sops only tries identities that match
    /// the stanza's recipient (`recipientMatcher`).
    fn for_recipient(&self, recipient: &str) -> Option<&age::x25519::Identity> {
        let recipient = recipient.trim();
        self.recipients
            .iter()
            .position(|r| r == recipient)
            .map(|i| &self.identities[i])
    }
}

/// A freshly generated identity: the key-file text (secret, wiped on drop) and its recipient.
pub struct GeneratedKey {
    /// The identity file content: `# public key: age1…` then the `AGE-SECRET-KEY-1…` line.
    pub file_text: Zeroizing<String>,
    /// The `age1…` recipient to put in `.sops.yaml`.
    pub recipient: String,
}

/// Generates an X25519 identity. The file has no `# created:` line (age-keygen writes one):
/// hydrate reads the clock only for `lastmodified`.
#[must_use]
pub fn generate() -> GeneratedKey {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    let file_text = Zeroizing::new(format!("# public key: {recipient}\n{}\n", secret.expose_secret()));
    GeneratedKey { file_text, recipient }
}

/// Wraps the data key for one recipient: an age file with a single X25519 stanza whose
/// payload is the 32 raw key bytes, ASCII-armored (sops' age key source does the same, one
/// age file per recipient, so each `enc` can be replaced on its own).
#[must_use]
pub fn wrap(key: &DataKey, recipient: &age::x25519::Recipient) -> String {
    let encryptor = age::Encryptor::with_recipients(iter::once(recipient as &dyn age::Recipient))
        .expect("one X25519 recipient is always a valid recipient set");
    let mut out = Vec::new();
    let armor =
        ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).expect("writing to a Vec cannot fail");
    let mut writer = encryptor
        .wrap_output(armor)
        .expect("writing to a Vec cannot fail");
    writer
        .write_all(key.as_bytes())
        .expect("writing to a Vec cannot fail");
    writer
        .finish()
        .and_then(ArmoredWriter::finish)
        .expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("armored output is ASCII")
}

/// Why a data key could not be unwrapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnwrapError {
    /// None of the identities is the recipient of any stanza.
    NoMatchingIdentity,
    /// The stanza for our recipient is malformed or does not decrypt (tampered or re-pointed).
    Failed {
        /// The recipient whose block failed.
        recipient: String,
        /// What failed.
        reason: String,
    },
}

/// Unwraps the data key from the first stanza whose recipient one of `identities` holds.
///
/// # Errors
/// No identity matches a stanza, or the matching block does not decrypt to 32 bytes.
pub fn unwrap<'a>(
    stanzas: impl IntoIterator<Item = (&'a str, &'a str)>,
    identities: &AgeIdentities,
) -> Result<DataKey, UnwrapError> {
    let mut first_failure = None;
    for (recipient, enc) in stanzas {
        let Some(identity) = identities.for_recipient(recipient) else {
            continue;
        };
        match unwrap_one(enc, identity) {
            Ok(key) => return Ok(key),
            Err(reason) => {
                first_failure.get_or_insert(UnwrapError::Failed {
                    recipient: recipient.trim().to_owned(),
                    reason,
                });
            }
        }
    }
    Err(first_failure.unwrap_or(UnwrapError::NoMatchingIdentity))
}

fn unwrap_one(enc: &str, identity: &age::x25519::Identity) -> Result<DataKey, String> {
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(enc.as_bytes()))
        .map_err(|e| format!("the age block is malformed: {e}"))?;
    let mut reader = decryptor
        .decrypt(iter::once(identity as &dyn age::Identity))
        .map_err(|e| format!("the age block does not decrypt with this identity: {e}"))?;
    let mut plaintext = Zeroizing::new(Vec::new());
    reader
        .read_to_end(&mut plaintext)
        .map_err(|e| format!("the age payload does not decrypt: {e}"))?;
    DataKey::from_slice(&plaintext).ok_or_else(|| {
        format!(
            "the age payload is {} bytes where a SOPS data key is 32",
            plaintext.len()
        )
    })
}

/// Checks an `enc` block's structure without any key: ASCII armor, and an age v1 header that
/// parses. (Its header MAC and payload can only be checked by the recipient.)
///
/// # Errors
/// What is malformed.
pub fn check_block(enc: &str) -> Result<(), String> {
    if !enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----") {
        return Err("is not an ASCII-armored age file".to_owned());
    }
    age::Decryptor::new_buffered(ArmoredReader::new(enc.as_bytes()))
        .map(|_| ())
        .map_err(|e| format!("is not a valid age file: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_unwrap_round_trip() {
        let generated = generate();
        let ids = AgeIdentities::parse(&generated.file_text).unwrap();
        assert_eq!(ids.recipients(), std::slice::from_ref(&generated.recipient));
        let key = DataKey::generate();
        let recipient = parse_recipient(&generated.recipient).unwrap();
        let enc = wrap(&key, &recipient);
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        check_block(&enc).unwrap();
        let back = unwrap([(generated.recipient.as_str(), enc.as_str())], &ids).unwrap();
        assert_eq!(back.as_bytes(), key.as_bytes());

        let other = AgeIdentities::parse(&generate().file_text).unwrap();
        assert_eq!(
            unwrap([(generated.recipient.as_str(), enc.as_str())], &other).unwrap_err(),
            UnwrapError::NoMatchingIdentity
        );
    }

    #[test]
    fn identity_errors_name_the_line_not_the_key() {
        let err = AgeIdentities::parse("# c\n\nAGE-SECRET-KEY-PQ-1ABC\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("post-quantum"));
        assert!(!err.reason.contains("ABC"));
        assert!(AgeIdentities::parse("# only a comment\n").is_err());
    }

    #[test]
    fn recipients_other_than_x25519_are_named() {
        assert!(
            parse_recipient("age1pq1xyz")
                .unwrap_err()
                .0
                .contains("post-quantum")
        );
        assert!(parse_recipient("ssh-ed25519 AAAA").unwrap_err().0.contains("SSH"));
        assert!(parse_recipient("nope").is_err());
    }
}
