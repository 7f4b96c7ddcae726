//! The catalogue of labelled cases `verify` sends: the lifecycle of an image, a variant and a
//! signing key (one valid request per operation served), one invalid request per rule drawn from
//! the library's labelled strategies, and the errors no body decides (no credentials, an image
//! that does not exist).
//!
//! Every resource a case creates is named with the run's prefix (`verify-` and 8 random hex
//! digits), so that a run on a real account touches only what it made.

use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;
use cloudflare_images_mock::strategies::{self, InvalidRule};
use cloudflare_images_mock::{Clock, Operation};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Value};

/// The seed of the draws: the same catalogue on every run (but for the prefix).
const SEED: [u8; 32] = *b"cloudflare-images-mock verify 17";

/// A 1x1 PNG: the smallest image every accepted-format check takes.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

/// What a case is: the request of an operation that should succeed, one that breaks a rule, or
/// an error no body decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Valid,
    Invalid(InvalidRule),
    Error(&'static str),
}

/// One request to send, relative to `{base}/accounts/{account_id}`.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: &'static str,
    /// Starts with `/images/`.
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Bytes,
    /// Whether to send the credentials.
    pub(crate) authenticated: bool,
}

/// A resource of the account a run created, to delete at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resource {
    Image(String),
    Variant(String),
    Key(String),
}

impl Resource {
    /// The request that deletes it.
    pub(crate) fn deletion(&self) -> Request {
        let path = match self {
            Resource::Image(id) => format!("/images/v1/{}", segment(id)),
            Resource::Variant(id) => format!("/images/v1/variants/{}", segment(id)),
            Resource::Key(name) => format!("/images/v1/keys/{}", segment(name)),
        };
        Request::new("DELETE", path)
    }
}

/// A labelled case.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) operation: Operation,
    pub(crate) kind: Kind,
    pub(crate) request: Request,
    /// The resource this case deletes when it succeeds (the lifecycle's last steps).
    pub(crate) removes: Option<Resource>,
}

impl Case {
    /// `upload an image: valid`, `upload an image: id_uuid`, `image details: image_not_found`.
    pub(crate) fn name(&self) -> String {
        format!("{}: {}", self.operation.summary(), self.label())
    }

    /// `valid`, the rule's name, or the error's; a rule several ways break in one operation (a malformed
    /// multipart body: cut short, no delimiter, a repeated part...) also names the way, so that
    /// every case has a name of its own: `malformed_multipart (TruncatedBody)`.
    pub(crate) fn label(&self) -> String {
        match self.kind {
            Kind::Invalid(rule) => {
                let shared = InvalidRule::ALL
                    .iter()
                    .filter(|other| {
                        other.name() == rule.name() && other.operation() == rule.operation()
                    })
                    .count();
                if shared > 1 {
                    format!("{} ({rule:?})", rule.name())
                } else {
                    rule.name().to_owned()
                }
            }
            _ => self.rule_name().to_owned(),
        }
    }

    /// `valid`, or the name of the rule the case breaks or the error it expects, as the mock's
    /// errors name it.
    pub(crate) fn rule_name(&self) -> &'static str {
        match self.kind {
            Kind::Valid => "valid",
            Kind::Invalid(rule) => rule.name(),
            Kind::Error(name) => name,
        }
    }
}

impl Request {
    fn new(method: &'static str, path: String) -> Request {
        Request {
            method,
            path,
            query: None,
            content_type: None,
            body: Bytes::new(),
            authenticated: true,
        }
    }

    fn body(mut self, content_type: impl Into<String>, body: impl Into<Bytes>) -> Request {
        self.content_type = Some(content_type.into());
        self.body = body.into();
        self
    }

    fn json(self, body: &Value) -> Request {
        self.body("application/json", body.to_string())
    }

    fn query(mut self, query: String) -> Request {
        self.query = Some(query).filter(|q| !q.is_empty());
        self
    }
}

