//! Offline checks, no server: does a request pass the rules of the real API, and is a response
//! shaped as the official description says?
//!
//! [`check_request`] runs the very code the mock runs on a request of an operation (the
//! multipart parse, image probe and schema of an upload; the schema of an image update's JSON
//! body; the schema of a list's query); [`check_upload`] is its upload case, returning what the
//! upload holds. [`check_response`] validates an answer against the response schemas that
//! Cloudflare's official OpenAPI description (`schemas/cloudflare-images-openapi.json`) gives
//! the operation, read as JSON Schema.
//!
//! ```
//! use cloudflare_images_mock::{conformance, Operation};
//!
//! let body = br#"{"success":false,"errors":[{"code":5409,"message":"Resource already exists."}],"messages":[],"result":null}"#;
//! assert!(conformance::check_response(Operation::Upload, 409, body).is_ok());
//! let problems = conformance::check_response(Operation::Upload, 200, body).unwrap_err();
//! assert!(problems.iter().any(|p| p.instance_path == "/success"), "{problems:?}");
//!
//! let errors = conformance::check_request(Operation::ListV1, &conformance::Request::query("page=0"))
//!     .unwrap_err();
//! assert_eq!(errors[0].rule, "list_v1_page_invalid");
//! ```

use std::collections::HashMap;
use std::fmt;
use std::pin::pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use jsonschema::Validator;
use serde_json::{json, Map, Value};

use crate::api::{self, direct, images};
use crate::error::ApiError;
use crate::ingest::form as upload;
use crate::ingest::multipart::{self, Limits};
use crate::schema;
use crate::Operation;
use crate::Rule;

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
    /// The metadata, whichever encoding was used; `None` when none was sent.
    pub meta: Option<Map<String, Value>>,
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
    let form = read_form(content_type, body)?;
    let checked = upload::check(form)?;
    Ok(ValidUpload {
        id: checked.id,
        creator: checked.creator,
        meta: checked.meta.as_ref().map(crate::ordered::Object::to_map),
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

/// Reads a multipart form held in memory as the mock reads one (its `Content-Type`, framing and
/// limits), without checking its fields.
pub(crate) fn read_form(content_type: &str, body: &[u8]) -> Result<multipart::Form, Vec<ApiError>> {
    let boundary = multipart::boundary(Some(content_type)).map_err(|e| vec![e])?;
    let stream = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        Bytes::copy_from_slice(body),
    )]);
    let limits = Limits::standard();
    match poll_ready(multipart::read_form(
        boundary,
        stream,
        Some(body.len() as u64),
        &limits,
    )) {
        Some(result) => result.map_err(|e| vec![e]),
        None => unreachable!("a body held in memory is read without waiting"),
    }
}

/// What [`check_request`] reads of a request: its query string, its `Content-Type` header and
/// its body. Each operation reads only its own part: an upload its `Content-Type` and body, an
/// image update its body (its `Content-Type` is not checked, as the mock does not), a list its
/// query.
///
/// ```
/// use cloudflare_images_mock::conformance::Request;
///
/// let list = Request::query("per_page=50&creator=me");
/// assert_eq!(list.query, Some("per_page=50&creator=me"));
/// let update = Request::body("application/json", br#"{"creator":"me"}"#);
/// assert_eq!(update.body, br#"{"creator":"me"}"#);
/// assert_eq!(Request::default().body, b"");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request<'a> {
    /// The query string, without the `?` (`None`: the URL has none).
    pub query: Option<&'a str>,
    /// The `Content-Type` header, if sent.
    pub content_type: Option<&'a str>,
    /// The body (empty when none is sent).
    pub body: &'a [u8],
    /// The time the request is judged at (a direct upload's `expiry` window); `None`: the
    /// system clock's now. [`at`](Self::at) sets it from a mock's clock.
    pub now: Option<std::time::SystemTime>,
}

