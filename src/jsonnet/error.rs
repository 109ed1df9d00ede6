//! Errors of the Jsonnet generator, and their translation from `jrsonnet` errors.
//!
//! Every message names the repo-relative `.jsonnet` file (never an absolute path), with
//! `line:column` when the evaluator knows it, and a stack trace trimmed to the repo's files.

use std::path::Path;

use camino::{Utf8Path, Utf8PathBuf};
use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::{Source, Span};
use miette::{NamedSource, SourceSpan};

use super::relative_to;
use super::resolver::{self, ImportFailure};

/// Most stack frames shown in a message; deeper ones are summarised in one line.
const MAX_FRAMES: usize = 12;

/// What can go wrong evaluating a component's `main.jsonnet`.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JsonnetError {
    /// The repository root cannot be resolved.
    #[error("cannot use the repository root for Jsonnet evaluation")]
    #[diagnostic(code(hydrate::jsonnet::root))]
    Root {
        #[source]
        source: std::io::Error,
    },

    /// The entry file does not exist.
    #[error("cannot read `{file}`")]
    #[diagnostic(
        code(hydrate::jsonnet::missing),
        help("the component's `main.jsonnet` must sit in the component folder")
    )]
    Missing {
        file: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The entry file resolves outside the repository.
    #[error("`{file}` is outside the repository root")]
    #[diagnostic(
        code(hydrate::jsonnet::outside),
        help("Jsonnet programs must live inside the repository (no absolute paths, no symlinks out)")
    )]
    EntryOutsideRoot { file: Utf8PathBuf },

    /// The top-level function asks for an argument hydrate does not supply.
    #[error("`{file}`: the top-level function takes a parameter `{param}` that hydrate does not supply")]
    #[diagnostic(
        code(hydrate::jsonnet::parameter),
        help(
            "hydrate passes `env`, `root_domain`, `features`, `values` and `components`; give `{param}` a default or remove it"
        )
    )]
    UnknownParameter { file: Utf8PathBuf, param: String },

    /// The file does not parse.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(Box<Located>),

    /// Evaluation failed: `error`, a failed assertion, a type error, a bad import, deep recursion...
    #[error(transparent)]
    #[diagnostic(transparent)]
    Eval(Box<Located>),

    /// The program returned something that is not one of the three accepted shapes.
    #[error("`{file}`: result{at} cannot become Kubernetes objects: {problem}")]
    #[diagnostic(
        code(hydrate::jsonnet::shape),
        help(
            "return one object with `apiVersion` and `kind`, an array of such objects, or an object whose fields are such objects"
        )
    )]
    Shape {
        file: Utf8PathBuf,
        /// Where in the result: `[3]`, `.name`, or empty for the whole result.
        at: String,
        problem: String,
    },

    /// The evaluation ran past its time limit.
    #[error("`{file}`: Jsonnet evaluation did not finish within {secs} s")]
    #[diagnostic(
        code(hydrate::jsonnet::timeout),
        help("look for runaway recursion (e.g. `f(n-1) + f(n-1)`) or huge `std.range`s")
    )]
    Timeout { file: Utf8PathBuf, secs: f64 },

    /// The evaluation thread could not be started.
    #[error("`{file}`: cannot start a Jsonnet evaluation thread")]
    #[diagnostic(code(hydrate::jsonnet::thread))]
    Thread {
        file: Utf8PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The evaluator itself failed (a bug in it, or in hydrate).
    #[error("`{file}`: the Jsonnet evaluator stopped unexpectedly: {message}")]
    #[diagnostic(
        code(hydrate::jsonnet::internal),
        help("this is a bug; please report it with the Jsonnet file")
    )]
    Internal { file: Utf8PathBuf, message: String },
}

/// An error the evaluator reported, located in a repo file: message, place, trace and snippet.
#[derive(Debug, thiserror::Error)]
#[error("{place}: {message}{trace}")]
pub struct Located {
    /// `` `file:line:column` `` of the innermost frame in a repo file, else `` `file` ``.
    pub place: String,
    /// The repo file the error points at (the entry file when nothing better is known).
    pub file: Utf8PathBuf,
    /// Line in `file`, from 1, when known.
    pub line: Option<usize>,
    /// Column in `file`, in characters from 1, when known.
    pub column: Option<usize>,
    /// The evaluator's message, e.g. `runtime error: boom`.
    pub message: String,
    /// Stack trace lines, innermost first, each starting with a newline; or empty.
    pub trace: String,
    /// A hint for the common cases.
    pub help: Option<String>,
    /// `hydrate::jsonnet::syntax` or `hydrate::jsonnet::eval`.
    pub code: &'static str,
    src: Option<NamedSource<String>>,
    at: Option<SourceSpan>,
}

