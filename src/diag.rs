//! Diagnostics: findings of the lint stage and warnings of the others, as data. Each names the
//! input file, line and column, the YAML path, a stable kebab-case code and a fix.

use std::fmt;

use serde::Serialize;

use crate::error::Location;

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
    pub yaml_path: Option<String>,
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
    pub fn path(mut self, yaml_path: impl Into<String>) -> Diagnostic {
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

/// rustc-style text: `error[code]: file:line:col path: message`, then `= object`, `= help`.
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
