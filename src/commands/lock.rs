//! `hydrate lock`: collects every chart reference of every environment, resolves them into
//! `hydrate.lock` (see `crate::lock`), and reports what changed, with a progress bar on a terminal.

use camino::Utf8Path;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::LockArgs;
use crate::error::Error;
use crate::lock::{ChartRequest, LOCK_FILE, Options, Progress};
use crate::{Outcome, model};

/// Exit 0 when the lock is in order, 1 on a finding (stale entry, changed digest…).
pub fn run(root: &Utf8Path, args: &LockArgs) -> Result<Outcome, Error> {
    if let Some(dir) = &args.index_dir
        && !dir.is_dir()
    {
        return Err(Error::Usage(
            format!("the mirror `{dir}` (`--index-dir`) is not a folder"),
            Some(
                "give the folder holding the index of each repository: `<dir>/charts_jetstack_io/index.yaml` \
                 (Helm's layout) or `<dir>/charts.jetstack.io.yaml` for `https://charts.jetstack.io`"
                    .to_string(),
            ),
        ));
    }
    let inputs = super::load_root(root)?;
    let requests = chart_requests(&inputs)?;
    let defaults = Options::default();
    let options = Options {
        update: args.update.clone(),
        check: args.check,
        offline: args.offline,
        download: args.download,
        index_dir: args.index_dir.clone(),
        jobs: args.jobs.jobs.unwrap_or(defaults.jobs),
        timeout: args.timeout.unwrap_or(defaults.timeout),
        plain_http: args.plain_http,
    };
    let outcome = crate::lock::lock(root, &options, &requests, &Bar::default())?;
    for change in &outcome.changes {
        super::print_err(&format!("  {change}"));
    }
    for warning in &outcome.warnings {
        super::print_err(&format!("warning: {warning}"));
    }
    for finding in &outcome.findings {
        super::print_err(&format!("error: {finding}"));
    }
    let entries = outcome.lock.entries.len();
    if args.check {
        if outcome.findings.is_empty() {
            super::print_err(&format!("`{LOCK_FILE}` is up to date ({entries} charts)"));
        }
    } else if outcome.written {
        super::print_err(&format!("wrote `{LOCK_FILE}` ({entries} charts)"));
    } else {
        super::print_err(&format!("`{LOCK_FILE}` unchanged ({entries} charts)"));
    }
    Ok(if outcome.findings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// One request per chart of every enabled component of every environment (duplicates share an entry).
pub fn chart_requests(inputs: &crate::load::Inputs) -> Result<Vec<ChartRequest>, Error> {
    let mut requests = Vec::new();
    for env in inputs.env_names() {
        let model = model::resolve(inputs, &env)?;
        for component in &model.components {
            if let Some(chart) = &component.chart {
                requests.push(ChartRequest::from_chart(&component.name, chart));
            }
        }
    }
    Ok(requests)
}

/// A progress bar on stderr when more than a few charts are resolved (hidden off a terminal).
#[derive(Default)]
struct Bar(std::sync::OnceLock<ProgressBar>);

impl Bar {
    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(bar) = self.0.get() {
            f(bar);
        }
    }
}

impl Progress for Bar {
    fn start(&self, charts: usize, steps: usize) {
        if charts <= 3 {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg:<20} [{bar:30}] {pos}/{len}") {
            bar.set_style(style.progress_chars("=> "));
        }
        let _ = self.0.set(bar);
    }
    fn step(&self, message: &'static str) {
        self.with(|b| b.set_message(message));
    }
    fn inc(&self) {
        self.with(|b| b.inc(1));
    }
    fn finish(&self) {
        self.with(ProgressBar::finish_and_clear);
    }
}
