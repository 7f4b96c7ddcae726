//! Comparing two answers to one case: the status, the error codes, the messages and the
//! envelope's shape (its top-level keys in order, each with its JSON type), never the values
//! that differ from run to run (ids, dates, counts).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Answer;

/// What of an answer is compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Seen {
    /// `None` when there was no answer.
    pub(crate) status: Option<u16>,
    pub(crate) codes: Vec<u64>,
    pub(crate) messages: Vec<String>,
    /// `{success:boolean,errors:array,...}`, `bytes image/png` for a body that is no JSON
    /// object, or why there was no answer.
    pub(crate) shape: String,
}

/// What of two answers differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Difference {
    Status,
    Codes,
    Messages,
    Shape,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Difference::Status => "status",
            Difference::Codes => "codes",
            Difference::Messages => "messages",
            Difference::Shape => "shape",
        })
    }
}

impl Seen {
    pub(crate) fn of(answer: &Answer) -> Seen {
        let (status, content_type, body) = match answer {
            Answer::Got {
                status,
                content_type,
                body,
            } => (*status, content_type, body),
            Answer::Failed(why) => {
                return Seen {
                    status: None,
                    codes: Vec::new(),
                    messages: Vec::new(),
                    shape: why.clone(),
                }
            }
        };
        let Ok(Shape(keys)) = serde_json::from_slice::<Shape>(body) else {
            // No JSON object: the body's media type (its parameters vary from server to server)
            // and, for the API's text errors (`ERROR 5404: Image not found`), their codes.
            let media_type = content_type
                .as_deref()
                .and_then(|c| c.split(';').next())
                .map_or_else(
                    || "(no content-type)".to_owned(),
                    |m| m.trim().to_ascii_lowercase(),
                );
            let (codes, messages) = if media_type.starts_with("text/") {
                text_errors(body)
            } else {
                (Vec::new(), Vec::new())
            };
            return Seen {
                status: Some(status),
                codes,
                messages,
                shape: format!("bytes {media_type}"),
            };
        };
        let keys: Vec<String> = keys
            .iter()
            .map(|(key, kind)| format!("{key}:{kind}"))
            .collect();
        let errors = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        Seen {
            status: Some(status),
            codes: errors
                .iter()
                .filter_map(|e| e.get("code").and_then(Value::as_u64))
                .collect(),
            messages: errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .map(str::to_owned)
                .collect(),
            shape: format!("{{{}}}", keys.join(",")),
        }
    }

    /// What differs from `other`, in the order of the report.
    pub(crate) fn differences(&self, other: &Seen) -> Vec<Difference> {
        let mut differences = Vec::new();
        if self.status != other.status {
            differences.push(Difference::Status);
        }
        if self.codes != other.codes {
            differences.push(Difference::Codes);
        }
        if self.messages != other.messages {
            differences.push(Difference::Messages);
        }
        if self.shape != other.shape {
            differences.push(Difference::Shape);
        }
        differences
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}")?,
            None => f.write_str("---")?,
        }
        write!(f, " {:?} {:?} {}", self.codes, self.messages, self.shape)
    }
}

/// The top-level keys of a JSON object in the order written, each with its type: read with a
/// visitor, as `serde_json`'s map sorts its keys unless its `preserve_order` feature is on.
struct Shape(Vec<(String, &'static str)>);

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Shape, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    keys.push((key, kind(&value)));
                }
                Ok(Shape(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// The errors of a text body, one `ERROR <code>: <message>` a line (the API's older answers, and
/// a missing image's still), or the whole text as a message without a code (a missing
/// variant's `variant not found`).
fn text_errors(body: &[u8]) -> (Vec<u64>, Vec<String>) {
    let text = String::from_utf8_lossy(body);
    let (codes, messages): (Vec<u64>, Vec<String>) = text
        .lines()
        .filter_map(|line| {
            let (code, message) = line.strip_prefix("ERROR ")?.split_once(": ")?;
            Some((code.parse::<u64>().ok()?, message.to_owned()))
        })
        .unzip();
    if codes.is_empty() && !text.trim().is_empty() {
        (codes, vec![text.trim().to_owned()])
    } else {
        (codes, messages)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(status: u16, body: &str) -> Seen {
        Seen::of(&Answer::Got {
            status,
            content_type: Some("application/json".to_owned()),
            body: body.to_owned().into(),
        })
    }

    #[test]
    fn values_are_not_compared_but_keys_order_types_codes_and_messages_are() {
        let a = got(
            200,
            r#"{"result":{"id":"a"},"success":true,"errors":[],"messages":[]}"#,
        );
        let b = got(
            200,
            r#"{"result":{"id":"b"},"success":true,"errors":[],"messages":[]}"#,
        );
        assert_eq!(a.differences(&b), []);
        assert_eq!(
            a.shape,
            "{result:object,success:boolean,errors:array,messages:array}"
        );

        let reordered = got(
            200,
            r#"{"success":true,"result":{},"errors":[],"messages":[]}"#,
        );
        assert_eq!(a.differences(&reordered), [Difference::Shape]);

        let refused = got(
            400,
            r#"{"result":null,"success":false,"errors":[{"code":5411,"message":"no"}],"messages":[]}"#,
        );
        assert_eq!(
            a.differences(&refused),
            [
                Difference::Status,
                Difference::Codes,
                Difference::Messages,
                Difference::Shape
            ]
        );
        assert_eq!(refused.codes, [5411]);
        assert_eq!(got(200, "\u{89}PNG").shape, "bytes application/json");

        let text = Seen::of(&Answer::Got {
            status: 404,
            content_type: Some("text/plain; charset=utf-8".to_owned()),
            body: "ERROR 5404: Image not found\n".into(),
        });
        assert_eq!(
            (text.codes, text.messages, text.shape),
            (
                vec![5404],
                vec!["Image not found".to_owned()],
                "bytes text/plain".to_owned()
            )
        );
    }
}
