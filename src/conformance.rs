//! Offline checks, no server: does a request pass the rules of the real API, and is a response
//! shaped as the official description says?
//!
//! [`check_upload`] runs the very code the mock runs on a request (multipart parse, image probe,
//! schema); [`check_response`] validates an envelope against the response schemas of Cloudflare's
//! official OpenAPI description (`schemas/cloudflare-images-openapi.json`), read as JSON Schema.
//!
//! ```
//! use cloudflare_images_mock::conformance;
//!
//! let body = br#"{"success":false,"errors":[{"code":5409,"message":"Resource already exists."}],"messages":[],"result":null}"#;
//! assert!(conformance::check_response(409, body).is_ok());
//! let problems = conformance::check_response(200, body).unwrap_err();
//! assert!(problems.iter().any(|p| p.instance_path == "/success"), "{problems:?}");
//! ```

use std::fmt;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use jsonschema::Validator;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::multipart::{self, Limits};
use crate::upload;

const OPENAPI: &str = include_str!("../schemas/cloudflare-images-openapi.json");
const PATCHES: &str = include_str!("../schemas/openapi-patches.json");

/// An upload that passes every rule the mock checks offline.
///
/// A `url` upload is checked as far as its form goes: fetching and probing the image at the URL
/// needs a server (see [`MockImages::serve_url`](crate::MockImages::serve_url)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ValidUpload {
    /// The custom id, if one was sent.
    pub id: Option<String>,
    /// The `creator`, if sent.
    pub creator: Option<String>,
    /// The metadata, whichever encoding was used.
    pub meta: Map<String, Value>,
    /// `requireSignedURLs` (`false` when absent).
    pub require_signed_urls: bool,
    /// The `url`, if sent.
    pub url: Option<String>,
    /// The file part's name, if a file was sent.
    pub filename: Option<String>,
    /// The detected image format of the file part.
    pub format: Option<String>,
    /// The file part's size in bytes.
    pub file_size: Option<u64>,
    /// Every text part, as sent.
    pub fields: Vec<(String, String)>,
}

/// Checks an upload request offline: its `Content-Type` header and body go through the same
/// parse and validation the mock runs. Returns the upload, or every violation found (field,
/// rule, and the code and status the real API would answer).
///
/// ```
/// use cloudflare_images_mock::conformance;
///
/// let body = "--x\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttps://example.com/a.png\r\n\
///             --x\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nnotes.txt\r\n--x--\r\n";
/// let errors = conformance::check_upload("multipart/form-data; boundary=x", body.as_bytes())
///     .unwrap_err();
/// assert_eq!((errors[0].code, errors[0].rule.as_str()), (5411, "id_non_image_extension"));
/// assert!(errors[0].message.ends_with("Must not use a non-image file name extension"));
/// ```
pub fn check_upload(content_type: &str, body: &[u8]) -> Result<ValidUpload, Vec<ApiError>> {
    let boundary = multipart::boundary(Some(content_type)).map_err(|e| vec![e])?;
    let stream = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        Bytes::copy_from_slice(body),
    )]);
    let limits = Limits::standard();
    let form = match poll_ready(multipart::read_form(
        boundary,
        stream,
        Some(body.len() as u64),
        &limits,
    )) {
        Some(result) => result.map_err(|e| vec![e])?,
        None => unreachable!("a body held in memory is read without waiting"),
    };
    let checked = upload::check(form)?;
    Ok(ValidUpload {
        id: checked.id,
        creator: checked.creator,
        meta: checked.meta,
        require_signed_urls: checked.require_signed_urls,
        url: checked.url,
        filename: checked.file.as_ref().and_then(|f| f.filename.clone()),
        format: checked
            .image
            .as_ref()
            .and_then(|i| i.format)
            .map(str::to_owned),
        file_size: checked.file.as_ref().map(|f| f.bytes.bytes.len() as u64),
        fields: checked.fields,
    })
}

/// Polls a future that never waits (its input is all in memory) to completion.
fn poll_ready<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // Multer yields now and then even on ready input; a bounded number of polls finishes it.
    for _ in 0..1_000_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
    }
    None
}

/// A way a response differs from the official description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseViolation {
    /// The JSON pointer of the offending value in the response (`/result/variants/0`).
    pub instance_path: String,
    /// Where the broken rule is in the official description.
    pub schema_path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ResponseViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.instance_path.is_empty() {
            "/"
        } else {
            &self.instance_path
        };
        write!(f, "at {at}: {} (schema {})", self.message, self.schema_path)
    }
}

impl std::error::Error for ResponseViolation {}

struct ResponseSchemas {
    success: Validator,
    failure: Validator,
}

