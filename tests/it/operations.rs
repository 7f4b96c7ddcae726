//! The strategies of the image update, the two lists and a variant's creation against the
//! offline check of their operation and against the schemas; those of the image update and the
//! two lists against a live mock too.
//!
//! Each offline property runs 1,000 cases (`CF_IMAGES_MOCK_PROPTEST_CASES` sets another
//! number); the live ones a tenth of that, every request a real HTTP request.
#![cfg(feature = "proptest")]

use std::collections::{BTreeSet, HashSet};

use cloudflare_images_mock::conformance::{check_request, check_response, Request};
use cloudflare_images_mock::strategies::{self, InvalidRule};
use cloudflare_images_mock::{MockImages, NewImage, Operation};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::TestCaseError;

use crate::helpers::check;
use serde_json::Value;

use crate::helpers::PNG_1X1;

/// 1,000 cases, or `CF_IMAGES_MOCK_PROPTEST_CASES`.
fn cases() -> u32 {
    crate::helpers::proptest_cases(1000)
}

/// A request of `operation` carrying `value`: the body of an update, the query of a list.
fn request(operation: Operation, value: &[u8]) -> Request<'_> {
    match operation {
        Operation::Update | Operation::CreateVariant => Request::body("application/json", value),
        _ => Request::query(std::str::from_utf8(value).expect("a query is text")),
    }
}

/// The valid values of `operation`, as bytes.
fn valid(operation: Operation) -> BoxedStrategy<Vec<u8>> {
    match operation {
        Operation::Update => strategies::valid_image_update().boxed(),
        Operation::CreateVariant => strategies::valid_variant_body().boxed(),
        Operation::ListV1 => strategies::valid_list_v1_query()
            .prop_map(String::into_bytes)
            .boxed(),
        Operation::ListV2 => strategies::valid_list_v2_query()
            .prop_map(String::into_bytes)
            .boxed(),
        other => unreachable!("{other:?}"),
    }
}

/// The invalid values of `operation`, as bytes, labelled.
fn invalid(operation: Operation) -> BoxedStrategy<(Vec<u8>, InvalidRule)> {
    match operation {
        Operation::Update => strategies::invalid_image_update().boxed(),
        Operation::CreateVariant => strategies::invalid_variant_body().boxed(),
        Operation::ListV1 => strategies::invalid_list_v1_query()
            .prop_map(|(q, rule)| (q.into_bytes(), rule))
            .boxed(),
        Operation::ListV2 => strategies::invalid_list_v2_query()
            .prop_map(|(q, rule)| (q.into_bytes(), rule))
            .boxed(),
        other => unreachable!("{other:?}"),
    }
}

/// The values of `operation` that break `rule`, as bytes.
fn breaking(operation: Operation, rule: InvalidRule) -> BoxedStrategy<Vec<u8>> {
    match operation {
        Operation::Update => strategies::image_update_breaking(rule),
        Operation::CreateVariant => strategies::variant_body_breaking(rule),
        Operation::ListV1 => strategies::list_v1_query_breaking(rule)
            .prop_map(String::into_bytes)
            .boxed(),
        Operation::ListV2 => strategies::list_v2_query_breaking(rule)
            .prop_map(String::into_bytes)
            .boxed(),
        other => unreachable!("{other:?}"),
    }
}

/// The operations whose strategies are checked offline and against the schemas.
const OPERATIONS: [Operation; 4] = [
    Operation::Update,
    Operation::ListV1,
    Operation::ListV2,
    Operation::CreateVariant,
];

/// The operations whose strategies are also sent to a live mock (a variant's creation is not:
/// a mock refuses a second variant of the same id).
const LIVE_OPERATIONS: [Operation; 3] = [Operation::Update, Operation::ListV1, Operation::ListV2];

fn show(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if text.chars().count() > 300 {
        let start: String = text.chars().take(300).collect();
        format!("{start}... ({} bytes)", value.len())
    } else {
        text.into_owned()
    }
}

// ---- offline: the strategies against check_request ------------------------------------------

#[test]
fn check_request_accepts_every_valid_update_query_and_variant() {
    for operation in OPERATIONS {
        check(cases(), valid(operation), |value| {
            if let Err(errors) = check_request(operation, &request(operation, &value)) {
                return Err(TestCaseError::fail(format!(
                    "{operation:?} refused {}: {errors:?}",
                    show(&value)
                )));
            }
            Ok(())
        });
    }
}

#[test]
fn check_request_finds_exactly_the_labelled_rule() {
    for operation in OPERATIONS {
        check(cases(), invalid(operation), |(value, rule)| {
            prop_assert_eq!(rule.operation(), operation);
            let errors = match check_request(operation, &request(operation, &value)) {
                Ok(()) => {
                    return Err(TestCaseError::fail(format!(
                        "{rule} accepted: {}",
                        show(&value)
                    )))
                }
                Err(errors) => errors,
            };
            crate::helpers::refused_by_exactly(&errors, rule, &show(&value))
        });
    }
}

