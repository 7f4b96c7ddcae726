//! Property tests: the strategies of `cloudflare_images_mock::strategies` against the mock and
//! against the offline checks, and the strategies against the schema.
//!
//! Each property runs 1,000 cases; set `CF_IMAGES_MOCK_PROPTEST_CASES` to run more (or fewer).
//! The online properties share one mock per run (a fresh one when a custom id was already taken
//! by an earlier case, as happens while shrinking, and every few hundred cases so that the
//! journal stays short).
#![cfg(feature = "proptest")]

use std::collections::{BTreeSet, HashSet};

use cloudflare_images_mock::strategies::{self, InvalidRule, UploadForm};
use cloudflare_images_mock::{conformance, MockImages, Operation};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

/// The environment variable that sets the number of cases of each property.
const CASES: &str = "CF_IMAGES_MOCK_PROPTEST_CASES";

/// How many requests a shared mock answers before it is replaced.
const REQUESTS_PER_MOCK: usize = 250;

fn config() -> Config {
    let cases = match std::env::var(CASES) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{CASES} must be a number of cases, not {value:?}")),
        Err(_) => 1000,
    };
    Config {
        cases,
        source_file: Some(file!()),
        ..Config::default()
    }
}

/// Runs `test` on `strategy`'s values; a failure panics with the minimal failing value.
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(config());
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{failure}\n{runner}");
    }
}

/// A mock shared by the cases of a property, and the runtime and client that talk to it.
struct Harness {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    mock: Option<MockImages>,
    ids: HashSet<String>,
    requests: usize,
}

/// What the mock answered.
struct Answer {
    status: u16,
    body: Value,
}

impl Harness {
    fn new() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Harness {
            runtime,
            client: reqwest::Client::new(),
            mock: None,
            ids: HashSet::new(),
            requests: 0,
        }
    }

    /// The mock to send `form` to: the shared one, unless `form`'s custom id is taken there.
    fn mock_for(&mut self, form: &UploadForm) -> &MockImages {
        let id = form.expected().and_then(|e| e.id.clone());
        let taken = id.as_ref().is_some_and(|id| self.ids.contains(id));
        if self.mock.is_none() || taken || self.requests >= REQUESTS_PER_MOCK {
            // Drop the old mock before starting the next.
            self.mock = None;
            self.mock = Some(self.runtime.block_on(MockImages::start()));
            self.ids.clear();
            self.requests = 0;
        }
        self.requests += 1;
        self.ids.extend(id);
        self.mock.as_ref().expect("a mock was just started")
    }

    /// Sends `form` with a bearer token; checks that the answer is JSON of the official shape
    /// and no 5xx.
    fn send(&mut self, form: &UploadForm) -> Result<Answer, TestCaseError> {
        let client = self.client.clone();
        let mock = self.mock_for(form);
        if let Some((url, bytes)) = form.served() {
            mock.serve_url(url, bytes);
        }
        let request = client
            .post(mock.upload_url())
            .bearer_auth("proptest-token")
            .header(reqwest::header::CONTENT_TYPE, form.content_type())
            .body(form.body());
        let (status, bytes) = self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("the mock did not answer: {e:?}")))?;
            let status = response.status().as_u16();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| TestCaseError::fail(format!("the answer broke off: {e:?}")))?;
            Ok::<_, TestCaseError>((status, bytes))
        })?;
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(status < 500, "a {status}: {text}");
        if let Err(problems) = conformance::check_response(Operation::Upload, status, &bytes) {
            return Err(TestCaseError::fail(format!(
                "the answer ({status}) does not match the official description: {problems:?}\n{text}"
            )));
        }
        let body = serde_json::from_slice(&bytes)
            .map_err(|e| TestCaseError::fail(format!("the answer is not JSON: {e}: {text}")))?;
        Ok(Answer { status, body })
    }

    fn last_record(&self) -> cloudflare_images_mock::RequestRecord {
        let mock = self.mock.as_ref().expect("a request was sent");
        mock.requests()
            .pop()
            .expect("the journal holds the request")
    }
}

// (a), (c), (e): every valid upload is accepted, and `result` echoes it.
#[test]
fn every_valid_upload_is_accepted_and_echoed() {
    let harness = std::cell::RefCell::new(Harness::new());
    check(strategies::valid_upload(), |form| {
        let mut harness = harness.borrow_mut();
        let answer = harness.send(&form)?;
        prop_assert_eq!(answer.status, 200, "{}", answer.body);
        prop_assert_eq!(&answer.body["success"], &Value::Bool(true));
        let expected = form
            .expected()
            .expect("a valid upload has an expected result");
        expected
            .check(&answer.body["result"])
            .map_err(|difference| TestCaseError::fail(format!("{difference}\n{}", answer.body)))?;
        let record = harness.last_record();
        prop_assert!(record.is_accepted(), "{:?}", record.errors);
        Ok(())
    });
}

