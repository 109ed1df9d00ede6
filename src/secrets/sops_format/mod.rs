//! The SOPS file format: parse an encrypted document into a tree plus its `sops` metadata, and
//! emit one back as YAML. Pure: text in, text out; no crypto and no disk.
//!
//! Three stores are read, because the upstream fixtures use all three: YAML (what hydrate writes
//! and what Flux's kustomize-controller reads), JSON (sops' binary store), and dotenv (metadata
//! flattened into `sops_*` keys). Only YAML is written.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the document tree, its metadata, errors |
//! | `read_yaml.rs` | the YAML store (and the metadata block of any store) |
//! | `read_other.rs` | the JSON and dotenv stores |
//! | `write_yaml.rs` | YAML output, byte-compatible with what sops writes |

mod read_other;
mod read_yaml;
mod write_yaml;

pub use read_yaml::{parse, parse_yaml_tree};
pub use write_yaml::{emit_metadata_block, emit_yaml, scalar_string, sops_block_lines};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

pub use crate::span::Pos;

/// A known position (`None` is where the store carries none, as in JSON).
#[must_use]
pub const fn at(line: usize, column: usize) -> Option<Pos> {
    Some(Pos { line, column })
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
    pub pos: Option<Pos>,
}

impl Node {
    /// A node without a source position (built in memory).
    #[must_use]
    pub const fn new(value: Value) -> Self {
        Self { value, pos: None }
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
    pub pos: Option<Pos>,
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
    pub pos: Option<Pos>,
    /// The age key sources, in file order.
    pub age: Vec<AgeStanza>,
    /// `lastmodified` and its position; its text is the MAC's AAD.
    pub lastmodified: Option<(String, Option<Pos>)>,
    /// `mac` (an `ENC[…]` string) and its position.
    pub mac: Option<(String, Option<Pos>)>,
    /// Which leaves are encrypted.
    pub rules: EncryptionRules,
    /// `mac_only_encrypted`: the MAC covers encrypted leaves only (and starts with a fixed prefix).
    pub mac_only_encrypted: bool,
    /// `version`: the sops release that wrote the file.
    pub version: Option<String>,
    /// Key sources hydrate does not speak (non-empty `pgp`, `kms`, `key_groups`, …), by name.
    pub foreign_key_sources: Vec<(String, Option<Pos>)>,
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
    pub pos: Option<Pos>,
    /// What is wrong (never contains a secret value).
    pub message: String,
    /// The fix.
    pub help: String,
}

impl ParseError {
    fn new(pos: Option<Pos>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
            help: help.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_yaml::yaml_float;
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
        assert_eq!(c.pos, at(3, 6));
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
