//! String interpolation in inputs: `${root_domain}`, `${env}`, `${namespace}`, `${component}`.
//! `$${` writes a literal `${`. Anything else inside `${…}` is an error naming the YAML path.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::span::YamlPath;

/// The variables a string may use.
pub type Vars = BTreeMap<&'static str, String>;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolateError {
    /// YAML path of the string, e.g. `values.ingress.host`.
    pub path: YamlPath,
    /// Character offset of the offending `$` in the string.
    pub offset: usize,
    pub message: String,
    pub help: String,
}

/// Replaces every `${var}` in `text`; `$${` → `${`.
pub fn interpolate_str(text: &str, vars: &Vars) -> Result<String, (String, String)> {
    interpolate_at(text, vars).map_err(|(message, help, _)| (message, help))
}

/// [`interpolate_str`], whose error also gives the character offset of the `$` at fault (so
/// that the message can point at the variable, not at the start of the string).
pub fn interpolate_at(text: &str, vars: &Vars) -> Result<String, (String, String, usize)> {
    let chars_before = |rest: &str| text[..text.len() - rest.len()].chars().count();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err((
                    "unterminated `${`".to_string(),
                    "close it with `}`, or write `$${` for a literal `${`".to_string(),
                    chars_before(tail),
                ));
            };
            let name = &after[..end];
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    let known: Vec<String> = vars.keys().map(|k| format!("${{{k}}}")).collect();
                    let hint = vars
                        .keys()
                        .map(|k| (strsim::jaro_winkler(name, k), *k))
                        .filter(|(s, _)| *s > 0.8)
                        .max_by(|a, b| a.0.total_cmp(&b.0))
                        .map(|(_, k)| format!("did you mean `${{{k}}}`? "))
                        .unwrap_or_default();
                    return Err((
                        format!("unknown variable `${{{name}}}`"),
                        format!(
                            "{hint}known variables: {}; write `$${{` for a literal `${{`",
                            known.join(", ")
                        ),
                        chars_before(tail),
                    ));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolates every string (values and keys are left as keys) of `value`, in place.
/// `path` is the YAML path of `value` in its file, used in errors.
pub fn interpolate_value(value: &mut Value, vars: &Vars, path: &YamlPath) -> Result<(), InterpolateError> {
    match value {
        Value::String(s) => {
            *s = interpolate_at(s, vars).map_err(|(message, help, offset)| InterpolateError {
                path: path.clone(),
                offset,
                message,
                help,
            })?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, vars, &path.index(i))?;
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                interpolate_value(item, vars, &path.key(key.clone()))?;
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::from([
            ("root_domain", "example.org".to_string()),
            ("env", "prod".to_string()),
        ])
    }

    #[test]
    fn replaces_known_variables_and_keeps_escapes() {
        assert_eq!(
            interpolate_str("n8n.${root_domain}", &vars()).unwrap(),
            "n8n.example.org"
        );
        assert_eq!(
            interpolate_str("$${HOME} and ${env}", &vars()).unwrap(),
            "${HOME} and prod"
        );
        assert_eq!(interpolate_str("cost $5", &vars()).unwrap(), "cost $5");
    }

    #[test]
    fn unknown_variable_is_an_error_with_a_hint() {
        let (message, help) = interpolate_str("${root_domian}", &vars()).unwrap_err();
        assert_eq!(message, "unknown variable `${root_domian}`");
        assert!(help.starts_with("did you mean `${root_domain}`?"), "{help}");
    }

    #[test]
    fn errors_name_the_yaml_path() {
        let mut v = serde_json::json!({"a": [{"b": "${nope}"}]});
        let err = interpolate_value(&mut v, &vars(), &"values".into()).unwrap_err();
        assert_eq!(err.path, "values.a[0].b".into());
        let mut v = serde_json::json!("é.${env}.${nope}");
        assert_eq!(
            interpolate_value(&mut v, &vars(), &"x".into())
                .unwrap_err()
                .offset,
            9
        );
    }
}
