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

/// Declares [`Code`]: every diagnostic code hydrate can print, with its default severity and
/// one line of description. Each is documented in `docs/lints.md` and can be named by a
/// `lint.allow` entry.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $id:literal, $severity:ident, $summary:literal;)*) => {
        /// A stable kebab-case diagnostic code (`no-bitnami`, `missing-secret`…).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, lint rules first, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $id,)*
                }
            }

            /// The severity findings of this code have.
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$variant => Severity::$severity,)*
                }
            }

            /// One line: what the code is about.
            pub fn summary(self) -> &'static str {
                match self {
                    $(Code::$variant => $summary,)*
                }
            }
        }
    };
}

codes! {
    NoBitnami = "no-bitnami", Error,
        "Bitnami charts, images and subcharts (paid licence, frozen catalog)";
    PlaintextSecret = "plaintext-secret", Error,
        "a Secret with readable `data`/`stringData` in `out/` (only SOPS files may hold secrets)";
    SopsVerify = "sops-verify", Error,
        "a SOPS file that Flux could not decrypt with its environment's key, or that holds plaintext";
    CredentialInValues = "credential-in-values", Error,
        "a literal password, token or key in chart values or a workload's env (reference a Secret instead)";
    UnpinnedChart = "unpinned-chart", Error,
        "a chart version that is not one exact semver version";
    UnpinnedImage = "unpinned-image", Error,
        "an image without a tag or with `latest` (or without a digest, when digests are required)";
    HostOutsideDomain = "host-outside-domain", Error,
        "an IngressRoute/Ingress/Certificate/DNSEndpoint name outside `root_domain`";
    FluxSubstitution = "flux-substitution", Warning,
        "a `${…}` left in the output that Flux post-build substitution would rewrite";
    FluxEntryMissing = "flux-entry-missing", Warning,
        "nothing in `clusters/<env>/` points Flux at `out/<env>`";
    MissingSecret = "missing-secret", Warning,
        "a declared Secret has no sealed file (built anyway where `secrets.missing: warn`)";
    UndeclaredSecretKey = "undeclared-secret-key", Warning,
        "a sealed Secret holds a key its component does not declare";
    UndeclaredSecret = "undeclared-secret", Warning,
        "a sealed file under `secrets/<env>/<component>/` that no component of the environment declares";
    IngressTargetMissing = "ingress-target-missing", Warning,
        "external-dns is on but nothing tells it where the hosts point";
    DkimKeyMissing = "dkim-key-missing", Warning,
        "mail DNS without a DKIM public key: the DKIM record is not published";
    BackupWithoutVelero = "backup-without-velero", Warning,
        "a component asks for a backup in an environment where Velero is off";
    UnusedAllow = "unused-allow", Warning,
        "a `lint.allow` entry that covers no finding (or has no reason)";
}

impl Code {
    /// The code named `id`, if there is one.
    pub fn parse(id: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == id)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    /// Where: the input file (and position), or the output file when no input position exists.
    pub at: Location,
    /// The YAML path in `at.file`, e.g. `values.image.repository`.
    pub yaml_path: Option<YamlPath>,
    /// Stable code, e.g. `no-bitnami`.
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub help: Option<String>,
    /// `Kind/namespace/name` of the output object concerned, if any.
    pub object: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: Code, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            at,
            yaml_path: None,
            code,
            severity,
            message: message.into(),
            help: None,
            object: None,
        }
    }

    /// A finding of `code`, with the code's severity.
    pub fn of(code: Code, at: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code.severity(), code, at, message)
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
}

impl Diagnostic {
    /// rustc-style text (see [`render`]) with the source line and a caret under the column when
    /// `source` (the text of `self.at.file`) is given; secret values in it are masked:
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
            (Some(text), Some(pos)) => {
                let shown = crate::redact::source_for_display(&self.at.file, text);
                shown.lines().nth(pos.line.saturating_sub(1)).map(|line| Snippet {
                    line_number: pos.line,
                    text: line.to_string(),
                    column: pos.column,
                    label: None,
                })
            }
            _ => None,
        };
        let mut at = self.at.to_string();
        if let Some(path) = &self.yaml_path {
            at.push_str(&format!(" {path}"));
        }
        let mut notes = Vec::new();
        if let Some(object) = &self.object {
            notes.push(("object", object.clone()));
        }
        if let Some(help) = &self.help {
            notes.push(("help", help.clone()));
        }
        render(&Message {
            severity: self.severity,
            code: Some(self.code.as_str()),
            text: self.message.clone(),
            at: Some(at),
            snippet,
            notes,
        })
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

/// rustc-style text: `error[code]: message`, then `--> file:line:col path`, `= object`, `= help`
/// (what [`Diagnostic::render`] prints without a source line).
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(None))
    }
}

/// `text` safe to show on one line of a terminal or a Markdown comment: newlines, tabs and every
/// other control character (an ANSI escape included) are written as escapes (`\n`, `\u{1b}`),
/// so a value can neither start a line of its own nor drive the terminal.
pub fn inline(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\n' => "\\n".to_string(),
                '\r' => "\\r".to_string(),
                '\t' => "\\t".to_string(),
                c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// Like [`inline`], but keeps line breaks and tabs: for multi-line text such as a diff.
pub fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\n' | '\t' => c.to_string(),
                c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// A source line to show under a message, with a caret under `column` (1-based characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub line_number: usize,
    /// Already masked (see `crate::redact`).
    pub text: String,
    pub column: usize,
    pub label: Option<String>,
}

