//! `hydrate man [--out DIR]`: man pages generated from the clap definitions (`clap_mangen`):
//! `hydrate.1` on stdout, or `hydrate.1` and one `hydrate-<command>.1` per subcommand in DIR.

use camino::{Utf8Path, Utf8PathBuf};

use crate::Outcome;
use crate::cli::{Cli, ManArgs};
use crate::error::Error;

pub fn run(args: &ManArgs) -> Result<Outcome, Error> {
    match &args.out {
        None => super::print_out(&page(&<Cli as clap::CommandFactory>::command())),
        Some(dir) => {
            let written = write_pages(dir)?;
            super::print_err(&format!("wrote {} man pages to `{dir}`", written.len()));
        }
    }
    Ok(Outcome::Clean)
}

/// The roff page of one command.
pub fn page(command: &clap::Command) -> String {
    let mut bytes = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut bytes)
        .expect("writing to memory cannot fail");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every page: `hydrate.1`, then `hydrate-<command>.1` (and `hydrate-secret-<command>.1`), as
/// (file name, roff).
pub fn pages() -> Vec<(String, String)> {
    let mut root = <Cli as clap::CommandFactory>::command();
    root.build();
    let mut out = vec![("hydrate.1".to_string(), page(&root))];
    fn visit(prefix: &str, command: &clap::Command, out: &mut Vec<(String, String)>) {
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let name = format!("{prefix}-{}", sub.get_name());
            let sub = sub.clone().name(name.clone());
            out.push((format!("{name}.1"), page(&sub)));
            visit(&name, &sub, out);
        }
    }
    visit("hydrate", &root, &mut out);
    out
}

fn write_pages(dir: &Utf8Path) -> Result<Vec<Utf8PathBuf>, Error> {
    let io = |path: &Utf8Path, e: std::io::Error| {
        Error::Usage(
            format!("cannot write `{path}`: {e}"),
            Some("give a folder you can write to with `--out`".to_string()),
        )
    };
    fs_err::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let mut written = Vec::new();
    for (name, text) in pages() {
        let path = dir.join(name);
        fs_err::write(&path, text).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}
