//! Manifests Jsonnet values as JSON and normalises a program's result into a list of objects.
//!
//! Pure: no I/O. Object keys come out sorted (what `jsonnet` itself prints); hidden fields are
//! dropped and object assertions run, as in any Jsonnet manifestation.

use camino::Utf8Path;
use jrsonnet_evaluator::{NumValue, ObjValue, ResultExt, Val, ensure_sufficient_stack, in_description_frame};
use serde_json::{Map, Number, Value};

use super::error::JsonnetError;

/// Largest integer a double holds exactly (2^53); whole numbers up to it become JSON integers.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Converts a Jsonnet value to JSON, forcing every field; functions are an error.
pub(super) fn to_json(val: &Val) -> jrsonnet_evaluator::Result<Value> {
    Ok(match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Str(s) => Value::String(s.clone().into_flat().to_string()),
        Val::Num(n) => number(n.get()),
        Val::Arr(items) => ensure_sufficient_stack(|| {
            let mut out = Vec::with_capacity(items.len() as usize);
            for (i, item) in items.iter().enumerate() {
                let item = item.with_description(|| format!("element [{i}] evaluation"))?;
                out.push(in_description_frame(
                    || format!("element [{i}] manifestation"),
                    || to_json(&item),
                )?);
            }
            Ok::<_, jrsonnet_evaluator::Error>(Value::Array(out))
        })?,
        Val::Obj(obj) => ensure_sufficient_stack(|| {
            obj.run_assertions()?;
            let mut out = Map::new();
            for (key, value) in obj.iter() {
                let value = value.with_description(|| format!("field `{key}` evaluation"))?;
                let json =
                    in_description_frame(|| format!("field `{key}` manifestation"), || to_json(&value))?;
                out.insert(key.to_string(), json);
            }
            Ok::<_, jrsonnet_evaluator::Error>(Value::Object(out))
        })?,
        Val::Func(_) => {
            return Err(jrsonnet_evaluator::error::ErrorKind::RuntimeError(
                "a function cannot be manifested as JSON (did you forget to call it?)".into(),
            )
            .into());
        }
    })
}

/// Converts context JSON to a Jsonnet value; numbers become doubles, as all Jsonnet numbers are.
///
/// (`Val::from_serde` turns 64-bit integers into strings, which would make `values.replicas` a string.)
pub(super) fn from_json(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        #[allow(clippy::cast_precision_loss, reason = "Jsonnet numbers are doubles")]
        Value::Number(n) => n.as_f64().and_then(NumValue::new).map_or(Val::Null, Val::Num),
        Value::String(s) => Val::string(s.as_str()),
        Value::Array(items) => {
            ensure_sufficient_stack(|| Val::arr(items.iter().map(from_json).collect::<Vec<_>>()))
        }
        Value::Object(map) => ensure_sufficient_stack(|| {
            let mut builder = ObjValue::builder_with_capacity(map.len());
            for (key, field) in map {
                builder.field(key.as_str()).value(from_json(field));
            }
            Val::Obj(builder.build())
        }),
    }
}

/// A JSON number: an integer when `n` is whole and exactly representable, else a float.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER {
        #[allow(clippy::cast_possible_truncation, reason = "whole and within ±2^53, so exact")]
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Normalises a program's result into objects, in a deterministic order.
///
/// 1. An object with `apiVersion` or `kind` is one object.
/// 2. An array is its elements, in order.
/// 3. Any other object is its fields' values, in key order ("object of named objects").
///
/// `null` elements are skipped (so `[if cond then x]` works); each remaining element must be an
/// object with string `apiVersion` and `kind`.
pub(super) fn objects(result: Value, file: &Utf8Path) -> Result<Vec<Value>, JsonnetError> {
    let entries: Vec<(String, Value)> = match result {
        Value::Object(map) if is_single(&map) => vec![(String::new(), Value::Object(map))],
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("[{i}]"), v))
            .collect(),
        Value::Object(map) => map.into_iter().map(|(k, v)| (format!(".{k}"), v)).collect(),
        other => {
            return Err(JsonnetError::Shape {
                file: file.to_owned(),
                at: String::new(),
                problem: format!("the result is {}", describe(&other)),
            });
        }
    };
    let mut out = Vec::with_capacity(entries.len());
    for (at, value) in entries {
        if value.is_null() {
            continue;
        }
        check_object(&value).map_err(|problem| JsonnetError::Shape {
            file: file.to_owned(),
            at: at.clone(),
            problem,
        })?;
        out.push(value);
    }
    Ok(out)
}