impl miette::Diagnostic for Located {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.src.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let at = self.at?;
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_with_span(
            Some("here".to_owned()),
            at,
        ))))
    }
}

impl JsonnetError {
    /// The repo-relative file, line and column this error points at, where known.
    pub fn location(&self) -> Option<(&Utf8Path, Option<usize>, Option<usize>)> {
        match self {
            Self::Syntax(located) | Self::Eval(located) => {
                Some((&located.file, located.line, located.column))
            }
            Self::Missing { file, .. }
            | Self::EntryOutsideRoot { file }
            | Self::UnknownParameter { file, .. }
            | Self::Shape { file, .. }
            | Self::Timeout { file, .. }
            | Self::Thread { file, .. }
            | Self::Internal { file, .. } => Some((file, None, None)),
            Self::Root { .. } => None,
        }
    }
}

/// A position in a repo file, resolved from a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    file: Utf8PathBuf,
    line: usize,
    column: usize,
    /// The file's text as it may be shown (secret values masked) and the byte range in it, for
    /// the source snippet.
    code: String,
    span: (usize, usize),
}

impl Place {
    /// The place `offset..end` in `code` of the repo file `file`.
    fn new(file: Utf8PathBuf, code: &str, offset: usize, end: usize) -> Self {
        let offset = floor_char_boundary(code, offset.min(code.len()));
        let end = floor_char_boundary(code, end.clamp(offset, code.len()));
        let (line, column) = line_column(code, offset);
        let shown = crate::redact::source_for_display(&file, code);
        let start = crate::span::offset_of(&shown, crate::span::Pos { line, column });
        let len = (end - offset).min(shown.len() - start);
        Self {
            file,
            line,
            column,
            code: shown,
            span: (start, len),
        }
    }

    /// The place a `jrsonnet` span points at, when its source is a file inside `root`.
    fn from_span(span: &Span, root: &Path) -> Option<Self> {
        let file = repo_file(&span.0, root)?;
        Some(Self::new(file, span.0.code(), span.1 as usize, span.2 as usize))
    }

    /// `` `file:line:column` ``.
    fn display(&self) -> String {
        format!("`{}:{}:{}`", self.file, self.line, self.column)
    }
}

