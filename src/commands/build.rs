//! `hydrate build`: compile the environments in parallel, then write them all, or nothing.

use camino::Utf8Path;

use crate::cli::BuildArgs;
use crate::error::Error;
use crate::output::lock::{self, OutLock};
use crate::{Compiled, Outcome, output};

pub fn run(root: &Utf8Path, args: &BuildArgs) -> Result<Outcome, Error> {
    // One build at a time per `out/`, from reading the inputs to the swap, so that builds apply in
    // the order they start and never mix their environments; then undo what an interrupted build
    // left (see `output::write::recover`).
    let out_root = root.join("out");
    let lock = OutLock::acquire(&out_root, lock::wait_from_env()?, |holder| {
        super::print_err(&format!(
            "hydrate: waiting for the lock on `out/`, held by {holder}"
        ));
    })?;
    let inputs = super::load_root(root)?;
    let recovery = output::write::recover(&lock, &inputs.env_names())?;
    if !recovery.restored.is_empty() {
        let envs: Vec<String> = recovery.restored.iter().map(|e| format!("`out/{e}`")).collect();
        super::print_err(&format!(
            "hydrate: an interrupted build had swapped in only some environments; put back the previous {}",
            envs.join(", ")
        ));
    }
    for removed in &recovery.removed {
        super::print_err(&format!(
            "hydrate: removed `{removed}`, left by an interrupted build"
        ));
    }
    let mut envs = if args.changed_since.is_some() && args.envs.is_empty() {
        inputs.env_names()
    } else {
        super::select_envs(&inputs, &args.envs, args.all)?
    };
    // `build dev prod dev`: each environment once (it is swapped in once).
    let mut seen = std::collections::BTreeSet::new();
    envs.retain(|env| seen.insert(env.clone()));
    if let Some(rev) = &args.changed_since {
        let mut current = std::collections::BTreeMap::new();
        for env in inputs.env_names() {
            let model = crate::model::resolve(&inputs, &env)?;
            current.insert(env, model.components.iter().map(|c| c.dir.clone()).collect());
        }
        let changed = crate::git::envs_changed_since(root, rev, &inputs.env_names(), &current)?;
        envs.retain(|env| changed.contains(env));
        if envs.is_empty() {
            super::print_err(&format!(
                "no environment has inputs changed since `{rev}`; nothing to build"
            ));
            return Ok(Outcome::Clean);
        }
    }
    let compiled = super::compile_envs(&inputs, &envs)?;
    for c in &compiled {
        for d in &c.diagnostics {
            super::print_err(&format!(
                "{}\n",
                d.render(super::lint::source_text(&inputs, &d.at.file))
            ));
        }
    }
    if compiled.iter().any(Compiled::has_errors) {
        super::print_err("hydrate: lint errors; nothing written");
        return Ok(Outcome::Findings);
    }
    for c in &compiled {
        if out_root.join(&c.env).join("flux-system").exists() {
            return Err(crate::error::OutputError::FluxBootstrapInOut { env: c.env.clone() }.into());
        }
    }
    // Every environment is staged before any is swapped in: all are written, or none.
    let trees: Vec<(&str, &output::Tree)> = compiled.iter().map(|c| (c.env.as_str(), &c.tree)).collect();
    let report = output::write::write_all(&lock, &trees)?;
    for (c, r) in compiled.iter().zip(&report.envs) {
        super::print_err(&format!(
            "wrote out/{}/ ({} files, {} unchanged, {} objects)",
            c.env,
            r.files,
            r.linked,
            c.objects.len()
        ));
    }
    for (path, err) in &report.not_removed {
        super::print_err(&format!(
            "hydrate: warning: could not remove the previous tree `{path}` ({err}); the next build will"
        ));
    }
    Ok(Outcome::Clean)
}