/// Everything one printed message shows, whatever stage it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub severity: Severity,
    /// A [`Code`] for findings; errors have none.
    pub code: Option<&'a str>,
    pub text: String,
    /// `--> file:line:col [yaml path]`, when not already in `text`.
    pub at: Option<String>,
    pub snippet: Option<Snippet>,
    /// `= name: text` lines (`object`, `help`, `caused by`).
    pub notes: Vec<(&'static str, String)>,
}

/// The one renderer of hydrate's messages, findings and errors alike, rustc-style:
///
/// ```text
/// error[code]: text
///   --> file:line:col path
///    |
/// 14 | the source line
///    |   ^ label
///    = help: what to do
/// ```
///
/// Readable without colour; long lines are never wrapped (paths and commands stay copyable).
pub fn render(m: &Message<'_>) -> String {
    // Every part is one line: what a value holds can neither break lines nor drive a terminal.
    let mut out = match m.code {
        Some(code) => format!("{}[{code}]: {}", m.severity, inline(&m.text)),
        None => format!("{}: {}", m.severity, inline(&m.text)),
    };
    let number = m
        .snippet
        .as_ref()
        .map(|s| s.line_number.to_string())
        .unwrap_or_default();
    let gutter = " ".repeat(number.len().max(1));
    if let Some(at) = &m.at {
        out.push_str(&format!("\n{gutter} --> {}", inline(at)));
    }
    if let Some(s) = &m.snippet {
        let caret_at: String = s
            .text
            .chars()
            .take(s.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let label = s.label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
        out.push_str(&format!(
            "\n{gutter} |\n{number} | {}\n{gutter} | {caret_at}^{}",
            inline(&s.text),
            inline(&label)
        ));
    }
    for (name, text) in &m.notes {
        out.push_str(&format!("\n{gutter} = {name}: {}", inline(text)));
    }
    out
}

/// A hydrate error as printed: [`render_error`], except that errors of several environments are
/// printed once each, naming the environments they concern.
pub fn render_top(err: &crate::error::Error) -> String {
    match err {
        crate::error::Error::InEnvs { errors } => {
            let mut out: Vec<String> = errors
                .iter()
                .map(|(text, envs)| {
                    let envs: Vec<String> = envs.iter().map(|e| format!("`{e}`")).collect();
                    let gutter = text.lines().nth(2).and_then(|l| l.find('|')).map_or(2, |i| i + 1);
                    format!(
                        "{text}\n{} = in: environment{} {}",
                        " ".repeat(gutter.saturating_sub(2).max(1)),
                        if envs.len() == 1 { "" } else { "s" },
                        envs.join(", ")
                    )
                })
                .collect();
            if errors.len() > 1 {
                out.push(format!("error: {} errors", errors.len()));
            }
            crate::redact::scrub(&out.join("\n\n")).into_owned()
        }
        other => render_error(other),
    }
}

/// Each error of `err` (the related ones of a group, recursively) rendered on its own.
pub fn render_each(err: &dyn miette::Diagnostic) -> Vec<String> {
    match err.related() {
        Some(related) => {
            let all: Vec<String> = related.flat_map(render_each).collect();
            if all.is_empty() {
                vec![render_error(err)]
            } else {
                all
            }
        }
        None => vec![render_error(err)],
    }
}

/// An error of any stage as text, through [`render`]: the message (which names the file and
/// position), the source line with a caret when the error carries its source, the help, and the
/// causes; several errors one after the other, then how many.
pub fn render_error(err: &dyn miette::Diagnostic) -> String {
    if let Some(related) = err.related() {
        let all: Vec<String> = related.map(render_error).collect();
        if !all.is_empty() {
            let count = all.len();
            return format!("{}\n\nerror: {count} errors", all.join("\n\n"));
        }
    }
    let text = err.to_string();
    let mut notes = Vec::new();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            notes.push(("caused by", c_text));
        }
        cause = c.source();
    }
    if let Some(help) = err.help() {
        notes.push(("help", help.to_string()));
    }
    let snippet = err.source_code().and_then(|src| {
        let label = err.labels()?.next()?;
        // With a line of context on each side, miette returns whole lines.
        let span = miette::SourceSpan::new(label.offset().into(), label.len().max(1));
        let contents = src
            .read_span(&span, 1, 1)
            .or_else(|_| src.read_span(label.inner(), 1, 1))
            .ok()?;
        let data = std::str::from_utf8(contents.data()).ok()?;
        let within = label.offset().checked_sub(contents.span().offset())?;
        let before = data.get(..within)?;
        let index = before.matches('\n').count();
        let line = data.lines().nth(index).unwrap_or("");
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Some(Snippet {
            line_number: contents.line() + index + 1,
            text: line.to_string(),
            column,
            label: label.label().filter(|l| *l != "here").map(str::to_string),
        })
    });
    let severity = match err.severity() {
        Some(miette::Severity::Warning) => Severity::Warning,
        _ => Severity::Error,
    };
    crate::redact::scrub(&render(&Message {
        severity,
        code: None,
        text,
        at: None,
        snippet,
        notes,
    }))
    .into_owned()
}

/// miette's report hook, so that `{:?}` of a `miette::Report` prints through [`render_error`].
pub struct Renderer;

impl miette::ReportHandler for Renderer {
    fn debug(&self, diagnostic: &dyn miette::Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_error(diagnostic))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Pos;

    fn diag() -> Diagnostic {
        Diagnostic::of(
            Code::NoBitnami,
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
