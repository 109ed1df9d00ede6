//! Markdown rendering of reports for one pull-request comment, capped in size. Pure.
//!
//! Layout: a marker line (so CI can find and update its own comment), then per environment a
//! headline, a table per layer/component and lists of chart, image, immutable-field, secret and
//! file changes; then per environment a collapsed `<details>` block with one diff per object.
//! Summaries always come first; when the whole does not fit in the cap, object diffs that do not
//! fit are left out (in order, smaller later ones still go in) and a note names what was cut.

use std::fmt::Write as _;

use super::format_text::{field_label, or_none, place, status_word};
use super::{ObjectChange, Report, Status};

/// GitHub refuses comments over 65,536 characters; this leaves room for the workflow's own text.
pub const MARKDOWN_CAP: usize = 65_000;
/// First line of the comment; the pull-request workflow looks for it to update its comment.
pub const MARKER: &str = "<!-- hydrate-diff -->";
/// Room kept for the note that says what was cut.
const NOTE_RESERVE: usize = 1_500;
/// Cut objects named in the note, at most.
const NOTE_NAMES: usize = 10;

/// Renders the reports of several environments as one Markdown document of at most `cap` characters.
pub fn format_markdown(reports: &[(String, Report)], cap: usize) -> String {
    let mut out = format!("{MARKER}\n## hydrate diff\n\n");
    for (env, report) in reports {
        out.push_str(&summary(env, report));
    }
    let budget = cap.saturating_sub(NOTE_RESERVE);
    let mut cut: Vec<String> = Vec::new();
    let total: usize = reports.iter().map(|(_, r)| r.objects.len() + r.files.len()).sum();
    if chars(&out) > budget {
        out = truncate_lines(&out, budget);
        out.push_str("\n\n");
        let note = format!(
            "> [!NOTE]\n> Cut to fit a pull-request comment ({} characters): the summary is incomplete and no diff is shown. Run `hydrate diff` locally to see everything.\n",
            thousands(cap)
        );
        out.push_str(&note);
        return truncate_chars(out, cap);
    }
    let mut used = chars(&out);
    for (env, report) in reports {
        let blocks = diff_blocks(report);
        if blocks.is_empty() {
            continue;
        }
        let open = format!(
            "<details>\n<summary>Diffs for <code>{env}</code> ({})</summary>\n\n",
            blocks.len()
        );
        let close = "</details>\n\n";
        let frame = chars(&open) + chars(close);
        let mut body = String::new();
        let mut body_len = 0;
        for (label, block) in blocks {
            let n = chars(&block);
            if used + frame + body_len + n <= budget {
                body.push_str(&block);
                body_len += n;
            } else {
                cut.push(format!("{env}: {label}"));
            }
        }
        if !body.is_empty() {
            out.push_str(&open);
            out.push_str(&body);
            out.push_str(close);
            used += frame + body_len;
        }
    }
    if !cut.is_empty() {
        let mut names: Vec<String> = cut.iter().take(NOTE_NAMES).map(|c| code(c)).collect();
        if cut.len() > NOTE_NAMES {
            names.push(format!("and {} more", cut.len() - NOTE_NAMES));
        }
        let _ = write!(
            out,
            "> [!NOTE]\n> Cut to fit a pull-request comment ({} characters): {} of {total} diffs not shown: {}. Run `hydrate diff` locally with the same `--base` to see everything.\n",
            thousands(cap),
            cut.len(),
            names.join(", ")
        );
    }
    truncate_chars(out, cap)
}

