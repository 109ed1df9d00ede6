//! `hydrate lint`: compile the environments in parallel (the same pipeline as `build`, lints
//! included) and print every finding, as rustc-style text or JSON. Writes nothing.

use camino::Utf8Path;

use crate::cli::{LintArgs, LintFormat};
use crate::diag::Severity;
use crate::error::Error;
use crate::load::Inputs;
use crate::{Compiled, Outcome};

/// Exit 0 when no finding is an error (warnings allowed), 1 when one is, an [`Error`] (exit 2) when
/// an environment does not compile.
pub fn run(root: &Utf8Path, args: &LintArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let envs = if args.envs.is_empty() {
        inputs.env_names()
    } else {
        super::select_envs(&inputs, &args.envs, args.all)?
    };
    let compiled = super::compile_envs(&inputs, &envs)?;
    let report = match args.format {
        LintFormat::Text => text(&inputs, &compiled),
        LintFormat::Json => json(&compiled),
    };
    super::print_out(&report);
    Ok(if compiled.iter().any(Compiled::has_errors) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// For each environment: every finding with its source line, then a summary line naming the
/// environment (a component's finding shows once per environment that enables it).
pub fn text(inputs: &Inputs, compiled: &[Compiled]) -> String {
    let mut out = String::new();
    for (i, c) in compiled.iter().enumerate() {
        if i > 0 && !c.diagnostics.is_empty() {
            out.push('\n');
        }
        for d in &c.diagnostics {
            out.push_str(&d.render(source_text(inputs, &d.at.file)));
            out.push_str("\n\n");
        }
        out.push_str(&summary(c));
        out.push('\n');
    }
    out
}

/// `prod: 2 errors, 1 warning` or `prod: no findings`.
fn summary(c: &Compiled) -> String {
    let count = |s: Severity| c.diagnostics.iter().filter(|d| d.severity == s).count();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (count(Severity::Error), count(Severity::Warning)) {
        (0, 0) => format!("{}: no findings", c.env),
        (e, w) => format!("{}: {}, {}", c.env, plural(e, "error"), plural(w, "warning")),
    }
}

/// A JSON array of findings (see [`crate::diag::Diagnostic::to_json`]), each with its `env`, in
/// environment then finding order.
pub fn json(compiled: &[Compiled]) -> String {
    let findings: Vec<serde_json::Value> = compiled
        .iter()
        .flat_map(|c| {
            c.diagnostics.iter().map(|d| {
                let mut value = d.to_json();
                if let Some(map) = value.as_object_mut() {
                    map.insert("env".into(), serde_json::Value::String(c.env.clone()));
                }
                value
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&findings).expect("JSON values serialize");
    text.push('\n');
    text
}

/// The text of input file `path` (environment, component file, component folder file or secret),
/// for snippets.
pub fn source_text<'a>(inputs: &'a Inputs, path: &Utf8Path) -> Option<&'a str> {
    if let Some(env) = inputs.envs.values().find(|f| f.path == path) {
        return Some(&env.text);
    }
    for component in &inputs.components {
        if component.file.path == path {
            return Some(&component.file.text);
        }
        if let Some(text) = component.files.get(path) {
            return Some(text);
        }
    }
    inputs
        .secrets
        .get(path)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
}