/// Whether an object is itself a Kubernetes object rather than a map of them.
fn is_single(map: &Map<String, Value>) -> bool {
    map.contains_key("apiVersion") || map.contains_key("kind")
}

/// Checks that `value` looks like one Kubernetes object; says what is wrong otherwise.
fn check_object(value: &Value) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err(format!("expected an object, got {}", describe(value)));
    };
    for key in ["apiVersion", "kind"] {
        match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(other) => {
                return Err(format!(
                    "`{key}` must be a non-empty string, got {}",
                    describe(other)
                ));
            }
            None => return Err(format!("the object has no `{key}`")),
        }
    }
    Ok(())
}

/// A short description of a JSON value's type, for messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    }

    fn names(objects: &[Value]) -> Vec<&str> {
        objects
            .iter()
            .map(|o| o["metadata"]["name"].as_str().expect("name"))
            .collect()
    }

    #[test]
    fn three_shapes_normalise_in_order() {
        let file = Utf8Path::new("a/main.jsonnet");
        assert_eq!(names(&objects(cm("one"), file).unwrap()), ["one"]);
        let arr = json!([cm("b"), null, cm("a")]);
        assert_eq!(names(&objects(arr, file).unwrap()), ["b", "a"]);
        let named = json!({"z": cm("z"), "a": cm("a")});
        // serde_json keeps insertion order; jsonnet manifestation inserts sorted keys.
        assert_eq!(names(&objects(named, file).unwrap()), ["z", "a"]);
        assert!(objects(json!([]), file).unwrap().is_empty());
    }

    #[test]
    fn other_shapes_are_rejected_with_the_place() {
        let file = Utf8Path::new("a/main.jsonnet");
        let err = objects(json!("text"), file).unwrap_err().to_string();
        assert!(
            err.contains("a/main.jsonnet") && err.contains("a string"),
            "{err}"
        );
        let err = objects(json!([cm("a"), 3]), file).unwrap_err().to_string();
        assert!(err.contains("[1]") && err.contains("a number"), "{err}");
        let err = objects(json!({"x": {"kind": "A"}}), file)
            .unwrap_err()
            .to_string();
        assert!(err.contains(".x") && err.contains("`apiVersion`"), "{err}");
        let err = objects(json!({"kind": "A"}), file).unwrap_err().to_string();
        assert!(err.contains("`apiVersion`"), "{err}");
    }

    #[test]
    fn context_json_round_trips_with_numbers_as_numbers() {
        let value = json!({"n": 2, "big": 9_007_199_254_740_993_u64, "f": 0.5, "s": "x",
                           "a": [true, null, {"k": -3}]});
        let back = to_json(&from_json(&value)).expect("manifests");
        assert_eq!(back["n"], json!(2));
        assert_eq!(back["f"], json!(0.5));
        assert_eq!(back["a"], json!([true, null, {"k": -3}]));
        assert_eq!(back["s"], json!("x"));
        // Past 2^53 a double is no longer exact: it stays a number, rounded.
        assert!(back["big"].is_number());
    }

    #[test]
    fn numbers_stay_integers_when_whole() {
        assert_eq!(number(3.0), json!(3));
        assert_eq!(number(-0.0), json!(0));
        assert_eq!(number(1.5), json!(1.5));
        assert_eq!(number(1e300), json!(1e300));
    }
}
