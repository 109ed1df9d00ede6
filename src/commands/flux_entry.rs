//! `hydrate flux-entry ENV`: prints the Flux Kustomization that applies `out/<env>`, to commit as
//! `clusters/<env>/hydrate.yaml` (see `crate::render::flux::entry`). Writes nothing itself:
//! hydrate never writes outside `out/<env>/`.

use camino::{Utf8Path, Utf8PathBuf};

use crate::cli::FluxEntryArgs;
use crate::error::Error;
use crate::{Outcome, model, output, render};

pub fn run(root: &Utf8Path, args: &FluxEntryArgs) -> Result<Outcome, Error> {
    let inputs = super::load_root(root)?;
    inputs.env(&args.env)?;
    let model = model::resolve(&inputs, &args.env)?;
    let source = [Utf8PathBuf::from(format!("environments/{}.yaml", args.env))];
    let bytes = output::yaml::object_file(&source, &render::flux::entry(&model))?;
    let text = String::from_utf8_lossy(&bytes);
    let body = text.split_once('\n').map_or(text.as_ref(), |(_, body)| body);
    super::print_out(&format!(
        "# Written by `hydrate flux-entry {0}`: Flux's way into `out/{0}`.\n# `flux bootstrap … --path=clusters/{0}` applies this folder; this Kustomization applies `out/{0}`.\n{body}",
        args.env
    ));
    Ok(Outcome::Clean)
}