/// The repo-relative path of a source, when it is a file inside `root`.
fn repo_file(source: &Source, root: &Path) -> Option<Utf8PathBuf> {
    relative_to(root, source.source_path().path()?)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(code: &str, offset: usize) -> (usize, usize) {
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The largest char boundary at or below `i`.
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Removes the absolute root from evaluator text, so messages stay repo-relative.
fn scrub(text: &str, root: &Path) -> String {
    let root = root.display().to_string();
    text.replace(&format!("{root}/"), "").replace(&root, ".")
}

/// Translates a `jrsonnet` error into a [`JsonnetError`] naming repo files.
///
/// `entry` is the repo-relative entry file; `failures` are the imports the resolver refused,
/// used to point at the `import` itself (the evaluator reports those without a position).
pub(super) fn from_jrsonnet(
    err: &jrsonnet_evaluator::Error,
    root: &Path,
    entry: &Utf8Path,
    failures: &[ImportFailure],
    max_stack: usize,
) -> JsonnetError {
    let kind = err.error();
    if let ErrorKind::ImportSyntaxError { path, error } = kind
        && let Some(file) = repo_file(path, root)
    {
        let offset = error.location.1 as usize;
        let place = Place::new(file, path.code(), offset, offset);
        return JsonnetError::Syntax(Box::new(Located {
            place: place.display(),
            file: place.file.clone(),
            line: Some(place.line),
            column: Some(place.column),
            message: format!("syntax error: {}", scrub(&error.message, root)),
            trace: String::new(),
            help: None,
            code: "hydrate::jsonnet::syntax",
            src: Some(NamedSource::new(place.file.as_str(), place.code.clone())),
            at: Some(place.span.into()),
        }));
    }
    let frames: Vec<(Option<Place>, String)> = err
        .trace()
        .0
        .iter()
        .filter_map(|frame| match &frame.location {
            Some(span) => Place::from_span(span, root).map(|p| (Some(p), frame.desc.clone())),
            None => Some((None, frame.desc.clone())),
        })
        .collect();
    let primary = match kind {
        ErrorKind::ImportCallbackError(_) => failures
            .last()
            .and_then(|f| import_place(f, root))
            .or_else(|| first_place(&frames)),
        ErrorKind::StaticAnalysisError(diagnostics) => diagnostics
            .iter()
            .find_map(|d| d.span.as_ref().and_then(|s| Place::from_span(s, root)))
            .or_else(|| first_place(&frames)),
        _ => first_place(&frames),
    };
    let message = match kind {
        // jrsonnet's text suggests its own `--max-stack` flag, which hydrate does not have.
        ErrorKind::StackOverflow => format!("stack overflow: more than {max_stack} nested calls"),
        _ => scrub(&kind.to_string(), root),
    };
    let trace = format_trace(&frames, root);
    let help = help_for(kind);
    let code = "hydrate::jsonnet::eval";
    JsonnetError::Eval(Box::new(match primary {
        Some(place) => Located {
            place: place.display(),
            file: place.file.clone(),
            line: Some(place.line),
            column: Some(place.column),
            message,
            trace,
            help,
            code,
            src: Some(NamedSource::new(place.file.as_str(), place.code.clone())),
            at: Some(place.span.into()),
        },
        None => Located {
            place: format!("`{entry}`"),
            file: entry.to_owned(),
            line: None,
            column: None,
            message,
            trace,
            help,
            code,
            src: None,
            at: None,
        },
    }))
}

/// The innermost frame located in a repo file.
fn first_place(frames: &[(Option<Place>, String)]) -> Option<Place> {
    frames.iter().find_map(|(place, _)| place.clone())
}

/// The place of the `import` that failed, found in the importing file's text.
fn import_place(failure: &ImportFailure, root: &Path) -> Option<Place> {
    let file = relative_to(root, &failure.from)?;
    let code = resolver::read_source(&failure.from)?;
    let offset = ['\'', '"']
        .iter()
        .filter_map(|q| code.find(&format!("{q}{}{q}", failure.request)))
        .min()?;
    let end = offset + failure.request.len() + 2;
    Some(Place::new(file, &code, offset, end))
}

/// Stack trace lines, innermost first: repo frames and descriptions, capped at [`MAX_FRAMES`].
fn format_trace(frames: &[(Option<Place>, String)], root: &Path) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (place, desc) in frames {
        let line = match place {
            Some(p) => format!("{}:{}:{}: {}", p.file, p.line, p.column, scrub(desc, root)),
            None => scrub(desc, root),
        };
        if lines.last() != Some(&line) {
            lines.push(line);
        }
    }
    let mut out = String::new();
    for line in lines.iter().take(MAX_FRAMES) {
        out.push_str("\n    at ");
        out.push_str(line);
    }
    if lines.len() > MAX_FRAMES {
        out.push_str(&format!("\n    ... {} more frames", lines.len() - MAX_FRAMES));
    }
    out
}

/// A hint for the common error kinds.
fn help_for(kind: &ErrorKind) -> Option<String> {
    match kind {
        ErrorKind::StackOverflow => Some(
            "look for recursion without a base case (or one that is never reached)".to_owned(),
        ),
        ErrorKind::InfiniteRecursionDetected => {
            Some("a value depends on itself (e.g. a file importing itself)".to_owned())
        }
        ErrorKind::ImportCallbackError(_) => Some(
            "imports resolve relative to the importing file, then in `lib/`, then in `vendor/`, and must stay inside the repository".to_owned(),
        ),
        ErrorKind::UndefinedExternalVariable(_) => Some(
            "hydrate defines `env`, `root_domain`, `features`, `values` and `components`".to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_from_one() {
        let code = "a\nbé c\n";
        assert_eq!(line_column(code, 0), (1, 1));
        assert_eq!(line_column(code, 2), (2, 1));
        // `c` is after a two-byte `é`: byte 6, character column 4.
        assert_eq!(line_column(code, 6), (2, 4));
    }

    #[test]
    fn scrub_removes_the_absolute_root() {
        let root = Path::new("/abs/repo");
        assert_eq!(
            scrub("cannot read /abs/repo/lib/x.libsonnet in /abs/repo", root),
            "cannot read lib/x.libsonnet in ."
        );
    }

    #[test]
    fn trace_dedupes_and_caps() {
        let place = |line: usize| {
            Some(Place::new(
                "a.jsonnet".into(),
                &"x\n".repeat(40),
                2 * (line - 1),
                2 * (line - 1),
            ))
        };
        let mut frames = vec![(None, "field `a` evaluation".to_owned())];
        for line in 1..=20 {
            frames.push((place(line), "function <f> call".to_owned()));
            frames.push((place(line), "function <f> call".to_owned()));
        }
        let trace = format_trace(&frames, Path::new("/r"));
        assert!(
            trace.starts_with(
                "\n    at field `a` evaluation\n    at a.jsonnet:1:1: function <f> call\n    at a.jsonnet:2:1"
            ),
            "{trace}"
        );
        assert!(trace.ends_with("... 9 more frames"), "{trace}");
    }
}