impl<'a> Request<'a> {
    /// A request with this query string (without the `?`) and no body.
    ///
    /// ```
    /// use cloudflare_images_mock::conformance::{check_request, Request};
    /// use cloudflare_images_mock::Operation;
    ///
    /// assert!(check_request(Operation::ListV2, &Request::query("meta.status[eq]=active")).is_ok());
    /// ```
    pub fn query(query: &'a str) -> Request<'a> {
        Request {
            query: Some(query),
            ..Request::default()
        }
    }

    /// A request with this `Content-Type` header and body, and no query string.
    ///
    /// ```
    /// use cloudflare_images_mock::conformance::{check_request, Request};
    /// use cloudflare_images_mock::Operation;
    ///
    /// let update = Request::body("application/json", br#"{"requireSignedURLs":"yes"}"#);
    /// let errors = check_request(Operation::Update, &update).unwrap_err();
    /// assert_eq!(errors[0].rule, "update_require_signed_urls_not_boolean");
    /// ```
    pub fn body(content_type: &'a str, body: &'a [u8]) -> Request<'a> {
        Request {
            content_type: Some(content_type),
            body,
            ..Request::default()
        }
    }

    /// The same request, judged at `clock`'s now: a direct upload's `expiry` is checked against
    /// it, as a mock with that clock checks it.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use cloudflare_images_mock::conformance::{check_request, Request};
    /// use cloudflare_images_mock::{Clock, Operation};
    ///
    /// let clock = Clock::fixed(UNIX_EPOCH + Duration::from_secs(1_577_836_800)); // 2020-01-01
    /// let body = br#"{"expiry":"2020-01-01T01:00:00Z"}"#;
    /// let request = Request::body("application/json", body);
    /// assert!(check_request(Operation::DirectUploadV1, &request.at(&clock)).is_ok());
    /// assert!(check_request(Operation::DirectUploadV1, &request).is_err()); // long past now
    /// ```
    pub fn at(self, clock: &crate::Clock) -> Request<'a> {
        Request {
            now: Some(clock.now()),
            ..self
        }
    }

    /// The same request with this query string as well.
    ///
    /// ```
    /// use cloudflare_images_mock::conformance::Request;
    ///
    /// let request = Request::body("application/json", b"{}").with_query("x=1");
    /// assert_eq!((request.query, request.body), (Some("x=1"), &b"{}"[..]));
    /// ```
    pub fn with_query(self, query: &'a str) -> Request<'a> {
        Request {
            query: Some(query),
            ..self
        }
    }
}