/// A fresh prefix, `verify-` and 8 hex digits: std's per-process random hash keys are random
/// enough to keep two runs on one account apart, without a random crate for one number.
pub(crate) fn random_prefix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("verify-{:08x}", hasher.finish() as u32)
}

/// The catalogue, in the order it is sent; `prefix` names what it creates.
pub(crate) fn catalogue(prefix: &str) -> Vec<Case> {
    catalogue_at(prefix, &Clock::system())
}

/// The catalogue with the direct uploads' `expiry` written relative to `clock` now (a fixed
/// clock makes every draw, bodies included, the same on every call).
pub(crate) fn catalogue_at(prefix: &str, clock: &Clock) -> Vec<Case> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &SEED),
    );
    let image = format!("{prefix}-image");
    let variant = format!("{prefix}-variant");
    // A signing key's name is at most 20 characters; the prefix is 15.
    let key = prefix.to_owned();
    let direct = format!("{prefix}-direct");
    let image_path = format!("/images/v1/{image}");
    let variant_path = format!("/images/v1/variants/{variant}");
    let key_path = format!("/images/v1/keys/{key}");

    let valid = |operation, request| Case {
        operation,
        kind: Kind::Valid,
        request,
        removes: None,
    };
    let mut cases = Vec::new();

    // The lifecycle, up to the deletions.
    let (content_type, body) = multipart(&[
        Part::text("id", &image),
        Part::file("file", "verify.png", "image/png", PNG),
        Part::text("metadata", r#"{"verify":"cloudflare-images-mock"}"#),
    ]);
    cases.push(valid(
        Operation::Upload,
        Request::new("POST", "/images/v1".into()).body(content_type, body),
    ));
    cases.push(valid(
        Operation::Get,
        Request::new("GET", image_path.clone()),
    ));
    let query = draw(&mut runner, strategies::valid_list_v1_query(), |_| true);
    cases.push(valid(
        Operation::ListV1,
        Request::new("GET", "/images/v1".into()).query(query),
    ));
    let query = draw(&mut runner, strategies::valid_list_v2_query(), |_| true);
    cases.push(valid(
        Operation::ListV2,
        Request::new("GET", "/images/v2".into()).query(query),
    ));
    // The image has a custom id, which cannot require signed URLs (`5410`).
    let update = draw(&mut runner, strategies::valid_image_update(), |b| !signs(b));
    cases.push(valid(
        Operation::Update,
        Request::new("PATCH", image_path.clone()).body("application/json", update),
    ));
    cases.push(valid(
        Operation::Blob,
        Request::new("GET", format!("{image_path}/blob")),
    ));
    cases.push(valid(
        Operation::Stats,
        Request::new("GET", "/images/v1/stats".into()),
    ));
    cases.push(valid(
        Operation::DirectUploadV1,
        Request::new("POST", "/images/v1/direct_upload".into()).json(&json!({})),
    ));
    let (content_type, body) = multipart(&[Part::text("id", &direct)]);
    cases.push(valid(
        Operation::DirectUploadV2,
        Request::new("POST", "/images/v2/direct_upload".into()).body(content_type, body),
    ));
    cases.push(valid(
        Operation::ListVariants,
        Request::new("GET", "/images/v1/variants".into()),
    ));
    let body = draw(&mut runner, strategies::valid_variant_body(), |_| true);
    let mut body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
    body["id"] = Value::from(variant.as_str());
    cases.push(valid(
        Operation::CreateVariant,
        Request::new("POST", "/images/v1/variants".into()).json(&body),
    ));
    cases.push(valid(
        Operation::GetVariant,
        Request::new("GET", variant_path.clone()),
    ));
    cases.push(valid(
        Operation::GetVariantFlat,
        Request::new("GET", format!("{variant_path}/flat")),
    ));
    let options =
        json!({"options": {"fit": "cover", "metadata": "none", "width": 64, "height": 64}});
    cases.push(valid(
        Operation::UpdateVariant,
        Request::new("PATCH", variant_path.clone()).json(&options),
    ));
    cases.push(valid(
        Operation::ListKeys,
        Request::new("GET", "/images/v1/keys".into()),
    ));
    cases.push(valid(
        Operation::AddKey,
        Request::new("PUT", key_path.clone()),
    ));

    // One invalid request per rule, each drawn from the strategy that breaks it.
    for &rule in InvalidRule::ALL {
        let operation = rule.operation();
        let request = match operation {
            Operation::Upload => {
                let form = draw(&mut runner, strategies::upload_breaking(rule), |_| true);
                Request::new("POST", "/images/v1".into()).body(form.content_type(), form.body())
            }
            Operation::Update => {
                let body = draw(&mut runner, strategies::image_update_breaking(rule), |b| {
                    !signs(b)
                });
                Request::new("PATCH", image_path.clone()).body("application/json", body)
            }
            Operation::ListV1 => {
                let query = draw(
                    &mut runner,
                    strategies::list_v1_query_breaking(rule),
                    |_| true,
                );
                Request::new("GET", "/images/v1".into()).query(query)
            }
            Operation::ListV2 => {
                let query = draw(
                    &mut runner,
                    strategies::list_v2_query_breaking(rule),
                    |_| true,
                );
                Request::new("GET", "/images/v2".into()).query(query)
            }
            Operation::CreateVariant => {
                let body = draw(&mut runner, strategies::variant_body_breaking(rule), |_| {
                    true
                });
                Request::new("POST", "/images/v1/variants".into()).body("application/json", body)
            }
            // `expiry` is written relative to the system clock now, with a minute of margin
            // from the window's edges: the cases reach the target well within it.
            Operation::DirectUploadV2 => {
                let request = draw(
                    &mut runner,
                    strategies::direct_upload_breaking(rule),
                    |_| true,
                );
                Request::new("POST", "/images/v2/direct_upload".into())
                    .body(request.content_type(), request.body_at(clock))
            }
            Operation::DirectUploadV1 => {
                let request = draw(
                    &mut runner,
                    strategies::direct_upload_v1_breaking(rule),
                    |_| true,
                );
                Request::new("POST", "/images/v1/direct_upload".into())
                    .body(request.content_type(), request.body_at(clock))
            }
            // A rule of an operation with no strategy yet: nothing to draw.
            _ => continue,
        };
        cases.push(Case {
            operation,
            kind: Kind::Invalid(rule),
            request,
            removes: None,
        });
    }

    // The errors no body decides.
    let (content_type, body) = multipart(&[Part::file("file", "verify.png", "image/png", PNG)]);
    let mut anonymous = Request::new("POST", "/images/v1".into()).body(content_type, body);
    anonymous.authenticated = false;
    cases.push(Case {
        operation: Operation::Upload,
        kind: Kind::Error("missing_auth"),
        request: anonymous,
        removes: None,
    });
    cases.push(Case {
        operation: Operation::Get,
        kind: Kind::Error("image_not_found"),
        request: Request::new("GET", format!("/images/v1/{prefix}-none")),
        removes: None,
    });

    // The deletions close the lifecycle.
    for resource in [
        Resource::Variant(variant),
        Resource::Key(key),
        Resource::Image(image),
    ] {
        let operation = match resource {
            Resource::Image(_) => Operation::Delete,
            Resource::Variant(_) => Operation::DeleteVariant,
            Resource::Key(_) => Operation::DeleteKey,
        };
        cases.push(Case {
            operation,
            kind: Kind::Valid,
            request: resource.deletion(),
            removes: Some(resource),
        });
    }
    cases
}

