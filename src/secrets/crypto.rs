//! SOPS value cryptography: AES-256-GCM per value under the document's data key, the
//! `ENC[AES256_GCM,…]` text form, which leaves are encrypted, and the MAC. Pure: no disk, no
//! clock; randomness only from the OS RNG for keys and IVs.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::U32;
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore as _;
use sha2::{Digest as _, Sha512};
use zeroize::Zeroizing;

use super::sops_format::{EncryptionRules, Node, Value};

/// sops uses a 32-byte GCM nonce (`aes/cipher.go`: `nonceSize = 32`), not the usual 12; GCM then
/// derives its counter block from the nonce with GHASH. Every file sops writes has 32-byte IVs.
pub const IV_LEN: usize = 32;
/// The GCM tag, stored separately as `tag:`.
pub const TAG_LEN: usize = 16;

/// AES-256-GCM with sops' 32-byte nonce.
type SopsGcm = AesGcm<Aes256, U32>;

/// The 32-byte document data key; wiped from memory when dropped.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key (sops: `GenerateDataKey`, 32 bytes from the OS RNG).
    #[must_use]
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Takes the key out of an unwrapped age payload, which must be exactly 32 bytes.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(array)))
    }

    /// The key bytes (to wrap for a recipient).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> SopsGcm {
        let key: &[u8; 32] = &self.0;
        SopsGcm::new(key.into())
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// The `type:` of an encrypted value: how sops turns the plaintext back into a typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `str`: the UTF-8 text.
    Str,
    /// `int`: decimal text (Go `strconv.Itoa`).
    Int,
    /// `int64`: decimal text (newer sops).
    Int64,
    /// `float`: Go `FormatFloat(f, 'f', -1, 64)`.
    Float,
    /// `bool`: `True`/`False` (sops keeps the Python version's title case).
    Bool,
    /// `bytes`: raw bytes.
    Bytes,
    /// `comment`: an encrypted YAML comment (never part of the MAC).
    Comment,
}

impl ValueType {
    /// The `type:` tag.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Str => "str",
            Self::Int => "int",
            Self::Int64 => "int64",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::Bytes => "bytes",
            Self::Comment => "comment",
        }
    }

    fn parse(tag: &str) -> Option<Self> {
        Some(match tag {
            "str" => Self::Str,
            "int" => Self::Int,
            "int64" => Self::Int64,
            "float" => Self::Float,
            "bool" => Self::Bool,
            "bytes" => Self::Bytes,
            "comment" => Self::Comment,
            _ => return None,
        })
    }
}

/// One `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` value, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedValue {
    /// The ciphertext (same length as the plaintext).
    pub data: Vec<u8>,
    /// The 32-byte nonce.
    pub iv: Vec<u8>,
    /// The 16-byte GCM tag.
    pub tag: Vec<u8>,
    /// How to type the plaintext.
    pub ty: ValueType,
}

/// Whether a string is in sops' encrypted form at all (what a plaintext check looks for).
#[must_use]
pub fn looks_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,") && s.ends_with(']')
}

impl EncryptedValue {
    /// Decodes the text form. Stricter than sops' regex in one way only: nothing may follow the
    /// closing `]`, and the IV and tag must have the lengths sops writes.
    ///
    /// # Errors
    /// A description of what is malformed (never includes the value).
    pub fn parse(s: &str) -> Result<Self, String> {
        let inner = s
            .strip_prefix("ENC[AES256_GCM,")
            .and_then(|r| r.strip_suffix(']'))
            .ok_or("is not in the form `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`")?;
        let mut parts = inner.split(',');
        let mut field = |name: &str| -> Result<&str, String> {
            parts
                .next()
                .and_then(|p| p.strip_prefix(name))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("has no `{name}` field"))
        };
        let data = field("data:")?;
        let iv = field("iv:")?;
        let tag = field("tag:")?;
        let ty = field("type:")?;
        if parts.next().is_some() {
            return Err("has extra fields".to_owned());
        }
        let decode = |name: &str, text: &str| {
            B64.decode(text)
                .map_err(|_| format!("has a `{name}` field that is not valid base64"))
        };
        let value = Self {
            data: decode("data", data)?,
            iv: decode("iv", iv)?,
            tag: decode("tag", tag)?,
            ty: ValueType::parse(ty).ok_or_else(|| format!("has an unknown type `{ty}`"))?,
        };
        if value.iv.len() != IV_LEN {
            return Err(format!(
                "has a {}-byte IV where sops writes {IV_LEN}",
                value.iv.len()
            ));
        }
        if value.tag.len() != TAG_LEN {
            return Err(format!(
                "has a {}-byte tag where GCM has {TAG_LEN}",
                value.tag.len()
            ));
        }
        Ok(value)
    }

    /// The text form sops writes (standard base64 with padding).
    #[must_use]
    pub fn to_text(&self) -> String {
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            B64.encode(&self.data),
            B64.encode(&self.iv),
            B64.encode(&self.tag),
            self.ty.as_str()
        )
    }
}

