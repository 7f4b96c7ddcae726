//! proptest strategies for the requests of the API: every shape an upload, an image update, a
//! list query, a variant's body or a direct creator upload may take, and every way to break one
//! of their rules.
//!
//! | Operation | Valid | Invalid, labelled | Breaking one rule |
//! |---|---|---|---|
//! | [`Upload`](crate::Operation::Upload) | [`valid_upload`] | [`invalid_upload`] | [`upload_breaking`] |
//! | [`Update`](crate::Operation::Update) | [`valid_image_update`] | [`invalid_image_update`] | [`image_update_breaking`] |
//! | [`ListV1`](crate::Operation::ListV1) | [`valid_list_v1_query`] | [`invalid_list_v1_query`] | [`list_v1_query_breaking`] |
//! | [`ListV2`](crate::Operation::ListV2) | [`valid_list_v2_query`] | [`invalid_list_v2_query`] | [`list_v2_query_breaking`] |
//! | [`CreateVariant`](crate::Operation::CreateVariant) | [`valid_variant_body`] | [`invalid_variant_body`] | [`variant_body_breaking`] |
//! | [`DirectUploadV2`](crate::Operation::DirectUploadV2) | [`valid_direct_upload`] | [`invalid_direct_upload`] | [`direct_upload_breaking`] |
//! | [`DirectUploadV1`](crate::Operation::DirectUploadV1) | [`valid_direct_upload_v1`] | [`invalid_direct_upload_v1`] | [`direct_upload_v1_breaking`] |
//!
//! Each invalid value is labelled with the [`InvalidRule`] it breaks, and nothing else; check
//! what your code makes of each with
//! [`conformance::check_request`](crate::conformance::check_request), offline, or send it to a
//! [`MockImages`](crate::MockImages). The rest of this page is about uploads.
//!
//! [`valid_upload`] yields [`UploadForm`]s the API accepts, each written as a real client writes
//! it (curl, reqwest, the official Python and TypeScript SDKs: see [`ClientStyle`]), with the
//! `result` to expect. [`invalid_upload`] yields forms that break exactly one rule, paired with
//! that [`InvalidRule`]; [`upload_breaking`] yields forms that break a given one. Every bound
//! (lengths, sizes, dimensions, patterns) is read from the schema the mock validates with, so
//! the generators move with it.
//!
//! # Testing your own client
//! Give your client the [`params`](UploadForm::params) of each valid upload and check what it
//! writes with [`conformance::check_upload`](crate::conformance::check_upload), offline. Here the
//! form's own serialisation stands in for your client's:
//!
//! ```
//! use cloudflare_images_mock::{conformance, strategies};
//! use proptest::prelude::*;
//!
//! // Stands in for `my_client::build_multipart(upload.params())`.
//! fn build_multipart(upload: &strategies::UploadForm) -> (String, Vec<u8>) {
//!     (upload.content_type(), upload.body())
//! }
//!
//! // In a test file: `proptest! { #[test] fn my_client_serialises_every_upload(upload in
//! // strategies::valid_upload()) { ... } }`. Here the property runs at once, on 32 cases.
//! proptest!(ProptestConfig::with_cases(32), |(upload in strategies::valid_upload())| {
//!     let (content_type, body) = build_multipart(&upload);
//!     prop_assert!(conformance::check_upload(&content_type, &body).is_ok());
//! });
//! ```
//!
//! # Testing how your code copes with refusals
//! Send each invalid upload (to a [`MockImages`](crate::MockImages), or feed your code the
//! answer) and expect the code and status of its rule:
//!
//! ```
//! use cloudflare_images_mock::{conformance, strategies};
//! use proptest::prelude::*;
//!
//! proptest!(ProptestConfig::with_cases(32), |((upload, rule) in strategies::invalid_upload())| {
//!     let errors = conformance::check_upload(&upload.content_type(), &upload.body())
//!         .unwrap_err();
//!     prop_assert_eq!(errors.len(), 1);
//!     prop_assert_eq!(errors[0].rule.as_str(), rule.name());
//!     prop_assert_eq!((errors[0].code, errors[0].status), (rule.code(), rule.status()));
//! });
//! ```
//!
//! A `url` upload needs its image served: register [`UploadForm::served`] with
//! [`MockImages::serve_url`](crate::MockImages::serve_url) before sending it. A custom id can be
//! uploaded once per mock (a second time is `5409`).

mod base;
mod direct;
mod draft;
mod files;
mod form;
mod invalid;
mod json;
mod list;
mod query;
mod rule;
mod transport;
mod update;
mod valid;
mod values;
mod variant;

pub use direct::{
    direct_upload_breaking, direct_upload_v1_breaking, invalid_direct_upload,
    invalid_direct_upload_v1, valid_direct_upload, valid_direct_upload_v1, DirectUploadRequest,
    EXPIRY_MARGIN_SECONDS,
};
pub use form::{
    ClientStyle, ExpectedResult, FileParam, MetadataEncoding, UploadForm, UploadParams,
};
pub use invalid::{invalid_upload, upload_breaking};
pub use list::{
    invalid_list_v1_query, invalid_list_v2_query, list_v1_query_breaking, list_v2_query_breaking,
    valid_list_v1_query, valid_list_v2_query,
};
pub use rule::InvalidRule;
pub use update::{image_update_breaking, invalid_image_update, valid_image_update};
pub use valid::valid_upload;
pub use variant::{invalid_variant_body, valid_variant_body, variant_body_breaking};