/// One value of `strategy` that `keep` accepts, from the run's seeded runner.
fn draw<S: Strategy>(
    runner: &mut TestRunner,
    strategy: S,
    keep: impl Fn(&S::Value) -> bool,
) -> S::Value {
    let mut last = None;
    for _ in 0..256 {
        match strategy.new_tree(runner) {
            Ok(tree) => {
                let value = tree.current();
                if keep(&value) {
                    return value;
                }
                last = Some(value);
            }
            Err(_) => continue,
        }
    }
    // The strategies hold no filter that rejects everything: this is never reached, but a value
    // that fails `keep` still makes a case whose answer is compared.
    last.expect("a strategy of the library yields values")
}

/// Whether an image update body asks for signed URLs.
fn signs(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("requireSignedURLs").cloned())
        == Some(Value::Bool(true))
}

/// A name as one path segment: the run's own names need no escaping, but a resource the API
/// named (an upload it was expected to refuse, accepted) may hold anything.
fn segment(name: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// A part of a multipart form.
struct Part<'a> {
    name: &'a str,
    file: Option<(&'a str, &'a str)>,
    value: &'a [u8],
}

impl<'a> Part<'a> {
    fn text(name: &'a str, value: &'a str) -> Part<'a> {
        Part {
            name,
            file: None,
            value: value.as_bytes(),
        }
    }

    fn file(name: &'a str, filename: &'a str, content_type: &'a str, value: &'a [u8]) -> Part<'a> {
        Part {
            name,
            file: Some((filename, content_type)),
            value,
        }
    }
}

