//! Reading the YAML store: the document tree with positions, and the `sops` metadata block
//! (also used for the JSON store's metadata).

use serde_saphyr::Spanned;

use super::read_other::{parse_dotenv, parse_json_tree};
use super::*;

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

/// Turns a `Spanned<Value>` into a `Node`, keeping the value's position.
pub(super) fn node_from(spanned: Spanned<Value>) -> Node {
    Node {
        value: spanned.value,
        pos: at(
            spanned.referenced.line() as usize,
            spanned.referenced.column() as usize,
        ),
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
        let pos = e
            .location()
            .and_then(|l| at(l.line() as usize, l.column() as usize));
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
            at(1, 1),
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
pub(super) fn split_metadata(root: Node, format: Format) -> Result<SopsDocument, ParseError> {
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
fn opt_string(block: &Node, key: &str) -> Result<Option<(String, Option<Pos>)>, ParseError> {
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
pub(super) fn metadata_from_node(block: &Node) -> Result<Metadata, ParseError> {
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
