//! `lint.allow`: explicit, reasoned exceptions to a rule, written in the environment file (for
//! every finding of the environment) or in a component file (for that component's findings).
//!
//! An entry `{rule, path, reason}` covers a finding of `rule` when `path` is, or is a parent of
//! (at a `.`, `[` or `/` boundary), one of the finding's addresses:
//!
//! 1. its YAML path (`values.postgresql`, `spec.template.spec.containers[0].image`);
//! 2. its file (`apps/n8n/deploy.yaml`, `apps/n8n`) or file and YAML path joined by `:`
//!    (`apps/n8n/component.yaml:values.image.repository`); in a component file, paths relative to
//!    the component folder work too (`deploy.yaml:spec.template`);
//! 3. its object (`Deployment/n8n/n8n`) or output file (`out/prod/apps/n8n/deployment-n8n.yaml`).
//!
//! An entry without a reason allows nothing; an entry that covers nothing is an `unused-allow`
//! warning, so stale exceptions do not pile up.

use crate::load::SourceFile;
use camino::Utf8PathBuf;

use super::{Ctx, Finding};
use crate::diag::{Code, Diagnostic};
use crate::model::Allow;
use crate::span::{Location, YamlPath};

/// One `lint.allow` entry and where it was written.
struct Entry<'a> {
    allow: &'a Allow,
    at: Location,
    yaml_path: YamlPath,
    /// `Some(name)` for an entry of component `name` (it covers only that component's findings).
    component: Option<&'a str>,
    /// The component folder, for paths relative to it.
    dir: Option<Utf8PathBuf>,
    used: bool,
}

/// Removes the findings covered by an allow entry and adds an `unused-allow` warning for every
/// entry that covered nothing.
pub fn apply(ctx: &Ctx<'_>, findings: Vec<Finding>) -> Vec<Diagnostic> {
    let mut entries = entries(ctx);
    let mut kept = Vec::new();
    for finding in findings {
        let mut covered = false;
        for entry in entries.iter_mut().filter(|e| covers(e, &finding)) {
            entry.used = true;
            covered = true;
        }
        if !covered {
            kept.push(finding.diagnostic);
        }
    }
    for entry in entries
        .iter()
        .filter(|e| !e.used || e.allow.reason.trim().is_empty())
    {
        kept.push(unused(entry));
    }
    kept
}

fn entries<'a>(ctx: &Ctx<'a>) -> Vec<Entry<'a>> {
    let env = &ctx.model.env;
    let mut entries = entries_of(&env.file, &env.spec.lint.allow, None);
    for c in &ctx.model.components {
        entries.extend(entries_of(
            &c.file,
            &c.spec.lint.allow,
            Some((c.name.as_str(), &c.dir)),
        ));
    }
    entries
}

/// The entries of one file's `lint.allow`; `owner` is the component (name, folder) they belong to.
fn entries_of<'a>(
    file: &SourceFile,
    allows: &'a [Allow],
    owner: Option<(&'a str, &Utf8PathBuf)>,
) -> Vec<Entry<'a>> {
    allows
        .iter()
        .enumerate()
        .map(|(i, allow)| Entry {
            allow,
            at: file.locate(YamlPath::parse("lint.allow").index(i)),
            yaml_path: YamlPath::parse("lint.allow").index(i),
            component: owner.map(|(name, _)| name),
            dir: owner.map(|(_, dir)| dir.clone()),
            used: false,
        })
        .collect()
}

/// True when `entry` has a reason, names the finding's rule, is in scope, and its path covers one
/// of the finding's addresses.
fn covers(entry: &Entry<'_>, finding: &Finding) -> bool {
    let d = &finding.diagnostic;
    if entry.allow.reason.trim().is_empty() || entry.allow.rule != d.code.as_str() {
        return false;
    }
    if entry.component.is_some() && entry.component != finding.component.as_deref() {
        return false;
    }
    let want = entry.allow.path.trim();
    addresses(entry, finding)
        .iter()
        .any(|address| is_within(address, want))
}

/// Every name a finding may be allowed by (see the module documentation).
fn addresses(entry: &Entry<'_>, finding: &Finding) -> Vec<String> {
    let d = &finding.diagnostic;
    let yaml_path = d.yaml_path.as_ref().map(ToString::to_string).unwrap_or_default();
    let mut files = vec![d.at.file.to_string()];
    if let Some(dir) = &entry.dir
        && let Ok(rel) = d.at.file.strip_prefix(dir)
    {
        files.push(rel.to_string());
    }
    let mut out = vec![yaml_path.clone()];
    for file in files {
        out.push(format!("{file}:{yaml_path}"));
        out.push(file);
    }
    out.extend(d.object.clone());
    out.extend(finding.output.as_ref().map(ToString::to_string));
    out.retain(|a| !a.is_empty());
    out
}

/// `address` is `want` or lies under it (`values.a` covers `values.a.b` and `values.a[0]`).
fn is_within(address: &str, want: &str) -> bool {
    if want.is_empty() {
        return false;
    }
    match address.strip_prefix(want) {
        Some("") => true,
        Some(rest) => rest.starts_with(['.', '[', '/', ':']) || want.ends_with(['/', ':']),
        None => false,
    }
}

fn unused(entry: &Entry<'_>) -> Diagnostic {
    let allow = entry.allow;
    let known = Code::parse(&allow.rule).is_some();
    let (message, help) = if allow.reason.trim().is_empty() {
        (
            format!(
                "`lint.allow` entry for `{}` at `{}` has no reason, so it allows nothing",
                allow.rule, allow.path
            ),
            "write why the exception is acceptable in `reason`".to_string(),
        )
    } else if !known {
        let ids: Vec<String> = Code::ALL.iter().map(|c| format!("`{c}`")).collect();
        (
            format!("`lint.allow` names no rule `{}`", allow.rule),
            format!("known codes: {}", ids.join(", ")),
        )
    } else {
        (
            format!(
                "`lint.allow` entry for `{}` at `{}` matches no finding",
                allow.rule, allow.path
            ),
            "remove the entry, or set `path` to the YAML path, file, object (`Kind/namespace/name`) \
             or output file that the finding names"
                .to_string(),
        )
    };
    Diagnostic::of(Code::UnusedAllow, entry.at.clone(), message)
        .path(entry.yaml_path.clone())
        .with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cover_themselves_and_their_children_only() {
        assert!(is_within("values.a", "values.a"));
        assert!(is_within("values.a.b", "values.a"));
        assert!(is_within("values.a[0]", "values.a"));
        assert!(is_within("apps/n8n/deploy.yaml", "apps/n8n"));
        assert!(is_within("apps/n8n/deploy.yaml:spec", "apps/n8n/deploy.yaml"));
        assert!(!is_within("values.ab", "values.a"));
        assert!(!is_within("values.a", "values.a.b"));
        assert!(!is_within("values.a", ""));
    }
}
