//! Direct creator uploads: the v2 multipart form (`POST .../images/v2/direct_upload`) and the
//! deprecated v1 JSON body (`POST .../images/v1/direct_upload`): [`valid_direct_upload`],
//! [`invalid_direct_upload`], [`direct_upload_breaking`] and their v1 twins.
//!
//! The fields a direct upload shares with an upload (`id`, `creator`, `metadata`,
//! `requireSignedURLs`) come from the upload's own generators ([`valid_upload`],
//! [`upload_breaking`]) without the upload's `file` and `url`, so they follow the upload schema
//! as those do; a v1 body holds the JSON object the mock reads from such a form. `expiry` is
//! generated from the window of `schemas/direct-upload.schema.json`.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::draft::text_part;
use super::form::{render, Body as FormBody, BytesSummary, ClientStyle, UploadForm, WirePart};
use super::json::{not_of_types, Body as Json};
use super::rule::InvalidRule;
use super::values::text;
use super::{upload_breaking, valid_upload};
use crate::schema::{self, DIRECT_UPLOAD};
use crate::Operation;

/// How far from the edges of the schema's `expiry` window a generated `expiry` stays (seconds):
/// a valid one is at least this far inside, an out-of-range one at least this far outside. The
/// mock checks `expiry` against its clock when the request arrives, so a request sent within
/// this time of [`DirectUploadRequest::body`] is judged as generated.
pub const EXPIRY_MARGIN_SECONDS: i64 = 60;

/// The bound `bound` (`minimum` or `maximum`) of the schema's `expiry` window, in seconds from
/// now.
fn window(bound: &str) -> i64 {
    DIRECT_UPLOAD
        .keyword(
            "expiry_out_of_range",
            &format!("/x-seconds-from-now/{bound}"),
        )
        .as_i64()
        .unwrap_or_else(|| {
            panic!("schemas/direct-upload.schema.json: expiry's window has no {bound}")
        })
}

/// The `expiry` of a generated request.
#[derive(Debug, Clone)]
enum Expiry {
    /// A date-time this many seconds from the moment the body is written.
    FromNow(i64),
    /// This value as it is (a v2 form sends a string's text; other values as JSON text).
    Value(Value),
}

impl Expiry {
    fn value(&self, now: std::time::SystemTime) -> Value {
        match self {
            Expiry::FromNow(seconds) => {
                let when = time::OffsetDateTime::from(now) + time::Duration::seconds(*seconds);
                Value::String(when.format(&Rfc3339).expect("a date-time formats"))
            }
            Expiry::Value(value) => value.clone(),
        }
    }
}

/// What a request carries besides `expiry`.
#[derive(Clone)]
enum Fields {
    /// v2: a multipart form of text parts.
    Form {
        /// The client that writes the parts (and so `expiry`'s).
        client: ClientStyle,
        /// The custom id sent, if any.
        id: Option<String>,
        boundary: String,
        parts: Vec<WirePart>,
    },
    /// v1: a JSON object.
    Json(Json),
    /// v1: bytes that are no JSON object (no `expiry` is added).
    Raw(Vec<u8>),
}

/// A direct creator upload request, v2 (a multipart form) or v1 (a JSON body), as
/// [`valid_direct_upload`], [`invalid_direct_upload`] and their v1 twins generate it.
///
/// Its `expiry`, if it is a date-time, is relative: [`body`](Self::body) writes it as that many
/// seconds from the moment it is called, by the system clock (the mock's clock), so a value
/// generated now and sent later is still judged as generated. Send the body within
/// [`EXPIRY_MARGIN_SECONDS`] of writing it.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::valid_direct_upload;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let request = valid_direct_upload().new_tree(&mut TestRunner::default()).unwrap().current();
/// let (content_type, body) = (request.content_type(), request.body());
/// assert!(content_type.starts_with("multipart/form-data; boundary="));
/// assert!(check_request(request.operation(), &Request::body(&content_type, &body)).is_ok());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct DirectUploadRequest {
    fields: Fields,
    expiry: Option<Expiry>,
    /// Where `expiry` goes among the fields (modulo their number plus one).
    expiry_at: usize,
}

impl DirectUploadRequest {
    /// The operation the request is for: [`Operation::DirectUploadV2`] for a form,
    /// [`Operation::DirectUploadV1`] for a JSON body.
    pub fn operation(&self) -> Operation {
        match self.fields {
            Fields::Form { .. } => Operation::DirectUploadV2,
            Fields::Json(_) | Fields::Raw(_) => Operation::DirectUploadV1,
        }
    }

