//! The SOPS file format: parse an encrypted document into a tree plus its `sops` metadata, and
//! emit one back as YAML. Pure: text in, text out; no crypto and no disk.
//!
//! Three stores are read, because the upstream fixtures use all three: YAML (what hydrate writes
//! and what Flux's kustomize-controller reads), JSON (sops' binary store), and dotenv (metadata
//! flattened into `sops_*` keys). Only YAML is written.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt::{self, Write as _};

/// A position in the source text, 1-based; `0:0` where the store does not carry positions (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Pos {
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
}

impl Pos {
    /// A known position.
    #[must_use]
    pub const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

/// One value of the document tree, typed the way sops' Go YAML decoder (yaml.v3) types it.
#[derive(Debug, Clone)]
pub enum Value {
    /// `null`, `~` or an empty value: sops neither encrypts nor MACs it.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX`.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string (quoted, block or plain-but-not-typed scalar).
    Str(String),
    /// A sequence; its items share their parent's path (sops adds no index to the AAD).
    Seq(Vec<Node>),
    /// A mapping in document order (order matters: the MAC is over leaves in document order).
    Map(Vec<(String, Node)>),
}

/// A value and where it sits in the source.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts (for findings).
    pub pos: Pos,
}

impl Node {
    /// A node without a source position (built in memory).
    #[must_use]
    pub const fn new(value: Value) -> Self {
        Self {
            value,
            pos: Pos::new(0, 0),
        }
    }

    /// The string, if this node is a string scalar.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key`, if this node is a mapping that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Structural equality that ignores positions: the same data, wherever it was written.
impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        match (&self.value, &other.value) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::UInt(a), Value::UInt(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Seq(a), Value::Seq(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

/// The store a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (`*.yaml`, `*.yml`): hydrate's own format and Flux's.
    Yaml,
    /// JSON, including sops' binary store (`{"data": ENC[…], "sops": {…}}`).
    Json,
    /// dotenv (`KEY=VALUE` lines, metadata as `sops_*` keys).
    Dotenv,
}

impl Format {
    /// Picks the store from a file name, as sops does: `.json`, `.env`, else YAML.
    #[must_use]
    pub fn from_path(path: &str) -> Self {
        if path.ends_with(".json") {
            Self::Json
        } else if path.ends_with(".env") {
            Self::Dotenv
        } else {
            Self::Yaml
        }
    }
}

/// A SOPS `age` key-source entry: the data key wrapped for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeStanza {
    /// The `age1…` recipient the block claims to be for.
    pub recipient: String,
    /// The armored age file (`-----BEGIN AGE ENCRYPTED FILE-----…`) holding the 32-byte data key.
    pub enc: String,
    /// Where the entry is.
    pub pos: Pos,
}

/// Which leaves sops encrypts; at most one of these may be set in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionRules {
    /// Leaves under a key ending with this stay clear.
    pub unencrypted_suffix: Option<String>,
    /// Only leaves under a key ending with this are encrypted.
    pub encrypted_suffix: Option<String>,
    /// Leaves under a key matching this stay clear.
    pub unencrypted_regex: Option<String>,
    /// Only leaves under a key matching this are encrypted (hydrate: `^(data|stringData)$`).
    pub encrypted_regex: Option<String>,
    /// Comment-driven rule; hydrate cannot honour it (comments are not in its tree).
    pub unencrypted_comment_regex: Option<String>,
    /// Comment-driven rule; hydrate cannot honour it (comments are not in its tree).
    pub encrypted_comment_regex: Option<String>,
}

/// The `sops:` metadata block.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// Where the block is.
    pub pos: Pos,
    /// The age key sources, in file order.
    pub age: Vec<AgeStanza>,
    /// `lastmodified` and its position; its text is the MAC's AAD.
    pub lastmodified: Option<(String, Pos)>,
    /// `mac` (an `ENC[…]` string) and its position.
    pub mac: Option<(String, Pos)>,
    /// Which leaves are encrypted.
    pub rules: EncryptionRules,
    /// `mac_only_encrypted`: the MAC covers encrypted leaves only (and starts with a fixed prefix).
    pub mac_only_encrypted: bool,
    /// `version`: the sops release that wrote the file.
    pub version: Option<String>,
    /// Key sources hydrate does not speak (non-empty `pgp`, `kms`, `key_groups`, …), by name.
    pub foreign_key_sources: Vec<(String, Pos)>,
}

