//! Helm version constraints (Masterminds/semver v3 semantics) and lenient version parsing.
//!
//! Pure: no I/O. Helm resolves `version:` fields with Masterminds/semver, whose syntax differs
//! from Cargo's (`semver::VersionReq`): `~41.3` means `>=41.3.0 <41.4.0`, a bare `1.2` is a
//! range (`1.2.x`), comparators are separated by spaces or commas (AND) and `||` (OR), `x`/`X`/`*`
//! are wildcards, `1.2 - 1.4.5` is an inclusive range, and a pre-release version only matches
//! when every comparator of the AND group names a pre-release itself.
//! Versions are compared with [`semver::Version::cmp_precedence`] (build metadata ignored).

use std::cmp::Ordering;

use semver::{BuildMetadata, Prerelease, Version};

/// A parsed Helm version constraint: an OR of AND groups of comparators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    ors: Vec<Vec<Comparator>>,
}

/// One comparator such as `>=1.2`, `~41.3` or `1.x`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparator {
    op: Op,
    /// The constraint's version with wildcards and missing parts set to 0.
    con: Version,
    precision: Precision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or no operator: exact when fully specified, a range when partial (`1.2`, `1.x`).
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    /// `~` or `~>`.
    Tilde,
    Caret,
}

/// How much of the constraint's version was given (the rest is a wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precision {
    /// `*`, `x`: any version.
    Any,
    /// `1`, `1.x`: the major only.
    Major,
    /// `1.2`, `1.2.x`: major and minor.
    Minor,
    /// `1.2.3`.
    Full,
}

/// Operators, longest first so `>=` wins over `>`.
const OPS: [(&str, Op); 11] = [
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("=>", Op::Ge),
    ("<=", Op::Le),
    ("=<", Op::Le),
    ("~>", Op::Tilde),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("=", Op::Eq),
    ("~", Op::Tilde),
    ("^", Op::Caret),
];

impl Constraint {
    /// Parses a Helm constraint such as `~41.3`, `^1.21`, `>=12, <13`, `1.x || 2.3.x`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the constraint is empty".to_owned());
        }
        let ors = text
            .split("||")
            .map(parse_and_group)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { ors })
    }

    /// Whether `version` satisfies the constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.ors
            .iter()
            .any(|group| group.iter().all(|c| c.matches(version)))
    }

    /// Whether any comparator names a pre-release (only then can pre-releases match).
    pub fn names_prerelease(&self) -> bool {
        self.ors.iter().flatten().any(|c| !c.con.pre.is_empty())
    }
}

/// Parses one `||` segment: comparators separated by commas and/or spaces.
fn parse_and_group(segment: &str) -> Result<Vec<Comparator>, String> {
    let mut out: Vec<Comparator> = Vec::new();
    for part in segment.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        if words.is_empty() {
            return Err(format!(
                "`{}` has an empty comparator (a stray `,` or `||`)",
                segment.trim()
            ));
        }
        let mut i = 0;
        while i < words.len() {
            let word = words[i];
            if word == "-" {
                // Hyphen range `A - B`: the previous comparator must be a bare version.
                let (Some(prev), Some(next)) = (out.last_mut(), words.get(i + 1)) else {
                    return Err(format!("`{}`: `-` needs a version on each side", part.trim()));
                };
                if prev.op != Op::Eq || i == 0 || split_op(words[i - 1]).0.is_some() {
                    return Err(format!(
                        "`{}`: a hyphen range takes two bare versions",
                        part.trim()
                    ));
                }
                let (op, rest) = split_op(next);
                if op.is_some() {
                    return Err(format!(
                        "`{}`: a hyphen range takes two bare versions",
                        part.trim()
                    ));
                }
                prev.op = Op::Ge;
                out.push(parse_comparator(Op::Le, rest)?);
                i += 2;
                continue;
            }
            let (op, rest) = split_op(word);
            let (op, version) = if rest.is_empty() {
                // The operator stands alone (`>= 1.2`): the version is the next word.
                let Some(next) = words.get(i + 1) else {
                    return Err(format!("`{word}` is not followed by a version"));
                };
                if split_op(next).0.is_some() {
                    return Err(format!("`{word} {next}` has two operators"));
                }
                i += 1;
                (op.unwrap_or(Op::Eq), *next)
            } else {
                (op.unwrap_or(Op::Eq), rest)
            };
            out.push(parse_comparator(op, version)?);
            i += 1;
        }
    }
    Ok(out)
}