/// The additional authenticated data of a value: its path of mapping keys, each followed by `:`
/// (`stringData:password:`). Sequence items add nothing (sops' `walkSlice` keeps the path).
#[must_use]
pub fn path_aad(path: &[&str]) -> String {
    let mut aad = String::new();
    for part in path {
        aad.push_str(part);
        aad.push(':');
    }
    aad
}

/// Encrypts one plaintext under the data key with a fresh random 32-byte IV.
#[must_use]
pub fn encrypt(key: &DataKey, plaintext: &[u8], ty: ValueType, aad: &str) -> String {
    let mut iv = [0u8; IV_LEN];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let mut buffer = Zeroizing::new(plaintext.to_vec());
    let tag = key
        .cipher()
        .encrypt_in_place_detached((&iv).into(), aad.as_bytes(), &mut buffer)
        .expect("AES-GCM encryption cannot fail for inputs under 64 GiB");
    EncryptedValue {
        data: buffer.to_vec(),
        iv: iv.to_vec(),
        tag: tag.to_vec(),
        ty,
    }
    .to_text()
}

/// Decrypts one value; fails if the key, the AAD (the value's path) or any byte is wrong.
///
/// # Errors
/// The GCM tag does not verify.
pub fn decrypt(
    key: &DataKey,
    value: &EncryptedValue,
    aad: &str,
) -> Result<Zeroizing<Vec<u8>>, aes_gcm::Error> {
    let mut buffer = Zeroizing::new(value.data.clone());
    let iv: &[u8; IV_LEN] = value.iv.as_slice().try_into().map_err(|_| aes_gcm::Error)?;
    let tag: &[u8; TAG_LEN] = value.tag.as_slice().try_into().map_err(|_| aes_gcm::Error)?;
    key.cipher()
        .decrypt_in_place_detached(iv.into(), aad.as_bytes(), &mut buffer, tag.into())?;
    Ok(buffer)
}

/// What sops encrypts a tree value as: the plaintext bytes and the `type:` tag (`aes/cipher.go`
/// `Encrypt`). `None` for values sops leaves alone: null, the empty string, collections.
#[must_use]
pub fn plaintext_of(value: &Value) -> Option<(Zeroizing<Vec<u8>>, ValueType)> {
    let (text, ty) = match value {
        Value::Str(s) if s.is_empty() => return None,
        Value::Str(s) => (s.clone(), ValueType::Str),
        Value::Int(i) => (i.to_string(), ValueType::Int),
        Value::UInt(u) => (u.to_string(), ValueType::Int),
        Value::Float(f) => (go_format_float(*f), ValueType::Float),
        Value::Bool(b) => (if *b { "True" } else { "False" }.to_owned(), ValueType::Bool),
        Value::Null | Value::Seq(_) | Value::Map(_) => return None,
    };
    Some((Zeroizing::new(text.into_bytes()), ty))
}

