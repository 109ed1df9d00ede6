//! Writing YAML as sops does, so the MAC sops recomputes sees the same strings.

use std::fmt::Write as _;

use super::*;

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
pub(super) fn yaml_float(f: f64) -> String {
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