/// A `multipart/form-data` body as curl writes it.
fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "------------------------verify17cloudflareimagesmock";
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match part.file {
            Some((filename, content_type)) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n",
                part.name
            ),
            None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", part.name),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_operation_has_a_valid_case_and_every_rule_an_invalid_one() {
        let cases = catalogue("verify-0123abcd");
        for operation in Operation::ALL.into_iter().filter(|o| o.is_served()) {
            assert!(
                cases
                    .iter()
                    .any(|case| case.operation == operation && case.kind == Kind::Valid),
                "no valid case for {operation}"
            );
        }
        for &rule in InvalidRule::ALL {
            let of_rule: Vec<_> = cases
                .iter()
                .filter(|case| case.kind == Kind::Invalid(rule))
                .collect();
            assert_eq!(of_rule.len(), 1, "{rule}");
            assert_eq!(of_rule[0].operation, rule.operation(), "{rule}");
        }
    }

    #[test]
    fn the_draws_are_the_same_on_every_run_and_names_carry_the_prefix() {
        let clock = Clock::fixed(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30));
        let (a, b) = (
            catalogue_at("verify-00000000", &clock),
            catalogue_at("verify-00000000", &clock),
        );
        assert_eq!(a.len(), b.len());
        let names: std::collections::HashSet<String> = a.iter().map(Case::name).collect();
        assert_eq!(names.len(), a.len(), "every case has a name of its own");
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(
                (a.name(), &a.request.body, &a.request.query),
                (b.name(), &b.request.body, &b.request.query)
            );
        }
        let prefix = random_prefix();
        assert!(
            prefix.starts_with("verify-") && prefix.len() == 15,
            "{prefix}"
        );
        assert!(catalogue(&prefix)
            .iter()
            .filter(|case| case.removes.is_some())
            .all(|case| case.request.path.contains(&prefix)));
    }

    #[test]
    fn the_readme_states_the_number_of_cases_per_operation() {
        let readme = include_str!("../../../README.md");
        let cases = catalogue("verify-00000000");
        assert!(
            readme.contains(&format!(
                "The catalogue ({} cases), per operation:",
                cases.len()
            )),
            "the README's total: {} cases",
            cases.len()
        );
        let mut singles = 0;
        for operation in Operation::ALL.into_iter().filter(|o| o.is_served()) {
            let of: Vec<_> = cases.iter().filter(|c| c.operation == operation).collect();
            let invalid = of.iter().filter(|c| c.kind != Kind::Valid).count();
            if of.len() == 1 {
                singles += 1;
                continue;
            }
            let row = format!("| {} | {} | {invalid}", operation.summary(), of.len());
            assert!(readme.contains(&row), "the README has no row {row:?}");
        }
        let row = format!("| every other operation served ({singles}) | 1 each | 0 |");
        assert!(readme.contains(&row), "the README has no row {row:?}");
        assert!(readme.contains(&format!("`{} agree, 0 differ`", cases.len())));
    }
}