/// The bytes a leaf contributes to the MAC (`sops.go` `ToBytes`): strings as-is, ints in
/// decimal, floats as Go's `FormatFloat(f, 'f', -1, 64)`, booleans as `True`/`False`.
#[must_use]
pub fn mac_bytes_of(value: &Value) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = match value {
        Value::Str(s) => s.clone().into_bytes(),
        Value::Int(i) => i.to_string().into_bytes(),
        Value::UInt(u) => u.to_string().into_bytes(),
        Value::Float(f) => go_format_float(*f).into_bytes(),
        Value::Bool(b) => if *b { "True" } else { "False" }.as_bytes().to_vec(),
        Value::Null | Value::Seq(_) | Value::Map(_) => return None,
    };
    Some(Zeroizing::new(bytes))
}

/// The MAC bytes of a decrypted plaintext of type `ty`, normalised as Go round-trips it
/// (`Atoi` then `Itoa`, `ParseBool` then `True`/`False`, …).
///
/// # Errors
/// The plaintext does not parse as its declared type.
pub fn typed_mac_bytes(plaintext: &[u8], ty: ValueType) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let text = || std::str::from_utf8(plaintext).map_err(|_| "is not UTF-8".to_owned());
    let bytes = match ty {
        ValueType::Str | ValueType::Bytes => plaintext.to_vec(),
        ValueType::Comment => return Ok(None),
        ValueType::Int | ValueType::Int64 => text()?
            .parse::<i64>()
            .map_err(|_| "does not decrypt to an integer".to_owned())?
            .to_string()
            .into_bytes(),
        ValueType::Float => go_format_float(
            text()?
                .parse::<f64>()
                .map_err(|_| "does not decrypt to a float".to_owned())?,
        )
        .into_bytes(),
        ValueType::Bool => match text()? {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => b"True".to_vec(),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => b"False".to_vec(),
            _ => return Err("does not decrypt to a boolean".to_owned()),
        },
    };
    Ok(Some(Zeroizing::new(bytes)))
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back as `f`,
/// never in exponent form. Rust's `Display` for `f64` has the same contract; only the
/// non-finite spellings differ.
#[must_use]
pub fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{f}")
    }
}

/// The fixed 32 bytes (`sha256("sops")`) sops feeds the hash first when `mac_only_encrypted`
/// is set, so that the two MAC modes can never produce the same MAC.
const MAC_ONLY_ENCRYPTED_PREFIX: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b,
    0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// The running MAC: SHA-512 over the MAC bytes of every leaf in document order (all leaves, or
/// only encrypted ones with `mac_only_encrypted`), written as upper-case hex (Go `%X`). It is not
/// an HMAC: it is authenticated by being stored encrypted under the data key with the
/// `lastmodified` text as AAD.
pub struct MacHasher {
    hash: Sha512,
    only_encrypted: bool,
}

impl MacHasher {
    /// Starts a MAC in the given mode.
    #[must_use]
    pub fn new(only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_PREFIX);
        }
        Self { hash, only_encrypted }
    }

    /// Adds one leaf's bytes, if the mode includes it.
    pub fn add(&mut self, bytes: &[u8], encrypted: bool) {
        if !self.only_encrypted || encrypted {
            self.hash.update(bytes);
        }
    }

    /// The MAC as sops writes it before encrypting it: 128 upper-case hex digits.
    #[must_use]
    pub fn finish(self) -> String {
        self.hash
            .finalize()
            .iter()
            .fold(String::with_capacity(128), |mut s, b| {
                use std::fmt::Write as _;
                let _ = write!(s, "{b:02X}");
                s
            })
    }
}

/// A rule set compiled for matching.
pub struct CompiledRules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<regex::Regex>,
    encrypted_regex: Option<regex::Regex>,
}

