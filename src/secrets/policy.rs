//! `.sops.yaml` creation rules: which age recipients (and which `encrypted_regex`) a secret file
//! gets, by its repo-relative path. Pure: the caller passes the text of `<root>/.sops.yaml`.
//!
//! Semantics follow sops' `config.go`: rules are tried in order and the first whose
//! `path_regex` matches wins (a rule without `path_regex` matches every path); the regex is an
//! unanchored search over the path relative to the directory of `.sops.yaml` (the repo root
//! here), with `/` separators.

use camino::Utf8Path;

use super::age_keys;
use super::sops_format::{Node, Pos, Value, parse_yaml_tree};

/// The default `encrypted_regex` hydrate seals with when a rule does not set one: Kubernetes
/// Secret payloads only, so `apiVersion`, `kind` and `metadata` stay readable for kustomize and
/// Flux (which decrypts after it has read the object).
pub const DEFAULT_ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// One creation rule.
#[derive(Debug, Clone)]
pub struct CreationRule {
    /// Where the rule starts in `.sops.yaml`.
    pub pos: Option<Pos>,
    /// The `path_regex` source, if any.
    pub path_regex_src: Option<String>,
    path_regex: Option<regex::Regex>,
    /// The age recipients, in rule order, de-duplicated.
    pub age: Vec<String>,
    /// The rule's `encrypted_regex`, if set.
    pub encrypted_regex: Option<String>,
    /// Settings hydrate cannot honour (`pgp`, `kms`, `unencrypted_suffix`, …), by name.
    pub unsupported: Vec<String>,
}

impl CreationRule {
    /// Whether this rule applies to `rel_path`.
    #[must_use]
    pub fn matches(&self, rel_path: &str) -> bool {
        self.path_regex.as_ref().is_none_or(|re| re.is_match(rel_path))
    }

    /// The regex hydrate seals with under this rule.
    #[must_use]
    pub fn encrypted_regex_or_default(&self) -> &str {
        self.encrypted_regex.as_deref().unwrap_or(DEFAULT_ENCRYPTED_REGEX)
    }
}

/// The parsed `.sops.yaml`.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The rules, in file order.
    pub rules: Vec<CreationRule>,
}

/// A problem in `.sops.yaml` or in applying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Where in `.sops.yaml` (0:0 when the problem is about the secret's path).
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
    /// The fix.
    pub help: String,
}

impl PolicyError {
    fn at(pos: Option<Pos>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
            help: help.into(),
        }
    }
}

/// The name of the policy file at the repo root.
pub const POLICY_FILE: &str = ".sops.yaml";