/// A parsed SOPS document: its data tree (without `sops`) and its metadata.
#[derive(Debug, Clone)]
pub struct SopsDocument {
    /// The store it was read from.
    pub format: Format,
    /// The top-level entries in document order, the `sops` key removed.
    pub tree: Vec<(String, Node)>,
    /// The `sops` block.
    pub metadata: Metadata,
}

/// Why a document could not be read as SOPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where, when known.
    pub pos: Pos,
    /// What is wrong (never contains a secret value).
    pub message: String,
    /// The fix.
    pub help: String,
}

impl ParseError {
    fn new(pos: Pos, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
            help: help.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML reading
// ---------------------------------------------------------------------------------------------

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

/// Turns a `Spanned<Value>` into a `Node`, keeping the value's position.
fn node_from(spanned: Spanned<Value>) -> Node {
    let line = u32::try_from(spanned.referenced.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(spanned.referenced.column()).unwrap_or(u32::MAX);
    Node {
        value: spanned.value,
        pos: Pos::new(line, column),
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::UInt(v), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            items.push(node_from(item));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<KeyString>()? {
            let value = map.next_value::<Spanned<Value>>()?;
            entries.push((key.0, node_from(value)));
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key read as text, whatever its YAML type (sops only allows string keys; `1:` is
/// read back by Go as the int 1 and refused there, so a numeric key is at worst a finding).
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyString, E> {
                Ok(KeyString(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyString, E> {
                Ok(KeyString(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyString, E> {
                Ok(KeyString("null".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses YAML text into one spanned tree.
///
/// Scalar typing follows YAML 1.2's core schema as Go's yaml.v3 (which sops and Flux use) does
/// for the common forms: `true`/`false` only are booleans (`yes`/`on` stay strings), so the MAC
/// sees the same types sops saw. Exotic integer spellings (`1_000`, `017`) are not written by
/// hydrate and may type differently.
///
/// # Errors
/// Invalid YAML, more than one document, or a top level that is not a mapping.
pub fn parse_yaml_tree(text: &str) -> Result<Node, ParseError> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    let docs: Vec<Spanned<Value>> = serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
        let pos = e.location().map_or(Pos::default(), |l| {
            Pos::new(
                u32::try_from(l.line()).unwrap_or(u32::MAX),
                u32::try_from(l.column()).unwrap_or(u32::MAX),
            )
        });
        // The parser's message can quote the offending text; keep only its first line.
        let reason = e.to_string();
        let reason = reason.lines().next().unwrap_or("invalid YAML").to_owned();
        ParseError::new(pos, format!("not valid YAML: {reason}"), "fix the YAML syntax")
    })?;
    let mut docs: Vec<Node> = docs
        .into_iter()
        .map(node_from)
        .filter(|n| !matches!(n.value, Value::Null))
        .collect();
    match docs.len() {
        0 => Err(ParseError::new(
            Pos::new(1, 1),
            "the file is empty",
            "seal the secret with `hydrate secret seal`",
        )),
        1 => {
            let doc = docs.remove(0);
            if matches!(doc.value, Value::Map(_)) {
                Ok(doc)
            } else {
                Err(ParseError::new(
                    doc.pos,
                    "the top level is not a mapping",
                    "a SOPS YAML file is a mapping with a top-level `sops` key",
                ))
            }
        }
        _ => Err(ParseError::new(
            docs[1].pos,
            "more than one YAML document in the file",
            "keep one Secret per `.sops.yaml` file",
        )),
    }
}

/// Parses an encrypted document in the given store.
///
/// # Errors
/// The text is not valid in the store, has no `sops` metadata, or the metadata is malformed.
pub fn parse(text: &str, format: Format) -> Result<SopsDocument, ParseError> {
    match format {
        Format::Yaml => split_metadata(parse_yaml_tree(text)?, format),
        Format::Json => split_metadata(parse_json_tree(text)?, format),
        Format::Dotenv => parse_dotenv(text),
    }
}

/// Splits the top-level `sops` key off a parsed tree and reads it.
fn split_metadata(root: Node, format: Format) -> Result<SopsDocument, ParseError> {
    let root_pos = root.pos;
    let Value::Map(entries) = root.value else {
        return Err(ParseError::new(
            root_pos,
            "the top level is not a mapping",
            "a SOPS file is a mapping with a top-level `sops` key",
        ));
    };
    let mut tree = Vec::with_capacity(entries.len());
    let mut sops = None;
    for (key, node) in entries {
        if key == "sops" {
            sops = Some(node);
        } else {
            tree.push((key, node));
        }
    }
    let Some(sops) = sops else {
        return Err(ParseError::new(
            root_pos,
            "no top-level `sops` metadata: the file is not encrypted",
            "encrypt it with `hydrate secret seal` (never commit a plaintext Secret)",
        ));
    };
    let metadata = metadata_from_node(&sops)?;
    Ok(SopsDocument {
        format,
        tree,
        metadata,
    })
}

/// Reads an optional string field of the `sops` block.
fn opt_string(block: &Node, key: &str) -> Result<Option<(String, Pos)>, ParseError> {
    match block.get(key) {
        None => Ok(None),
        Some(node) => match &node.value {
            Value::Null => Ok(None),
            Value::Str(s) if s.is_empty() => Ok(None),
            Value::Str(s) => Ok(Some((s.clone(), node.pos))),
            // Go would refuse a non-string here; name it the same way.
            _ => Err(ParseError::new(
                node.pos,
                format!("`sops.{key}` is not a string"),
                "restore the metadata sops wrote, or seal the secret again",
            )),
        },
    }
}

/// Reads the `sops` metadata block from a YAML/JSON node.
fn metadata_from_node(block: &Node) -> Result<Metadata, ParseError> {
    let Value::Map(entries) = &block.value else {
        return Err(ParseError::new(
            block.pos,
            "`sops` is not a mapping",
            "restore the metadata sops wrote, or seal the secret again",
        ));
    };
    let mut meta = Metadata {
        pos: block.pos,
        ..Metadata::default()
    };
    if let Some(age) = block.get("age") {
        meta.age = age_stanzas(age)?;
    }
    meta.lastmodified = opt_string(block, "lastmodified")?;
    meta.mac = opt_string(block, "mac")?;
    meta.version = opt_string(block, "version")?.map(|(v, _)| v);
    let rule = |k| opt_string(block, k).map(|o| o.map(|(v, _)| v));
    meta.rules = EncryptionRules {
        unencrypted_suffix: rule("unencrypted_suffix")?,
        encrypted_suffix: rule("encrypted_suffix")?,
        unencrypted_regex: rule("unencrypted_regex")?,
        encrypted_regex: rule("encrypted_regex")?,
        unencrypted_comment_regex: rule("unencrypted_comment_regex")?,
        encrypted_comment_regex: rule("encrypted_comment_regex")?,
    };
    meta.mac_only_encrypted = match block.get("mac_only_encrypted").map(|n| &n.value) {
        Some(Value::Bool(b)) => *b,
        _ => false,
    };
    for (key, node) in entries {
        let known = matches!(
            key.as_str(),
            "age"
                | "lastmodified"
                | "mac"
                | "version"
                | "unencrypted_suffix"
                | "encrypted_suffix"
                | "unencrypted_regex"
                | "encrypted_regex"
                | "unencrypted_comment_regex"
                | "encrypted_comment_regex"
                | "mac_only_encrypted"
        );
        if known {
            continue;
        }
        // `kms: []`, `pgp: null` and `shamir_threshold: 0` are how sops 3.9 spells "none".
        let empty = match &node.value {
            Value::Null => true,
            Value::Seq(items) => items.is_empty(),
            Value::Map(items) => items.is_empty(),
            Value::Int(0) => true,
            Value::Str(s) => s.is_empty(),
            _ => false,
        };
        if !empty {
            meta.foreign_key_sources.push((key.clone(), node.pos));
        }
    }
    Ok(meta)
}

/// Reads `sops.age`: a list of `{recipient, enc}`.
fn age_stanzas(node: &Node) -> Result<Vec<AgeStanza>, ParseError> {
    let bad = |pos| {
        ParseError::new(
            pos,
            "`sops.age` is not a list of `{recipient, enc}` entries",
            "restore the metadata sops wrote, or seal the secret again",
        )
    };
    match &node.value {
        Value::Null => Ok(Vec::new()),
        Value::Seq(items) => items
            .iter()
            .map(|item| {
                let recipient = item.get("recipient").and_then(Node::as_str);
                let enc = item.get("enc").and_then(Node::as_str);
                match (recipient, enc) {
                    (Some(r), Some(e)) => Ok(AgeStanza {
                        recipient: r.to_owned(),
                        enc: e.to_owned(),
                        pos: item.pos,
                    }),
                    _ => Err(bad(item.pos)),
                }
            })
            .collect(),
        _ => Err(bad(node.pos)),
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and dotenv reading
// ---------------------------------------------------------------------------------------------

/// Parses JSON into a tree (no positions: serde_json does not keep them).
fn parse_json_tree(text: &str) -> Result<Node, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        let line = u32::try_from(e.line()).unwrap_or(u32::MAX);
        let column = u32::try_from(e.column()).unwrap_or(u32::MAX);
        ParseError::new(Pos::new(line, column), "not valid JSON", "fix the JSON syntax")
    })?;
    Ok(Node::new(json_value(value)))
}

/// Converts a JSON value, typing numbers as sops' JSON store does (integers stay integers).
fn json_value(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(items) => {
            Value::Seq(items.into_iter().map(|v| Node::new(json_value(v))).collect())
        }
        serde_json::Value::Object(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| (k, Node::new(json_value(v))))
                .collect(),
        ),
    }
}

/// Parses sops' dotenv store: `KEY=VALUE` lines, `#` comments, metadata in `sops_*` keys
/// flattened as `sops_age__list_<i>__map_<field>` with newlines written as `\n`.
fn parse_dotenv(text: &str) -> Result<SopsDocument, ParseError> {
    let mut tree = Vec::new();
    let mut meta = Metadata::default();
    let mut stanzas: Vec<(Option<String>, Option<String>, Pos)> = Vec::new();
    let mut saw_metadata = false;
    for (index, line) in text.split('\n').enumerate() {
        let pos = Pos::new(u32::try_from(index + 1).unwrap_or(u32::MAX), 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ParseError::new(
                pos,
                "a dotenv line without `=`",
                "each line is `KEY=VALUE` or a `#` comment",
            ));
        };
        let Some(meta_key) = key.strip_prefix("sops_") else {
            tree.push((
                key.to_owned(),
                Node {
                    value: Value::Str(value.to_owned()),
                    pos,
                },
            ));
            continue;
        };
        saw_metadata = true;
        if meta.pos == Pos::default() {
            meta.pos = pos;
        }
        let value = value.replace("\\n", "\n");
        if let Some(rest) = meta_key.strip_prefix("age__list_") {
            let Some((index, field)) = rest.split_once("__map_") else {
                return Err(ParseError::new(
                    pos,
                    format!("unexpected metadata key `{key}`"),
                    "restore the metadata sops wrote",
                ));
            };
            let index: usize = index.parse().map_err(|_| {
                ParseError::new(
                    pos,
                    format!("unexpected metadata key `{key}`"),
                    "restore the metadata sops wrote",
                )
            })?;
            if stanzas.len() <= index {
                stanzas.resize(index + 1, (None, None, pos));
            }
            match field {
                "recipient" => stanzas[index].0 = Some(value),
                "enc" => stanzas[index].1 = Some(value),
                _ => {}
            }
            continue;
        }
        let set = |slot: &mut Option<String>| *slot = Some(value.clone()).filter(|v| !v.is_empty());
        match meta_key {
            "lastmodified" => meta.lastmodified = Some((value, pos)),
            "mac" => meta.mac = Some((value, pos)),
            "version" => meta.version = Some(value),
            "unencrypted_suffix" => set(&mut meta.rules.unencrypted_suffix),
            "encrypted_suffix" => set(&mut meta.rules.encrypted_suffix),
            "unencrypted_regex" => set(&mut meta.rules.unencrypted_regex),
            "encrypted_regex" => set(&mut meta.rules.encrypted_regex),
            "unencrypted_comment_regex" => set(&mut meta.rules.unencrypted_comment_regex),
            "encrypted_comment_regex" => set(&mut meta.rules.encrypted_comment_regex),
            "mac_only_encrypted" => meta.mac_only_encrypted = value == "true",
            other => {
                let source = other.split("__").next().unwrap_or(other).to_owned();
                if !meta.foreign_key_sources.iter().any(|(s, _)| *s == source) {
                    meta.foreign_key_sources.push((source, pos));
                }
            }
        }
    }
    if !saw_metadata {
        return Err(ParseError::new(
            Pos::new(1, 1),
            "no `sops_*` metadata: the file is not encrypted",
            "encrypt it with sops (never commit a plaintext secret)",
        ));
    }
    for (recipient, enc, pos) in stanzas {
        let (Some(recipient), Some(enc)) = (recipient, enc) else {
            return Err(ParseError::new(
                pos,
                "an age entry without `recipient` or `enc`",
                "restore the metadata sops wrote",
            ));
        };
        meta.age.push(AgeStanza { recipient, enc, pos });
    }
    Ok(SopsDocument {
        format: Format::Dotenv,
        tree,
        metadata: meta,
    })
}

// ---------------------------------------------------------------------------------------------
// YAML writing
// ---------------------------------------------------------------------------------------------

/// Emits a document as YAML: the data tree, then the `sops` block last, as sops writes it.
///
/// Format decisions (all deterministic; only the crypto randomness differs between runs):
/// - two-space indentation with sequences indented under their key, the layout of the
///   Flux fixtures (sops with `stores.yaml.indent: 2`); any YAML reader gets the same tree;
/// - metadata keys in the order of sops' `stores.Metadata` struct (`age`, `lastmodified`,
///   `mac`, the encryption rule, `mac_only_encrypted`, `version`), empty key sources omitted
///   as sops 3.10+ does (3.9 reads the absence as empty);
/// - strings are plain only when no YAML 1.1 or 1.2 reader could type them as anything but a
///   string; otherwise double-quoted, so the MAC sops recomputes sees the same strings.
#[must_use]
pub fn emit_yaml(tree: &[(String, Node)], metadata: &Metadata) -> String {
    let mut out = String::new();
    for (key, node) in tree {
        emit_entry(&mut out, 0, key, node);
    }
    out.push_str(&emit_metadata_block(metadata));
    out
}

/// Emits just the top-level `sops:` block (with its trailing newline).
#[must_use]
pub fn emit_metadata_block(metadata: &Metadata) -> String {
    let mut entries: Vec<(String, Node)> = Vec::new();
    let s = |v: &str| Node::new(Value::Str(v.to_owned()));
    if !metadata.age.is_empty() {
        let items = metadata
            .age
            .iter()
            .map(|st| {
                Node::new(Value::Map(vec![
                    ("recipient".to_owned(), s(&st.recipient)),
                    ("enc".to_owned(), s(&st.enc)),
                ]))
            })
            .collect();
        entries.push(("age".to_owned(), Node::new(Value::Seq(items))));
    }
    if let Some((v, _)) = &metadata.lastmodified {
        entries.push(("lastmodified".to_owned(), s(v)));
    }
    if let Some((v, _)) = &metadata.mac {
        entries.push(("mac".to_owned(), s(v)));
    }
    let r = &metadata.rules;
    for (key, value) in [
        ("unencrypted_suffix", &r.unencrypted_suffix),
        ("encrypted_suffix", &r.encrypted_suffix),
        ("unencrypted_regex", &r.unencrypted_regex),
        ("encrypted_regex", &r.encrypted_regex),
        ("unencrypted_comment_regex", &r.unencrypted_comment_regex),
        ("encrypted_comment_regex", &r.encrypted_comment_regex),
    ] {
        if let Some(v) = value {
            entries.push((key.to_owned(), s(v)));
        }
    }
    if metadata.mac_only_encrypted {
        entries.push(("mac_only_encrypted".to_owned(), Node::new(Value::Bool(true))));
    }
    if let Some(v) = &metadata.version {
        entries.push(("version".to_owned(), s(v)));
    }
    let mut out = String::new();
    emit_entry(&mut out, 0, "sops", &Node::new(Value::Map(entries)));
    out
}

/// Writes `key: value` at `indent`, nesting collections below.
fn emit_entry(out: &mut String, indent: usize, key: &str, node: &Node) {
    pad(out, indent);
    out.push_str(&scalar_string(key));
    out.push(':');
    emit_value_after_key(out, indent, node);
}

/// Writes the value of a mapping entry whose `key:` is already written.
fn emit_value_after_key(out: &mut String, indent: usize, node: &Node) {
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            for (k, v) in entries {
                emit_entry(out, indent + 2, k, v);
            }
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                emit_seq_item(out, indent + 2, item);
            }
        }
        Value::Str(s) if literal_block_ok(s) => {
            out.push_str(" |\n");
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    pad(out, indent + 2);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        _ => {
            out.push(' ');
            out.push_str(&inline_value(node));
            out.push('\n');
        }
    }
}

/// Writes one `- item` at `indent`.
fn emit_seq_item(out: &mut String, indent: usize, node: &Node) {
    pad(out, indent);
    out.push('-');
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => {
            // First entry on the dash line, the rest aligned under it.
            for (i, (k, v)) in entries.iter().enumerate() {
                if i == 0 {
                    out.push(' ');
                    out.push_str(&scalar_string(k));
                    out.push(':');
                    emit_value_after_key(out, indent + 2, v);
                } else {
                    emit_entry(out, indent + 2, k, v);
                }
            }
        }
        // Anything else follows the dash as it would follow `key:`.
        _ => emit_value_after_key(out, indent, node),
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar or empty collection on one line.
fn inline_value(node: &Node) -> String {
    match &node.value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => yaml_float(*f),
        Value::Str(s) => scalar_string(s),
        Value::Seq(_) => "[]".to_owned(),
        Value::Map(_) => "{}".to_owned(),
    }
}

/// A float spelled so that YAML reads it back as the same float (never as an int).
fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf" } else { "-.inf" }.to_owned()
    } else {
        let s = format!("{f:?}");
        if s.contains(['.', 'e', 'E']) {
            s
        } else {
            format!("{s}.0")
        }
    }
}

/// Whether a string can be written as a `|` literal block and read back byte-identical:
/// exactly one trailing newline, no carriage returns or other control characters, and a
/// first line that does not start with a space (which would change the detected indent).
fn literal_block_ok(s: &str) -> bool {
    s.ends_with('\n')
        && !s.ends_with("\n\n")
        && s.len() > 1
        && !s.starts_with([' ', '\t', '\n'])
        && !s.chars().any(|c| c.is_control() && c != '\n')
        && !s
            .chars()
            .any(|c| matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// A string as a YAML scalar: plain when unambiguous, else double-quoted.
#[must_use]
pub fn scalar_string(s: &str) -> String {
    if plain_ok(s) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// Whether `s` can be written plain and still be read as this exact string by yaml.v3
/// (YAML 1.1-ish) and by YAML 1.2 readers: it starts with a letter or one of `/ ^ _ ( $`,
/// uses only characters that are never indicators mid-scalar, has no `: ` or ` #`, does not
/// end with `:` or a space, and is not a YAML 1.1 boolean or null word (which yaml.v3 would
/// quote too, e.g. `"n"`).
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || matches!(first, '/' | '^' | '_' | '(' | '$')) {
        return false;
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '_' | '.'
                    | '/'
                    | '-'
                    | '^'
                    | '$'
                    | '('
                    | ')'
                    | '|'
                    | '+'
                    | '='
                    | ','
                    | ':'
                    | '['
                    | ']'
                    | '@'
                    | '~'
                    | '%'
                    | ' '
            )
    };
    if !s.chars().all(allowed) || s.ends_with([':', ' ']) || s.contains(": ") {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null"
    )
}

/// A YAML double-quoted scalar (JSON-compatible escapes).
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{85}' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Finds the line range `[start, end)` of the top-level `sops:` block in YAML text, so that
/// `rotate` can replace only the metadata and leave every value line byte-identical.
#[must_use]
pub fn sops_block_lines(text: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let start = lines
        .iter()
        .position(|l| l.strip_prefix("sops:").is_some_and(|rest| rest.trim().is_empty()))?;
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| {
            let t = l.trim_end_matches(['\n', '\r']);
            !t.is_empty() && !t.starts_with([' ', '#'])
        })
        .map_or(lines.len(), |(i, _)| i);
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_types_follow_yaml_v3() {
        let root =
            parse_yaml_tree("a: true\nb: yes\nc: 12\nd: \"12\"\ne: 1.5\nf:\ng: ~\nh: -3\ni: on\nj: |\n  x\n")
                .unwrap();
        let get = |k| root.get(k).unwrap().value.clone();
        assert!(matches!(get("a"), Value::Bool(true)));
        assert!(matches!(get("b"), Value::Str(s) if s == "yes"));
        assert!(matches!(get("c"), Value::Int(12)));
        assert!(matches!(get("d"), Value::Str(s) if s == "12"));
        assert!(matches!(get("e"), Value::Float(f) if (f - 1.5).abs() < f64::EPSILON));
        assert!(matches!(get("f"), Value::Null));
        assert!(matches!(get("g"), Value::Null));
        assert!(matches!(get("h"), Value::Int(-3)));
        assert!(matches!(get("i"), Value::Str(s) if s == "on"));
        assert!(matches!(get("j"), Value::Str(s) if s == "x\n"));
    }

    #[test]
    fn positions_are_kept() {
        let root = parse_yaml_tree("a: 1\nb:\n  c: hello\n").unwrap();
        let c = root.get("b").unwrap().get("c").unwrap();
        assert_eq!(c.pos, Pos::new(3, 6));
    }

    #[test]
    fn missing_sops_block_is_an_error() {
        let err = parse("kind: Secret\n", Format::Yaml).unwrap_err();
        assert!(err.message.contains("no top-level `sops`"), "{err:?}");
    }

    #[test]
    fn two_documents_are_refused() {
        let err = parse_yaml_tree("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.message.contains("more than one"), "{err:?}");
    }

    #[test]
    fn scalars_round_trip_with_their_type() {
        let cases = [
            "plain",
            "true",
            "True",
            "no",
            "n",
            "y",
            "null",
            "~",
            "",
            "12",
            "1.5",
            "0x1F",
            "a: b",
            "a #b",
            "-x",
            "x:",
            " lead",
            "trail ",
            "multi\nline",
            "tab\t",
            "é",
            "ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]",
            "^(data|stringData)$",
            "2024-11-12T13:33:42Z",
            "3.9.0",
            ".inf",
            "@at",
            "%p",
            "'q'",
            "\"dq\"",
            "\\",
            "line\n",
            "two\nlines\n",
        ];
        for case in cases {
            let tree = vec![("k".to_owned(), Node::new(Value::Str(case.to_owned())))];
            let meta = Metadata {
                version: Some("3.9.0".to_owned()),
                ..Metadata::default()
            };
            let text = emit_yaml(&tree, &meta);
            let back = parse_yaml_tree(&text).unwrap();
            assert!(
                matches!(&back.get("k").unwrap().value, Value::Str(s) if s == case),
                "{case:?} -> {text}"
            );
        }
    }

    #[test]
    fn floats_stay_floats() {
        for f in [1.0, 1.5, -0.25, 1e21] {
            let text = format!("k: {}\n", yaml_float(f));
            let back = parse_yaml_tree(&text).unwrap();
            assert!(
                matches!(back.get("k").unwrap().value, Value::Float(g) if g == f),
                "{text}"
            );
        }
    }

    #[test]
    fn sops_block_is_located() {
        let text = "a: 1\nsops:\n  age: []\n  version: 3.9.0\n";
        assert_eq!(sops_block_lines(text), Some((1, 4)));
        let text = "sops:\n  x: 1\nafter: 2\n";
        assert_eq!(sops_block_lines(text), Some((0, 2)));
        assert_eq!(sops_block_lines("a: 1\n"), None);
    }

    #[test]
    fn dotenv_metadata_is_unflattened() {
        let text = "key=ENC[x]\n#c\nsops_age__list_0__map_enc=A\\nB\\n\nsops_age__list_0__map_recipient=age1x\nsops_lastmodified=2024-11-12T13:33:42Z\nsops_mac=ENC[m]\nsops_unencrypted_suffix=_unencrypted\nsops_version=3.9.0\n";
        let doc = parse(text, Format::Dotenv).unwrap();
        assert_eq!(doc.tree.len(), 1);
        assert_eq!(doc.metadata.age[0].enc, "A\nB\n");
        assert_eq!(doc.metadata.age[0].recipient, "age1x");
        assert_eq!(
            doc.metadata.rules.unencrypted_suffix.as_deref(),
            Some("_unencrypted")
        );
    }
}
