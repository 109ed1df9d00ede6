//! The commands: one file per subcommand, each `run(root, args) -> Result<Outcome, Error>`. The
//! only part of hydrate that prints (results on stdout, progress and findings on stderr) and
//! picks an [`Outcome`]; everything it shows comes back as data from the stages.

pub mod build;
pub mod check;
pub mod completions;
pub mod diff;
pub mod envs;
pub mod flux_entry;
pub mod lint;
pub mod lock;
pub mod man;
pub mod secret;

use camino::Utf8Path;
use rayon::prelude::*;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::load::Inputs;
use crate::{Compiled, Outcome, compile, load};

pub fn dispatch(cli: &Cli) -> Result<Outcome, Error> {
    let root = &cli.root;
    match &cli.command {
        Command::Build(args) => build::run(root, args),
        Command::Lint(args) => lint::run(root, args),
        Command::Envs(args) => envs::run(root, args),
        Command::Diff(args) => diff::run(root, args),
        Command::Check(args) => check::run(root, args),
        Command::Lock(args) => lock::run(root, args),
        Command::Secret(cmd) => secret::run(root, cmd),
        Command::FluxEntry(args) => flux_entry::run(root, args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// Reports an error of `cli`'s command: the text on stderr and, when the command was asked for
/// `--format json`, `{"error": …}` on stdout. A CI step parsing the JSON must never get nothing;
/// the exit code stays 2.
pub fn report_error(cli: &Cli, err: &Error) {
    let rendered = crate::diag::render_top(err);
    if wants_json(&cli.command) {
        print_out(&error_json(&rendered));
    }
    let mut text = rendered;
    text.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
}

/// Whether the command was asked for JSON output.
fn wants_json(command: &Command) -> bool {
    use crate::cli::{DiffFormat, Format, LintFormat};
    match command {
        Command::Lint(a) => a.format == LintFormat::Json,
        Command::Diff(a) => a.format == DiffFormat::Json,
        Command::Check(a) => a.format == Format::Json,
        Command::Envs(a) => a.format == Format::Json,
        _ => false,
    }
}

/// Parses the command line. A usage error of a command asked for `--format json` also prints
/// `{"error": …}` on stdout before clap reports it on stderr (exit 2).
pub fn parse_args() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match <Cli as clap::Parser>::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let json = args.windows(2).any(|w| w[0] == "--format" && w[1] == "json")
                || args.iter().any(|a| a == "--format=json");
            if json && err.use_stderr() {
                let text = err.render().to_string();
                let first = text.lines().next().unwrap_or_default().to_string();
                print_out(&error_json(&first));
            }
            err.exit()
        }
    }
}

/// `{"error": {"message", "file", "line", "column", "help", "envs", "errors": [...], "rendered"}}`
/// for a rendered error report ([`crate::diag::render_top`]): each error of the report with
/// its position, help and environments; the first one's fields at the top.
pub fn error_json(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .split("\n\nerror: ")
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut errors: Vec<serde_json::Value> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let part = if i == 0 {
            part.strip_prefix("error: ").unwrap_or(part)
        } else {
            part
        };
        // The count line that closes a report of several errors (`3 errors`) is no error.
        if i > 0 && i == parts.len() - 1 && part.trim_end().ends_with(" errors") && !part.contains('\n') {
            continue;
        }
        errors.push(one_error_json(part));
    }
    let first = errors
        .first()
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"message": rendered}));
    let mut top = first.as_object().cloned().unwrap_or_default();
    top.insert("errors".into(), serde_json::Value::Array(errors));
    top.insert("rendered".into(), serde_json::Value::String(rendered.to_string()));
    let mut text =
        serde_json::to_string_pretty(&serde_json::json!({ "error": top })).expect("JSON values serialize");
    text.push('\n');
    text
}

/// One rendered error (without its leading `error: `) as JSON.
fn one_error_json(text: &str) -> serde_json::Value {
    let mut lines = text.lines();
    let mut message = lines.next().unwrap_or_default().trim().to_string();
    let (mut file, mut line, mut column) = (None, None, None);
    if let Some(caps) = location_prefix().captures(&message) {
        file = Some(caps["file"].to_string());
        line = caps.name("line").and_then(|m| m.as_str().parse::<usize>().ok());
        column = caps.name("col").and_then(|m| m.as_str().parse::<usize>().ok());
        message = message[caps.get(0).map_or(0, |m| m.end())..].to_string();
    }
    let (mut help, mut envs) = (None, Vec::new());
    for l in lines {
        let l = l.trim_start();
        if let Some(at) = l.strip_prefix("--> ")
            && file.is_none()
        {
            let at = at.split(' ').next().unwrap_or(at);
            let mut bits = at.split(':');
            file = bits.next().map(str::to_string);
            line = bits.next().and_then(|b| b.parse().ok());
            column = bits.next().and_then(|b| b.parse().ok());
        } else if let Some(h) = l.strip_prefix("= help: ") {
            help = Some(h.to_string());
        } else if let Some(e) = l.strip_prefix("= in: ") {
            envs = e
                .split_once(' ')
                .map_or(e, |(_, list)| list)
                .split(", ")
                .map(|x| x.trim_matches('`').to_string())
                .collect();
        }
    }
    serde_json::json!({
        "message": message,
        "file": file,
        "line": line,
        "column": column,
        "help": help,
        "envs": envs,
    })
}