static RESPONSES: LazyLock<ResponseSchemas> = LazyLock::new(|| {
    let mut openapi: Value = serde_json::from_str(OPENAPI)
        .unwrap_or_else(|e| panic!("schemas/cloudflare-images-openapi.json: {e}"));
    let patches: Value = serde_json::from_str(PATCHES)
        .unwrap_or_else(|e| panic!("schemas/openapi-patches.json: {e}"));
    for patch in patches["patches"].as_array().expect("patches is an array") {
        let path = patch["path"].as_str().expect("a patch has a path");
        let (parent, key) = path.rsplit_once('/').expect("a patch path has a parent");
        let removed = openapi
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .and_then(|object| object.remove(key));
        assert!(
            removed.is_some(),
            "schemas/openapi-patches.json: nothing at {path}"
        );
    }
    let mut components = openapi["components"].take();
    to_json_schema(&mut components);
    let upload = "/paths/~1accounts~1{account_id}~1images~1v1/post/responses";
    let mut failure = openapi
        .pointer(&format!("{upload}/4XX/content/application~1json/schema"))
        .expect("the upload operation describes its 4XX response")
        .clone();
    to_json_schema(&mut failure);
    let success = json!({
        "components": components,
        "$ref": "#/components/schemas/images_image_response_single",
    });
    let failure = json!({ "components": components, "allOf": [failure] });
    let build = |schema: &Value| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(schema)
            .unwrap_or_else(|e| panic!("the official response schemas do not compile: {e}"))
    };
    ResponseSchemas {
        success: build(&success),
        failure: build(&failure),
    }
});

/// Reads an OpenAPI 3.0 schema as JSON Schema: `nullable: true` and an `enum` holding `null`
/// (how the Stainless copy marks a nullable object) admit `null`; repeated `required` entries
/// are merged.
fn to_json_schema(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let nullable = map.get("nullable") == Some(&Value::Bool(true))
                || map
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.contains(&Value::Null));
            if nullable {
                if let Some(Value::String(kind)) = map.get("type") {
                    let kind = kind.clone();
                    map.insert("type".to_owned(), json!([kind, "null"]));
                }
                if let Some(Value::Array(values)) = map.get_mut("enum") {
                    if !values.contains(&Value::Null) {
                        values.push(Value::Null);
                    }
                }
            }
            if map
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|e| e == &[Value::Null])
                && map.get("properties").is_some()
            {
                map.remove("enum");
            }
            if let Some(Value::Array(required)) = map.get_mut("required") {
                let mut seen = Vec::new();
                required.retain(|name| {
                    let fresh = !seen.contains(name);
                    seen.push(name.clone());
                    fresh
                });
            }
            map.values_mut().for_each(to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema),
        _ => {}
    }
}

/// Checks a response of the upload endpoint against the official description: a 2xx against
/// the success envelope (`images_image_response_single`), anything else against the failure
/// envelope of its `4XX` response. Returns every difference found.
pub fn check_response(status: u16, body: &[u8]) -> Result<(), Vec<ResponseViolation>> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        vec![ResponseViolation {
            instance_path: String::new(),
            schema_path: String::new(),
            message: format!("the body is not JSON: {e}"),
        }]
    })?;
    let schemas = &*RESPONSES;
    let validator = if (200..300).contains(&status) {
        &schemas.success
    } else {
        &schemas.failure
    };
    let violations: Vec<ResponseViolation> = validator
        .iter_errors(&value)
        .map(|error| ResponseViolation {
            instance_path: error.instance_path().as_str().to_owned(),
            schema_path: error.schema_path().as_str().to_owned(),
            message: error.to_string(),
        })
        .collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_matches_the_official_description() {
        for (name, text) in crate::envelope::FIXTURES {
            let fixture: Value = serde_json::from_str(text).unwrap();
            let status = fixture["status"].as_u64().unwrap() as u16;
            let body = serde_json::to_vec(&fixture["body"]).unwrap();
            if let Err(problems) = check_response(status, &body) {
                panic!("fixtures/{name}: {problems:?}");
            }
            assert!(
                fixture["provenance"]["source"].is_string(),
                "fixtures/{name} has no source"
            );
        }
    }

    #[test]
    fn nullable_and_custom_ids() {
        let result = json!({"id": "a/".repeat(100) + "b", "creator": null, "filename": "a.png",
            "meta": {}, "requireSignedURLs": false, "uploaded": "2014-01-02T02:20:00.123Z",
            "variants": ["https://imagedelivery.net/x/y/public"]});
        let body = json!({"success": true, "errors": [], "messages": [], "result": result});
        check_response(200, body.to_string().as_bytes()).unwrap();
    }

    #[test]
    fn shapes_that_differ_are_reported() {
        let body = json!({"success": true, "errors": [], "messages": [], "result": {"uploaded": "yesterday"}});
        let problems = check_response(200, body.to_string().as_bytes()).unwrap_err();
        assert_eq!(problems[0].instance_path, "/result/uploaded");
        // Codes below 1000 are real (971, the rate limit): see schemas/openapi-patches.json.
        let body = json!({"success": false, "errors": [{"code": "12", "message": "x"}], "messages": [], "result": null});
        let problems = check_response(400, body.to_string().as_bytes()).unwrap_err();
        assert_eq!(problems[0].instance_path, "/errors/0/code");
        assert!(check_response(400, b"<html>").is_err());
    }
}