/// Checks a request of `operation` offline, with the code the mock runs on it before it looks
/// at the stored images, and returns every violation found (rule, code, status and message as
/// the mock answers them):
///
/// - [`Operation::Upload`]: the `Content-Type` and body, as [`check_upload`] (a `url` upload is
///   checked as far as its form goes).
/// - [`Operation::Update`]: the JSON body: at most the bytes the mock reads (`body_too_large`),
///   then the rules of `schemas/image-update.schema.json`. The rules that need the stored image
///   are not checked: a missing image (`5404`, which the mock answers first), and
///   `requireSignedURLs: true` on an image with a custom id (`5410`, rule
///   `id_with_signed_urls`).
/// - [`Operation::ListV1`], [`Operation::ListV2`]: the query, under
///   `schemas/list-v1.schema.json` and `schemas/list-v2.schema.json`; for the v2 list, a
///   `continuation_token` must also be one the mock could have issued (`bad_continuation_token`).
/// - [`Operation::CreateVariant`], [`Operation::UpdateVariant`]: the JSON body, under
///   `schemas/variant.schema.json` (an update's variant id is in its path, which a `Request`
///   does not carry: its own rules are not checked).
/// - [`Operation::DirectUploadV2`], [`Operation::DirectUploadV1`]: the multipart form (v2, or a
///   v1 request whose `Content-Type` is multipart) or the JSON body (v1: at most the bytes the
///   mock reads, then a JSON object, an empty body being `{}`); its shared fields under the
///   upload schema's rules and its `expiry` under `schemas/direct-upload.schema.json`, against
///   [`Request::now`] (by default the system clock at the time of the check). A custom id
///   already taken is not checked.
/// - The other operations the mock serves read neither query nor body: always `Ok`. Those it
///   does not serve get the `501` it answers (rule `not_mocked`).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::Operation;
///
/// let patch = Request::body("application/json", br#"{"creator":"me","metadata":{"k":1}}"#);
/// assert!(check_request(Operation::Update, &patch).is_ok());
///
/// let errors = check_request(Operation::ListV2, &Request::query("meta.a[not-eq]=1")).unwrap_err();
/// assert_eq!((errors[0].code, errors[0].status), (5400, 400));
/// assert_eq!(errors[0].message, "Unsupported metadata filter operator: 'not-eq'");
///
/// assert!(check_request(Operation::Get, &Request::default()).is_ok());
/// ```
pub fn check_request(operation: Operation, request: &Request<'_>) -> Result<(), Vec<ApiError>> {
    if let Some(error) = operation.not_served() {
        return Err(vec![error]);
    }
    match operation {
        Operation::Upload => {
            let content_type = request.content_type.unwrap_or("");
            check_upload(content_type, request.body).map(drop)
        }
        Operation::Update => images::update_request(request.body).map(drop),
        Operation::ListV1 => crate::params::list_v1(request.query).map(drop),
        Operation::ListV2 => images::list_v2_request(request.query).map(drop),
        Operation::CreateVariant => crate::params::variant(request.body, None).map(drop),
        // The path names the variant; its own rules (length, no `/`) cannot be checked without
        // it, so a name that passes them stands in.
        Operation::UpdateVariant => crate::params::variant(request.body, Some("variant")).map(drop),
        Operation::DirectUploadV1 | Operation::DirectUploadV2 => {
            let v1 = operation == Operation::DirectUploadV1;
            let instance = if direct::reads_form(v1, request.content_type) {
                let content_type = request.content_type.unwrap_or("");
                read_form(content_type, request.body).and_then(|form| direct::form_instance(&form))
            } else if request.body.len() > api::MAX_JSON_BODY {
                Err(vec![schema::catalogue_error(Rule::BodyTooLarge, &[])])
            } else {
                direct::v1_instance(request.body)
            };
            instance
                .and_then(|(instance, metadata)| {
                    let now = request.now.unwrap_or_else(|| crate::Clock::system().now());
                    direct::check(instance, metadata, now)
                })
                .map(drop)
        }
        _ => Ok(()),
    }
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

/// The official description with the corrections of `schemas/openapi-patches.json` applied,
/// read as JSON Schema throughout (see [`to_json_schema`]).
static OPENAPI_DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let mut openapi: Value = serde_json::from_str(OPENAPI)
        .unwrap_or_else(|e| panic!("schemas/cloudflare-images-openapi.json: {e}"));
    let patches: Value = serde_json::from_str(PATCHES)
        .unwrap_or_else(|e| panic!("schemas/openapi-patches.json: {e}"));
    for patch in patches["patches"].as_array().expect("patches is an array") {
        let path = patch["path"].as_str().expect("a patch has a path");
        let (parent, key) = path.rsplit_once('/').expect("a patch path has a parent");
        let object = openapi
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("schemas/openapi-patches.json: no object at {parent}"));
        match patch["op"].as_str() {
            Some("remove") => assert!(
                object.remove(key).is_some(),
                "schemas/openapi-patches.json: nothing at {path}"
            ),
            Some("add") => assert!(
                object
                    .insert(key.to_owned(), patch["value"].clone())
                    .is_none(),
                "schemas/openapi-patches.json: {path} is already there"
            ),
            other => panic!("schemas/openapi-patches.json: unknown op {other:?} at {path}"),
        }
    }
    to_json_schema(&mut openapi);
    openapi
});

/// The `responses` of the operation whose `operationId` is `operation_id`.
fn responses(operation_id: &str) -> &'static Map<String, Value> {
    let paths = OPENAPI_DOCUMENT["paths"]
        .as_object()
        .expect("the official description has paths");
    paths
        .values()
        .filter_map(Value::as_object)
        .flat_map(|methods| methods.values())
        .find(|operation| operation["operationId"] == operation_id)
        .and_then(|operation| operation["responses"].as_object())
        .unwrap_or_else(|| panic!("the official description has no operation {operation_id}"))
}

