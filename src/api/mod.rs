//! The Cloudflare Images API: one request, routed once, checked, and answered by the module of
//! its endpoint family against the store.
//!
//! - `route`: (method, path) → [`Operation`](route::Operation), decided once per request.
//! - `upload`: `POST .../images/v1`, the multipart upload.
//! - `images`: image details, update, delete, and the v1 and v2 lists.
//! - `blob`: the stored bytes of an image.
//! - `stats`: the usage statistics.
//! - `keys`: the signing keys.
//! - `variants`: the variants.
//! - `delivery`: delivery URLs (`/cdn-cgi/imagedelivery/...`), not an operation of the API.
//!
//! Every handler returns a typed [`Outcome`]; `server/` turns it into HTTP and the journal
//! records it.

mod blob;
pub(crate) mod delivery;
pub(crate) mod direct;
pub(crate) mod images;
mod keys;
pub(crate) mod route;
mod stats;
pub(crate) mod upload;
mod variants;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::http::request::Parts;

use crate::auth;
use crate::envelope;
use crate::error::ApiError;
use crate::journal::Accepted;
use crate::schema::{self, catalogue_error};
use crate::script::ScriptKind;
use crate::state::Shared;
use crate::Rule;
use route::{Operation, Routed};

/// The most header bytes the mock answers normally; more get a 431 envelope. hyper itself
/// refuses, with a bare 431 and before the mock sees the request, more than 100 headers (its
/// default: a higher limit makes it allocate its header arrays on the heap for every request,
/// about 8% of the mock's time per upload) or a head past its read buffer (about 400 KiB).
pub(crate) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// An answer, ready to be sent.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    /// A JSON answer of the Images service: `application/json; charset=UTF-8`, as recorded.
    pub(crate) fn json(status: u16, body: Bytes) -> Reply {
        Reply {
            status,
            content_type: envelope::JSON_CONTENT_TYPE,
            headers: Vec::new(),
            body,
        }
    }

    /// The answer to a refusal, in the shape the real API answers it: the recorded plain text
    /// of a missing image (`ERROR 5404: Image not found`, header `cf-images: err=5404`); the
    /// API gateway's recorded body for its own errors (credentials, the `Authorization`
    /// header's format, routing: the `envelope` of their entry in `schemas/errors.json`); the
    /// JSON failure envelope of the Images service otherwise.
    pub(crate) fn refusal(errors: &[ApiError]) -> Reply {
        let status = errors.first().map_or(400, |e| e.status);
        match errors {
            [error] if error.rule == "image_not_found" => Reply {
                status,
                content_type: "text/plain;charset=utf-8",
                headers: vec![
                    ("cache-control", "no-cache".to_owned()),
                    ("cf-images", format!("err={}", error.code)),
                ],
                body: Bytes::from(plain_text(error)),
            },
            [error] if error.rule == "variant_not_found" => Reply {
                status,
                content_type: "text/plain;charset=utf-8",
                headers: Vec::new(),
                body: Bytes::from(variant_not_found().message),
            },
            _ => match errors.first().and_then(schema::gateway_envelope) {
                Some(keys) => Reply::json(status, envelope::gateway(keys, errors)),
                None => Reply::json(status, envelope::failure(errors)),
            },
        }
    }
}

/// The plain-text form of a refusal, as recorded for a missing image: `ERROR 5404: Image not
/// found` and a line break.
pub(crate) fn plain_text(error: &ApiError) -> String {
    format!("ERROR {}: {}\n", error.code, error.message)
}

/// The refusal of a request for an image that is not stored (`5404`), answered as
/// [`plain_text`] by [`Reply::refusal`].
pub(crate) fn image_not_found() -> ApiError {
    catalogue_error(Rule::ImageNotFound, &[])
}

/// The refusal of a request for a variant that does not exist (`5401`), answered, as recorded
/// in 2022, as the bare text `variant not found` by [`Reply::refusal`].
pub(crate) fn variant_not_found() -> ApiError {
    catalogue_error(Rule::VariantNotFound, &[])
}

/// The plain-text body the real API answers with a `404` of `operation`, where it is not the
/// JSON envelope: a missing image, a missing variant.
pub(crate) fn not_found_text(operation: Operation) -> Option<String> {
    let path = operation.endpoint().1;
    if path.contains("{image_id}") {
        Some(plain_text(&image_not_found()))
    } else if path.contains("{variant_id}") {
        Some(variant_not_found().message)
    } else {
        None
    }
}

/// What a request came to: the answer, and what the journal keeps of it.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) reply: Reply,
    pub(crate) errors: Vec<ApiError>,
    /// The accepted upload, for an upload.
    pub(crate) accepted: Option<Accepted>,
    /// The image the request was about, percent-decoded; `None` for a stored upload, whose
    /// image names it.
    pub(crate) image_id: Option<String>,
    /// A script with a matcher on the body that matched the request: for an error or a reset,
    /// `reply` is not sent (the server answers the script) and nothing was stored.
    pub(crate) scripted: Option<ScriptKind>,
}

impl Outcome {
    fn refused(errors: Vec<ApiError>) -> Outcome {
        Outcome {
            reply: Reply::refusal(&errors),
            errors,
            accepted: None,
            image_id: None,
            scripted: None,
        }
    }

    fn ok(body: Bytes) -> Outcome {
        Outcome {
            reply: Reply::json(200, body),
            errors: Vec::new(),
            accepted: None,
            image_id: None,
            scripted: None,
        }
    }
}

