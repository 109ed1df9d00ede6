//! Object → YAML bytes: Kubernetes key order, a `# Source:` header, and YAML that YAML 1.1
//! readers (kubectl, kustomize, Flux) read back unchanged (`on`, `yes`, `12:30` stay strings).

use camino::Utf8PathBuf;
use serde_json::{Map, Value};

use crate::error::OutputError;

/// Top-level keys first, in this order; other keys keep their order after them.
const TOP_ORDER: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "type",
    "immutable",
    "spec",
    "data",
    "stringData",
    "binaryData",
];
const METADATA_ORDER: &[&str] = &["name", "namespace", "labels", "annotations"];

/// The YAML text of `value`, preceded by `# Source: <sources>`.
pub fn object_file(sources: &[Utf8PathBuf], value: &Value) -> Result<Vec<u8>, OutputError> {
    let mut value = value.clone();
    canonical_order(&mut value);
    let body = to_yaml(&value).map_err(|reason| OutputError::Yaml {
        what: describe(&value),
        reason,
    })?;
    Ok(format!("{}{body}", header(sources)).into_bytes())
}

/// `# Source: a, b` (duplicates removed, order kept).
pub fn header(sources: &[Utf8PathBuf]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for s in sources {
        if !seen.contains(&s.as_str()) {
            seen.push(s.as_str());
        }
    }
    format!("# Source: {}\n", seen.join(", "))
}

/// Serializes with long strings kept on one line (folding would make diffs noisy).
pub fn to_yaml(value: &Value) -> Result<String, String> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.min_fold_chars = usize::MAX / 2;
    options.folded_wrap_chars = usize::MAX / 2;
    serde_saphyr::to_string_with_options(value, options).map_err(|e| e.to_string())
}

fn describe(value: &Value) -> String {
    format!(
        "{} `{}`",
        value["kind"].as_str().unwrap_or("object"),
        value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?")
    )
}

/// Reorders the top level and `metadata` of a Kubernetes object.
pub fn canonical_order(value: &mut Value) {
    if let Value::Object(map) = value {
        reorder(map, TOP_ORDER);
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            reorder(meta, METADATA_ORDER);
        }
    }
}

fn reorder(map: &mut Map<String, Value>, order: &[&str]) {
    let mut out = Map::new();
    for key in order {
        if let Some(v) = map.shift_remove(*key) {
            out.insert((*key).to_string(), v);
        }
    }
    out.append(map);
    *map = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_in_kubernetes_order_and_yaml11_words_quoted() {
        let v = json!({"data": {"a": "on", "b": "12:30", "c": "2001-12-14", "d": "y"}, "kind": "ConfigMap",
            "metadata": {"namespace": "x", "name": "n"}, "apiVersion": "v1"});
        let text = String::from_utf8(object_file(&["apps/a/component.yaml".into()], &v).unwrap()).unwrap();
        assert_eq!(
            text,
            "# Source: apps/a/component.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"n\"\n  namespace: x\n\
             data:\n  a: \"on\"\n  b: \"12:30\"\n  c: \"2001-12-14\"\n  d: \"y\"\n"
        );
    }

    #[test]
    fn long_strings_stay_on_one_line() {
        let long = "word ".repeat(40);
        let text = to_yaml(&json!({ "k": long.trim() })).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
    }
}
