//! JSON rendering of reports, for tools. Pure; field order is fixed by the struct declarations.

use serde::Serialize;

use super::{Report, SummaryRow};

/// The JSON document: one entry per environment.
#[derive(Serialize)]
struct Document<'r> {
    environments: Vec<EnvReport<'r>>,
}

#[derive(Serialize)]
struct EnvReport<'r> {
    env: &'r str,
    differences: bool,
    added: usize,
    changed: usize,
    removed: usize,
    files_changed: usize,
    summary: Vec<SummaryRow>,
    #[serde(flatten)]
    report: &'r Report,
}

/// Renders the reports as pretty-printed JSON, ending with a newline.
///
/// Shape: `{"environments": [{"env", "differences", "added", "changed", "removed",
/// "files_changed", "summary": [..], "objects": [..], "files": [..]}]}`.
pub fn format_json(reports: &[(String, Report)]) -> String {
    let doc = Document {
        environments: reports
            .iter()
            .map(|(env, report)| {
                let (added, changed, removed) = report.counts();
                EnvReport {
                    env,
                    differences: !report.is_empty(),
                    added,
                    changed,
                    removed,
                    files_changed: report.files.len(),
                    summary: report.summary(),
                    report,
                }
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("a report always serializes to JSON");
    s.push('\n');
    s
}