/// The key of the response that describes `status` in `responses`: the status itself, else its
/// class (`4XX`), else `default`; a status the description does not describe (the mock's `501`
/// for an operation it does not serve, a staged `500`) is held to the `4XX` failure envelope,
/// the only failure the description gives most operations.
fn response_key(responses: &Map<String, Value>, status: u16) -> Option<String> {
    let class = format!("{}XX", status / 100);
    [status.to_string(), class, "default".to_owned()]
        .into_iter()
        .find(|key| responses.contains_key(key))
        .or_else(|| {
            (!(200..300).contains(&status) && responses.contains_key("4XX"))
                .then(|| "4XX".to_owned())
        })
}

/// The validator of the JSON body of response `key` of `operation`, compiled once per process;
/// `None` when the description gives that response no JSON body (a blob's `image/*`).
fn response_validator(operation: Operation, key: &str) -> Option<Arc<Validator>> {
    type Cache = Mutex<HashMap<(Operation, String), Option<Arc<Validator>>>>;
    static VALIDATORS: LazyLock<Cache> = LazyLock::new(Cache::default);
    let cache_key = (operation, key.to_owned());
    if let Some(validator) = VALIDATORS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&cache_key)
    {
        return validator.clone();
    }
    let schema = responses(operation.operation_id())[key]
        .pointer("/content/application~1json/schema")
        .map(|schema| {
            let schema = json!({
                "components": OPENAPI_DOCUMENT["components"],
                "allOf": [schema],
            });
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| {
                    panic!(
                        "the official {key} response schema of {} does not compile: {e}",
                        operation.operation_id()
                    )
                });
            Arc::new(validator)
        });
    VALIDATORS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(cache_key, schema.clone());
    schema
}

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

