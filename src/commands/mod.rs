//! The commands: one file per subcommand, each `run(root, args) -> Result<Outcome, Error>`. The
//! only part of hydrate that prints (results on stdout, progress and findings on stderr) and
//! picks an [`Outcome`]; everything it shows comes back as data from the stages.

pub mod build;
pub mod check;
pub mod diff;
pub mod envs;
pub mod flux_entry;
pub mod lint;
pub mod lock;
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
        Command::Envs => envs::run(root),
        Command::Diff(args) => diff::run(root, args),
        Command::Check(args) => check::run(root, args),
        Command::Lock(args) => lock::run(root, args),
        Command::Secret(cmd) => secret::run(root, cmd),
        Command::FluxEntry(args) => flux_entry::run(root, args),
    }
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
    if envs.len() == 1 {
        return Err(errors.pop().expect("one error").1);
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
    Err(Error::InEnvs { errors: grouped })
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