/// Answers a request for `routed`; an upload takes a script with a matcher on its body unless
/// the request was `scripted` already (by its head).
pub(crate) async fn handle(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
    routed: &Routed<'_>,
    scripted: bool,
) -> Outcome {
    let config = &shared.config;
    let header_bytes: usize = parts
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        let detail = format!(
            "{} headers of {header_bytes} bytes; at most {MAX_HEADER_BYTES} bytes of headers",
            parts.headers.len()
        );
        return Outcome::refused(vec![catalogue_error(
            Rule::HeadersTooLarge,
            &[("detail", &detail)],
        )]);
    }
    if let Routed::Delivery(target) = routed {
        // Public: delivery URLs carry no credentials.
        return delivery::serve(shared, parts.uri.query(), target);
    }
    if let Routed::DirectUploadUrl { id } = routed {
        // A one-time upload URL of a direct creator upload takes no credentials.
        return direct::upload_to_url(shared, parts, body, decode(id)).await;
    }
    if let Err(error) = auth::check(&parts.headers, config.credentials.as_ref()) {
        return Outcome::refused(vec![error]);
    }
    if let Some(error) = routed.refusal(&parts.method) {
        return Outcome::refused(vec![error]);
    }
    let Routed::Api(route) = routed else {
        unreachable!("a request without an operation is refused above")
    };
    let pinned = config.pinned_account.as_deref();
    if let Err(errors) = route::check_account(route.account_id, pinned, parts.uri.path()) {
        return Outcome::refused(errors);
    }
    // The image id, variant id or key name in the path.
    let resource = route.resource.map(decode);
    let mut outcome = match route.operation {
        Operation::Upload => match upload::upload(shared, parts, body, scripted).await {
            Ok(upload::Uploaded::Stored(accepted, scripted)) => {
                let body = envelope::image(&accepted.image, &shared.delivery());
                Outcome {
                    // The journal takes a stored upload's id from its image.
                    image_id: None,
                    accepted: Some(accepted),
                    scripted,
                    ..Outcome::ok(body)
                }
            }
            Ok(upload::Uploaded::Scripted(accepted, kind)) => Outcome {
                // The custom id sent, if any: no id was given.
                image_id: Some(accepted.image.id.clone()).filter(|id| !id.is_empty()),
                accepted: Some(accepted),
                scripted: Some(kind),
                ..Outcome::ok(Bytes::new())
            },
            Err(errors) => Outcome::refused(errors),
        },
        Operation::Get => images::get(shared, id(&resource)),
        Operation::Update => images::update(shared, id(&resource), parts, body).await,
        Operation::Delete => images::delete(shared, id(&resource)),
        Operation::ListV1 => images::list_v1(shared, parts.uri.query()),
        Operation::ListV2 => images::list_v2(shared, parts.uri.query()),
        Operation::Blob => blob::blob(shared, id(&resource)),
        Operation::Stats => stats::stats(shared),
        Operation::DirectUploadV1 => direct::create(shared, parts, body, true).await,
        Operation::DirectUploadV2 => direct::create(shared, parts, body, false).await,
        Operation::ListVariants => variants::list(shared),
        Operation::CreateVariant => variants::create(shared, parts, body).await,
        Operation::GetVariant => variants::get(shared, id(&resource), false),
        Operation::GetVariantFlat => variants::get(shared, id(&resource), true),
        Operation::UpdateVariant => variants::update(shared, id(&resource), parts, body).await,
        Operation::DeleteVariant => variants::delete(shared, id(&resource)),
        Operation::ListKeys => keys::list(shared),
        Operation::AddKey => keys::add(shared, id(&resource)),
        Operation::DeleteKey => keys::delete(shared, id(&resource)),
    };
    let about_an_image = matches!(
        route.operation,
        Operation::Get | Operation::Update | Operation::Delete | Operation::Blob
    );
    if outcome.image_id.is_none() && about_an_image {
        outcome.image_id = resource;
    }
    outcome
}

fn id(resource: &Option<String>) -> &str {
    resource.as_deref().unwrap_or_default()
}

/// An id from a path, percent-decoded as the docs ask clients to encode it (a custom id may
/// hold `/`); bytes that are not UTF-8 after decoding are kept lossily, so they name no image.
fn decode(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

/// The answer when a handler of the mock panicked (a bug): an envelope, not a dropped
/// connection.
pub(crate) fn mock_bug(cause: &str) -> Reply {
    Reply::refusal(&[catalogue_error(Rule::MockBug, &[("cause", cause)])])
}

/// `5404 Image not found`, as recorded.
fn not_found() -> Outcome {
    Outcome::refused(vec![image_not_found()])
}

/// The largest JSON body the mock reads (an image update, a variant, a v1 direct upload): far
/// above any valid one (metadata and creator are about 1 KiB each), so a body just over a
/// limit still gets the schema's precise error.
pub(crate) const MAX_JSON_BODY: usize = 64 * 1024;

/// Reads a JSON body whole, within [`MAX_JSON_BODY`] bytes and the body timeout.
async fn read_small_body(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
) -> Result<Bytes, ApiError> {
    let limit = MAX_JSON_BODY;
    use http_body_util::BodyExt as _;
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(catalogue_error(Rule::BodyTooLarge, &[]));
    }
    let mut out = Vec::new();
    loop {
        let frame = tokio::time::timeout(shared.config.body_timeout, body.frame()).await;
        match frame {
            Err(_) => {
                let detail = format!(
                    "no byte of the body arrived for {:?}",
                    shared.config.body_timeout
                );
                return Err(catalogue_error(Rule::BodyStalled, &[("detail", &detail)]));
            }
            Ok(None) => return Ok(Bytes::from(out)),
            Ok(Some(Err(e))) => {
                return Err(catalogue_error(
                    Rule::BodyUnreadable,
                    &[("detail", &e.to_string())],
                ))
            }
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if out.len() + data.len() > limit {
                        return Err(catalogue_error(Rule::BodyTooLarge, &[]));
                    }
                    out.extend_from_slice(data);
                }
            }
        }
    }
}
