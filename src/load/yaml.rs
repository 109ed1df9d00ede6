//! YAML reading with positions: typed parsing through `serde_saphyr`, and a span index that maps a
//! YAML path (`values.image.repository`, `containers[0].image`) to its line and column.
//!
//! Pure: works on text already read by [`super`].

use std::collections::BTreeMap;
use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::error::LoadError;
use crate::span::{Location, Pos, YamlPath};

/// Parser limits: serde-saphyr's defaults (a million events, 250,000 nodes: far beyond any
/// configuration file, and what keeps an alias bomb to a second), with more documents for long
/// manifest streams. Duplicate keys are refused by default.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = budget.max_documents.max(100_000);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Parses one YAML document into `T`, naming `path` and the line and column on failure.
pub fn parse<T: DeserializeOwned>(path: &Utf8Path, text: &str) -> Result<T, LoadError> {
    let value =
        serde_saphyr::from_str_with_options(text, options()).map_err(|err| yaml_error(path, text, &err))?;
    refuse_equal_keys(path, text)?;
    Ok(value)
}

/// Parses a stream of YAML documents (`---` separated) into values.
pub fn parse_stream(path: &Utf8Path, text: &str) -> Result<Vec<serde_json::Value>, LoadError> {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple_with_options(text, options())
        .map_err(|err| yaml_error(path, text, &err))?;
    refuse_equal_keys(path, text)?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Refuses two keys of one mapping that read as the same text (`1:` and `"1":`, `true:` and
/// `"true":`): the parser sees two keys, the objects hydrate writes (JSON keys are text) one,
/// and one value would silently win. See: issue 11.
fn refuse_equal_keys(path: &Utf8Path, text: &str) -> Result<(), LoadError> {
    let Ok(docs) = serde_saphyr::from_multiple_with_options::<Option<Spanned<Node>>>(text, options()) else {
        return Ok(()); // the typed parse reports what is wrong
    };
    for doc in docs.iter().flatten() {
        if let Some((pos, key)) = equal_keys(doc) {
            return Err(LoadError::yaml(
                path,
                text,
                Some(pos),
                format!("key `{key}` is given twice in one mapping (once quoted, once not)"),
                Some("keep one of the two: keys are compared as text".to_string()),
            ));
        }
    }
    Ok(())
}

/// The position and text of the first key that repeats another of its mapping.
fn equal_keys(node: &Spanned<Node>) -> Option<(Pos, String)> {
    match &node.value {
        Node::Scalar => None,
        Node::Seq(items) => items.iter().find_map(equal_keys),
        Node::Map(entries) => {
            let mut seen = std::collections::BTreeSet::new();
            for (key, at, _) in entries {
                if !seen.insert(key.as_str()) {
                    return Some((*at, key.clone()));
                }
            }
            entries.iter().find_map(|(_, _, v)| equal_keys(v))
        }
    }
}

/// Turns a serde-saphyr error into a [`LoadError::Yaml`] with a "did you mean" hint for unknown keys.
fn yaml_error(path: &Utf8Path, text: &str, err: &serde_saphyr::Error) -> LoadError {
    let pos = err.location().map(|l| Pos {
        line: l.line() as usize,
        column: l.column() as usize,
    });
    // Messages name keys, never values: a value may be a secret (see `crate::redact`).
    let reason =
        crate::redact::strip_quoted_values(&strip_position_prefix(&err.without_snippet().to_string()));
    if let Some(tab) = pos.and_then(|p| indenting_tab(text, p, &reason)) {
        return LoadError::yaml(
            path,
            text,
            Some(tab),
            "a tab in the indentation".to_string(),
            Some("YAML indents with spaces only: replace the tab with spaces".to_string()),
        );
    }
    let (reason, help) = match in_our_words(&reason) {
        Some((reason, help)) => (reason, Some(help)),
        None => {
            let help = unknown_field_hint(&reason, text, pos).or_else(|| generic_hint(&reason));
            (reason, help)
        }
    };
    LoadError::yaml(path, text, pos, reason, help)
}

/// The position of a tab in the leading whitespace of the error's line, the next one or the one
/// before (in that order). The parser reports a tab at the start of the plain scalar it was
/// reading (the line before), or the key after it; the tab itself is what to fix. See: issue
/// 13 (item 7).
fn indenting_tab(text: &str, at: Pos, reason: &str) -> Option<Pos> {
    let lines: Vec<&str> = text.lines().collect();
    let tab_in = |line: usize| -> Option<Pos> {
        let l = lines.get(line.checked_sub(1)?)?;
        let lead: String = l.chars().take_while(|c| c.is_whitespace()).collect();
        let column = lead.chars().position(|c| c == '\t')? + 1;
        Some(Pos { line, column })
    };
    // A tab on the line before matters only to errors that arise after it.
    let before = reason.contains("tab") || reason.contains("expected key") || reason.contains("indentation");
    tab_in(at.line)
        .or_else(|| tab_in(at.line + 1))
        .or_else(|| if before { tab_in(at.line - 1) } else { None })
        .or_else(|| {
            // The parser names the tab but not where it is: the first one from the position on.
            reason.contains("tab").then(|| first_tab_from(text, at)).flatten()
        })
}

/// The first tab at or after `at`.
fn first_tab_from(text: &str, at: Pos) -> Option<Pos> {
    for (i, line) in text.lines().enumerate().skip(at.line.saturating_sub(1)) {
        let skip = if i + 1 == at.line {
            at.column.saturating_sub(1)
        } else {
            0
        };
        if let Some(c) = line.chars().skip(skip).position(|c| c == '\t') {
            return Some(Pos {
                line: i + 1,
                column: skip + c + 1,
            });
        }
    }
    None
}

/// Parser messages that speak of the parser's own API (`set DuplicateKeyPolicy`, `use
/// from_str_multiple`), said in hydrate's words with the fix.
fn in_our_words(reason: &str) -> Option<(String, String)> {
    if let Some(rest) = reason.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set ").next().unwrap_or(rest).trim();
        return Some((
            format!("key `{key}` is given twice in one mapping"),
            "remove one of the two keys: YAML mappings take each key once".to_string(),
        ));
    }
    if reason.contains("multiple YAML documents") || reason.contains("from_str_multiple") {
        return Some((
            "the file holds more than one YAML document (`---`)".to_string(),
            "an environment or component file is one document: merge them, or move the others to \
             a manifest file listed under `manifests`"
                .to_string(),
        ));
    }
    let api = [
        "DuplicateKeyPolicy",
        "Options",
        "Budget",
        "serde_saphyr",
        "with_options",
    ];
    api.iter().any(|w| reason.contains(w)).then(|| {
        let cut = reason.find([';', ',']).unwrap_or(reason.len());
        (
            reason[..cut].trim().to_string(),
            "fix the YAML at this position".to_string(),
        )
    })
}

/// `error: line 4 column 3: unknown field …` → `unknown field …` (the position is shown separately).
fn strip_position_prefix(message: &str) -> String {
    let mut message = message.trim().trim_start_matches("error: ");
    if let Some(cut) = message.rfind(" at line ") {
        message = &message[..cut];
    }
    if let Some(rest) = message.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
    {
        return after.trim().to_string();
    }
    message.to_string()
}

/// What to do about any other YAML error.
fn generic_hint(reason: &str) -> Option<String> {
    Some(if reason.contains("duplicate") {
        "remove one of the two keys: YAML mappings take each key once".to_string()
    } else if reason.starts_with("missing field") {
        "add the missing key (see README.md, Inputs, for every field)".to_string()
    } else if reason.starts_with("invalid") || reason.starts_with("unknown variant") {
        "give the value the expected type (see README.md, Inputs)".to_string()
    } else {
        "fix the YAML at this position: check the indentation, a missing `:` or space after it, an \
         unclosed quote or bracket"
            .to_string()
    })
}

/// For ``unknown field `nmae`, expected one of repo, name, version`` suggests the closest key;
/// with none close, and a sibling just above whose value is a block (`env:` then indented
/// lines), says to indent the key under it: the usual cause is a line indented too little.
fn unknown_field_hint(reason: &str, text: &str, pos: Option<Pos>) -> Option<String> {
    let rest = reason.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest
        .trim_start_matches(", expected one of ")
        .trim_start_matches(", expected ")
        .split([','])
        .flat_map(|s| s.split(" or "))
        .map(|s| s.trim().trim_matches('`'))
        .filter(|s| !s.is_empty() && !s.contains(' '))
        .collect();
    let best = expected
        .iter()
        .map(|cand| (strsim::jaro_winkler(field, cand), *cand))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, cand)| cand);
    let block = pos.and_then(|p| block_sibling_above(text, p));
    Some(match (best, block) {
        (Some(cand), _) => format!("did you mean `{cand}`? Known keys: {}", expected.join(", ")),
        (None, Some(parent)) => format!(
            "if `{field}` belongs to `{parent}` above, indent it like the lines under `{parent}`; \
             else remove it (keys here: {})",
            expected.join(", ")
        ),
        (None, None) => format!("remove `{field}`; known keys: {}", expected.join(", ")),
    })
}

