//! One request: from its head to its answer and its journal entry.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{FutureExt, TryStreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::state::{cause, fail, Body, Config, Shared};
use crate::auth;
use crate::envelope;
use crate::error::ApiError;
use crate::fetch;
use crate::file::FileBytes;
use crate::journal::{Accepted, Entry, Fields};
use crate::multipart;
use crate::route::{self, Route};
use crate::script::{Answer, Reset};
use crate::upload::{self, Checked};

/// The most header bytes the mock answers normally; more get a 431 envelope. hyper itself
/// refuses, with a bare 431 and before the mock sees the request, more than 100 headers (its
/// default: a higher limit makes it allocate its header arrays on the heap for every request,
/// about 8% of the mock's time per upload) or a head past its read buffer (about 400 KiB).
pub(super) const MAX_HEADER_BYTES: usize = 64 * 1024;

/// After an answer decided before the end of the body, the rest of the body is read and dropped
/// in the background, so that a client still sending can finish and read the answer instead of
/// meeting a reset. Draining stops (and the connection closes) past this many bytes...
pub(super) const DRAIN_LIMIT: u64 = 2 << 30;
/// ...or when the client sends nothing for this long.
pub(super) const DRAIN_IDLE: Duration = Duration::from_secs(10);

/// Answers a request; a panic in the mock (a bug) still gets an envelope and is reported on
/// the handle.
pub(super) async fn answer_guarded(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Reset> {
    let guarded = std::panic::AssertUnwindSafe(answer(Arc::clone(&shared), request));
    match guarded.catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let cause = cause(&*panic);
            fail(&shared, format!("a request handler panicked: {cause}"));
            let error = ApiError {
                code: 10001,
                status: 500,
                message: format!("cloudflare-images-mock failed (a bug in the mock): {cause}"),
                rule: "mock_bug".to_owned(),
                pointer: None,
                schema_path: None,
                confirmed: false,
            };
            Ok(respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                envelope::failure(&[error]),
            ))
        }
    }
}

pub(super) async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Reset> {
    let (parts, mut body) = request.into_parts();
    let mut entry = Entry::new(&parts, SystemTime::now());
    // Scripts apply to the upload route before any other check.
    let script = if route::route(&parts.method, parts.uri.path()).is_ok() {
        shared.scripts.next()
    } else {
        None
    };
    if let Some(answer) = script {
        entry.scripted = Some(answer.to_string());
        match answer {
            Answer::Recorded(recorded) => {
                entry.status = recorded.status;
                entry.errors = vec![recorded.error.clone()];
                let mut response = respond(
                    StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::BAD_REQUEST),
                    recorded.body.clone(),
                );
                for (name, value) in &recorded.headers {
                    if let (Ok(name), Ok(value)) = (
                        hyper::header::HeaderName::from_bytes(name.as_bytes()),
                        hyper::header::HeaderValue::from_str(value),
                    ) {
                        response.headers_mut().insert(name, value);
                    }
                }
                if !body.is_end_stream() {
                    tokio::spawn(drain(body));
                }
                return Ok(finish(&shared, entry, response));
            }
            Answer::Reset => {
                entry.status = 0;
                finish(&shared, entry, ());
                return Err(Reset);
            }
            Answer::ResetMidUpload => {
                let declared = parts
                    .headers
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                let mut read = 0u64;
                while let Some(Ok(frame)) = body.frame().await {
                    read += frame.data_ref().map_or(0, |data| data.len() as u64);
                    if read >= declared / 2 {
                        break;
                    }
                }
                entry.status = 0;
                finish(&shared, entry, ());
                return Err(Reset);
            }
            Answer::Delay(delay) => tokio::time::sleep(delay).await,
            Answer::CutOff => {}
        }
    }
    let response = match upload(&shared, &parts, &mut body).await {
        Ok(accepted) => {
            let response = respond(StatusCode::OK, accepted.body.clone());
            entry.accepted = Some(accepted);
            response
        }
        Err(errors) => {
            let status = errors.first().map_or(400, |e| e.status);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            entry.status = status.as_u16();
            let body = envelope::failure(&errors);
            entry.errors = errors;
            respond(status, body)
        }
    };
    if !body.is_end_stream() {
        // The answer goes out now; the rest of the body is read and dropped meanwhile.
        tokio::spawn(drain(body));
    }
    let response = if matches!(script, Some(Answer::CutOff)) {
        cut_off(response)
    } else {
        response
    };
    Ok(finish(&shared, entry, response))
}

