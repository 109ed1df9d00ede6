//! `hydrate build`: compile the environments in parallel, then write them all, or nothing.

use camino::Utf8Path;

use crate::cli::BuildArgs;
use crate::error::Error;
use crate::{Compiled, Outcome, output};

pub fn run(root: &Utf8Path, args: &BuildArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    let mut envs = if args.changed_since.is_some() && args.envs.is_empty() {
        inputs.env_names()
    } else {
        super::select_envs(&inputs, &args.envs, args.all)?
    };
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
    let out_root = root.join("out");
    for c in &compiled {
        output::write::write(&c.tree, &out_root, &c.env)?;
        super::print_err(&format!(
            "wrote out/{}/ ({} files, {} objects)",
            c.env,
            c.tree.len(),
            c.objects.len()
        ));
    }
    Ok(Outcome::Clean)
}