// Every rule has a generator that breaks it and nothing else, the rare ones included.
#[test]
fn every_update_list_and_variant_rule_is_generated_alone() {
    for operation in OPERATIONS {
        for &rule in InvalidRule::of(operation) {
            check(32, breaking(operation, rule), |value| {
                let errors = check_request(operation, &request(operation, &value))
                    .err()
                    .unwrap_or_default();
                let rules: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
                prop_assert_eq!(rules, vec![rule.name()], "{}", show(&value));
                Ok(())
            });
        }
    }
}

// ---- the strategies against the schemas ----------------------------------------------------

/// Every `x-cloudflare-error` annotation below `node`, by rule name.
fn annotations(node: &Value, out: &mut Vec<(String, Value)>, path: String) {
    match node {
        Value::Object(map) => {
            if let Some(annotation) = map.get("x-cloudflare-error") {
                let name = annotation["rule"].as_str().expect("a rule name").to_owned();
                let mut annotation = annotation.clone();
                annotation["path"] = Value::from(path.clone());
                out.push((name, annotation));
            }
            for (key, child) in map {
                annotations(child, out, format!("{path}/{key}"));
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                annotations(child, out, format!("{path}/{i}"));
            }
        }
        _ => {}
    }
}

fn schema_of(operation: Operation) -> Value {
    let text = match operation {
        Operation::Update => include_str!("../../schemas/image-update.schema.json"),
        Operation::ListV1 => include_str!("../../schemas/list-v1.schema.json"),
        Operation::ListV2 => include_str!("../../schemas/list-v2.schema.json"),
        Operation::CreateVariant => include_str!("../../schemas/variant.schema.json"),
        other => unreachable!("{other:?}"),
    };
    serde_json::from_str(text).expect("JSON")
}

// Each rule of the update, list and variant schemas has a generator, with the code and status the schema
// annotates; the rules no schema states are errors of the catalogue. The one exception is a
// rule no query can break: its schema only asks for a string, and every parameter of a query is
// one.
#[test]
fn every_rule_of_the_update_list_and_variant_schemas_has_a_generator() {
    let catalogue: Value =
        serde_json::from_str(include_str!("../../schemas/errors.json")).expect("JSON");
    let mut labels = HashSet::new();
    for operation in OPERATIONS {
        let schema = schema_of(operation);
        let mut found = Vec::new();
        annotations(&schema, &mut found, String::new());
        let generated: BTreeSet<&str> = InvalidRule::of(operation)
            .iter()
            .filter(|rule| rule.in_schema())
            .map(|rule| rule.name())
            .collect();
        for (name, annotation) in &found {
            if generated.contains(name.as_str()) {
                continue;
            }
            // Not reachable from a query: the annotated subschema is `type: string` alone (and
            // the annotation). Anything else must have a generator.
            let path = annotation["path"].as_str().expect("a path");
            let subschema = schema.pointer(path).expect("the annotated subschema");
            let keywords: BTreeSet<&str> = subschema
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "x-cloudflare-error" && *k != "description")
                .collect();
            assert!(
                operation != Operation::Update
                    && operation != Operation::CreateVariant
                    && keywords == BTreeSet::from(["type"])
                    && subschema["type"] == "string",
                "{operation:?}: no generator breaks {name} ({subschema})"
            );
        }
        let annotated: BTreeSet<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
        for &rule in InvalidRule::of(operation) {
            assert!(labels.insert(rule), "{rule:?} is listed twice");
            let entry = if rule.in_schema() {
                assert!(annotated.contains(rule.name()), "{rule:?} is not annotated");
                found
                    .iter()
                    .find(|(name, _)| name == rule.name())
                    .map(|(_, a)| a.clone())
                    .expect("annotated")
            } else {
                catalogue["errors"][rule.name()].clone()
            };
            assert_eq!(entry["code"], rule.code(), "{rule:?}");
            assert_eq!(entry["status"], rule.status(), "{rule:?}");
        }
    }
    let all: HashSet<InvalidRule> = InvalidRule::ALL.iter().copied().collect();
    let by_operation: HashSet<InvalidRule> = [
        Operation::Upload,
        Operation::DirectUploadV2,
        Operation::DirectUploadV1,
    ]
    .into_iter()
    .chain(OPERATIONS)
    .flat_map(|operation| InvalidRule::of(operation).iter().copied())
    .collect();
    assert_eq!(all, by_operation);
    assert_eq!(all.len(), InvalidRule::ALL.len());
}