/// The key of the nearest sibling above `at` (same indentation) whose value is a block: its
/// line ends after `key:` and the lines below it are indented more. `None` when there is none.
fn block_sibling_above(text: &str, at: Pos) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let indent_of = |l: &str| l.chars().take_while(|c| *c == ' ').count();
    let own = at.column.checked_sub(1)?;
    let mut deeper = false;
    for line in lines.get(..at.line.checked_sub(1)?)?.iter().rev() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = indent_of(line);
        if indent > own {
            deeper = true;
            continue;
        }
        if indent < own || !deeper {
            return None;
        }
        let body = trimmed.trim_start_matches("- ");
        let body = body.split(" #").next().unwrap_or(body).trim_end();
        let key = body.strip_suffix(':')?;
        return (!key.is_empty() && !key.contains(": ")).then(|| key.trim_matches(['"', '\'']).to_string());
    }
    None
}

/// Where each node of a YAML document sits: YAML path → position (1-based line and column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanIndex {
    positions: BTreeMap<YamlPath, Pos>,
    /// Where each mapping key itself is written (`positions` has where its value starts).
    keys: BTreeMap<YamlPath, Pos>,
}

impl SpanIndex {
    /// Indexes every node of `text`; an unparsable text gives an empty index (parsing reports it).
    pub fn of(text: &str) -> SpanIndex {
        let mut index = SpanIndex::default();
        if let Ok(root) = serde_saphyr::from_str_with_options::<Spanned<Node>>(text, options()) {
            index.visit(YamlPath::root(), &root);
        }
        index
    }