/// Splits a leading operator off `word`.
fn split_op(word: &str) -> (Option<Op>, &str) {
    OPS.iter()
        .find(|(text, _)| word.starts_with(text))
        .map_or((None, word), |(text, op)| (Some(*op), &word[text.len()..]))
}

/// Parses the version of a comparator: `v?` then `1`, `1.2`, `1.2.3`, wildcards, `-pre`, `+build`.
fn parse_comparator(op: Op, text: &str) -> Result<Comparator, String> {
    let bad = |why: &str| format!("`{text}` is not a version ({why})");
    let body = text.strip_prefix('v').unwrap_or(text);
    let body = body.split_once('+').map_or(body, |(core, _build)| core);
    let (core, pre) = body.split_once('-').unwrap_or((body, ""));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 {
        return Err(bad("more than three numbers"));
    }
    let mut numbers = [0u64; 3];
    let mut given = 0;
    for (i, part) in parts.iter().enumerate() {
        if matches!(*part, "x" | "X" | "*") {
            break;
        }
        numbers[i] = part.parse().map_err(|_| bad("expected a number or `x`"))?;
        given = i + 1;
    }
    let precision = match given {
        0 => Precision::Any,
        1 => Precision::Major,
        2 => Precision::Minor,
        _ => Precision::Full,
    };
    let mut con = Version::new(numbers[0], numbers[1], numbers[2]);
    if !pre.is_empty() {
        con.pre = Prerelease::new(pre).map_err(|e| bad(&e.to_string()))?;
    }
    Ok(Comparator { op, con, precision })
}

impl Comparator {
    /// Whether `v` satisfies this single comparator.
    fn matches(&self, v: &Version) -> bool {
        let c = &self.con;
        // Masterminds: a pre-release only matches a comparator that names a pre-release
        // (`!=` with a full version is the one exception).
        let gate = !(self.op == Op::Ne && self.precision == Precision::Full);
        if gate && !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        let cmp = v.cmp_precedence(c);
        match (self.op, self.precision) {
            (Op::Eq, Precision::Full) => cmp == Ordering::Equal,
            (Op::Eq | Op::Tilde, _) => self.tilde(v, cmp),
            (Op::Caret, _) => self.caret(v, cmp),
            (Op::Ne, Precision::Any) => false,
            (Op::Ne, Precision::Major) => v.major != c.major,
            (Op::Ne, Precision::Minor) => (v.major, v.minor) != (c.major, c.minor),
            (Op::Ne, Precision::Full) => cmp != Ordering::Equal,
            (Op::Gt, Precision::Any | Precision::Full) => cmp == Ordering::Greater,
            (Op::Gt, Precision::Major) => v.major > c.major,
            (Op::Gt, Precision::Minor) => (v.major, v.minor) > (c.major, c.minor),
            (Op::Lt, _) => cmp == Ordering::Less,
            (Op::Ge, _) => cmp != Ordering::Less,
            (Op::Le, Precision::Any) => true,
            (Op::Le, Precision::Major) => v.major <= c.major,
            (Op::Le, Precision::Minor) => (v.major, v.minor) <= (c.major, c.minor),
            (Op::Le, Precision::Full) => cmp != Ordering::Greater,
        }
    }

    /// `~1.2.3` = `>=1.2.3 <1.3.0`, `~1.2` = `>=1.2.0 <1.3.0`, `~1` = `>=1.0.0 <2.0.0`.
    fn tilde(&self, v: &Version, cmp: Ordering) -> bool {
        let c = &self.con;
        match self.precision {
            Precision::Any => true,
            Precision::Major => cmp != Ordering::Less && v.major == c.major,
            Precision::Minor | Precision::Full => {
                cmp != Ordering::Less && v.major == c.major && v.minor == c.minor
            }
        }
    }

    /// `^1.2.3` = `>=1.2.3 <2.0.0`, `^0.2.3` = `>=0.2.3 <0.3.0`, `^0.0.3` = `=0.0.3`,
    /// `^0.0` = `>=0.0.0 <0.1.0`, `^0` = `>=0.0.0 <1.0.0`.
    fn caret(&self, v: &Version, cmp: Ordering) -> bool {
        let c = &self.con;
        if self.precision == Precision::Any {
            return true;
        }
        if cmp == Ordering::Less {
            return false;
        }
        if c.major > 0 || self.precision == Precision::Major {
            return v.major == c.major;
        }
        if v.major != 0 {
            return false;
        }
        if c.minor > 0 || self.precision == Precision::Minor {
            return v.minor == c.minor;
        }
        v.minor == 0 && v.patch == c.patch
    }
}