/// Checks an answer of `operation` against the response the official description gives it for
/// `status`: the status itself (the v2 list's `400`), else its class (`200` is described as
/// such; failures as `4XX`). A status the description does not describe (the mock's `501` for
/// an operation it does not serve, a staged `500`) is held to the operation's `4XX` failure
/// envelope. Returns every difference found.
///
/// Answers that are not JSON envelopes:
///
/// - A response the description gives no JSON body (the original bytes of
///   [`Operation::Blob`], `image/*`): the body is not checked.
/// - `404` to an operation on one image ([`Operation::Get`], [`Operation::Update`],
///   [`Operation::Delete`], [`Operation::Blob`]): the real API answers a missing image in plain
///   text, `ERROR 5404: Image not found` and a line break (recorded; the mock answers the
///   same), which passes; so does the recorded `variant not found` of a missing variant
///   ([`Operation::GetVariant`] and the other operations on one variant). Any other body of a
///   `404` is checked as the failure envelope.
///
/// Answers of the API gateway rather than the Images service (credentials, the `Authorization`
/// header's format, routing: `9106`, `10000`, `6003`, `7003`/`7000`, `7001`) are held to the body
/// recorded for their code (its `envelope` in `schemas/errors.json`: the members in order,
/// `success: false`, errors of `code`, `message` and an optional `error_chain`), not to the
/// Images envelope: the gateway's `10000` has no `messages` and no `result`, as recorded.
///
/// Any other body that is not JSON is a violation at the root.
///
/// ```
/// use cloudflare_images_mock::{conformance, Operation};
///
/// let listed = br#"{"success":true,"errors":[],"messages":[],"result":{"images":[]}}"#;
/// assert!(conformance::check_response(Operation::ListV1, 200, listed).is_ok());
/// // An image's details are JSON; the bytes of the image are the blob's answer.
/// assert!(conformance::check_response(Operation::Get, 200, b"\x89PNG...").is_err());
///
/// let missing = b"ERROR 5404: Image not found\n";
/// assert!(conformance::check_response(Operation::Get, 404, missing).is_ok());
/// assert!(conformance::check_response(Operation::ListV1, 404, missing).is_err());
/// assert!(conformance::check_response(Operation::Blob, 200, b"\x89PNG...").is_ok());
/// ```
pub fn check_response(
    operation: Operation,
    status: u16,
    body: &[u8],
) -> Result<(), Vec<ResponseViolation>> {
    let root = |message: String| {
        vec![ResponseViolation {
            instance_path: String::new(),
            schema_path: String::new(),
            message,
        }]
    };
    if status == 404 && api::not_found_text(operation).is_some_and(|text| body == text.as_bytes()) {
        return Ok(());
    }
    if (400..500).contains(&status) && is_gateway_answer(body) {
        return Ok(());
    }
    let Some(key) = response_key(responses(operation.operation_id()), status) else {
        return Err(root(format!(
            "the official description gives {} no {status} response",
            operation.operation_id()
        )));
    };
    let Some(validator) = response_validator(operation, &key) else {
        return Ok(());
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| root(format!("the body is not JSON: {e}")))?;
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

/// Whether `body` is an answer of the API gateway in the shape recorded for its first code.
fn is_gateway_answer(body: &[u8]) -> bool {
    let Ok(Value::Object(value)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let Some(errors) = value.get("errors").and_then(Value::as_array) else {
        return false;
    };
    let Some(code) = errors
        .first()
        .and_then(|e| e.get("code"))
        .and_then(Value::as_u64)
    else {
        return false;
    };
    let keys: Vec<&str> = value.keys().map(String::as_str).collect();
    let shaped = schema::gateway_envelopes_of_code(code)
        .iter()
        .any(|envelope| envelope.iter().map(String::as_str).eq(keys.iter().copied()));
    let entry = |error: &Value| {
        let Value::Object(error) = error else {
            return false;
        };
        let link = |link: &Value| link["code"].is_u64() && link["message"].is_string();
        error["code"].is_u64()
            && error["message"].is_string()
            && error
                .keys()
                .all(|k| ["code", "message", "error_chain"].contains(&k.as_str()))
            && error
                .get("error_chain")
                .is_none_or(|chain| chain.as_array().is_some_and(|c| c.iter().all(link)))
    };
    shaped
        && value["success"] == Value::Bool(false)
        && value
            .get("messages")
            .is_none_or(|m| m == &Value::Array(Vec::new()))
        && value.get("result").is_none_or(Value::is_null)
        && errors.iter().all(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_matches_the_official_description() {
        for (name, text) in crate::envelope::FIXTURES {
            let fixture: Value = serde_json::from_str(text).unwrap();
            let status = fixture["status"].as_u64().unwrap() as u16;
            // A recorded raw body is a string, sent as it is; the others are JSON values.
            let body = match &fixture["body"] {
                Value::String(raw) => raw.clone().into_bytes(),
                body => serde_json::to_vec(body).unwrap(),
            };
            let operation = match name {
                "get-image.json" | "get-image-draft.json" => Operation::Get,
                "get-images.json" => Operation::ListV1,
                "patch-image.json" => Operation::Update,
                "delete-image.json" | "delete-image-not-found.json" => Operation::Delete,
                _ => Operation::Upload,
            };
            if let Err(problems) = check_response(operation, status, &body) {
                panic!("fixtures/{name}: {problems:?}");
            }
            for key in ["source", "recorded", "templated", "redacted"] {
                assert!(
                    fixture["provenance"][key].is_string(),
                    "fixtures/{name} has no provenance.{key}"
                );
            }
        }
    }

    #[test]
    fn direct_uploads_are_checked_by_the_servers_code() {
        let rules = |operation, content_type: &str, body: &[u8]| -> Vec<String> {
            check_request(operation, &Request::body(content_type, body))
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.rule.name().to_owned())
                .collect()
        };
        let in_ = |seconds: i64| {
            let when = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
            when.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let form = |parts: &[(&str, &str)]| {
            let mut body = String::new();
            for (name, value) in parts {
                body.push_str(&format!(
                    "--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                ));
            }
            body.push_str("--b--\r\n");
            body
        };
        let v2 = |parts: &[(&str, &str)]| {
            rules(
                Operation::DirectUploadV2,
                "multipart/form-data; boundary=b",
                form(parts).as_bytes(),
            )
        };
        let soon = in_(600);
        assert!(v2(&[
            ("expiry", &soon),
            ("id", "cat.png"),
            ("metadata", "{\"k\":1}")
        ])
        .is_empty());
        assert!(v2(&[("creator", "me")]).is_empty());
        assert_eq!(v2(&[("expiry", "tomorrow")]), ["expiry_not_date_time"]);
        assert_eq!(v2(&[("expiry", &in_(30))]), ["expiry_out_of_range"]);
        assert_eq!(v2(&[("expiry", &in_(-30))]), ["expiry_out_of_range"]);
        assert_eq!(v2(&[("expiry", &in_(86_400))]), ["expiry_out_of_range"]);
        assert_eq!(
            v2(&[("id", "x"), ("requireSignedURLs", "true")]),
            ["id_with_signed_urls"]
        );
        assert_eq!(
            v2(&[("requireSignedURLs", "yes")]),
            ["require_signed_urls_not_boolean"]
        );
        assert_eq!(
            v2(&[("expiry", "a"), ("expiry", "b")]),
            ["malformed_multipart"]
        );
        assert_eq!(
            rules(Operation::DirectUploadV2, "application/json", b"{}"),
            ["not_multipart"]
        );

        let v1 = |body: &str| {
            rules(
                Operation::DirectUploadV1,
                "application/json",
                body.as_bytes(),
            )
        };
        assert!(v1("").is_empty());
        assert!(v1(&format!("{{\"expiry\":\"{soon}\",\"id\":\"a/b\"}}")).is_empty());
        assert_eq!(v1("[]"), ["direct_upload_v1_body_not_json"]);
        assert_eq!(v1("{\"expiry\":5}"), ["expiry_not_date_time"]);
        assert_eq!(v1("{\"metadata\":\"x\"}"), ["metadata_not_object"]);
        assert_eq!(v1("{\"creator\":7}"), ["creator_too_long"]);
        let big = vec![b' '; crate::api::MAX_JSON_BODY + 1];
        assert_eq!(
            rules(Operation::DirectUploadV1, "application/json", &big),
            ["body_too_large"]
        );
        // A v1 request with a multipart Content-Type is read as v2's form.
        assert_eq!(
            rules(
                Operation::DirectUploadV1,
                "multipart/form-data; boundary=b",
                form(&[("expiry", "no")]).as_bytes()
            ),
            ["expiry_not_date_time"]
        );
    }

    #[test]
    fn requests_are_checked_by_the_servers_code_for_their_operation() {
        let rules = |operation, request: &Request<'_>| -> Vec<String> {
            check_request(operation, request)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.rule.name().to_owned())
                .collect()
        };
        let big = vec![b' '; crate::api::MAX_JSON_BODY + 1];
        let update = |body| rules(Operation::Update, &Request::body("application/json", body));
        assert_eq!(update(&big), ["body_too_large"]);
        assert_eq!(update(b""), ["update_body_not_json"]);
        assert!(update(b" {} ").is_empty());
        let v2 = |query| rules(Operation::ListV2, &Request::query(query));
        assert_eq!(v2("continuation_token=zz"), ["bad_continuation_token"]);
        assert_eq!(
            v2("per_page=1&sort_order=up"),
            ["list_v2_per_page_invalid", "list_v2_sort_order_invalid"]
        );
        assert!(v2("").is_empty());
        assert_eq!(
            rules(Operation::ListV1, &Request::default()),
            Vec::<String>::new()
        );
        assert_eq!(
            rules(Operation::Upload, &Request::default()),
            ["not_multipart"]
        );
        assert_eq!(
            rules(Operation::CreateVariant, &Request::default()),
            ["variant_body_not_json"]
        );
        let patch = br#"{"options":{"fit":"cover","width":1,"height":1,"metadata":"none"}}"#;
        assert!(check_request(
            Operation::UpdateVariant,
            &Request::body("application/json", patch)
        )
        .is_ok());
    }

    #[test]
    fn responses_are_checked_against_their_operations_description() {
        let failure = br#"{"success":false,"errors":[{"code":5400,"message":"x"}],"messages":[],"result":null}"#;
        for operation in Operation::ALL {
            assert!(
                check_response(operation, 400, failure).is_ok(),
                "{operation:?}"
            );
            assert!(
                check_response(operation, 501, failure).is_ok(),
                "{operation:?}"
            );
        }
        let text = b"ERROR 5404: Image not found\n";
        for operation in [
            Operation::Get,
            Operation::Update,
            Operation::Delete,
            Operation::Blob,
        ] {
            assert!(
                check_response(operation, 404, text).is_ok(),
                "{operation:?}"
            );
            assert!(check_response(operation, 404, b"ERROR 5404: x\n").is_err());
        }
        assert!(check_response(Operation::Upload, 404, text).is_err());
        let page = |result: Value| {
            json!({"success": true, "errors": [], "messages": [], "result": result}).to_string()
        };
        let v2 = page(json!({"images": [], "continuation_token": null}));
        assert!(check_response(Operation::ListV2, 200, v2.as_bytes()).is_ok());
        let stats = page(json!({"count": {"allowed": 100000, "current": 0}}));
        assert!(check_response(Operation::Stats, 200, stats.as_bytes()).is_ok());
        let stats = page(json!({"count": {"allowed": "many"}}));
        let problems = check_response(Operation::Stats, 200, stats.as_bytes()).unwrap_err();
        assert_eq!(problems[0].instance_path, "/result/count/allowed");
    }

    #[test]
    fn every_patch_says_why_and_on_what_evidence() {
        let patches: Value = serde_json::from_str(PATCHES).unwrap();
        for patch in patches["patches"].as_array().unwrap() {
            for key in ["why", "evidence"] {
                let text = patch[key].as_str().unwrap_or_default();
                assert!(!text.is_empty(), "{patch} has no {key}");
            }
        }
        LazyLock::force(&OPENAPI_DOCUMENT);
    }

    #[test]
    fn a_result_without_creator_and_meta_passes() {
        // As recorded: no `creator` key when none was set, no `meta` key when no metadata was
        // sent (RECORDED.md section 0 finding 4); the description requires neither.
        let result = json!({"id": "a", "filename": "a.png", "uploaded": "2014-01-02T02:20:00.123Z",
            "requireSignedURLs": false, "variants": ["https://imagedelivery.net/x/a/public"]});
        let body = json!({"result": result, "success": true, "errors": [], "messages": []});
        let pretty = serde_json::to_string_pretty(&body).unwrap();
        for operation in [Operation::Upload, Operation::Get, Operation::Update] {
            check_response(operation, 200, pretty.as_bytes()).unwrap();
        }
        let listed = json!({"result": {"images": [result]}, "success": true, "errors": [],
            "messages": []});
        check_response(Operation::ListV1, 200, listed.to_string().as_bytes()).unwrap();
    }

    #[test]
    fn nullable_and_custom_ids() {
        let result = json!({"id": "a/".repeat(100) + "b", "creator": null, "filename": "a.png",
            "meta": {}, "requireSignedURLs": false, "uploaded": "2014-01-02T02:20:00.123Z",
            "variants": ["https://imagedelivery.net/x/y/public"]});
        let body = json!({"success": true, "errors": [], "messages": [], "result": result});
        check_response(Operation::Upload, 200, body.to_string().as_bytes()).unwrap();
    }

    #[test]
    fn shapes_that_differ_are_reported() {
        let body = json!({"success": true, "errors": [], "messages": [], "result": {"uploaded": "yesterday"}});
        let problems =
            check_response(Operation::Upload, 200, body.to_string().as_bytes()).unwrap_err();
        assert_eq!(problems[0].instance_path, "/result/uploaded");
        // Codes below 1000 are real (971, the rate limit): see schemas/openapi-patches.json.
        let body = json!({"success": false, "errors": [{"code": "12", "message": "x"}], "messages": [], "result": null});
        let problems =
            check_response(Operation::Upload, 400, body.to_string().as_bytes()).unwrap_err();
        assert_eq!(problems[0].instance_path, "/errors/0/code");
        assert!(check_response(Operation::Upload, 400, b"<html>").is_err());
    }
}