    /// Indexes each document of a `---` stream separately, in the order and with the skipping of
    /// empty documents of [`serde_saphyr::from_multiple`]; positions are those of the whole text.
    pub fn of_stream(text: &str) -> Vec<SpanIndex> {
        let Ok(docs) = serde_saphyr::from_multiple_with_options::<Option<Spanned<Node>>>(text, options())
        else {
            return Vec::new();
        };
        docs.iter()
            .map(|doc| {
                let mut index = SpanIndex::default();
                if let Some(root) = doc {
                    index.visit(YamlPath::root(), root);
                }
                index
            })
            .collect()
    }

    fn visit(&mut self, path: YamlPath, node: &Spanned<Node>) {
        let loc = node.referenced;
        self.positions.insert(
            path.clone(),
            Pos {
                line: loc.line() as usize,
                column: loc.column() as usize,
            },
        );
        match &node.value {
            Node::Scalar => {}
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.visit(path.index(i), item);
                }
            }
            Node::Map(entries) => {
                for (key, at, value) in entries {
                    self.keys.insert(path.key(key.clone()), *at);
                    self.visit(path.key(key.clone()), value);
                }
            }
        }
    }

    /// Position of the key that names `path` (`components.nosuch` → the `nosuch:` line), or
    /// where its node starts when it is no mapping entry.
    pub fn key(&self, path: &YamlPath) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.find(path))
    }

    /// Position of the node at `path`, or of its nearest indexed ancestor.
    pub fn find(&self, path: &YamlPath) -> Option<Pos> {
        let mut path = path.clone();
        loop {
            if let Some(pos) = self.positions.get(&path) {
                return Some(*pos);
            }
            path = path.parent()?;
        }
    }

    /// Position of exactly `path`, without falling back to an ancestor.
    pub fn exact(&self, path: &YamlPath) -> Option<Pos> {
        self.positions.get(path).copied()
    }
}

/// A YAML node shape with child positions; scalars keep no value (the typed parse has them).
enum Node {
    Scalar,
    Seq(Vec<Spanned<Node>>),
    /// Entries with their key's position.
    Map(Vec<(String, Pos, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            let at = Pos {
                line: key.referenced.line() as usize,
                column: key.referenced.column() as usize,
            };
            entries.push((key.value.0, at, value));
        }
        Ok(Node::Map(entries))
    }
}

/// A mapping key of any scalar type, as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(KeyText(match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

/// A file read from the repository: its repo-relative path, its text and its span index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFile {
    pub path: Utf8PathBuf,
    #[serde(skip)]
    pub text: String,
    #[serde(skip)]
    pub spans: SpanIndex,
}

impl SourceFile {
    pub fn new(path: Utf8PathBuf, text: String) -> SourceFile {
        let spans = SpanIndex::of(&text);
        SourceFile { path, text, spans }
    }

    /// `path:line:column` of the node at `yaml_path` (or its nearest ancestor).
    pub fn locate(&self, yaml_path: impl Into<YamlPath>) -> Location {
        Location {
            file: self.path.clone(),
            pos: self.spans.find(&yaml_path.into()),
        }
    }