/// `path:line:col: ` or `path: ` at the start of a message (paths are repo-relative, without
/// spaces).
fn location_prefix() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^(?P<file>[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*\.[A-Za-z0-9]+)(?::(?P<line>\d+)(?::(?P<col>\d+))?)?: ")
            .expect("a valid regex")
    })
}

/// The environments a command acts on: every one with `all`, else those `named`, each once in
/// the order first given; an unknown name is an error listing the known ones.
pub fn select_envs(inputs: &Inputs, named: &[String], all: bool) -> Result<Vec<String>, Error> {
    if all {
        return Ok(inputs.env_names());
    }
    if named.is_empty() {
        return Err(Error::Usage(
            "name at least one environment, or pass `--all`".into(),
            Some(format!("known environments: {}", inputs.env_names().join(", "))),
        ));
    }
    let mut envs: Vec<String> = Vec::new();
    for name in named {
        inputs.env(name)?;
        if !envs.contains(name) {
            envs.push(name.clone());
        }
    }
    Ok(envs)
}

/// Loads the repository at `root`, and arms the process' scrubber with its secret values: from
/// here on, nothing this process prints shows one (`crate::redact`).
pub fn load_root(root: &Utf8Path) -> Result<Inputs, Error> {
    let inputs = load::load(root)?;
    crate::redact::install(crate::redact::Scrubber::of(inputs.text_files()));
    Ok(inputs)
}

/// Writes `text` to standard output, through the scrubber.
pub fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().write_all(crate::redact::scrub(text).as_bytes());
}

/// Writes `text` and a newline to standard error, through the scrubber.
pub fn print_err(text: &str) {
    use std::io::Write;
    let mut line = crate::redact::scrub(text).into_owned();
    line.push('\n');
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Compiles `envs` in parallel; every environment's error is reported, in input order. With
/// several environments, an error they share (a component file's) is reported once, naming
/// them. See: issue 11.
pub fn compile_envs(inputs: &Inputs, envs: &[String]) -> Result<Vec<Compiled>, Error> {
    let results: Vec<Result<Compiled, Error>> = envs.par_iter().map(|env| compile(inputs, env)).collect();
    let mut compiled = Vec::new();
    let mut errors = Vec::new();
    for (env, result) in envs.iter().zip(results) {
        match result {
            Ok(c) => compiled.push(c),
            Err(e) => errors.push((env, e)),
        }
    }
    if errors.is_empty() {
        return Ok(compiled);
    }
    Err(in_envs(envs.len(), errors))
}

/// The errors of several environments as one: with one environment asked for, its error as it
/// is; with several, each distinct error once, naming the environments it concerns.
pub fn in_envs(asked: usize, mut errors: Vec<(&String, Error)>) -> Error {
    if asked == 1 && errors.len() == 1 {
        return errors.pop().expect("one error").1;
    }
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (env, error) in &errors {
        for text in crate::diag::render_each(error) {
            match grouped.iter_mut().find(|(t, _)| *t == text) {
                Some((_, envs)) => envs.push((*env).clone()),
                None => grouped.push((text, vec![(*env).clone()])),
            }
        }
    }
    Error::InEnvs { errors: grouped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(envs: &[&str]) -> (tempfile::TempDir, Inputs) {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let root = Utf8Path::from_path(tmp.path()).expect("UTF-8 temp path");
        fs_err::create_dir_all(root.join("environments")).expect("mkdir");
        for env in envs {
            fs_err::write(root.join(format!("environments/{env}.yaml")), "").expect("write");
        }
        let inputs = load::load(root).expect("loads");
        (tmp, inputs)
    }

    /// See: issue 12 (`build prod dev prod` built prod twice).
    #[test]
    fn each_environment_is_selected_once() {
        let (_tmp, inputs) = inputs(&["dev", "prod"]);
        let named = ["prod", "dev", "prod"].map(String::from);
        assert_eq!(
            select_envs(&inputs, &named, false).expect("known"),
            ["prod", "dev"]
        );
        assert_eq!(select_envs(&inputs, &[], true).expect("all"), ["dev", "prod"]);
        assert!(select_envs(&inputs, &[], false).is_err());
        assert!(select_envs(&inputs, &["qa".to_string()], false).is_err());
    }
}
