//! JSON values for the generators of JSON request bodies: values of the JSON types a schema
//! does not accept, and objects padded to an exact size as JSON.

use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{Map, Value};

use super::values::text;
use crate::schema::json_len;

/// A JSON body being built by a generator: its fields in the order they will be written, and
/// whether it is written indented.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) fields: Map<String, Value>,
    pub(crate) pretty: bool,
}

impl Body {
    /// The bytes of the body.
    pub(crate) fn render(&self) -> Vec<u8> {
        let fields = Value::Object(self.fields.clone());
        let body = if self.pretty {
            serde_json::to_vec_pretty(&fields)
        } else {
            serde_json::to_vec(&fields)
        };
        body.expect("a JSON value serialises")
    }

    /// `self` with `key` set to `value` (last among the fields).
    pub(crate) fn with(mut self, key: &str, value: Value) -> Body {
        self.fields.remove(key);
        self.fields.insert(key.to_owned(), value);
        self
    }

    /// `self` without the field `key`.
    pub(crate) fn without(mut self, key: &str) -> Body {
        self.fields.remove(key);
        self
    }
}

/// The JSON types of JSON Schema's `type` keyword (`integer` being a kind of `number`).
const TYPES: [&str; 6] = ["null", "boolean", "number", "string", "array", "object"];

/// Small JSON values of none of the `allowed` JSON types (as JSON Schema's `type` names them):
/// short strings, integers and fractions, booleans, `null`, short arrays and objects. Small, so
/// that no size rule applies to them.
pub(crate) fn not_of_types(allowed: &[String]) -> impl Strategy<Value = Value> {
    let allowed = |kind: &str| allowed.iter().any(|a| a == kind);
    let arms: Vec<BoxedStrategy<Value>> = TYPES
        .into_iter()
        .filter(|kind| !allowed(kind))
        .map(|kind| match kind {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::from).boxed(),
            "number" => prop_oneof![
                any::<i64>().prop_map(Value::from),
                (-1e6f64..1e6).prop_map(Value::from),
            ]
            .boxed(),
            "string" => text(0..=16, "").prop_map(Value::from).boxed(),
            "array" => proptest::collection::vec(scalar(), 0..=3)
                .prop_map(Value::Array)
                .boxed(),
            _ => proptest::collection::vec((text(1..=6, ""), scalar()), 0..=2)
                .prop_map(|fields| Value::Object(fields.into_iter().collect()))
                .boxed(),
        })
        .collect();
    assert!(!arms.is_empty(), "every JSON type is allowed");
    Union::new(arms)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        text(0..=8, "").prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// The size of `map` as compact JSON, as the schema's `x-max-json-bytes` measures it.
pub(crate) fn size(map: &Map<String, Value>) -> usize {
    json_len(&Value::Object(map.clone())) as usize
}

/// Removes the last field of `map`, if any.
pub(crate) fn remove_last(map: &mut Map<String, Value>) {
    if let Some(key) = map.keys().next_back().cloned() {
        map.remove(&key);
    }
}

/// Makes `map` exactly `target` bytes as compact JSON (at least `{"pad":""}`, 10 bytes) with a
/// field `pad` of ASCII text, dropping fields from the end when they alone are too large.
pub(crate) fn pad_to(map: &mut Map<String, Value>, target: usize) {
    const PAD: &str = "pad";
    map.remove(PAD);
    loop {
        map.insert(PAD.to_owned(), Value::from(""));
        let len = size(map);
        if len <= target {
            map.insert(PAD.to_owned(), Value::from("x".repeat(target - len)));
            return;
        }
        map.remove(PAD);
        assert!(
            !map.is_empty(),
            "no object of {target} bytes has a pad field"
        );
        remove_last(map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn padding_reaches_the_exact_size() {
        for target in [10, 11, 100, 1024, 5000] {
            let Value::Object(mut map) = json!({"a": "é".repeat(300), "b": [1, 2], "pad": 1})
            else {
                unreachable!()
            };
            pad_to(&mut map, target);
            assert_eq!(size(&map), target);
        }
    }
}