    /// The `Content-Type` header to send with [`body`](Self::body).
    pub fn content_type(&self) -> String {
        match &self.fields {
            Fields::Form { boundary, .. } => format!("multipart/form-data; boundary={boundary}"),
            Fields::Json(_) | Fields::Raw(_) => "application/json".to_owned(),
        }
    }

    /// The request body, its `expiry` (if a date-time) written relative to the system clock
    /// now: for a mock with a [`Clock::fixed`](crate::Clock::fixed), use
    /// [`body_at`](Self::body_at) with the mock's clock.
    pub fn body(&self) -> Vec<u8> {
        self.body_at(&crate::Clock::system())
    }

    /// The request body, its `expiry` (if a date-time) written relative to `clock` now (pass
    /// [`MockImages::clock`](crate::MockImages::clock) of the mock the request is for).
    ///
    /// ```
    /// use cloudflare_images_mock::strategies::valid_direct_upload;
    /// use cloudflare_images_mock::Clock;
    /// use proptest::strategy::{Strategy, ValueTree};
    /// use proptest::test_runner::TestRunner;
    ///
    /// let clock = Clock::fixed(std::time::UNIX_EPOCH);
    /// let request = valid_direct_upload().new_tree(&mut TestRunner::default()).unwrap().current();
    /// let body = String::from_utf8_lossy(&request.body_at(&clock)).into_owned();
    /// assert!(request.expiry_seconds().is_none() || body.contains("1970-01-01T"));
    /// ```
    pub fn body_at(&self, clock: &crate::Clock) -> Vec<u8> {
        let now = clock.now();
        let expiry = self.expiry.as_ref().map(|expiry| expiry.value(now));
        match &self.fields {
            Fields::Form {
                client,
                boundary,
                parts,
                ..
            } => {
                let mut parts = parts.clone();
                if let Some(expiry) = expiry {
                    let text = match expiry {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    let at = self.expiry_at % (parts.len() + 1);
                    parts.insert(at, text_part(*client, "expiry", &text));
                }
                render(boundary, &parts)
            }
            Fields::Json(json) => {
                let mut json = json.clone();
                if let Some(expiry) = expiry {
                    let mut fields: Vec<(String, Value)> =
                        std::mem::take(&mut json.fields).into_iter().collect();
                    let at = self.expiry_at % (fields.len() + 1);
                    fields.insert(at, ("expiry".to_owned(), expiry));
                    json.fields = fields.into_iter().collect();
                }
                json.render()
            }
            Fields::Raw(bytes) => bytes.clone(),
        }
    }

    /// The custom id the request asks for, if it sends one as text (a mock takes each custom id
    /// once).
    pub fn id(&self) -> Option<String> {
        match &self.fields {
            Fields::Form { id, .. } => id.clone(),
            Fields::Json(json) => json.fields.get("id")?.as_str().map(str::to_owned),
            Fields::Raw(_) => None,
        }
    }

    /// The `expiry` in seconds from the moment the body is written, if it is a date-time.
    pub fn expiry_seconds(&self) -> Option<i64> {
        match self.expiry {
            Some(Expiry::FromNow(seconds)) => Some(seconds),
            _ => None,
        }
    }
}

impl fmt::Debug for DirectUploadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectUploadRequest")
            .field("operation", &self.operation())
            .field("expiry", &self.expiry)
            .field("content_type", &self.content_type())
            .field("body", &BytesSummary(&self.body()))
            .finish()
    }
}

/// The text parts of an upload form, without its `file` and `url`.
fn text_parts(form: &UploadForm) -> Vec<WirePart> {
    match &form.body {
        FormBody::Multipart { parts, .. } => parts
            .iter()
            .filter(|part| !matches!(part.name.as_deref(), Some("file" | "url")))
            .cloned()
            .collect(),
        FormBody::Raw(_) => panic!("an upload of the shared fields' generators is a form"),
    }
}

/// The v2 request of `form`'s shared fields, with `expiry`.
fn v2(form: UploadForm, expiry: Option<Expiry>, expiry_at: usize) -> DirectUploadRequest {
    let parts = text_parts(&form);
    let boundary = form
        .boundary()
        .expect("an upload of the shared fields' generators is a form")
        .to_owned();
    DirectUploadRequest {
        fields: Fields::Form {
            client: form.client(),
            id: form.params().id.clone(),
            boundary,
            parts,
        },
        expiry,
        expiry_at,
    }
}