/// Logs and journals a request, and passes its answer on.
pub(super) fn finish<T>(shared: &Shared, entry: Entry, response: T) -> T {
    log(&entry);
    shared.journal.record(entry);
    response
}

/// The response with the same status, headers and `Content-Length`, whose body stops half-way
/// with an error: hyper then closes the connection.
pub(super) fn cut_off(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let whole = body
        .collect()
        .now_or_never()
        .and_then(Result::ok)
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    parts.headers.insert(
        CONTENT_LENGTH,
        hyper::header::HeaderValue::from(whole.len()),
    );
    let half = whole.slice(..whole.len() / 2);
    // The error comes a moment after the first half, so that hyper flushes the status line, the
    // headers and the half before it closes the connection.
    let frames = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok(hyper::body::Frame::data(half))]),
        futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "answer cut off by a script",
            ))
        }),
    );
    Response::from_parts(
        parts,
        BodyExt::boxed(http_body_util::StreamBody::new(frames)),
    )
}

/// One line per request for the standalone server's log (and any `tracing` subscriber a test
/// installs): method, path, status and the error codes answered.
pub(super) fn log(entry: &Entry) {
    if entry.errors.is_empty() {
        tracing::info!("{} {} {}", entry.method, entry.path(), entry.status);
    } else {
        let codes: Vec<String> = entry.errors.iter().map(|e| e.code.to_string()).collect();
        let rules: Vec<&str> = entry.errors.iter().map(|e| e.rule.as_str()).collect();
        tracing::info!(
            "{} {} {} errors [{}] ({})",
            entry.method,
            entry.path(),
            entry.status,
            codes.join(", "),
            rules.join(", ")
        );
    }
}

pub(super) fn respond(status: StatusCode, body: Bytes) -> Response<Body> {
    let body = Full::new(body).map_err(|never| match never {}).boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let json = hyper::header::HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, json);
    response
}

pub(super) async fn upload(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    body: &mut Incoming,
) -> Result<Accepted, Vec<ApiError>> {
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
        return Err(vec![crate::schema::catalogue_error(
            "headers_too_large",
            &[("detail", &detail)],
        )]);
    }
    auth::check(&parts.headers, config.credentials.as_ref()).map_err(|e| vec![e])?;
    let Route::Upload { account_id } =
        route::route(&parts.method, parts.uri.path()).map_err(|e| vec![e])?;
    route::check_account(account_id, config.pinned_account.as_deref())?;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.limits.max_body()) {
        return Err(vec![crate::schema::catalogue_error("body_too_large", &[])]);
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let boundary = multipart::boundary(content_type).map_err(|e| vec![e])?;
    let stream = BodyStream::new(body)
        .try_filter_map(|frame| futures_util::future::ready(Ok(frame.into_data().ok())));
    let stream = multipart::idle_timeout(stream, config.body_timeout);
    let form = multipart::read_form(boundary, stream, declared, &config.limits)
        .await
        .map_err(|e| vec![e])?;
    let mut checked = upload::check(form)?;
    let mut fetched = None;
    if let Some(url) = &checked.url {
        let bytes = shared
            .fetcher
            .fetch(url, config.limits.max_file)
            .await
            .map_err(|mut e| {
                e.pointer = Some("/url".to_owned());
                vec![e]
            })?;
        let filename = fetch::filename(url);
        let info = upload::check_fetched(&bytes, filename.as_deref())?;
        fetched = Some((bytes, filename));
        checked.image = Some(info);
    }
    // Generated ids cannot collide; only custom ids are kept, to refuse a second upload (5409).
    if let Some(custom) = &checked.id {
        let mut custom_ids = shared.custom_ids.lock().unwrap_or_else(|p| p.into_inner());
        if !custom_ids.insert(custom.clone()) {
            let mut error = crate::schema::catalogue_error("duplicate_id", &[]);
            error.pointer = Some("/id".to_owned());
            return Err(vec![error]);
        }
    }
    let (file, filename, content_type) = match (fetched, checked.file.take()) {
        (Some((bytes, filename)), _) => (Some(FileBytes::from(bytes)), filename, None),
        (None, Some(part)) => (Some(part.bytes), part.filename, part.content_type),
        (None, None) => (None, None, None),
    };
    let generated;
    let id = match &checked.id {
        Some(custom) => custom.as_str(),
        None => {
            generated = generated_id();
            generated.as_str()
        }
    };
    let body = envelope::success(&UploadResult {
        config,
        id,
        filename: filename.as_deref(),
        checked: &checked,
        uploaded: envelope::timestamp(time::OffsetDateTime::now_utc()),
    });
    let image = checked.image.as_ref();
    Ok(Accepted {
        content_type: content_type.map(Bytes::from),
        format: image.and_then(|i| i.format),
        dimensions: image.and_then(|i| Some((i.width?, i.height?))),
        file_size: file.as_ref().map(|f| f.bytes.len() as u64),
        file_xxh3: file.as_ref().map(|f| f.digest),
        file: file.map(|f| f.bytes),
        url: checked.url.map(Bytes::from),
        fields: Fields::new(&checked.fields),
        body,
    })
}

