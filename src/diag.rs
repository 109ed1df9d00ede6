//! Diagnostics: findings of the lint stage and warnings of the others, as data. Each names the
//! input file, line and column, the YAML path, a stable kebab-case code and a fix.

use std::fmt;

use serde::Serialize;

use crate::span::{Location, YamlPath};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    /// Where: the input file (and position), or the output file when no input position exists.
    pub at: Location,
    /// The YAML path in `at.file`, e.g. `values.image.repository`.
    pub yaml_path: Option<YamlPath>,
    /// Stable rule id, e.g. `no-bitnami`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    /// `Kind/namespace/name` of the output object concerned, if any.
    pub object: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &str, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            at,
            yaml_path: None,
            code: code.to_string(),
            severity,
            message: message.into(),
            help: None,
            object: None,
        }
    }

    pub fn error(code: &str, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, code, at, message)
    }

    pub fn warning(code: &str, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, code, at, message)
    }

    #[must_use]
    pub fn path(mut self, yaml_path: impl Into<YamlPath>) -> Diagnostic {
        self.yaml_path = Some(yaml_path.into());
        self
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn object(mut self, id: impl Into<String>) -> Diagnostic {
        self.object = Some(id.into());
        self
    }
}

impl Diagnostic {
    /// rustc-style text like [`Display`](fmt::Display), with the source line and a caret under
    /// the column when `source` (the text of `self.at.file`) is given:
    ///
    /// ```text
    /// error[no-bitnami]: image `docker.io/bitnami/postgresql` is published by Bitnami
    ///   --> apps/n8n/component.yaml:14:17 values.image.repository
    ///    |
    /// 14 |     repository: bitnami/postgresql
    ///    |                 ^
    ///    = help: use the upstream image …
    /// ```
    pub fn render(&self, source: Option<&str>) -> String {
        let snippet = match (source, self.at.pos) {
            (Some(text), Some(pos)) => text
                .lines()
                .nth(pos.line.saturating_sub(1))
                .map(|line| (line, pos)),
            _ => None,
        };
        let Some((line, pos)) = snippet else {
            return self.to_string();
        };
        let number = pos.line.to_string();
        let gutter = " ".repeat(number.len());
        let caret_at: String = line
            .chars()
            .take(pos.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let mut out = format!(
            "{}[{}]: {}\n  --> {}",
            self.severity, self.code, self.message, self.at
        );
        if let Some(path) = &self.yaml_path {
            out.push_str(&format!(" {path}"));
        }
        out.push_str(&format!(
            "\n{gutter} |\n{number} | {line}\n{gutter} | {caret_at}^"
        ));
        if let Some(object) = &self.object {
            out.push_str(&format!("\n{gutter} = object: {object}"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("\n{gutter} = help: {help}"));
        }
        out
    }

    /// The flat JSON form: `file`, `line`, `column`, `yaml_path`, `code`, `severity`, `message`,
    /// `help`, `object` (absent values are `null`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.at.file,
            "line": self.at.pos.map(|p| p.line),
            "column": self.at.pos.map(|p| p.column),
            "yaml_path": self.yaml_path,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
            "object": self.object,
        })
    }
}

/// rustc-style text: `error[code]: message`, then `--> file:line:col path`, `= object`, `= help`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        write!(f, "\n  --> {}", self.at)?;
        if let Some(path) = &self.yaml_path {
            write!(f, " {path}")?;
        }
        if let Some(object) = &self.object {
            write!(f, "\n   = object: {object}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n   = help: {help}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Pos;

    fn diag() -> Diagnostic {
        Diagnostic::error(
            "no-bitnami",
            Location {
                file: "apps/a/component.yaml".into(),
                pos: Some(Pos { line: 2, column: 15 }),
            },
            "image `docker.io/bitnami/redis` is published by Bitnami",
        )
        .path("values.image.repository")
        .with_help("use the upstream image")
    }

    #[test]
    fn renders_a_snippet_with_a_caret_under_the_column() {
        let text = "values:\n  image: {repository: bitnami/redis}\n";
        assert_eq!(
            diag().render(Some(text)),
            "error[no-bitnami]: image `docker.io/bitnami/redis` is published by Bitnami\n  \
             --> apps/a/component.yaml:2:15 values.image.repository\n  |\n2 |   image: {repository: bitnami/redis}\n  \
             |               ^\n  = help: use the upstream image"
        );
        assert_eq!(diag().render(None), diag().to_string());
    }

    #[test]
    fn json_is_flat_with_every_field() {
        let json = diag().to_json();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "file",
                "line",
                "column",
                "yaml_path",
                "code",
                "severity",
                "message",
                "help",
                "object"
            ]
        );
        assert_eq!(json["line"], 2);
        assert_eq!(json["severity"], "error");
        assert_eq!(json["object"], serde_json::Value::Null);
    }
}
