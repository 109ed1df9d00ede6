//! Deep merge of values, Helm style: maps merge key by key, anything else replaces, and `null`
//! removes the key.

use serde_json::Value;

/// Merges `overlay` over `base`.
pub fn deep_merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                if value.is_null() {
                    base.shift_remove(key);
                } else if let Some(existing) = base.get_mut(key) {
                    deep_merge(existing, value);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_merge_lists_replace_null_removes() {
        let mut base = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": 1});
        deep_merge(&mut base, &json!({"a": {"c": [3], "f": true}, "d": null}));
        assert_eq!(base, json!({"a": {"b": 1, "c": [3], "f": true}, "e": 1}));
        assert_eq!(
            serde_json::to_string(&base).unwrap(),
            r#"{"a":{"b":1,"c":[3],"f":true},"e":1}"#,
            "key order is the base's, new keys appended"
        );
    }
}