/// Reads and drops the rest of a body, up to [`DRAIN_LIMIT`] bytes and while the client keeps
/// sending; then drops it, which closes the connection if the body did not end.
pub(super) async fn drain(mut body: Incoming) {
    let mut read = 0u64;
    while read <= DRAIN_LIMIT {
        match tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, |data| data.len() as u64);
                // The declared length is in: hyper may not say so with an end of stream until
                // it reads the next request.
                if body.is_end_stream() {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// A generated image id shaped like the real ones: a UUID whose last byte is zero
/// (`107b9558-dd06-4bbd-5fef-9c2c16bb7900` in the official examples).
///
/// The 128 bits come from SipHash, keyed at random once per process, of a counter: unique in
/// the process, unpredictable across processes, and without a `getrandom` call per upload.
pub(super) fn generated_id() -> String {
    use std::hash::BuildHasher as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static KEYS: std::sync::LazyLock<std::hash::RandomState> =
        std::sync::LazyLock::new(std::hash::RandomState::new);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = KEYS.hash_one((n, 0u8));
    let low = KEYS.hash_one((n, 1u8));
    let bits = (u128::from(high) << 64 | u128::from(low)) & !0xff;
    uuid::Builder::from_random_bytes(bits.to_be_bytes())
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The `result` of a success, written straight into the envelope: the upload's own values,
/// in the order of the recorded answer.
struct UploadResult<'a> {
    config: &'a Config,
    id: &'a str,
    /// The official description types filename as a string: when there is none to echo (a file
    /// part without a filename, a url without a last path segment), the key is left out
    /// (assumed; what the real API sends then is not known).
    filename: Option<&'a str>,
    checked: &'a Checked,
    uploaded: String,
}

impl Serialize for UploadResult<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", self.id)?;
        if let Some(filename) = self.filename {
            map.serialize_entry("filename", filename)?;
        }
        map.serialize_entry("creator", &self.checked.creator)?;
        map.serialize_entry("meta", &self.checked.meta)?;
        map.serialize_entry("uploaded", &self.uploaded)?;
        map.serialize_entry("requireSignedURLs", &self.checked.require_signed_urls)?;
        map.serialize_entry(
            "variants",
            &Variants {
                config: self.config,
                id: self.id,
            },
        )?;
        map.end()
    }
}

/// `https://imagedelivery.net/<account hash>/<id>/<variant>` for each variant.
struct Variants<'a> {
    config: &'a Config,
    id: &'a str,
}

impl Serialize for Variants<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Characters a URL path cannot hold are escaped; `/` stays, since custom ids have
        // subpaths.
        const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
            .add(b' ')
            .add(b'"')
            .add(b'#')
            .add(b'%')
            .add(b'<')
            .add(b'>')
            .add(b'?')
            .add(b'`')
            .add(b'{')
            .add(b'}')
            .add(b'\\')
            .add(b'^')
            .add(b'|')
            .add(b'[')
            .add(b']');
        const DELIVERY: &str = "https://imagedelivery.net/";
        let escaped = percent_encoding::utf8_percent_encode(self.id, PATH);
        let hash = &self.config.account_hash;
        let mut seq = serializer.serialize_seq(Some(self.config.variants.len()))?;
        // Put together piece by piece: `format_args!` through serde's `collect_str` ran the
        // formatting machinery for every piece (half a per cent of an upload's time).
        let mut url = String::new();
        for variant in &self.config.variants {
            url.clear();
            url.reserve(DELIVERY.len() + hash.len() + self.id.len() + variant.len() + 2);
            url.push_str(DELIVERY);
            url.push_str(hash);
            url.push('/');
            url.extend(escaped.clone());
            url.push('/');
            url.push_str(variant);
            seq.serialize_element(&url)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_look_like_the_real_ones() {
        let id = generated_id();
        assert_eq!(id.len(), 36);
        assert!(id.ends_with("00"), "{id}");
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{id}");
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| generated_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
