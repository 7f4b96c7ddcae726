//! One request: from its head to its answer and its journal entry.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::request::Parts;
use hyper::{Request, Response, StatusCode};

use crate::api::{self, route, Reply};
use crate::journal::Entry;
use crate::matcher::Head;
use crate::script::{Reset, ScriptKind};
use crate::state::{cause, fail, Shared};

/// The body of the mock's responses: whole, or cut off by a script.
pub(super) type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

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
            Ok(reply(api::mock_bug(&cause)))
        }
    }
}

pub(super) async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Reset> {
    let (parts, mut body) = request.into_parts();
    let mut entry = Entry::headless(parts.method.clone(), shared.clock.now());
    let routed = route::route(
        &parts.method,
        parts.uri.path(),
        Some(&shared.config.account_hash),
    );
    entry.operation = routed.operation();
    entry.delivery = matches!(routed, route::Routed::Delivery(_));
    // Scripts apply to the operations the mock serves, before any other check.
    let script = match routed.operation() {
        Some(operation) if operation.is_served() => {
            let image_id = routed.image_id();
            shared.scripts.next(&Head {
                operation: Some(operation),
                method: parts.method.as_str(),
                image_id: image_id.as_deref(),
                headers: &parts.headers,
            })
        }
        _ => None,
    };
    if let Some(kind) = script {
        entry.scripted = Some(kind);
        match kind {
            ScriptKind::Error(rule) => {
                let response = scripted_error(rule, &mut entry);
                if !body.is_end_stream() {
                    tokio::spawn(drain(body));
                }
                return Ok(finish(&shared, entry, &parts, response));
            }
            ScriptKind::Reset => {
                entry.status = 0;
                finish(&shared, entry, &parts, ());
                return Err(Reset);
            }
            ScriptKind::ResetMidUpload => {
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
                finish(&shared, entry, &parts, ());
                return Err(Reset);
            }
            ScriptKind::Delay(delay) => tokio::time::sleep(delay).await,
            ScriptKind::CutOff => {}
        }
    }
    let mut outcome = api::handle(&shared, &parts, &mut body, &routed, script.is_some()).await;
    // A recorded answer to the same refusal of the same operation replaces the mock's own; the
    // journal keeps the mock's errors, which name the rule.
    if let (Some(operation), Some(error)) = (entry.operation, outcome.errors.first()) {
        if let Some(recorded) = shared.config.fixtures.refusal(operation, error.rule.name()) {
            let mut headers = Vec::new();
            if let Some(content_type) = &recorded.content_type {
                headers.push(("content-type", content_type.clone()));
            }
            outcome.reply = Reply {
                status: recorded.status,
                content_type: crate::envelope::JSON_CONTENT_TYPE,
                headers,
                body: recorded.body.clone(),
            };
        }
    }
    entry.status = outcome.reply.status;
    entry.errors = outcome.errors;
    entry.accepted = outcome.accepted;
    entry.image_id = outcome.image_id;
    // A script with a matcher on the body, decided once the body was read.
    let script = script.or(outcome.scripted);
    entry.scripted = script;
    let response = match outcome.scripted {
        Some(ScriptKind::Error(rule)) => scripted_error(rule, &mut entry),
        Some(ScriptKind::Reset | ScriptKind::ResetMidUpload) => {
            entry.status = 0;
            finish(&shared, entry, &parts, ());
            return Err(Reset);
        }
        _ => reply(outcome.reply),
    };
    if !body.is_end_stream() {
        // The answer goes out now; the rest of the body is read and dropped meanwhile.
        tokio::spawn(drain(body));
    }
    let response = if matches!(script, Some(ScriptKind::CutOff)) {
        cut_off(response)
    } else {
        response
    };
    Ok(finish(&shared, entry, &parts, response))
}

/// The answer of a scripted error, its status and error put in the journal's entry.
fn scripted_error(rule: crate::rule::Rule, entry: &mut Entry) -> Response<Body> {
    match rule.recorded() {
        Some(recorded) => {
            entry.status = recorded.status;
            entry.errors = vec![recorded.error.clone()];
            let mut response = respond(
                StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::BAD_REQUEST),
                recorded.body.clone(),
                "application/json",
            );
            for (name, value) in &recorded.headers {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        None => {
            let error = rule.scripted_error();
            entry.status = error.status;
            let answer = Reply::refusal(std::slice::from_ref(&error));
            entry.errors = vec![error];
            reply(answer)
        }
    }
}

/// Logs and journals a request, and passes its answer on.
pub(super) fn finish<T>(shared: &Shared, entry: Entry, head: &Parts, response: T) -> T {
    log(&entry, head.uri.path());
    shared.journal.record(entry, head);
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
pub(super) fn log(entry: &Entry, path: &str) {
    if entry.errors.is_empty() {
        tracing::info!("{} {} {}", entry.method, path, entry.status);
    } else {
        let codes: Vec<String> = entry.errors.iter().map(|e| e.code.to_string()).collect();
        let rules: Vec<&str> = entry.errors.iter().map(|e| e.rule.name()).collect();
        tracing::info!(
            "{} {} {} errors [{}] ({})",
            entry.method,
            path,
            entry.status,
            codes.join(", "),
            rules.join(", ")
        );
    }
}

pub(super) fn respond(
    status: StatusCode,
    body: Bytes,
    content_type: &'static str,
) -> Response<Body> {
    let body = Full::new(body).map_err(|never| match never {}).boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let content_type = HeaderValue::from_static(content_type);
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// The HTTP response of an answer.
fn reply(reply: Reply) -> Response<Body> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = respond(status, reply.body, reply.content_type);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
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