// (b), (c), (e): every invalid upload is refused with the code and status of its rule, and the
// journal records that rule.
#[test]
fn every_invalid_upload_is_refused_by_its_rule() {
    let harness = std::cell::RefCell::new(Harness::new());
    check(strategies::invalid_upload(), |(form, rule)| {
        let mut harness = harness.borrow_mut();
        let answer = harness.send(&form)?;
        prop_assert_eq!(answer.status, rule.status(), "{}: {}", rule, answer.body);
        let errors = answer.body["errors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        prop_assert_eq!(errors.len(), 1, "{}: {}", rule, answer.body);
        prop_assert_eq!(
            &errors[0]["code"],
            &Value::from(rule.code()),
            "{}: {}",
            rule,
            answer.body
        );
        let record = harness.last_record();
        prop_assert_eq!(record.status, rule.status());
        prop_assert_eq!(record.errors.len(), 1, "{:?}", record.errors);
        prop_assert_eq!(record.errors[0].rule.as_str(), rule.name());
        Ok(())
    });
}

// (d): the offline check accepts every valid upload and reads it as the API will echo it.
#[test]
fn check_upload_accepts_every_valid_upload() {
    check(strategies::valid_upload(), |form| {
        let upload = conformance::check_upload(&form.content_type(), &form.body())
            .map_err(|errors| TestCaseError::fail(format!("refused: {errors:?}")))?;
        let expected = form
            .expected()
            .expect("a valid upload has an expected result");
        prop_assert_eq!(&upload.id, &expected.id);
        prop_assert_eq!(&upload.creator, &expected.creator);
        prop_assert_eq!(&upload.meta, &expected.meta);
        prop_assert_eq!(upload.require_signed_urls, expected.require_signed_urls);
        prop_assert_eq!(&upload.url, &form.params().url);
        if form.params().file.is_some() {
            prop_assert_eq!(&upload.filename, &expected.filename);
        }
        Ok(())
    });
}

// (d): the offline check finds exactly the rule each invalid upload is labelled with.
#[test]
fn check_upload_agrees_with_every_invalid_label() {
    check(strategies::invalid_upload(), |(form, rule)| {
        let errors = match conformance::check_upload(&form.content_type(), &form.body()) {
            Ok(upload) => return Err(TestCaseError::fail(format!("{rule} accepted: {upload:?}"))),
            Err(errors) => errors,
        };
        prop_assert_eq!(errors.len(), 1, "{}: {:?}", rule, errors);
        prop_assert_eq!(errors[0].rule.as_str(), rule.name(), "{:?}", errors);
        prop_assert_eq!(
            (errors[0].code, errors[0].status),
            (rule.code(), rule.status())
        );
        Ok(())
    });
}

// Every rule, the rare ones included, has a generator that breaks it and nothing else.
#[test]
fn every_rule_is_generated_alone() {
    for &rule in InvalidRule::UPLOAD {
        let cases = match rule {
            InvalidRule::FileTooLarge | InvalidRule::BodyTooLarge => 4,
            _ => 32,
        };
        let mut runner = TestRunner::new(Config {
            cases,
            ..Config::default()
        });
        let result = runner.run(&strategies::upload_breaking(rule), |form| {
            let errors = conformance::check_upload(&form.content_type(), &form.body())
                .err()
                .unwrap_or_default();
            let rules: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
            prop_assert_eq!(rules, vec![rule.name()]);
            Ok(())
        });
        if let Err(failure) = result {
            panic!("{rule:?}: {failure}");
        }
    }
}

/// Every `rule` of an `x-cloudflare-error` annotation below `node`.
fn annotated_rules(node: &Value, out: &mut BTreeSet<String>) {
    match node {
        Value::Object(map) => {
            if let Some(rule) = map
                .get("x-cloudflare-error")
                .and_then(|a| a["rule"].as_str())
            {
                out.insert(rule.to_owned());
            }
            map.values().for_each(|child| annotated_rules(child, out));
        }
        Value::Array(items) => items.iter().for_each(|child| annotated_rules(child, out)),
        _ => {}
    }
}

// (f): the generators and the schema agree: one variant per rule of the schema, the transport
// variants name errors of the catalogue, and codes and statuses are the annotated ones.
#[test]
fn generators_and_schema_agree() {
    let schema: Value =
        serde_json::from_str(include_str!("../../schemas/upload.schema.json")).expect("JSON");
    let catalogue: Value =
        serde_json::from_str(include_str!("../../schemas/errors.json")).expect("JSON");
    let mut in_schema = BTreeSet::new();
    annotated_rules(&schema, &mut in_schema);
    let generated: BTreeSet<String> = InvalidRule::UPLOAD
        .iter()
        .filter(|rule| rule.in_schema())
        .map(|rule| rule.name().to_owned())
        .collect();
    assert_eq!(generated, in_schema);
    for &rule in InvalidRule::UPLOAD {
        let entry = if rule.in_schema() {
            let mut found = None;
            find_annotation(&schema, rule.name(), &mut found);
            found.unwrap_or_else(|| panic!("{rule} is not annotated"))
        } else {
            catalogue["errors"][rule.name()].clone()
        };
        assert_eq!(entry["code"], rule.code(), "{rule:?}");
        assert_eq!(entry["status"], rule.status(), "{rule:?}");
    }
    assert_eq!(
        InvalidRule::ALL.iter().collect::<HashSet<_>>().len(),
        InvalidRule::ALL.len(),
        "a rule is listed twice"
    );
}

fn find_annotation(node: &Value, rule: &str, found: &mut Option<Value>) {
    match node {
        Value::Object(map) => {
            if let Some(annotation) = map.get("x-cloudflare-error") {
                if annotation["rule"] == rule {
                    *found = Some(annotation.clone());
                }
            }
            map.values()
                .for_each(|child| find_annotation(child, rule, found));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| find_annotation(child, rule, found)),
        _ => {}
    }
}
