//! The strategies of the direct creator uploads (the v2 form and the v1 JSON body) against the
//! offline check of their operation, against the schemas, and against a live mock.
//!
//! Each offline property runs 1,000 cases (`CF_IMAGES_MOCK_PROPTEST_CASES` sets another
//! number); the live ones a tenth of that, every request a real HTTP request. A generated
//! `expiry` is written when the body is, relative to the clock then, and stays
//! `EXPIRY_MARGIN_SECONDS` away from the edges of the schema's window, so the mock judges it
//! as generated.
#![cfg(feature = "proptest")]

use std::collections::{BTreeSet, HashSet};

use cloudflare_images_mock::conformance::{check_request, check_response, Request};
use cloudflare_images_mock::strategies::{self, DirectUploadRequest, InvalidRule};
use cloudflare_images_mock::{MockImages, Operation};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::TestCaseError;

use crate::helpers::check;
use serde_json::Value;

/// 1,000 cases, or `CF_IMAGES_MOCK_PROPTEST_CASES`.
fn cases() -> u32 {
    crate::helpers::proptest_cases(1000)
}

const OPERATIONS: [Operation; 2] = [Operation::DirectUploadV2, Operation::DirectUploadV1];

fn valid(operation: Operation) -> BoxedStrategy<DirectUploadRequest> {
    match operation {
        Operation::DirectUploadV2 => strategies::valid_direct_upload().boxed(),
        _ => strategies::valid_direct_upload_v1().boxed(),
    }
}

fn invalid(operation: Operation) -> BoxedStrategy<(DirectUploadRequest, InvalidRule)> {
    match operation {
        Operation::DirectUploadV2 => strategies::invalid_direct_upload().boxed(),
        _ => strategies::invalid_direct_upload_v1().boxed(),
    }
}

fn breaking(operation: Operation, rule: InvalidRule) -> BoxedStrategy<DirectUploadRequest> {
    match operation {
        Operation::DirectUploadV2 => strategies::direct_upload_breaking(rule),
        _ => strategies::direct_upload_v1_breaking(rule),
    }
}

/// The verdict of `check_request` on `request`, its body written now.
fn verdict(
    request: &DirectUploadRequest,
) -> (Vec<u8>, Result<(), Vec<cloudflare_images_mock::ApiError>>) {
    let (content_type, body) = (request.content_type(), request.body());
    let verdict = check_request(request.operation(), &Request::body(&content_type, &body));
    (body, verdict)
}

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
fn check_request_accepts_every_valid_direct_upload() {
    for operation in OPERATIONS {
        check(cases(), valid(operation), |request| {
            prop_assert_eq!(request.operation(), operation);
            let (body, verdict) = verdict(&request);
            if let Err(errors) = verdict {
                return Err(TestCaseError::fail(format!(
                    "{operation:?} refused {}: {errors:?}",
                    show(&body)
                )));
            }
            Ok(())
        });
    }
}

#[test]
fn check_request_finds_exactly_the_labelled_rule_of_a_direct_upload() {
    for operation in OPERATIONS {
        check(cases(), invalid(operation), |(request, rule)| {
            prop_assert_eq!(request.operation(), operation);
            prop_assert!(InvalidRule::of(operation).contains(&rule));
            let (body, verdict) = verdict(&request);
            let Err(errors) = verdict else {
                return Err(TestCaseError::fail(format!(
                    "{rule} accepted: {}",
                    show(&body)
                )));
            };
            crate::helpers::refused_by_exactly(&errors, rule, &show(&body))
        });
    }
}

// Every rule has a generator that breaks it and nothing else, the rare ones included.
#[test]
fn every_direct_upload_rule_is_generated_alone() {
    for operation in OPERATIONS {
        for &rule in InvalidRule::of(operation) {
            check(32, breaking(operation, rule), |request| {
                let (body, verdict) = verdict(&request);
                let rules: Vec<String> = verdict
                    .err()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| e.rule.name().to_owned())
                    .collect();
                prop_assert_eq!(rules, vec![rule.name()], "{:?}: {}", rule, show(&body));
                Ok(())
            });
        }
    }
}

// ---- the strategies against the schemas ----------------------------------------------------