    /// `path:line:column` of the key naming `yaml_path` (for "no such name" errors: the name
    /// is what is wrong, not the block under it).
    pub fn locate_key(&self, yaml_path: impl Into<YamlPath>) -> Location {
        Location {
            file: self.path.clone(),
            pos: self.spans.key(&yaml_path.into()),
        }
    }

    /// `path:line:column` of character `offset` of the string at `yaml_path`, when it is a
    /// scalar on one line (plain, single- or double-quoted); else where the string starts.
    pub fn locate_in_string(&self, yaml_path: impl Into<YamlPath>, offset: usize) -> Location {
        let yaml_path = yaml_path.into();
        let start = self.spans.exact(&yaml_path);
        let pos = start
            .and_then(|p| column_in_scalar(&self.text, p, offset).map(|column| Pos { line: p.line, column }))
            .or_else(|| self.spans.find(&yaml_path));
        Location {
            file: self.path.clone(),
            pos,
        }
    }
}

/// The 1-based column of decoded character `offset` of the scalar starting at `start`, when the
/// scalar is on that line: plain (one source character each), single-quoted (`''` is one) or
/// double-quoted (`\x…` escapes). `None` when it cannot be told (a block or folded scalar, a
/// scalar over several lines).
fn column_in_scalar(text: &str, start: Pos, offset: usize) -> Option<usize> {
    let line = text.lines().nth(start.line.checked_sub(1)?)?;
    let chars: Vec<char> = line.chars().skip(start.column.checked_sub(1)?).collect();
    let (quote, mut i) = match chars.first()? {
        '"' => (Some('"'), 1),
        '\'' => (Some('\''), 1),
        '|' | '>' => return None,
        _ => (None, 0),
    };
    for _ in 0..offset {
        let c = *chars.get(i)?;
        match (quote, c) {
            // The string ends before `offset`: it goes on on another line.
            (Some('"'), '"') => return None,
            (Some('\''), '\'') if chars.get(i + 1) != Some(&'\'') => return None,
            (Some('\''), '\'') => i += 2,
            (Some('"'), '\\') => {
                i += match chars.get(i + 1)? {
                    'x' => 4,
                    'u' => 6,
                    'U' => 10,
                    _ => 2,
                };
            }
            _ => i += 1,
        }
    }
    // The position must show what the message names: a `$` in the source.
    (chars.get(i) == Some(&'$')).then_some(start.column + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_index_finds_nested_keys_and_list_items() {
        let text = "a:\n  b:\n    - x\n    - image: nginx:1\nc: 1\n";
        let idx = SpanIndex::of(text);
        assert_eq!(
            idx.exact(&"a.b[1].image".into()),
            Some(Pos { line: 4, column: 14 })
        );
        assert_eq!(idx.exact(&"c".into()), Some(Pos { line: 5, column: 4 }));
        assert_eq!(
            idx.find(&"a.b[1].image.deeper".into()),
            Some(Pos { line: 4, column: 14 })
        );
    }

    #[test]
    fn stream_index_keeps_positions_of_the_whole_text() {
        let text = "a: 1\n---\nkind: X\nspec:\n  image: nginx\n---\n---\nb: [x, y]\n";
        let docs = SpanIndex::of_stream(text);
        let values: Vec<serde_json::Value> = serde_saphyr::from_multiple(text).unwrap();
        assert_eq!(docs.len(), values.len(), "one index per parsed document");
        assert_eq!(docs.len(), 3, "the empty document is skipped");
        assert_eq!(docs[0].exact(&"a".into()), Some(Pos { line: 1, column: 4 }));
        assert_eq!(
            docs[1].exact(&"spec.image".into()),
            Some(Pos { line: 5, column: 10 })
        );
        assert_eq!(docs[1].exact(&"a".into()), None);
        assert_eq!(docs[2].exact(&"b[1]".into()), Some(Pos { line: 8, column: 8 }));
    }

    #[test]
    fn unknown_field_gets_a_did_you_mean() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Chart {
            repo: String,
            name: String,
        }
        let err = parse::<Chart>(Utf8Path::new("x.yaml"), "repo: a\nnmae: b\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("x.yaml:2:1"), "{text}");
        let LoadError::Yaml { help, .. } = err else {
            panic!("not a YAML error")
        };
        assert_eq!(
            help.as_deref().unwrap_or("").split('?').next(),
            Some("did you mean `name`")
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_with_position() {
        let err = parse::<serde_json::Value>(Utf8Path::new("d.yaml"), "a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().contains("d.yaml:2:1"), "{err}");
    }
}
