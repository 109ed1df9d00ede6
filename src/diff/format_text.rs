//! Plain-text rendering of a [`Report`] for a terminal. Pure.

use std::fmt::Write as _;

use super::{ObjectChange, Report, Status};

/// Renders one environment's report: headline, summary, then one unified diff per object.
pub fn format_text(report: &Report, env: &str) -> String {
    let mut s = format!("== {env}: {}\n", report.headline());
    if report.is_empty() {
        return s;
    }
    let rows = report.summary();
    if !rows.is_empty() {
        let places: Vec<String> = rows
            .iter()
            .map(|r| place(&r.layer, r.component.as_deref()))
            .collect();
        let w = places
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max("LAYER/COMPONENT".len());
        let _ = writeln!(s, "\n  {:<w$}  ADDED  CHANGED  REMOVED", "LAYER/COMPONENT");
        for (row, p) in rows.iter().zip(&places) {
            let _ = writeln!(
                s,
                "  {p:<w$}  {:>5}  {:>7}  {:>7}",
                row.added, row.changed, row.removed
            );
        }
    }
    section(
        &mut s,
        "Chart versions:",
        report.objects.iter().flat_map(|o| {
            o.charts.iter().map(move |c| {
                format!(
                    "{}: {} {} {} -> {}",
                    o.object,
                    c.chart,
                    field_label(&c.field),
                    or_none(&c.old),
                    or_none(&c.new)
                )
            })
        }),
    );
    section(
        &mut s,
        "Images:",
        report.objects.iter().flat_map(|o| {
            o.images.iter().map(move |i| {
                format!(
                    "{} ({}): {} -> {}",
                    o.object,
                    i.path,
                    or_none(&i.old),
                    or_none(&i.new)
                )
            })
        }),
    );
    section(
        &mut s,
        "Immutable fields:",
        report.objects.iter().flat_map(|o| {
            o.immutable
                .iter()
                .map(move |i| format!("{}: {} changed. {}", o.object, i.field, i.note))
        }),
    );
    section(
        &mut s,
        "Secrets (values are never shown):",
        report.objects.iter().filter_map(|o| {
            o.secret
                .as_ref()
                .map(|sc| format!("{}: {}", o.object, sc.describe(|k| k.to_owned())))
        }),
    );
    section(
        &mut s,
        "Files:",
        report
            .files
            .iter()
            .map(|f| format!("{} {}", status_word(f.status), f.path)),
    );
    for o in &report.objects {
        let _ = writeln!(s, "\n{}", crate::diag::inline(&object_heading(o)));
        s.push_str(&crate::diag::inert(&o.diff));
    }
    for f in &report.files {
        let heading = format!("{} file {}", status_word(f.status), f.path);
        let _ = writeln!(s, "\n{}", crate::diag::inline(&heading));
        if f.redacted {
            s.push_str("(content not shown: it may hold secrets)\n");
        }
        s.push_str(&crate::diag::inert(&f.diff));
    }
    s
}

/// `changed apps/v1 Deployment apps/podinfo  [apps/podinfo]`.
fn object_heading(o: &ObjectChange) -> String {
    format!(
        "{} {} {}  [{}]",
        status_word(o.status),
        o.object.api_version,
        o.object,
        place(&o.layer, o.component.as_deref())
    )
}

/// Appends a titled list when it has lines.
fn section(s: &mut String, title: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{title}");
    for l in lines {
        let _ = writeln!(s, "  {}", crate::diag::inline(&l));
    }
}

/// `layer/component`, `layer`, or `(root)`.
pub(crate) fn place(layer: &str, component: Option<&str>) -> String {
    match (layer, component) {
        ("", _) => "(root)".to_owned(),
        (l, Some(c)) => format!("{l}/{c}"),
        (l, None) => l.to_owned(),
    }
}

/// The last segment of a dotted field: `version`, `tag`, `digest`.
pub(crate) fn field_label(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

/// The value, or `(none)`.
pub(crate) fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("(none)")
}

/// `added`, `changed` or `removed`.
pub(crate) fn status_word(s: Status) -> &'static str {
    match s {
        Status::Added => "added",
        Status::Changed => "changed",
        Status::Removed => "removed",
    }
}