/// The headline, table and lists of one environment.
fn summary(env: &str, report: &Report) -> String {
    let mut s = format!("### `{env}`: {}\n\n", report.headline());
    if report.is_empty() {
        return s;
    }
    let rows = report.summary();
    if !rows.is_empty() {
        s.push_str("| Layer | Component | Added | Changed | Removed |\n| --- | --- | ---: | ---: | ---: |\n");
        for r in rows {
            let layer = if r.layer.is_empty() {
                "(root)".to_owned()
            } else {
                code(&r.layer)
            };
            let comp = r.component.as_deref().map_or_else(|| "–".to_owned(), code);
            let _ = writeln!(
                s,
                "| {layer} | {comp} | {} | {} | {} |",
                r.added, r.changed, r.removed
            );
        }
        s.push('\n');
    }
    let objs = &report.objects;
    list(
        &mut s,
        "**Chart versions**",
        objs.iter().flat_map(|o| {
            o.charts.iter().map(move |c| {
                format!(
                    "{}: {} {} {} → {}",
                    who(o),
                    code(&c.chart),
                    field_label(&c.field),
                    code(or_none(&c.old)),
                    code(or_none(&c.new))
                )
            })
        }),
    );
    list(
        &mut s,
        "**Images**",
        objs.iter().flat_map(|o| {
            o.images.iter().map(move |i| {
                format!(
                    "{} ({}): {} → {}",
                    who(o),
                    code(&i.path),
                    code(or_none(&i.old)),
                    code(or_none(&i.new))
                )
            })
        }),
    );
    list(
        &mut s,
        "**:warning: Immutable fields**",
        objs.iter().flat_map(|o| {
            o.immutable
                .iter()
                .map(move |i| format!("{}: {} changed. {}", who(o), code(&i.field), i.note))
        }),
    );
    list(
        &mut s,
        "**Secrets** (values are never shown)",
        objs.iter().filter_map(|o| {
            o.secret
                .as_ref()
                .map(|sc| format!("{}: {}", who(o), sc.describe(code)))
        }),
    );
    list(
        &mut s,
        "**Files**",
        report
            .files
            .iter()
            .map(|f| format!("{} {}", status_word(f.status), code(f.path.as_str()))),
    );
    s
}

/// One block per object (with its diff) and per file, labelled for the cut note.
fn diff_blocks(report: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for o in &report.objects {
        let mut b = format!(
            "**{}** {} {} {} · {}\n\n",
            status_word(o.status),
            code(&o.object.api_version),
            code(&o.object.kind),
            code(&o.object.qualified_name()),
            code(&place(&o.layer, o.component.as_deref()))
        );
        match (o.status, o.diff.is_empty(), o.secret.is_some()) {
            (Status::Removed, _, _) => {}
            (_, true, true) => {
                b.push_str("_Only secret values or their encryption changed: see **Secrets** above._\n\n")
            }
            (_, true, false) => {}
            (_, false, _) => b.push_str(&fenced(&o.diff)),
        }
        out.push((o.object.to_string(), b));
    }
    for f in &report.files {
        let mut b = format!("**{}** file {}\n\n", status_word(f.status), code(f.path.as_str()));
        if f.redacted {
            b.push_str("_Content not shown: it may hold secrets._\n\n");
        } else if !f.diff.is_empty() {
            b.push_str(&fenced(&f.diff));
        }
        out.push((f.path.to_string(), b));
    }
    out
}

/// `Kind \`ns/name\``.
fn who(o: &ObjectChange) -> String {
    format!("{} {}", code(&o.object.kind), code(&o.object.qualified_name()))
}

/// Appends a titled bullet list when it has items.
fn list(s: &mut String, title: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        return;
    }
    let _ = writeln!(s, "{title}");
    for i in items {
        let _ = writeln!(s, "- {i}");
    }
    s.push('\n');
}

/// Inline code that survives backticks inside the text.
/// `text` as inline code: on one line (control characters escaped, see `crate::diag::inline`),
/// in a run of backticks longer than any inside it, so nothing in it is read as Markdown or HTML.
fn code(text: &str) -> String {
    let text = crate::diag::inline(text);
    let text = text.as_ref();
    let ticks = "`".repeat(longest_run(text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A ```` ```diff ```` block whose fence is longer than any backtick run inside.
fn fenced(diff: &str) -> String {
    let diff = crate::diag::inert(diff);
    let diff = diff.as_ref();
    let fence = "`".repeat((longest_run(diff, '`') + 1).max(3));
    let nl = if diff.ends_with('\n') { "" } else { "\n" };
    format!("{fence}diff\n{diff}{nl}{fence}\n\n")
}

fn longest_run(text: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for ch in text.chars() {
        run = if ch == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The longest prefix of whole lines within `max` characters.
fn truncate_lines(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    for line in s.split_inclusive('\n') {
        let l = chars(line);
        if n + l > max {
            break;
        }
        out.push_str(line);
        n += l;
    }
    out
}

/// At most `max` characters (a last resort: the note is sized to fit).
fn truncate_chars(s: String, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s,
    }
}

/// `65000` as `65,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_fences_escape_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert!(fenced("+ ```x\n").starts_with("````diff\n"));
    }

    #[test]
    fn thousands_separator() {
        assert_eq!(thousands(65_000), "65,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