/// Every `x-cloudflare-error` annotation below `node`: its path and the annotation.
fn annotations(node: &Value, out: &mut Vec<(String, Value)>, path: String) {
    match node {
        Value::Object(map) => {
            if let Some(annotation) = map.get("x-cloudflare-error") {
                out.push((path.clone(), annotation.clone()));
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

/// Every field name a `required` keyword below `node` asks for.
fn required(node: &Value, out: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Array(fields)) = map.get("required") {
                out.extend(fields.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            map.values().for_each(|child| required(child, out));
        }
        Value::Array(items) => items.iter().for_each(|child| required(child, out)),
        _ => {}
    }
}

// The rules a direct upload can break, read from the schemas: every rule of
// `direct-upload.schema.json`, and every rule of `upload.schema.json` about the fields it shares
// (`x-upload-fields`: a rule under their properties, or a rule that requires only them), but
// those it does not apply (`x-upload-rules-not-applied`). Each has a generator of v1 and of v2
// (but the v1 body's own rule, of v1 only), with the code and status the schema annotates.
#[test]
fn every_rule_of_the_direct_upload_schema_has_a_generator() {
    let direct: Value =
        serde_json::from_str(include_str!("../../schemas/direct-upload.schema.json"))
            .expect("JSON");
    let upload: Value =
        serde_json::from_str(include_str!("../../schemas/upload.schema.json")).expect("JSON");
    let names = |key: &str| -> BTreeSet<String> {
        direct[key]
            .as_array()
            .expect("a list")
            .iter()
            .map(|name| name.as_str().expect("a name").to_owned())
            .collect()
    };
    let (shared, not_applied) = (
        names("x-upload-fields"),
        names("x-upload-rules-not-applied"),
    );
    let mut expected: Vec<(String, Value)> = Vec::new();
    let mut found = Vec::new();
    annotations(&upload, &mut found, String::new());
    for (path, annotation) in found {
        let name = annotation["rule"].as_str().expect("a rule").to_owned();
        let about_shared = shared
            .iter()
            .any(|field| path.starts_with(&format!("/properties/{field}")));
        let mut fields = BTreeSet::new();
        required(upload.pointer(&path).expect("annotated"), &mut fields);
        let requires_shared = !fields.is_empty() && fields.is_subset(&shared);
        if (about_shared || requires_shared) && !not_applied.contains(&name) {
            expected.push((name, annotation));
        }
    }
    let mut own = Vec::new();
    annotations(&direct, &mut own, String::new());
    expected.extend(
        own.into_iter()
            .map(|(_, a)| (a["rule"].as_str().expect("a rule").to_owned(), a)),
    );
    assert!(expected.len() >= 13, "{expected:?}");

    for operation in OPERATIONS {
        let generated: BTreeSet<&str> = InvalidRule::of(operation)
            .iter()
            .map(|rule| rule.name())
            .collect();
        for (name, _) in &expected {
            let v1_only = name == "direct_upload_v1_body_not_json";
            assert!(
                generated.contains(name.as_str())
                    || (v1_only && operation != Operation::DirectUploadV1),
                "{operation:?}: no generator breaks {name}"
            );
        }
        for &rule in InvalidRule::of(operation) {
            assert!(rule.in_schema(), "{rule:?}");
            let (_, annotation) = expected
                .iter()
                .find(|(name, _)| name == rule.name())
                .unwrap_or_else(|| panic!("{rule:?} is no rule of a direct upload"));
            assert_eq!(annotation["code"], rule.code(), "{rule:?}");
            assert_eq!(annotation["status"], rule.status(), "{rule:?}");
        }
    }
    // Each expiry rule is broken both ways the window allows.
    let v2: HashSet<InvalidRule> = InvalidRule::DIRECT_UPLOAD.iter().copied().collect();
    assert!(v2.contains(&InvalidRule::ExpiryTooSoon) && v2.contains(&InvalidRule::ExpiryTooLate));
}

// ---- live: a real mock answers as check_request says ------------------------------------------

struct Live {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    mock: MockImages,
}

impl Live {
    fn new() -> Live {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mock = runtime.block_on(MockImages::start());
        Live {
            runtime,
            client: reqwest::Client::new(),
            mock,
        }
    }

    /// Sends `request`; the status and the body.
    fn send(&self, request: &DirectUploadRequest) -> (u16, bytes::Bytes) {
        let version = match request.operation() {
            Operation::DirectUploadV2 => "v2",
            _ => "v1",
        };
        let url = format!(
            "{}/accounts/{}/images/{version}/direct_upload",
            self.mock.base_url(),
            self.mock.account_id()
        );
        let sent = self
            .client
            .post(url)
            .bearer_auth("direct-token")
            .header(reqwest::header::CONTENT_TYPE, request.content_type())
            .body(request.body());
        self.runtime.block_on(async {
            let response = sent.send().await.expect("the mock answers");
            let status = response.status().as_u16();
            (status, response.bytes().await.expect("a whole body"))
        })
    }
}

#[test]
fn a_real_mock_creates_a_draft_for_every_valid_direct_upload() {
    let live = Live::new();
    let mut taken = HashSet::new();
    for operation in OPERATIONS {
        check((cases() / 10).max(16), valid(operation), |request| {
            // A mock takes each custom id once.
            if let Some(id) = request.id() {
                prop_assume!(taken.insert(id));
            }
            let (status, body) = live.send(&request);
            let text = String::from_utf8_lossy(&body);
            prop_assert_eq!(status, 200, "{:?}: {}", request, text);
            if let Err(problems) = check_response(operation, status, &body) {
                return Err(TestCaseError::fail(format!("{problems:?}\n{text}")));
            }
            let json: Value = serde_json::from_slice(&body).expect("JSON");
            let id = json["result"]["id"].as_str().expect("an id");
            if let Some(custom) = request.id() {
                prop_assert_eq!(id, custom.as_str());
            }
            let draft = live.mock.image(id).expect("the draft is stored");
            prop_assert!(draft.draft);
            Ok(())
        });
    }
}

#[test]
fn a_real_mock_refuses_every_invalid_direct_upload_by_its_rule() {
    let live = Live::new();
    for operation in OPERATIONS {
        check(
            (cases() / 10).max(16),
            invalid(operation),
            |(request, rule)| {
                let (status, body) = live.send(&request);
                let text = String::from_utf8_lossy(&body);
                prop_assert_eq!(status, rule.status(), "{:?} {:?}: {}", rule, request, text);
                if let Err(problems) = check_response(operation, status, &body) {
                    return Err(TestCaseError::fail(format!("{problems:?}\n{text}")));
                }
                let json: Value = serde_json::from_slice(&body).expect("a JSON envelope");
                let codes: Vec<u64> = json["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .map(|e| e["code"].as_u64().expect("a code"))
                    .collect();
                prop_assert_eq!(codes, vec![u64::from(rule.code())], "{}", text);
                let record = live.mock.requests().pop().expect("the journal holds it");
                prop_assert_eq!(record.operation, Some(operation));
                let rules: Vec<&str> = record.errors.iter().map(|e| e.rule.as_str()).collect();
                prop_assert_eq!(rules, vec![rule.name()]);
                Ok(())
            },
        );
    }
}