/// Parses a chart version as Helm does: optional `v`, missing minor/patch read as 0.
///
/// Returns `None` for strings Helm would skip (`latest`, `1.2.3.4`, `01.x`).
pub fn parse_version(text: &str) -> Option<Version> {
    let body = text.trim().strip_prefix('v').unwrap_or(text.trim());
    let (body, build) = body.split_once('+').unwrap_or((body, ""));
    let (core, pre) = body.split_once('-').unwrap_or((body, ""));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut numbers = [0u64; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    let mut version = Version::new(numbers[0], numbers[1], numbers[2]);
    if !pre.is_empty() {
        version.pre = Prerelease::new(pre).ok()?;
    }
    if !build.is_empty() {
        version.build = BuildMetadata::new(build).ok()?;
    }
    Some(version)
}

/// Whether `version` is one exact version (`1.2.3`, `v1.2.3-rc.1`) rather than a constraint.
///
/// A partial version such as `1.2` is a range in Helm (`1.2.x`), so it is not exact.
pub fn is_exact(version: &str) -> bool {
    let body = version.strip_prefix('v').unwrap_or(version);
    Version::parse(body).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        parse_version(text).expect("test version parses")
    }

    /// Asserts which of `versions` the constraint accepts.
    #[track_caller]
    fn check(constraint: &str, yes: &[&str], no: &[&str]) {
        let c = Constraint::parse(constraint).expect("constraint parses");
        for y in yes {
            assert!(c.matches(&v(y)), "`{constraint}` should match `{y}`");
        }
        for n in no {
            assert!(!c.matches(&v(n)), "`{constraint}` should not match `{n}`");
        }
    }

    #[test]
    fn tilde_with_major_minor_is_a_minor_range() {
        // The `semver` crate reads `~41.3` differently; Helm's is >=41.3.0 <41.4.0.
        check("~41.3", &["41.3.0", "41.3.9"], &["41.2.9", "41.4.0", "42.0.0"]);
        check("~1.2.3", &["1.2.3", "1.2.10"], &["1.2.2", "1.3.0"]);
        check("~1", &["1.0.0", "1.99.0"], &["0.9.0", "2.0.0"]);
        check("~>2.0", &["2.0.5"], &["2.1.0"]);
        check("~1.2.x", &["1.2.0", "1.2.7"], &["1.3.0"]);
        check("~*", &["0.0.1", "9.9.9"], &[]);
    }

    #[test]
    fn caret_follows_masterminds() {
        check("^1.21", &["1.21.0", "1.99.0"], &["1.20.9", "2.0.0"]);
        check("^1.2.3", &["1.2.3", "1.9.0"], &["1.2.2", "2.0.0"]);
        check("^0.2.3", &["0.2.3", "0.2.9"], &["0.3.0", "1.0.0"]);
        check("^0.2", &["0.2.0", "0.2.9"], &["0.3.0"]);
        check("^0.0.3", &["0.0.3"], &["0.0.4", "0.1.0"]);
        check("^0.0", &["0.0.0", "0.0.9"], &["0.1.0"]);
        check("^0", &["0.0.0", "0.9.0"], &["1.0.0"]);
        check("^2.x", &["2.0.0", "2.5.1"], &["3.0.0", "1.9.9"]);
    }

    #[test]
    fn comma_and_space_are_and() {
        check(">=12, <13", &["12.0.0", "12.9.9"], &["11.9.9", "13.0.0"]);
        check(">= 12 < 13", &["12.1.0"], &["13.0.0"]);
        check(">=12,<13", &["12.1.0"], &["13.0.0"]);
        check(">1.2.3 <=1.4", &["1.2.4", "1.4.9"], &["1.2.3", "1.5.0"]);
    }

    #[test]
    fn double_pipe_is_or() {
        check("1.x || >=3.1", &["1.5.0", "3.1.0", "4.0.0"], &["2.0.0", "3.0.0"]);
        check("^1.21 || ~2.0", &["1.30.0", "2.0.3"], &["2.1.0"]);
    }

    #[test]
    fn wildcards_and_partial_versions_are_ranges() {
        check("1.2.x", &["1.2.0", "1.2.9"], &["1.3.0"]);
        check("1.2", &["1.2.0", "1.2.9"], &["1.3.0"]);
        check("=1.2", &["1.2.5"], &["1.3.0"]);
        check("1.X", &["1.0.0", "1.9.0"], &["2.0.0"]);
        check("*", &["0.0.1", "41.3.0"], &[]);
        check("x", &["3.0.0"], &[]);
        check(">=1.2.x", &["1.2.0", "5.0.0"], &["1.1.9"]);
        check("<=2.x", &["2.9.9", "0.1.0"], &["3.0.0"]);
        check("<=1.2.x", &["1.2.9"], &["1.3.0"]);
        check(">1.x", &["2.0.0"], &["1.9.9"]);
        check(">1.2", &["1.3.0"], &["1.2.9"]);
        check("!=1.x", &["2.0.0", "0.9.0"], &["1.2.3"]);
        check("!=1.2.x", &["1.3.0"], &["1.2.5"]);
        check("!=1.2.3", &["1.2.4"], &["1.2.3"]);
        check("<1.2", &["1.1.9"], &["1.2.0"]);
    }

    #[test]
    fn exact_and_equals() {
        check("1.2.3", &["1.2.3", "1.2.3+build.5"], &["1.2.4"]);
        check("=v1.2.3", &["1.2.3"], &["1.2.4"]);
        check("v1.2.3", &["1.2.3"], &["1.2.2"]);
    }

    #[test]
    fn hyphen_range_is_inclusive() {
        check("1.2 - 1.4.5", &["1.2.0", "1.4.5"], &["1.1.9", "1.4.6"]);
        check("1.2.3 - 2", &["1.2.3", "2.5.0"], &["3.0.0"]);
        assert!(Constraint::parse(">=1 - 2").is_err());
        assert!(Constraint::parse("1 -").is_err());
    }

    #[test]
    fn prereleases_need_a_prerelease_in_every_comparator() {
        check("^0.23", &["0.23.0"], &["0.23.0-rc1", "0.24.0-rc1"]);
        check(">=0.23.0-0", &["0.23.0-rc1", "0.24.0-rc1", "0.23.0"], &["0.22.9"]);
        check("~0.23.0-0", &["0.23.0-rc1", "0.23.1"], &["0.24.0-rc1"]);
        check("0.23.0-rc1", &["0.23.0-rc1"], &["0.23.0-rc2", "0.23.0"]);
        // `<2` names no pre-release, so the AND group rejects them (Masterminds v3).
        check(">=1.0.0-0 <2", &["1.5.0"], &["1.5.0-beta.1"]);
        let c = Constraint::parse(">=1.0.0-0").expect("parses");
        assert!(c.names_prerelease());
        assert!(!Constraint::parse("^1").expect("parses").names_prerelease());
    }

    #[test]
    fn bad_constraints_are_refused() {
        for bad in [
            "", "  ", ">=", "1.2.3.4", "abc", ">=1,", "||1", "1 ||", ">= >=1", "1.a", ">=1<2",
        ] {
            assert!(Constraint::parse(bad).is_err(), "`{bad}` should be refused");
        }
    }

    #[test]
    fn versions_parse_leniently() {
        assert_eq!(v("v2.1.18"), Version::new(2, 1, 18));
        assert_eq!(v("1.2"), Version::new(1, 2, 0));
        assert_eq!(v("0.0"), Version::new(0, 0, 0));
        assert_eq!(v("0.23.0-rc1").pre.as_str(), "rc1");
        assert_eq!(v("1.0.0+abc").build.as_str(), "abc");
        for skipped in ["latest", "1.2.3.4", "", "v", "1..2", "1.2.3-01"] {
            assert!(parse_version(skipped).is_none(), "`{skipped}` should be skipped");
        }
    }

    #[test]
    fn semver_sort_is_not_string_sort() {
        // zot: `0.1.100` > `0.1.99` although it sorts first as a string.
        assert!(v("0.1.100") > v("0.1.99"));
        check("~0.1", &["0.1.100", "0.1.99"], &["0.2.0"]);
    }

    #[test]
    fn exact_versions_are_recognised() {
        for exact in ["1.2.3", "v1.2.3", "0.23.0-rc1", "1.0.0+build"] {
            assert!(is_exact(exact), "`{exact}` is exact");
        }
        for range in [
            "1.2", "~1.2.3", "=1.2.3", "1.2.x", ">=1", "*", "", " 1.2.3", "1.2.3 ",
        ] {
            assert!(!is_exact(range), "`{range}` is not exact");
        }
    }
}