impl CompiledRules {
    /// Compiles the file's rules. As sops' `Metadata.ToInternal`: at most one rule; none at all
    /// means the default `unencrypted_suffix: _unencrypted` (encrypt everything else).
    ///
    /// # Errors
    /// More than one rule, a comment-driven rule (comments are not in hydrate's tree, so it
    /// cannot tell which values they cover), or an invalid regex.
    pub fn compile(rules: &EncryptionRules) -> Result<Self, String> {
        if rules.unencrypted_comment_regex.is_some() || rules.encrypted_comment_regex.is_some() {
            return Err(
                "uses a comment-driven rule (`encrypted_comment_regex`/`unencrypted_comment_regex`), which hydrate does not support"
                    .to_owned(),
            );
        }
        let set = [
            rules.unencrypted_suffix.is_some(),
            rules.encrypted_suffix.is_some(),
            rules.unencrypted_regex.is_some(),
            rules.encrypted_regex.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set > 1 {
            return Err("sets more than one of `encrypted_regex`, `unencrypted_regex`, `encrypted_suffix`, `unencrypted_suffix` (sops refuses such a file)".to_owned());
        }
        let compile = |r: &Option<String>| {
            r.as_deref()
                .map(|src| {
                    regex::Regex::new(src).map_err(|_| format!("has a regex `{src}` that does not compile"))
                })
                .transpose()
        };
        let unencrypted_suffix = if set == 0 {
            Some("_unencrypted".to_owned())
        } else {
            rules.unencrypted_suffix.clone()
        };
        Ok(Self {
            unencrypted_suffix,
            encrypted_suffix: rules.encrypted_suffix.clone(),
            unencrypted_regex: compile(&rules.unencrypted_regex)?,
            encrypted_regex: compile(&rules.encrypted_regex)?,
        })
    }

    /// Whether the leaf at `path` is encrypted (`sops.go` `shouldBeEncrypted`, without comments):
    /// any path component counts, not only the leaf's own key.
    #[must_use]
    pub fn encrypts(&self, path: &[&str]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(re) = &self.unencrypted_regex
            && path.iter().any(|p| re.is_match(p))
        {
            encrypted = false;
        }
        if let Some(re) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| re.is_match(p));
        }
        encrypted
    }
}

/// Visits every leaf (non-null scalar) of a tree in document order with its key path.
pub fn walk_leaves<'a>(tree: &'a [(String, Node)], visit: &mut dyn FnMut(&[&'a str], &'a Node)) {
    let mut path = Vec::new();
    for (key, node) in tree {
        path.push(key.as_str());
        walk_node(node, &mut path, visit);
        path.pop();
    }
}

fn walk_node<'a>(node: &'a Node, path: &mut Vec<&'a str>, visit: &mut dyn FnMut(&[&'a str], &'a Node)) {
    match &node.value {
        Value::Map(entries) => {
            for (key, child) in entries {
                path.push(key.as_str());
                walk_node(child, path, visit);
                path.pop();
            }
        }
        Value::Seq(items) => {
            for item in items {
                walk_node(item, path, visit);
            }
        }
        Value::Null => {}
        _ => visit(path, node),
    }
}

/// A visitor of mutable leaves: gets the key path and the leaf.
pub type LeafVisitorMut<'v, E> = dyn FnMut(&[String], &mut Node) -> Result<(), E> + 'v;

/// Visits every leaf mutably in document order with its key path.
///
/// # Errors
/// The first error `visit` returns.
pub fn walk_leaves_mut<E>(tree: &mut [(String, Node)], visit: &mut LeafVisitorMut<'_, E>) -> Result<(), E> {
    let mut path = Vec::new();
    for (key, node) in tree.iter_mut() {
        path.push(key.clone());
        walk_node_mut(node, &mut path, visit)?;
        path.pop();
    }
    Ok(())
}

fn walk_node_mut<E>(
    node: &mut Node,
    path: &mut Vec<String>,
    visit: &mut LeafVisitorMut<'_, E>,
) -> Result<(), E> {
    match &mut node.value {
        Value::Map(entries) => {
            for (key, child) in entries.iter_mut() {
                path.push(key.clone());
                walk_node_mut(child, path, visit)?;
                path.pop();
            }
            Ok(())
        }
        Value::Seq(items) => {
            for item in items.iter_mut() {
                walk_node_mut(item, path, visit)?;
            }
            Ok(())
        }
        Value::Null => Ok(()),
        _ => visit(path, node),
    }
}