// ---- live: the mock answers as check_request says ------------------------------------------

/// A mock with one image of a generated id (so that `requireSignedURLs: true` is allowed), and
/// the client and runtime that talk to it.
struct Live {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    mock: MockImages,
    image_id: String,
}

impl Live {
    fn new() -> Live {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mock = runtime.block_on(MockImages::start());
        let image_id = mock.insert_image(NewImage::new(PNG_1X1)).id;
        Live {
            runtime,
            client: reqwest::Client::new(),
            mock,
            image_id,
        }
    }

    /// Sends `value` as a request of `operation`; the status and the body.
    fn send(&self, operation: Operation, value: &[u8]) -> (u16, bytes::Bytes) {
        let v1 = self.mock.upload_url();
        let request = match operation {
            Operation::Update => self
                .client
                .patch(format!("{v1}/{}", self.image_id))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(value.to_vec()),
            Operation::ListV1 => self
                .client
                .get(format!("{v1}?{}", String::from_utf8_lossy(value))),
            _ => {
                let v2 = format!(
                    "{}/accounts/{}/images/v2",
                    self.mock.base_url(),
                    self.mock.account_id()
                );
                self.client
                    .get(format!("{v2}?{}", String::from_utf8_lossy(value)))
            }
        };
        self.runtime.block_on(async {
            let response = request
                .bearer_auth("operations-token")
                .send()
                .await
                .expect("the mock answers");
            let status = response.status().as_u16();
            (status, response.bytes().await.expect("a whole body"))
        })
    }

    /// Sends `value` and checks that the mock's verdict is `check_request`'s: accepted with
    /// `200`, or refused with the status of the first error and exactly the errors' codes,
    /// recorded in the journal by rule; and that the answer is of the official shape.
    fn agrees(&self, operation: Operation, value: &[u8]) -> Result<(), TestCaseError> {
        let verdict = check_request(operation, &request(operation, value));
        let (status, body) = self.send(operation, value);
        let text = String::from_utf8_lossy(&body);
        if let Err(problems) = check_response(operation, status, &body) {
            return Err(TestCaseError::fail(format!(
                "the answer ({status}) is not of the official shape: {problems:?}\n{text}"
            )));
        }
        let record = self.mock.requests().pop().expect("the journal holds it");
        prop_assert_eq!(record.operation, Some(operation));
        match verdict {
            Ok(()) => {
                prop_assert_eq!(status, 200, "{}: {}", show(value), text);
                prop_assert!(record.errors.is_empty(), "{:?}", record.errors);
            }
            Err(errors) => {
                prop_assert_eq!(status, errors[0].status, "{}: {}", show(value), text);
                let json: Value = serde_json::from_slice(&body).expect("a JSON envelope");
                let codes: Vec<u64> = json["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .map(|e| e["code"].as_u64().expect("a code"))
                    .collect();
                let expected: Vec<u64> = errors.iter().map(|e| u64::from(e.code)).collect();
                prop_assert_eq!(codes, expected);
                let recorded: Vec<&str> = record.errors.iter().map(|e| e.rule.as_str()).collect();
                let checked: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
                prop_assert_eq!(recorded, checked);
            }
        }
        Ok(())
    }
}

#[test]
fn the_mock_answers_generated_updates_and_queries_as_check_request_says() {
    let live = Live::new();
    let cases = (cases() / 10).max(16);
    for operation in LIVE_OPERATIONS {
        check(cases, valid(operation), |value| {
            live.agrees(operation, &value)
        });
        check(cases, invalid(operation), |(value, _)| {
            live.agrees(operation, &value)
        });
    }
}

// A page of the v2 list with a continuation token is of the official shape, and the token
// fetches the next page.
#[test]
fn a_v2_page_with_a_continuation_token_is_of_the_official_shape() {
    let live = Live::new();
    for _ in 0..10 {
        live.mock.insert_image(NewImage::new(PNG_1X1));
    }
    let (status, body) = live.send(Operation::ListV2, b"per_page=10");
    assert_eq!(status, 200);
    let page: Value = serde_json::from_slice(&body).expect("JSON");
    let token = page["result"]["continuation_token"]
        .as_str()
        .expect("a token: 11 images, 10 a page")
        .to_owned();
    if let Err(problems) = check_response(Operation::ListV2, status, &body) {
        panic!("{problems:?}\n{page}");
    }
    let next = format!("per_page=10&continuation_token={token}");
    assert!(check_request(Operation::ListV2, &Request::query(&next)).is_ok());
    let (status, body) = live.send(Operation::ListV2, next.as_bytes());
    assert_eq!(status, 200);
    let page: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(page["result"]["images"].as_array().map(Vec::len), Some(1));
}
