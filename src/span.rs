//! Positions in input files, in one representation: a repo-relative [`Location`] (file and
//! 1-based [`Pos`]), and the [`YamlPath`] of a node inside a document. Byte offsets for miette
//! snippets are derived from these ([`offset_of`]), never stored.
//!
//! Pure data: no disk, no printing.

use std::fmt;

use camino::Utf8PathBuf;
use serde::{Serialize, Serializer};

/// A 1-based line and column in an input file (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A repo-relative file and, where known, a position in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub file: Utf8PathBuf,
    pub pos: Option<Pos>,
}

impl Location {
    /// The whole file, no position.
    pub fn file(file: impl Into<Utf8PathBuf>) -> Location {
        Location {
            file: file.into(),
            pos: None,
        }
    }

    /// `file` at `pos`.
    pub fn at(file: impl Into<Utf8PathBuf>, pos: Pos) -> Location {
        Location {
            file: file.into(),
            pos: Some(pos),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(Pos { line, column }) => write!(f, "{}:{line}:{column}", self.file),
            None => write!(f, "{}", self.file),
        }
    }
}

/// Byte offset of `pos` in `text` (lines and columns count characters), clamped to the text.
pub fn offset_of(text: &str, pos: Pos) -> usize {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == pos.line {
            let col = line
                .char_indices()
                .nth(pos.column.saturating_sub(1))
                .map_or(line.len(), |(b, _)| b);
            return offset + col;
        }
        offset += line.len();
    }
    text.len()
}

/// One step into a YAML document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Where a node sits in a YAML document: `values.image.repository`, `containers[0].image`.
///
/// Held as segments, so a key that contains a dot (`"image.repository"`, a Secret key
/// `tls.crt`) is one key, never two. Printed with such keys in double quotes:
/// `stringData."tls.crt"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YamlPath(Vec<Segment>);

impl YamlPath {
    /// The document itself.
    pub fn root() -> YamlPath {
        YamlPath(Vec::new())
    }

    /// Parses the notation that [`Display`](fmt::Display) writes: keys separated by `.`,
    /// `[n]` indexes, keys in double quotes when they contain `.`, `[`, `]`, `"`, spaces or are
    /// empty (`\"` and `\\` escape inside quotes). For paths written in hydrate's own code;
    /// paths made of input data are built with [`key`](Self::key) and [`index`](Self::index).
    pub fn parse(text: &str) -> YamlPath {
        let mut segments = Vec::new();
        let mut chars = text.chars().peekable();
        let mut key = String::new();
        let mut in_key = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => key.extend(chars.next()),
                            '"' => break,
                            c => key.push(c),
                        }
                    }
                    in_key = true;
                }
                '.' => {
                    if in_key {
                        segments.push(Segment::Key(std::mem::take(&mut key)));
                        in_key = false;
                    }
                }
                '[' => {
                    if in_key {
                        segments.push(Segment::Key(std::mem::take(&mut key)));
                        in_key = false;
                    }
                    let mut digits = String::new();
                    for c in chars.by_ref() {
                        if c == ']' {
                            break;
                        }
                        digits.push(c);
                    }
                    match digits.parse() {
                        Ok(i) => segments.push(Segment::Index(i)),
                        Err(_) => segments.push(Segment::Key(format!("[{digits}]"))),
                    }
                }
                c => {
                    key.push(c);
                    in_key = true;
                }
            }
        }
        if in_key {
            segments.push(Segment::Key(key));
        }
        YamlPath(segments)
    }

    /// This path and then key `key`.
    #[must_use]
    pub fn key(&self, key: impl Into<String>) -> YamlPath {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.into()));
        path
    }

    /// This path and then index `index`.
    #[must_use]
    pub fn index(&self, index: usize) -> YamlPath {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }

    /// This path followed by `rest`.
    #[must_use]
    pub fn join(&self, rest: &YamlPath) -> YamlPath {
        let mut path = self.clone();
        path.0.extend(rest.0.iter().cloned());
        path
    }

    /// The path without its last segment; `None` for the root.
    pub fn parent(&self) -> Option<YamlPath> {
        let (_, parent) = self.0.split_last()?;
        Some(YamlPath(parent.to_vec()))
    }

    /// What follows `prefix`, if this path starts with it (segment by segment).
    pub fn strip_prefix(&self, prefix: &YamlPath) -> Option<YamlPath> {
        self.0
            .strip_prefix(prefix.0.as_slice())
            .map(|rest| YamlPath(rest.to_vec()))
    }

    pub fn starts_with(&self, prefix: &YamlPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The last key, if the path ends with one.
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last()? {
            Segment::Key(k) => Some(k),
            Segment::Index(_) => None,
        }
    }
}

/// Keys that need quotes to read back as one key.
fn needs_quotes(key: &str) -> bool {
    key.is_empty()
        || key
            .chars()
            .any(|c| matches!(c, '.' | '[' | ']' | '"' | '\\') || c.is_whitespace() || c.is_control())
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if needs_quotes(key) {
                        f.write_str("\"")?;
                        for c in key.chars() {
                            match c {
                                '"' => f.write_str("\\\"")?,
                                '\\' => f.write_str("\\\\")?,
                                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                                c => write!(f, "{c}")?,
                            }
                        }
                        f.write_str("\"")?;
                    } else {
                        f.write_str(key)?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Serialize for YamlPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl From<&str> for YamlPath {
    /// [`YamlPath::parse`]: for paths written in hydrate's code, never for input data.
    fn from(text: &str) -> YamlPath {
        YamlPath::parse(text)
    }
}

impl From<&YamlPath> for YamlPath {
    fn from(path: &YamlPath) -> YamlPath {
        path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_dots_stay_one_key_and_print_quoted() {
        let path = YamlPath::parse("values").key("image.repository");
        assert_eq!(path.segments().len(), 2);
        assert_eq!(path.to_string(), "values.\"image.repository\"");
        assert_eq!(YamlPath::parse(&path.to_string()), path);
        assert_ne!(path, YamlPath::parse("values.image.repository"));
    }

    #[test]
    fn indexes_and_round_trips() {
        for text in [
            "a.b[0].c",
            "[1].x",
            "containers[0].image",
            "a.\"\".b",
            "a.\"q\\\"t\"",
        ] {
            assert_eq!(YamlPath::parse(text).to_string(), text, "{text}");
        }
        let p = YamlPath::parse("spec.values.a[2]");
        assert_eq!(p.strip_prefix(&"spec.values".into()), Some("a[2]".into()));
        assert_eq!(
            YamlPath::parse("spec.valuesFrom").strip_prefix(&"spec.values".into()),
            None
        );
        assert_eq!(p.parent(), Some("spec.values.a".into()));
        assert!(YamlPath::root().parent().is_none());
    }

    #[test]
    fn control_characters_are_escaped_when_printed() {
        let p = YamlPath::root().key("a\nb");
        assert_eq!(p.to_string(), "\"a\\u{a}b\"");
    }
}
