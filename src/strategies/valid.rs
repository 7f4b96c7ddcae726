//! [`valid_upload`]: every shape of upload the API accepts.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;

use super::draft::{Draft, UrlSpec};
use super::form::UploadForm;
use super::values::{
    client, creator_max, file_param, fit_metadata, id_max, metadata, text_up_to, valid_file,
    valid_id, valid_url, MetadataSize,
};

/// Uploads the API accepts, each as a real client writes it, with the answer to expect.
///
/// Every value is a `file` or a `url` upload with any subset of `id`, `creator`, `metadata` and
/// `requireSignedURLs`, written the way one of the [`ClientStyle`](super::ClientStyle)s writes
/// it:
///
/// - `metadata` in all three encodings: one JSON part (curl, reqwest), `metadata[key]` parts
///   (the TypeScript SDK), `metadata.key` parts (the Python SDK). The bracket and dot encodings
///   carry strings only, so [`ExpectedResult::meta`](super::ExpectedResult::meta) holds the
///   object with its numbers and booleans as strings.
/// - Files of every accepted format, generated on the fly: mostly a few pixels, sometimes a
///   side or the area exactly at the schema's maximum, very rarely exactly the schema's size
///   limit. File names with spaces, quotes, `;`, `=` and non-ASCII; none, or
///   the SDKs' defaults (`upload`, `unknown_file`); sometimes exactly the schema's maximum
///   length as the server reads it.
/// - `url`s on `example.com` whose bytes [`UploadForm::served`] gives, to register with
///   [`MockImages::serve_url`](crate::MockImages::serve_url).
/// - Values up to the schema's limits: a `creator` and a custom `id` of exactly the maximum
///   length (multi-byte characters included), `metadata` of exactly the maximum size as JSON.
/// - Custom ids that pass every id rule of the schema (checked by the schema itself), never
///   together with `requireSignedURLs=true`.
/// - The boundaries, part headers, escapes and part orders of each client.
///
/// Text never holds a line break or a control character, and file names never a backslash:
/// clients rewrite those, which would make the expected answer depend on the client's version.
///
/// A custom id can be uploaded only once per mock: send each value to a fresh
/// [`MockImages`](crate::MockImages), or make its id unique.
pub fn valid_upload() -> impl Strategy<Value = UploadForm> {
    valid_draft(true).prop_map(|draft| draft.render_valid())
}

#[derive(Debug, Clone)]
enum Source {
    File((Bytes, (Option<String>, bool), Option<String>)),
    Url(UrlSpec),
}

/// The draft of a valid upload; `big` lets it (rarely) carry a file of exactly the size limit.
pub(crate) fn valid_draft(big: bool) -> impl Strategy<Value = Draft> {
    let file = if big {
        valid_file().boxed()
    } else {
        (
            super::values::valid_image(),
            super::values::filename(),
            super::values::content_type(),
        )
            .boxed()
    };
    let source = prop_oneof![
        3 => file.prop_map(Source::File),
        1 => valid_url().prop_map(Source::Url),
    ];
    // A custom id cannot go with signed URLs (5410).
    let id_and_signing = prop_oneof![
        3 => (Just(None), proptest::option::of(any::<bool>())),
        1 => (valid_id(id_max()).prop_map(Some), prop_oneof![Just(None), Just(Some(false))]),
    ];
    let creator = proptest::option::of(text_up_to(creator_max(), ""));
    (
        client(),
        any::<u128>(),
        any::<u64>(),
        source,
        id_and_signing,
        creator,
        metadata(),
    )
        .prop_map(
            |(client, boundary_seed, order_seed, source, (id, signing), creator, metadata)| {
                let (file, url) = match source {
                    Source::File((bytes, filename, content_type)) => (
                        Some(file_param(client, bytes, filename, content_type)),
                        None,
                    ),
                    Source::Url(url) => (None, Some(url)),
                };
                let metadata = metadata.map(|(map, size)| {
                    let target = match size {
                        MetadataSize::Any => None,
                        MetadataSize::Exactly(bytes) => Some(bytes),
                    };
                    Value::Object(fit_metadata(client, map, target))
                });
                Draft {
                    client,
                    boundary_seed,
                    order_seed,
                    file,
                    url,
                    id,
                    creator,
                    metadata,
                    require_signed_urls: signing.map(|b| b.to_string()),
                }
            },
        )
}