/// The v1 request of `form`'s shared fields, with `expiry`: the JSON object the mock reads from
/// the form, so that it keeps or breaks the same rules.
fn v1(
    form: UploadForm,
    expiry: Option<Expiry>,
    expiry_at: usize,
    pretty: bool,
) -> DirectUploadRequest {
    let boundary = form.boundary().expect("a form").to_owned();
    let body = render(&boundary, &text_parts(&form));
    let fields = crate::conformance::read_form(&form.content_type(), &body)
        .and_then(|form| crate::api::direct::form_instance(&form))
        .map(|(fields, _metadata)| fields)
        .unwrap_or_else(|errors| panic!("the shared fields of {form:?} do not read: {errors:?}"));
    DirectUploadRequest {
        fields: Fields::Json(Json { fields, pretty }),
        expiry,
        expiry_at,
    }
}

/// Either [`v1`] or [`v2`] of the same values.
fn of(
    is_v1: bool,
) -> impl Fn((UploadForm, Option<Expiry>, usize, bool)) -> DirectUploadRequest + Clone {
    move |(form, expiry, at, pretty)| {
        if is_v1 {
            v1(form, expiry, at, pretty)
        } else {
            v2(form, expiry, at)
        }
    }
}

/// Seconds from now the schema's window accepts, by [`EXPIRY_MARGIN_SECONDS`] at least: each
/// end as often as the values between.
fn valid_seconds() -> impl Strategy<Value = i64> {
    let (low, high) = (
        window("minimum") + EXPIRY_MARGIN_SECONDS,
        window("maximum") - EXPIRY_MARGIN_SECONDS,
    );
    prop_oneof![Just(low), Just(high), low..=high]
}

/// No `expiry` (the schema's default applies) or one within the window.
fn valid_expiry() -> impl Strategy<Value = Option<Expiry>> {
    proptest::option::of(valid_seconds().prop_map(Expiry::FromNow))
}

/// Texts that are no RFC 3339 date-time, by the mock's own parser: near misses (a date alone,
/// no offset, a space, out-of-range fields, a Unix time) and other text.
fn not_date_time_text() -> impl Strategy<Value = String> {
    let near_misses = select(vec![
        "tomorrow",
        "2030-01-01",
        "2030-01-01T00:00",
        "2030-01-01T00:00:00",
        "2030-13-01T00:00:00Z",
        "2030-01-32T00:00:00Z",
        "2030-01-01T25:00:00Z",
        "1900000000",
        "now + 30 min",
        "PT30M",
        "2030/01/01 00:00:00",
    ])
    .prop_map(str::to_owned);
    prop_oneof![3 => near_misses, 1 => text(1..=24, "")]
        .prop_filter("an RFC 3339 date-time after all", |text| {
            schema::parse_rfc3339(&Value::String(text.clone())).is_none()
        })
}

/// `expiry` values that are no date-time: texts, and for v1 JSON values of other types.
fn not_date_time(is_v1: bool) -> BoxedStrategy<Expiry> {
    let texts = not_date_time_text().prop_map(Value::String);
    if is_v1 {
        prop_oneof![2 => texts, 1 => not_of_types(&["string".to_owned()])]
            .prop_map(Expiry::Value)
            .boxed()
    } else {
        texts.prop_map(Expiry::Value).boxed()
    }
}

/// Bodies that are no JSON object (an empty body is `{}`, so not one of them).
fn not_a_json_object() -> impl Strategy<Value = Vec<u8>> {
    let near_misses = select(vec![
        "{",
        "}",
        "{\"expiry\":",
        "{\"id\":\"cat.png\"",
        "{\"id\":\"cat.png\",}",
        "{id: \"cat.png\"}",
        "{'id': 'cat.png'}",
        "id=cat.png",
        "null",
        "[]",
        "[{}]",
        "\"{}\"",
        "true",
        "42",
    ])
    .prop_map(|text| text.as_bytes().to_vec());
    let cut_short = (valid_direct_upload_v1(), any::<Index>()).prop_map(|(request, at)| {
        let body = request.body();
        body[..at.index(body.len())].to_vec()
    });
    let other_types = not_of_types(&["object".to_owned()])
        .prop_map(|value| serde_json::to_vec(&value).expect("a JSON value serialises"));
    prop_oneof![3 => near_misses, 2 => cut_short, 2 => other_types]
        .prop_filter("a JSON object after all", |body| {
            crate::api::direct::v1_instance(body).is_err()
        })
}

