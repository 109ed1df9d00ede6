//! Reading the JSON store (sops' binary store: `{"data": ENC[…], "sops": {…}}`) and the dotenv
//! store (metadata flattened into `sops_*` keys).

use super::*;

/// Parses JSON into a tree (no positions: serde_json does not keep them).
pub(super) fn parse_json_tree(text: &str) -> Result<Node, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ParseError::new(at(e.line(), e.column()), "not valid JSON", "fix the JSON syntax"))?;
    Ok(Node::new(json_value(value)))
}

/// Converts a JSON value, typing numbers as sops' JSON store does (integers stay integers).
pub(super) fn json_value(value: serde_json::Value) -> Value {
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
pub(super) fn parse_dotenv(text: &str) -> Result<SopsDocument, ParseError> {
    let mut tree = Vec::new();
    let mut meta = Metadata::default();
    let mut stanzas: Vec<(Option<String>, Option<String>, Option<Pos>)> = Vec::new();
    let mut saw_metadata = false;
    for (index, line) in text.split('\n').enumerate() {
        let pos = at(index + 1, 1);
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
        if meta.pos.is_none() {
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
            at(1, 1),
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
