//! An offline twin of the Cloudflare Images API, for Rust tests.
//!
//! Start a [`MockImages`] in your test and point your client at [`MockImages::base_url`]: what
//! one request stores, the next one sees. Uploads (`POST /accounts/{account_id}/images/v1`) are
//! parsed as a stream, validated against the rules of the real API (kept as JSON Schemas in
//! `schemas/`), and stored with their bytes; image details, update, delete, download (`blob`),
//! the v1 and v2 lists and the usage statistics answer from that store, each request validated
//! by the schema of its own shape. Every answer has the real code, status and body shape; every
//! request lands in a journal the test can assert on, with the [`Operation`] it was routed to.
//!
//! ```
//! use cloudflare_images_mock::MockImages;
//! use reqwest::multipart::{Form, Part};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockImages::start().await;
//! # let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0\x3a\x7e\x9b\x55".to_vec();
//! let form = Form::new()
//!     .part("file", Part::bytes(png).file_name("cat.png").mime_str("image/png")?)
//!     .text("metadata", r#"{"owner":"42"}"#);
//! let response = reqwest::Client::new()
//!     .post(mock.upload_url()) // {base_url}/accounts/{account_id}/images/v1
//!     .bearer_auth("any-token")
//!     .multipart(form)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 200);
//! let body: serde_json::Value = response.json().await?;
//! assert_eq!(body["result"]["filename"], "cat.png");
//! assert_eq!(body["result"]["meta"]["owner"], "42");
//! assert_eq!(mock.uploads().len(), 1);
//!
//! // A refusal gets the real code, status and message, as `{code, message}` (as recorded); the
//! // journal keeps which field and which rule failed.
//! let form = Form::new().text("url", "https://example.com/a.png").text("creator", "x".repeat(1025));
//! let response = reqwest::Client::new()
//!     .post(mock.upload_url())
//!     .bearer_auth("any-token")
//!     .multipart(form)
//!     .send()
//!     .await?;
//! assert_eq!(response.status(), 400);
//! let body: serde_json::Value = response.json().await?;
//! assert_eq!(body["errors"][0]["code"], 5400);
//! assert_eq!(body["errors"][0]["message"], "Bad request: creator: must be at most 1024 characters");
//! assert_eq!(body["errors"][0].as_object().unwrap().len(), 2, "code and message only");
//! let refused = &mock.requests()[1].errors[0];
//! assert_eq!(refused.pointer.as_deref(), Some("/creator"));
//! assert_eq!(refused.rule, "creator_too_long"); // a `Rule`, which compares with its name
//! assert_eq!(refused.rule, cloudflare_images_mock::Rule::CreatorTooLong);
//! # Ok(())
//! # }
//! ```
//!
//! # The store
//! [`MockImages::insert_image`] puts images in the store before the client runs (checked by the
//! upload's rules); [`MockImages::images`], [`MockImages::image`] and [`MockImages::image_bytes`]
//! show what it holds. Bytes stay in memory up to [`MockImagesBuilder::memory_budget`] and go to
//! a temporary directory past it, removed when the mock is dropped. [`Expectation`]s check, at
//! drop, how many requests of an operation succeeded, of those a [`Matcher`] picks (one image,
//! one creator, some metadata, one file); [`Script::on`] and [`Script::when`] aim a scripted
//! answer at some requests only.
//!
//! # Time and generated values
//! Each mock has one [`Clock`] ([`MockImagesBuilder::clock`], the system's by default) and one
//! source of generated values (random by default, [`MockImagesBuilder::seed`] to fix them).
//! `uploaded`, [`RequestRecord::received`], the `date` header, the expiry of drafts of direct
//! creator uploads and the `exp` of signed delivery URLs follow the clock, which
//! [`MockImages::clock`] moves: a seeded mock on [`Clock::fixed`] answers the same requests
//! with the same bytes on every run (snapshot tests), and a test sees a draft expire without
//! waiting. Connection timeouts and scripted delays stay on real time.
//!
//! # What it checks
//! - Credentials: `Authorization: Bearer <token>` or `X-Auth-Email` + `X-Auth-Key`; none gets
//!   `9106`, wrong ones (when [`MockImagesBuilder::credentials`] requires some) `10000`, an
//!   `Authorization` header that is not `Bearer <token>` `6003` (chaining `6111`), each in the
//!   API gateway's recorded body.
//! - The account id: 32 lowercase hex digits (and the pinned one, if any), else `7003` and
//!   `7000`.
//! - The body: `multipart/form-data` or `5415`; read as a stream, a file over 10 MiB is refused
//!   with `5413` having read little more than the limit.
//! - The form, by `schemas/upload.schema.json`: exactly one of `file` and `url`; `creator` at most
//!   1024 characters; `metadata` an object of at most 1024 bytes, sent as one JSON part (the
//!   docs' curl examples), `metadata[key]` parts (the official TypeScript SDK) or `metadata.key`
//!   parts (the official Python SDK); `requireSignedURLs` `true` or `false`; custom `id` rules
//!   (`5411`), a custom id with signed URLs (`5410`), a custom id taken (`5409`).
//! - The image, detected from its bytes and not from the part's Content-Type: PNG, JPEG, GIF,
//!   WebP, SVG, HEIC or AVIF (`5455`), a readable header (`9422`), at most 12,000 px a side
//!   (1,200 for AVIF) and 100 megapixels.
//!
//! Where the real API's code, status or message is not known for sure, the mock assumes the
//! most plausible one and says so: see the `confirmed` flag of [`ApiError`], the `source` (the
//! row of the evidence it rests on) and `note` of each rule in `schemas/` and of each entry of
//! `schemas/errors.json`, and the README's table of what is assumed.
//!
//! # `url` uploads
//! The mock is hermetic: it answers a `url` upload with the bytes registered by
//! [`MockImages::serve_url`], fetches plain `http://` URLs from loopback hosts (your test's own
//! image server) with a timeout and the size limit, and reaches other hosts only when
//! [`MockImagesBuilder::allow_network`] allows it. Anything else is refused with `5454`.
//!
//! # Scripted answers: rate limits, server errors, resets
//! [`MockImages::script`] queues a [`Script`]: the next requests get it instead of the normal
//! answer (before any other check), then the mock answers normally again. Recorded envelopes
//! from `fixtures/` ([`Script::rate_limited`]: 429, `971`, `Retry-After: 1`;
//! [`Script::internal_error`]: 500, assumed; [`Script::authentication_error`]: 401, `10000`),
//! any refusal the mock knows ([`Script::error`] with a [`Rule`]: the status and envelope of the
//! real refusal), [`Script::delay`], [`Script::reset`] (no answer), [`Script::reset_mid_upload`]
//! (the connection closed while the body is being sent) and [`Script::cut_off`] (the answer
//! stops half-way). [`Script::times`] repeats one; [`Script::on`] and [`Script::when`] (matchers
//! of the request head: operation, method, image id, header; or of an upload's body: creator,
//! metadata, file, decided once the body is read and checked) aim it at some requests only;
//! scripts queued one after the other play in order. Every scripted request is journalled, with
//! [`RequestRecord::scripted`] saying which [`ScriptKind`] answered it and
//! [`RequestRecord::outcome`] how the connection ended ([`Outcome`]).
//!
//! A client that retries as the official SDKs do (408, 409, 429 and 5xx, honouring
//! `Retry-After`) gets through a rate limit:
//!
//! ```
//! use cloudflare_images_mock::{MockImages, Script};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mock = MockImages::start().await;
//! mock.script(Script::rate_limited().times(2));
//! mock.expect_uploads(1); // checked when `mock` is dropped
//!
//! let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>"#;
//! let mut attempts = 0;
//! let status = loop {
//!     attempts += 1;
//!     let form = reqwest::multipart::Form::new()
//!         .part("file", reqwest::multipart::Part::bytes(svg.as_bytes()).file_name("a.svg"));
//!     let response = reqwest::Client::new()
//!         .post(mock.upload_url())
//!         .bearer_auth("token")
//!         .multipart(form)
//!         .send()
//!         .await?;
//!     if response.status() != 429 || attempts == 3 {
//!         break response.status();
//!     }
//!     let seconds: u64 = response.headers()["retry-after"].to_str()?.parse()?;
//!     tokio::time::sleep(Duration::from_secs(seconds)).await;
//! };
//! assert_eq!((status.as_u16(), attempts), (200, 3));
//! # Ok(())
//! # }
//! ```
//!
//! A reset while the upload is being sent, then a successful retry:
//!
//! ```
//! use cloudflare_images_mock::{MockImages, Script, ScriptKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockImages::start().await;
//! mock.script(Script::reset_mid_upload());
//! // A 1 MiB SVG: big enough to be sent in many chunks.
//! let svg = format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2">{}</svg>"#,
//!     " ".repeat(1 << 20));
//! let upload = || {
//!     let part = reqwest::multipart::Part::bytes(svg.clone().into_bytes()).file_name("a.svg");
//!     let form = reqwest::multipart::Form::new().part("file", part);
//!     reqwest::Client::new().post(mock.upload_url()).bearer_auth("token").multipart(form).send()
//! };
//! assert!(upload().await.is_err()); // the connection was closed mid-upload
//! assert_eq!(upload().await.unwrap().status(), 200); // the retry succeeds
//! assert_eq!(mock.requests()[0].scripted, Some(ScriptKind::ResetMidUpload));
//! # }
//! ```
//!
//! # Expectations, checked at drop
//! [`MockImages::expect_uploads`] takes an exact count or a range (`1..=3`); when the mock is
//! dropped (or on [`MockImages::verify`]) a count that is off fails the test. A request to a
//! route the mock does not serve (a wrong base URL or method, answered `7000`/`7001`) fails it
//! too, unless [`MockImagesBuilder::fail_on_unserved_routes`] turns that off; strict mode
//! ([`MockImagesBuilder::fail_on_refusals`]) fails it on any refusal the test did not script.
//! [`MockImages::expect`] takes an [`Expectation`] with [`Matcher`]s (`.and(...)`), named for
//! the report (`.named(...)`); the report of an unmet one names the closest request and how it
//! differs, matcher by matcher. [`MockImages::expect_scoped`] returns an [`ExpectationGuard`]
//! checked when it drops, on the requests received while it lived; [`MockImages::reset`]
//! forgets expectations, scripts and the journal (not the store).
//! Nothing is checked while the test is already panicking. The report lists what arrived:
//!
//! ```should_panic
//! use cloudflare_images_mock::MockImages;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mock = MockImages::start().await;
//! mock.expect_uploads(1);
//! let form = reqwest::multipart::Form::new().text("creator", "me");
//! let _ = reqwest::Client::new().post(mock.upload_url()).bearer_auth("t").multipart(form).send().await;
//! // Dropping `mock` panics:
//! // cloudflare-images-mock: expected exactly 1 upload(s), 0 accepted
//! //
//! // expected: exactly 1 upload(s)
//! // arrived: 1 request(s), 0 upload(s) accepted
//! //   #1 POST /client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1 -> 400
//! //        refused by rule file_or_url_required: 5400 ... (at /file)
//! // hint: `mock.requests()` holds each request in full (headers, fields, errors); ...
//! # }
//! ```
//!
//! # Checking offline
//! [`conformance::check_request`] runs the mock's own parse and validation on a request of an
//! operation without a server ([`conformance::check_upload`] for an upload);
//! [`conformance::check_response`] checks an answer against the response schemas Cloudflare's
//! official OpenAPI description gives the operation.
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod auth;
mod clock;
pub mod conformance;
mod envelope;
mod error;
mod expect;
mod fixtures;
mod ids;
mod ingest;
mod journal;
mod matcher;
mod ordered;
mod params;
mod rule;
mod samples;
mod schema;
mod script;
mod server;
mod state;
mod store;
#[cfg(feature = "proptest")]
#[cfg_attr(docsrs, doc(cfg(feature = "proptest")))]
pub mod strategies;

pub use api::route::Operation;
pub use auth::Credentials;
pub use clock::Clock;
pub use error::{ApiError, ChainedError, Error};
pub use expect::{Expectation, Times};
pub use journal::{Outcome, RequestRecord, Upload, WaitTimeout};
pub use matcher::Matcher;
pub use rule::{Rule, UnknownRule};
pub use script::{Script, ScriptKind};
pub use server::{ExpectationGuard, MockImages, MockImagesBuilder, NewImage};
pub use store::{Storage, StoredImage};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