/// v2 direct upload forms the API accepts: any subset of `id`, `creator`, `metadata` and
/// `requireSignedURLs` as [`valid_upload`] writes them (every client style, every metadata
/// encoding, values up to the schema's limits), and `expiry` absent or within the schema's
/// window by [`EXPIRY_MARGIN_SECONDS`] (each end of it included), anywhere among the parts.
///
/// A mock takes each custom id once ([`DirectUploadRequest::id`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(16), |(request in strategies::valid_direct_upload())| {
///     let (content_type, body) = (request.content_type(), request.body());
///     let request = Request::body(&content_type, &body);
///     prop_assert!(check_request(Operation::DirectUploadV2, &request).is_ok());
/// });
/// ```
pub fn valid_direct_upload() -> impl Strategy<Value = DirectUploadRequest> {
    valid(false)
}

/// v1 direct upload JSON bodies the API accepts: the object the mock reads from a value of
/// [`valid_direct_upload`], compact or indented, with `expiry` absent or within the window.
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(16), |(request in strategies::valid_direct_upload_v1())| {
///     let body = request.body();
///     let request = Request::body("application/json", &body);
///     prop_assert!(check_request(Operation::DirectUploadV1, &request).is_ok());
/// });
/// ```
pub fn valid_direct_upload_v1() -> impl Strategy<Value = DirectUploadRequest> {
    valid(true)
}

fn valid(is_v1: bool) -> BoxedStrategy<DirectUploadRequest> {
    (
        valid_upload(),
        valid_expiry(),
        any::<usize>(),
        any::<bool>(),
    )
        .prop_map(of(is_v1))
        .boxed()
}

/// v2 direct upload forms the API refuses, each labelled with the one rule it breaks (one of
/// [`InvalidRule::DIRECT_UPLOAD`]); apart from that rule the form is valid. An out-of-range
/// `expiry` is at least [`EXPIRY_MARGIN_SECONDS`] outside the window (in the past included).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(16), |((request, rule) in strategies::invalid_direct_upload())| {
///     let (content_type, body) = (request.content_type(), request.body());
///     let errors = check_request(Operation::DirectUploadV2, &Request::body(&content_type, &body))
///         .unwrap_err();
///     prop_assert_eq!(errors.len(), 1);
///     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
/// });
/// ```
pub fn invalid_direct_upload() -> impl Strategy<Value = (DirectUploadRequest, InvalidRule)> {
    invalid(InvalidRule::DIRECT_UPLOAD, false)
}

/// v1 direct upload bodies the API refuses, each labelled with the one rule it breaks (one of
/// [`InvalidRule::DIRECT_UPLOAD_V1`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::{strategies, Operation};
/// use proptest::prelude::*;
///
/// proptest!(ProptestConfig::with_cases(16), |((request, rule) in strategies::invalid_direct_upload_v1())| {
///     let body = request.body();
///     let errors = check_request(Operation::DirectUploadV1, &Request::body("application/json", &body))
///         .unwrap_err();
///     prop_assert_eq!(errors.len(), 1);
///     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
/// });
/// ```
pub fn invalid_direct_upload_v1() -> impl Strategy<Value = (DirectUploadRequest, InvalidRule)> {
    invalid(InvalidRule::DIRECT_UPLOAD_V1, true)
}

fn invalid(
    rules: &[InvalidRule],
    is_v1: bool,
) -> Union<BoxedStrategy<(DirectUploadRequest, InvalidRule)>> {
    let arms = rules
        .iter()
        .map(|&rule| {
            breaking(rule, is_v1)
                .prop_map(move |request| (request, rule))
                .boxed()
        })
        .collect::<Vec<_>>();
    Union::new(arms)
}

/// v2 direct upload forms that break `rule` and nothing else (see [`invalid_direct_upload`]).
///
/// # Panics
/// If `rule` is not a rule of a v2 direct upload (not in [`InvalidRule::DIRECT_UPLOAD`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::{direct_upload_breaking, InvalidRule};
/// use cloudflare_images_mock::Operation;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let request = direct_upload_breaking(InvalidRule::ExpiryTooLate)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let (content_type, body) = (request.content_type(), request.body());
/// let errors = check_request(Operation::DirectUploadV2, &Request::body(&content_type, &body))
///     .unwrap_err();
/// assert_eq!(errors[0].rule, "expiry_out_of_range");
/// ```
pub fn direct_upload_breaking(rule: InvalidRule) -> BoxedStrategy<DirectUploadRequest> {
    assert!(
        InvalidRule::DIRECT_UPLOAD.contains(&rule),
        "{rule:?} is a rule of {}, not of a v2 direct upload",
        rule.operation()
    );
    breaking(rule, false)
}

/// v1 direct upload bodies that break `rule` and nothing else (see
/// [`invalid_direct_upload_v1`]).
///
/// # Panics
/// If `rule` is not a rule of a v1 direct upload (not in [`InvalidRule::DIRECT_UPLOAD_V1`]).
///
/// ```
/// use cloudflare_images_mock::conformance::{check_request, Request};
/// use cloudflare_images_mock::strategies::{direct_upload_v1_breaking, InvalidRule};
/// use cloudflare_images_mock::Operation;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let request = direct_upload_v1_breaking(InvalidRule::ExpiryNotDateTime)
///     .new_tree(&mut TestRunner::default())
///     .unwrap()
///     .current();
/// let body = request.body();
/// let errors = check_request(Operation::DirectUploadV1, &Request::body("application/json", &body))
///     .unwrap_err();
/// assert_eq!(errors[0].rule, "expiry_not_date_time");
/// ```
pub fn direct_upload_v1_breaking(rule: InvalidRule) -> BoxedStrategy<DirectUploadRequest> {
    assert!(
        InvalidRule::DIRECT_UPLOAD_V1.contains(&rule),
        "{rule:?} is a rule of {}, not of a v1 direct upload",
        rule.operation()
    );
    breaking(rule, true)
}

fn breaking(rule: InvalidRule, is_v1: bool) -> BoxedStrategy<DirectUploadRequest> {
    if let Some(shared) = rule.shared_upload_rule() {
        return (
            upload_breaking(shared),
            valid_expiry(),
            any::<usize>(),
            any::<bool>(),
        )
            .prop_map(of(is_v1))
            .boxed();
    }
    let with_expiry = |expiry: BoxedStrategy<Expiry>| {
        (
            valid_upload(),
            expiry.prop_map(Some),
            any::<usize>(),
            any::<bool>(),
        )
            .prop_map(of(is_v1))
            .boxed()
    };
    let (min, max) = (window("minimum"), window("maximum"));
    match rule {
        InvalidRule::ExpiryNotDateTime => with_expiry(not_date_time(is_v1)),
        InvalidRule::ExpiryTooSoon => {
            let edge = min - EXPIRY_MARGIN_SECONDS;
            with_expiry(
                prop_oneof![
                    2 => Just(edge),
                    2 => 0..=edge,
                    1 => -400 * 86_400..0i64,
                ]
                .prop_map(Expiry::FromNow)
                .boxed(),
            )
        }
        InvalidRule::ExpiryTooLate => {
            let edge = max + EXPIRY_MARGIN_SECONDS;
            with_expiry(
                prop_oneof![
                    2 => Just(edge),
                    2 => edge..=edge + 86_400,
                    1 => edge..=edge + 3650 * 86_400,
                ]
                .prop_map(Expiry::FromNow)
                .boxed(),
            )
        }
        InvalidRule::DirectUploadV1BodyNotJson if is_v1 => not_a_json_object()
            .prop_map(|body| DirectUploadRequest {
                fields: Fields::Raw(body),
                expiry: None,
                expiry_at: 0,
            })
            .boxed(),
        other => panic!(
            "{other:?} is a rule of {}, not of a {} direct upload",
            other.operation(),
            if is_v1 { "v1" } else { "v2" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn the_window_comes_from_the_schema() {
        assert_eq!((window("minimum"), window("maximum")), (120, 21_600));
    }

    #[test]
    fn expiry_is_written_when_the_body_is() {
        let request = DirectUploadRequest {
            fields: Fields::Json(Json {
                fields: Map::new(),
                pretty: false,
            }),
            expiry: Some(Expiry::FromNow(600)),
            expiry_at: 0,
        };
        let body: Value = serde_json::from_slice(&request.body()).unwrap();
        let when = schema::parse_rfc3339(&body["expiry"]).unwrap();
        let from_now = when
            .duration_since(std::time::SystemTime::now())
            .unwrap()
            .as_secs();
        assert!((590..=600).contains(&from_now), "{from_now}");
        assert_eq!(request.expiry_seconds(), Some(600));
    }
}