impl Policy {
    /// Parses the text of `.sops.yaml`.
    ///
    /// # Errors
    /// Invalid YAML, no `creation_rules` list, a rule that is not a mapping, an invalid regex, or
    /// an invalid age recipient.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let root = parse_yaml_tree(text).map_err(|e| PolicyError::at(e.pos, e.message, e.help))?;
        let rules_node = root.get("creation_rules").ok_or_else(|| {
            PolicyError::at(
                root.pos,
                "no `creation_rules` list",
                "add `creation_rules:` with one rule per environment (`path_regex` + `age`)",
            )
        })?;
        let Value::Seq(items) = &rules_node.value else {
            return Err(PolicyError::at(
                rules_node.pos,
                "`creation_rules` is not a list",
                "make `creation_rules` a list of rules",
            ));
        };
        let rules = items.iter().map(parse_rule).collect::<Result<_, _>>()?;
        Ok(Self { rules })
    }

    /// The first rule that matches `rel_path` (repo-relative, `/`-separated).
    #[must_use]
    pub fn rule_for(&self, rel_path: &Utf8Path) -> Option<&CreationRule> {
        let path = rel_path.as_str();
        self.rules.iter().find(|r| r.matches(path))
    }

    /// The age recipients a secret at `rel_path` must be encrypted for.
    ///
    /// # Errors
    /// No rule matches, the rule has no age recipient, or it relies on key sources hydrate does
    /// not speak.
    pub fn recipients_for(&self, rel_path: &Utf8Path) -> Result<&CreationRule, PolicyError> {
        let rule = self.rule_for(rel_path).ok_or_else(|| {
            PolicyError::at(
                None,
                format!("no creation rule in `{POLICY_FILE}` matches `{rel_path}`"),
                format!(
                    "add a rule with a `path_regex` matching `{rel_path}` and the environment's `age` recipients"
                ),
            )
        })?;
        if !rule.unsupported.is_empty() {
            return Err(PolicyError::at(
                rule.pos,
                format!(
                    "the creation rule for `{rel_path}` uses {}, which hydrate does not support",
                    rule.unsupported
                        .iter()
                        .map(|u| format!("`{u}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "hydrate seals with age recipients and `encrypted_regex` only; move other key sources to a separate rule",
            ));
        }
        if rule.age.is_empty() {
            return Err(PolicyError::at(
                rule.pos,
                format!("the creation rule for `{rel_path}` has no `age` recipient"),
                "add the environment's recipients: `age: age1…,age1…` (from `hydrate secret keygen`)",
            ));
        }
        Ok(rule)
    }

    /// The recipients of an environment: those of the rule for a secret
    /// `secrets/<env>/<component>/<name>.sops.yaml` (probed with placeholder names, so rules
    /// keyed on the environment folder are what counts).
    ///
    /// # Errors
    /// As [`Policy::recipients_for`].
    pub fn env_recipients(&self, env: &str) -> Result<Vec<String>, PolicyError> {
        let probe = format!("secrets/{env}/component/name.sops.yaml");
        self.recipients_for(Utf8Path::new(&probe))
            .map(|rule| rule.age.clone())
    }
}

/// Reads one rule.
fn parse_rule(node: &Node) -> Result<CreationRule, PolicyError> {
    let Value::Map(entries) = &node.value else {
        return Err(PolicyError::at(
            node.pos,
            "a creation rule is not a mapping",
            "write each rule as `- path_regex: …` with `age: …`",
        ));
    };
    let mut rule = CreationRule {
        pos: node.pos,
        path_regex_src: None,
        path_regex: None,
        age: Vec::new(),
        encrypted_regex: None,
        unsupported: Vec::new(),
    };
    for (key, value) in entries {
        match key.as_str() {
            "path_regex" => {
                let src = string_field(value, "path_regex")?;
                let re = regex::Regex::new(&src).map_err(|_| {
                    PolicyError::at(
                        value.pos,
                        format!("`path_regex` `{src}` is not a valid regex"),
                        "fix the regex (RE2 syntax, as sops uses)",
                    )
                })?;
                rule.path_regex_src = Some(src);
                rule.path_regex = Some(re);
            }
            "encrypted_regex" => {
                let src = string_field(value, "encrypted_regex")?;
                regex::Regex::new(&src).map_err(|_| {
                    PolicyError::at(
                        value.pos,
                        format!("`encrypted_regex` `{src}` is not a valid regex"),
                        "fix the regex (RE2 syntax, as sops uses)",
                    )
                })?;
                rule.encrypted_regex = Some(src);
            }
            "age" => push_recipients(&mut rule.age, value)?,
            "key_groups" => read_key_groups(&mut rule, value)?,
            // Settings that change nothing about age recipients or which values are encrypted.
            "shamir_threshold" | "filename_regex" => {}
            other => {
                let empty = match &value.value {
                    Value::Null => true,
                    Value::Str(s) => s.is_empty(),
                    Value::Seq(s) => s.is_empty(),
                    Value::Map(m) => m.is_empty(),
                    Value::Bool(b) => !b,
                    _ => false,
                };
                if !empty {
                    rule.unsupported.push(other.to_owned());
                }
            }
        }
    }
    Ok(rule)
}

/// `key_groups` is supported only as a single group of age recipients (no Shamir split).
fn read_key_groups(rule: &mut CreationRule, value: &Node) -> Result<(), PolicyError> {
    let Value::Seq(groups) = &value.value else {
        rule.unsupported.push("key_groups".to_owned());
        return Ok(());
    };
    if groups.len() != 1 {
        rule.unsupported
            .push("key_groups (Shamir, more than one group)".to_owned());
        return Ok(());
    }
    let Value::Map(entries) = &groups[0].value else {
        rule.unsupported.push("key_groups".to_owned());
        return Ok(());
    };
    for (key, v) in entries {
        if key == "age" {
            push_recipients(&mut rule.age, v)?;
        } else if !matches!(&v.value, Value::Null) && !matches!(&v.value, Value::Seq(s) if s.is_empty()) {
            rule.unsupported.push(format!("key_groups.{key}"));
        }
    }
    Ok(())
}

fn string_field(node: &Node, name: &str) -> Result<String, PolicyError> {
    node.as_str().map(str::to_owned).ok_or_else(|| {
        PolicyError::at(
            node.pos,
            format!("`{name}` is not a string"),
            format!("write `{name}` as a string"),
        )
    })
}

/// Adds recipients from `age: "a,b"` or `age: [a, b]`, validating each as X25519.
fn push_recipients(out: &mut Vec<String>, node: &Node) -> Result<(), PolicyError> {
    let mut raw = Vec::new();
    match &node.value {
        Value::Str(s) => raw.extend(s.split(',').map(|r| (r.trim().to_owned(), node.pos))),
        Value::Seq(items) => {
            for item in items {
                let s = item.as_str().ok_or_else(|| {
                    PolicyError::at(
                        item.pos,
                        "an `age` entry is not a string",
                        "list recipients as `age1…` strings",
                    )
                })?;
                raw.extend(s.split(',').map(|r| (r.trim().to_owned(), item.pos)));
            }
        }
        Value::Null => {}
        _ => {
            return Err(PolicyError::at(
                node.pos,
                "`age` is neither a comma-separated string nor a list",
                "write `age: age1…,age1…`",
            ));
        }
    }
    for (recipient, pos) in raw {
        if recipient.is_empty() {
            continue;
        }
        age_keys::parse_recipient(&recipient)
            .map_err(|e| PolicyError::at(pos, e.0, "use the `age1…` line `hydrate secret keygen` prints"))?;
        if !out.contains(&recipient) {
            out.push(recipient);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";
    const B: &str = "age1henwn645drkd3fa34t27t2w2x0nsgw3w4h62gmg5x5xflyjpy38s5cncph";

    #[test]
    fn first_matching_rule_wins() {
        let text = format!(
            "creation_rules:\n  - path_regex: ^secrets/prod/\n    age: {A}, {B}\n  - path_regex: ^secrets/\n    encrypted_regex: ^data$\n    age:\n      - {B}\n"
        );
        let policy = Policy::parse(&text).unwrap();
        assert_eq!(policy.env_recipients("prod").unwrap(), [A, B]);
        assert_eq!(policy.env_recipients("dev").unwrap(), [B]);
        let rule = policy
            .recipients_for(Utf8Path::new("secrets/dev/x/y.sops.yaml"))
            .unwrap();
        assert_eq!(rule.encrypted_regex_or_default(), "^data$");
        let prod = policy
            .recipients_for(Utf8Path::new("secrets/prod/x/y.sops.yaml"))
            .unwrap();
        assert_eq!(prod.encrypted_regex_or_default(), DEFAULT_ENCRYPTED_REGEX);
    }

    #[test]
    fn no_rule_and_unsupported_rules_are_errors() {
        let text = format!("creation_rules:\n  - path_regex: ^secrets/prod/\n    pgp: ABC\n    age: {A}\n");
        let policy = Policy::parse(&text).unwrap();
        let err = policy.env_recipients("prod").unwrap_err();
        assert!(err.message.contains("`pgp`"), "{err:?}");
        let err = policy.env_recipients("dev").unwrap_err();
        assert!(err.message.contains("no creation rule"), "{err:?}");
    }

    #[test]
    fn bad_recipient_is_located() {
        let err = Policy::parse("creation_rules:\n  - path_regex: x\n    age: age1nope\n").unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(3));
    }

    #[test]
    fn upstream_style_rules_with_anchors() {
        let text = format!(
            "creation_rules:\n  - path_regex: (inside|pgp)\\.yaml$\n    encrypted_regex: &r ^(data|stringData)$\n    pgp: &pgp ABC\n  - path_regex: \\.yaml$\n    encrypted_regex: *r\n    age: &age {A}\n  - key_groups:\n      - age:\n          - *age\n      - pgp:\n          - *pgp\n"
        );
        let policy = Policy::parse(&text).unwrap();
        let rule = policy
            .recipients_for(Utf8Path::new("secrets/x/y/z.yaml"))
            .unwrap();
        assert_eq!(rule.age, [A]);
        assert!(policy.recipients_for(Utf8Path::new("a.env")).is_err());
    }
}
