//! Cloudflare response envelopes, built from the recorded ones in `fixtures/`.
//!
//! A success is the recorded 200 envelope with its `result` replaced by the upload's own values;
//! a refusal is the recorded failure envelope with its `errors` replaced. Everything else
//! (`success`, `messages`, `result_info`, key order) is sent as recorded.

use std::sync::LazyLock;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::error::ApiError;

const SUCCESS_FIXTURE: &str = include_str!("../fixtures/upload-success.json");
const ERROR_FIXTURE: &str = include_str!("../fixtures/error.json");

/// The fixtures the mock answers from, by file name, for tests that check them.
#[cfg(test)]
pub(crate) const FIXTURES: [(&str, &str); 2] = [
    ("upload-success.json", SUCCESS_FIXTURE),
    ("error.json", ERROR_FIXTURE),
];

fn fixture_body(name: &str, text: &str) -> Value {
    let fixture: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("fixtures/{name} is not JSON: {e}"));
    fixture
        .get("body")
        .cloned()
        .unwrap_or_else(|| panic!("fixtures/{name} has no body"))
}

static SUCCESS: LazyLock<Value> =
    LazyLock::new(|| fixture_body("upload-success.json", SUCCESS_FIXTURE));
static FAILURE: LazyLock<Value> = LazyLock::new(|| fixture_body("error.json", ERROR_FIXTURE));

/// The body of a successful upload whose result is `result`.
pub(crate) fn success(result: Value) -> Bytes {
    let mut body = SUCCESS.clone();
    body["result"] = result;
    Bytes::from(serde_json::to_vec(&body).expect("a JSON value serialises"))
}

/// The body of a refusal.
pub(crate) fn failure(errors: &[ApiError]) -> Bytes {
    let mut body = FAILURE.clone();
    body["errors"] = Value::Array(errors.iter().map(error_entry).collect());
    Bytes::from(serde_json::to_vec(&body).expect("a JSON value serialises"))
}

fn error_entry(error: &ApiError) -> Value {
    let mut entry = Map::new();
    entry.insert("code".to_owned(), error.code.into());
    entry.insert("message".to_owned(), error.message.clone().into());
    if let Some(pointer) = &error.pointer {
        entry.insert("source".to_owned(), json!({ "pointer": pointer }));
    }
    Value::Object(entry)
}

/// Loads the fixtures now, so the first request does not pay for it.
pub(crate) fn warm_up() {
    LazyLock::force(&SUCCESS);
    LazyLock::force(&FAILURE);
}

/// `2026-11-23T13:21:07.123Z`: RFC 3339 in UTC with milliseconds, as Cloudflare writes
/// `uploaded`.
pub(crate) fn timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let at =
            time::OffsetDateTime::from_unix_timestamp_nanos(1_388_629_200_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2014-01-02T02:20:00.123Z");
    }

    #[test]
    fn failure_keeps_the_recorded_shape() {
        let mut e = crate::schema::catalogue_error("missing_auth", &[]);
        e.pointer = Some("/file".into());
        let body: Value = serde_json::from_slice(&failure(&[e])).unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["result"], Value::Null);
        assert_eq!(body["messages"], json!([]));
        assert_eq!(
            body["errors"],
            json!([{"code": 9106, "message": "Missing X-Auth-Key, X-Auth-Email or Authorization headers", "source": {"pointer": "/file"}}])
        );
    }
}