/// Normalises a `lastmodified` value the way sops does before using it as the MAC's AAD: Go
/// parses it as RFC 3339 and formats it back (`time.RFC3339`), which drops fractional seconds
/// and writes a zero offset as `Z`.
#[must_use]
pub fn normalize_rfc3339(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits =
        |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape_ok = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !shape_ok {
        return None;
    }
    let base = &s[..19];
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let zone = match rest {
        "Z" | "+00:00" | "-00:00" => "Z",
        z if z.len() == 6
            && (z.starts_with('+') || z.starts_with('-'))
            && z.as_bytes()[3] == b':'
            && z[1..3].bytes().all(|c| c.is_ascii_digit())
            && z[4..6].bytes().all(|c| c.is_ascii_digit()) =>
        {
            z
        }
        _ => return None,
    };
    Some(format!("{base}{zone}"))
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2024-11-12T13:33:42Z`), the form sops
/// writes for `lastmodified`.
#[must_use]
pub fn rfc3339_utc(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_round_trip_and_tamper() {
        let key = DataKey::generate();
        let text = encrypt(&key, b"s3cret", ValueType::Str, "stringData:password:");
        let parsed = EncryptedValue::parse(&text).unwrap();
        assert_eq!(parsed.iv.len(), IV_LEN);
        assert_eq!(
            decrypt(&key, &parsed, "stringData:password:").unwrap().as_slice(),
            b"s3cret"
        );
        // Wrong path (AAD), wrong key, flipped byte: all refused.
        assert!(decrypt(&key, &parsed, "stringData:other:").is_err());
        assert!(decrypt(&DataKey::generate(), &parsed, "stringData:password:").is_err());
        let mut flipped = parsed.clone();
        flipped.data[0] ^= 1;
        assert!(decrypt(&key, &flipped, "stringData:password:").is_err());
    }

    #[test]
    fn malformed_values_are_named() {
        assert!(EncryptedValue::parse("plain").is_err());
        assert!(
            EncryptedValue::parse("ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]")
                .unwrap_err()
                .contains("IV")
        );
        assert!(
            EncryptedValue::parse("ENC[AES256_GCM,data:!!,iv:AA==,tag:AA==,type:str]")
                .unwrap_err()
                .contains("base64")
        );
    }

    #[test]
    fn rules_follow_sops() {
        let regex = CompiledRules::compile(&EncryptionRules {
            encrypted_regex: Some("^(data|stringData)$".to_owned()),
            ..EncryptionRules::default()
        })
        .unwrap();
        assert!(regex.encrypts(&["stringData", "key"]));
        assert!(regex.encrypts(&["data", "x"]));
        assert!(!regex.encrypts(&["metadata", "name"]));
        let default = CompiledRules::compile(&EncryptionRules::default()).unwrap();
        assert!(default.encrypts(&["a", "b"]));
        assert!(!default.encrypts(&["a_unencrypted", "b"]));
        assert!(
            CompiledRules::compile(&EncryptionRules {
                encrypted_regex: Some("a".to_owned()),
                unencrypted_suffix: Some("b".to_owned()),
                ..EncryptionRules::default()
            })
            .is_err()
        );
    }

    #[test]
    fn go_number_formats() {
        assert_eq!(go_format_float(1.5), "1.5");
        assert_eq!(go_format_float(1.0), "1");
        assert_eq!(go_format_float(1e21), "1000000000000000000000");
        assert_eq!(go_format_float(f64::INFINITY), "+Inf");
        assert_eq!(
            typed_mac_bytes(b"true", ValueType::Bool)
                .unwrap()
                .unwrap()
                .as_slice(),
            b"True"
        );
        assert_eq!(
            typed_mac_bytes(b"007", ValueType::Int)
                .unwrap()
                .unwrap()
                .as_slice(),
            b"7"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_731_418_422), "2024-11-12T13:33:42Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            normalize_rfc3339("2024-11-12T13:33:42.123+00:00").as_deref(),
            Some("2024-11-12T13:33:42Z")
        );
        assert_eq!(
            normalize_rfc3339("2021-03-31T09:51:59+02:00").as_deref(),
            Some("2021-03-31T09:51:59+02:00")
        );
        assert_eq!(normalize_rfc3339("yesterday"), None);
    }

    #[test]
    fn mac_is_upper_hex_sha512() {
        let mut mac = MacHasher::new(false);
        mac.add(b"abc", false);
        let hex = mac.finish();
        assert_eq!(hex.len(), 128);
        assert!(hex.starts_with("DDAF35A193617ABA"), "{hex}");
    }
}
