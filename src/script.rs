//! Scripted answers: what the next requests get instead of the normal answer, to test how a
//! client handles a rate limit, a server error, a slow answer or a broken connection.
//!
//! A [`Script`] is queued on the mock with [`MockImages::script`](crate::MockImages::script).
//! Each request to an operation the mock serves, before any other check, takes the first
//! queued answer that applies to it (to its operation, [`Script::on`], and its head,
//! [`Script::when`]); an upload whose body was read and checked then takes the first queued
//! answer whose matchers of the body match it ([`Script::when`]); when none is left the mock
//! answers normally again. Every scripted request
//! is journalled, with [`RequestRecord::scripted`](crate::RequestRecord::scripted) saying what
//! answered it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::api::route::Operation;
use crate::journal::RequestRecord;
use crate::matcher::{Head, Matcher};
use crate::rule::Rule;

/// What the next request(s) get instead of the normal answer: of any operation the mock serves,
/// or of one ([`on`](Self::on)), or only those a [`Matcher`] picks ([`when`](Self::when)).
///
/// Queue one with [`MockImages::script`](crate::MockImages::script); [`times`](Self::times)
/// repeats it, and several queued scripts play in order (fail twice, then succeed):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cloudflare_images_mock::{MockImages, Script};
///
/// let mock = MockImages::start().await;
/// mock.script(Script::rate_limited().times(2));
/// mock.script(Script::internal_error());
/// // The next two requests get 429 with `Retry-After: 1`, the third a 500, the rest the normal
/// // answer.
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a script does nothing until queued with `mock.script(...)`"]
pub struct Script {
    kind: ScriptKind,
    times: usize,
    operation: Option<Operation>,
    matchers: Vec<Matcher>,
}

/// What a [`Script`] answered, as [`RequestRecord::scripted`](crate::RequestRecord::scripted)
/// records it. Its `Display` is the short name the drop report shows (`rate_limited`,
/// `delay 300ms`, `reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScriptKind {
    /// The error of a rule, with its recorded status and envelope ([`Script::error`],
    /// [`Script::rate_limited`], [`Script::internal_error`], [`Script::authentication_error`]).
    Error(Rule),
    /// The normal answer, after a pause ([`Script::delay`]).
    Delay(Duration),
    /// The connection closed before any answer ([`Script::reset`]).
    Reset,
    /// The connection closed after part of the request body was read, before any answer
    /// ([`Script::reset_mid_upload`]).
    ResetMidUpload,
    /// The normal answer's headers and half its body, then the connection closed
    /// ([`Script::cut_off`]).
    CutOff,
}

impl Script {
    fn new(kind: ScriptKind) -> Script {
        Script {
            kind,
            times: 1,
            operation: None,
            matchers: Vec::new(),
        }
    }

    /// The error of `rule` as the mock answers a real refusal of it: its code, status and
    /// message from `schemas/` (run-time placeholders such as `{detail}` read `scripted`), in
    /// the same envelope (the API gateway's recorded body for its own errors, the plain text
    /// of a missing image, the Images service's JSON failure envelope otherwise). The rules of
    /// `fixtures/` ([`Rule::RateLimited`], [`Rule::InternalError`], [`Rule::Authentication`])
    /// answer their recorded envelope and headers.
    ///
    /// It takes a [`Rule`], so an unknown error cannot be scripted; from a name,
    /// `"creator_too_long".parse::<Rule>()` fails with an [`UnknownRule`](crate::UnknownRule)
    /// that says so.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, Rule, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::error(Rule::DuplicateId));
    /// let response = reqwest::Client::new().post(mock.upload_url()).bearer_auth("t").send().await.unwrap();
    /// assert_eq!(response.status(), 409);
    /// let body: serde_json::Value = response.json().await.unwrap();
    /// assert_eq!(body["errors"][0]["code"], 5409);
    /// # }
    /// ```
    pub fn error(rule: Rule) -> Script {
        Script::new(ScriptKind::Error(rule))
    }

    /// `429 Too Many Requests` with `Retry-After: 1` and Cloudflare's rate-limit envelope
    /// (`971 Please wait and consider throttling your request speed`), from
    /// `fixtures/rate-limited.json`. The official SDKs retry it.
    pub fn rate_limited() -> Script {
        Script::error(Rule::RateLimited)
    }

    /// `500` with an internal-error envelope (`10001 Internal server error`: assumed, no real
    /// one is recorded), from `fixtures/internal-error.json`. The official SDKs retry it.
    pub fn internal_error() -> Script {
        Script::error(Rule::InternalError)
    }

    /// `401` with `10000 Authentication error` in the API gateway's recorded body (the status is
    /// assumed), from `fixtures/authentication-error.json`, as when a token is revoked mid-run.
    /// Not retried by the SDKs.
    pub fn authentication_error() -> Script {
        Script::error(Rule::Authentication)
    }

    /// The normal answer, after waiting `delay`: for client timeouts.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use cloudflare_images_mock::{MockImages, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::delay(Duration::from_millis(500)));
    /// let sent = reqwest::Client::new()
    ///     .post(mock.upload_url())
    ///     .bearer_auth("token")
    ///     .timeout(Duration::from_millis(50))
    ///     .send()
    ///     .await;
    /// assert!(sent.unwrap_err().is_timeout());
    /// # }
    /// ```
    pub fn delay(delay: Duration) -> Script {
        Script::new(ScriptKind::Delay(delay))
    }

    /// The connection is reset (a TCP RST, on Unix) without an answer, before the mock reads
    /// the body: the client sees "connection reset by peer".
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, Outcome, Script, ScriptKind};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::reset());
    /// let sent = reqwest::Client::new().post(mock.upload_url()).bearer_auth("t").send().await;
    /// assert!(sent.is_err());
    /// assert_eq!(mock.requests()[0].outcome, Outcome::Reset); // no answer
    /// assert_eq!(mock.requests()[0].scripted, Some(ScriptKind::Reset));
    /// # }
    /// ```
    pub fn reset() -> Script {
        Script::new(ScriptKind::Reset)
    }

    /// The connection is reset (a TCP RST, on Unix) without an answer after the mock has read
    /// about half the request body (at least its first chunk): a reset while the upload is
    /// still being sent.
    pub fn reset_mid_upload() -> Script {
        Script::new(ScriptKind::ResetMidUpload)
    }

    /// The normal answer is processed (an upload is accepted and journalled), but the response
    /// stops half-way through its body and the connection is closed: the client sees the status
    /// and headers, then an error reading the body.
    pub fn cut_off() -> Script {
        Script::new(ScriptKind::CutOff)
    }

    /// Answers this way the next `n` requests instead of one (`times(0)` is a script that
    /// never plays).
    pub fn times(mut self, n: usize) -> Script {
        self.times = n;
        self
    }

    /// Answers only requests of `operation`; requests of other operations pass it by (and take
    /// the next script for them, if any).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, Operation, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::internal_error().on(Operation::Delete));
    /// let client = reqwest::Client::new();
    /// let stats = format!("{}/stats", mock.upload_url());
    /// assert_eq!(client.get(stats).bearer_auth("t").send().await.unwrap().status(), 200);
    /// let delete = format!("{}/some-id", mock.upload_url());
    /// assert_eq!(client.delete(delete).bearer_auth("t").send().await.unwrap().status(), 500);
    /// # }
    /// ```
    pub fn on(mut self, operation: Operation) -> Script {
        self.operation = Some(operation);
        self
    }

    /// Answers only the requests `matcher` matches (several `when`s must all match); the others
    /// pass it by. The way to script one request among concurrent ones: by its header, its
    /// image id, or what its upload sends (creator, metadata, custom id, file).
    ///
    /// When a script is decided depends on its matchers:
    /// - Matchers of the request head only (operation, method, image id in the path, header;
    ///   [`Matcher::on_head`]): as soon as the head arrives, before any other check and before
    ///   the body is read, as a script without `when`.
    /// - Any matcher of the body (creator, metadata, file size or SHA-256, a
    ///   [`Matcher::function`], alone or with head matchers): only for uploads
    ///   (`POST .../images/v1`), once the body is read and checked by the upload's rules (and a
    ///   `url` fetched), before the store changes. A request refused by the rules gets its real
    ///   refusal and leaves the script queued for a valid one. A script that matches answers in
    ///   place of the real answer: an error or a [`reset`](Self::reset) stores nothing, and the
    ///   journal records the request as [`scripted`](crate::RequestRecord::scripted) with what
    ///   it sent in [`upload`](crate::RequestRecord::upload); a [`delay`](Self::delay) or
    ///   [`cut_off`](Self::cut_off) stores the upload and answers it normally, after the pause or
    ///   cut off. The record a [`Matcher::function`] sees is the upload as it would be journalled
    ///   if stored (status `200`, no `scripted`, the file bytes; the image id is the custom id
    ///   sent, if any, which a [`Matcher::image_id`] next to a body matcher matches too).
    ///   Requests of other operations pass such a script by.
    ///
    /// A script is claimed by one request at a time: of concurrent uploads that all match a
    /// script of `times(1)`, exactly one gets it. A request takes one script at most, and head
    /// scripts are decided first: an upload a head script took (even a delay) passes body
    /// scripts by, and a head script queued after a body script that also applies takes the
    /// request first.
    ///
    /// # Panics
    /// If `matcher` needs the body and the script is a
    /// [`reset_mid_upload`](Self::reset_mid_upload), which must answer before the body is read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{Matcher, MockImages, Operation, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::rate_limited().on(Operation::Upload).when(Matcher::header("x-tenant", "b")));
    /// let client = reqwest::Client::new();
    /// let send = |tenant: &str| client.post(mock.upload_url()).bearer_auth("t").header("x-tenant", tenant).send();
    /// let (a, b) = tokio::join!(send("a"), send("b"));
    /// assert_eq!(a.unwrap().status(), 415); // no form: the normal refusal (5415)
    /// assert_eq!(b.unwrap().status(), 429);
    /// # }
    /// ```
    ///
    /// On the body:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{Matcher, MockImages, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::rate_limited().when(Matcher::creator("u-2")));
    /// let client = reqwest::Client::new();
    /// let send = |creator: &'static str| {
    ///     let form = reqwest::multipart::Form::new()
    ///         .text("creator", creator)
    ///         .part("file", reqwest::multipart::Part::text("<svg/>").file_name("a.svg"));
    ///     client.post(mock.upload_url()).bearer_auth("t").multipart(form).send()
    /// };
    /// let (one, two) = tokio::join!(send("u-1"), send("u-2"));
    /// assert_eq!(one.unwrap().status(), 200);
    /// assert_eq!(two.unwrap().status(), 429);
    /// assert_eq!(mock.uploads().len(), 1); // the scripted one is not stored
    /// # }
    /// ```
    #[track_caller]
    pub fn when(mut self, matcher: Matcher) -> Script {
        assert!(
            matcher.on_head() || self.kind != ScriptKind::ResetMidUpload,
            "cloudflare-images-mock: Script::reset_mid_upload answers before the body is read, \
             so it cannot match on {matcher}: use a matcher of the request head (operation, \
             method, image id, header), or Script::reset, which a body matcher decides after the \
             body is read"
        );
        self.matchers.push(matcher);
        self
    }

    /// Whether a matcher needs the body, so that the script is decided after it is read.
    fn on_body(&self) -> bool {
        self.matchers.iter().any(|m| !m.on_head())
    }

    fn applies(&self, head: &Head<'_>) -> bool {
        self.operation.is_none_or(|o| head.operation == Some(o))
            && self.matchers.iter().all(|m| m.matches_head(head))
    }

    /// Whether a script with a body matcher applies to an upload whose body was read: every
    /// matcher on the record the upload would get (whose image id is the custom id sent).
    fn applies_to_body(&self, head: &Head<'_>, record: &RequestRecord) -> bool {
        self.operation.is_none_or(|o| head.operation == Some(o))
            && self.matchers.iter().all(|m| m.matches(record))
    }
}

impl fmt::Display for ScriptKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptKind::Error(rule) => write!(f, "{rule}"),
            ScriptKind::Delay(delay) => write!(f, "delay {delay:?}"),
            ScriptKind::Reset => f.write_str("reset"),
            ScriptKind::ResetMidUpload => f.write_str("reset_mid_upload"),
            ScriptKind::CutOff => f.write_str("cut_off"),
        }
    }
}

/// The scripts queued on one mock.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    scripts: Mutex<VecDeque<Script>>,
}

impl Queue {
    pub(crate) fn push(&self, script: Script) {
        if script.times > 0 {
            self.lock().push_back(script);
        }
    }

    /// The answer for a request that just arrived, if a script of the head is queued for it.
    pub(crate) fn next(&self, head: &Head<'_>) -> Option<ScriptKind> {
        let mut scripts = self.lock();
        let index = scripts
            .iter()
            .position(|s| !s.on_body() && s.applies(head))?;
        Some(Queue::claim(&mut scripts, index))
    }

    /// Whether a script with a matcher on the body is queued: only then is an upload's record
    /// made for [`next_for_body`](Self::next_for_body).
    pub(crate) fn wants_body(&self) -> bool {
        self.lock().iter().any(Script::on_body)
    }

    /// The answer for an upload whose body was read and checked, if a script with a matcher on
    /// the body is queued for it. Matched and claimed under one lock, so that of two uploads
    /// matching a script's last play only one gets it (the matchers are cheap; a
    /// [`Matcher::function`] runs under the lock).
    pub(crate) fn next_for_body(
        &self,
        head: &Head<'_>,
        record: &RequestRecord,
    ) -> Option<ScriptKind> {
        let mut scripts = self.lock();
        let index = scripts
            .iter()
            .position(|s| s.on_body() && s.applies_to_body(head, record))?;
        Some(Queue::claim(&mut scripts, index))
    }

    /// Plays the script at `index` once.
    fn claim(scripts: &mut VecDeque<Script>, index: usize) -> ScriptKind {
        let script = &mut scripts[index];
        let kind = script.kind;
        script.times -= 1;
        if script.times == 0 {
            scripts.remove(index);
        }
        kind
    }

    /// How many scripted answers were never played.
    pub(crate) fn pending(&self) -> usize {
        self.lock().iter().map(|s| s.times).sum()
    }

    /// Forgets every queued script.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Script>> {
        self.scripts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The error the mock's service returns to make hyper close a connection without an answer.
#[derive(Debug)]
pub(crate) struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by a script")
    }
}

impl std::error::Error for Reset {}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(operation: Operation, headers: &hyper::HeaderMap) -> Head<'_> {
        Head {
            operation: Some(operation),
            method: "POST",
            image_id: None,
            headers,
        }
    }

    #[test]
    fn scripts_play_in_order_and_repeat() {
        let queue = Queue::default();
        queue.push(Script::rate_limited().times(2));
        queue.push(Script::reset().times(0));
        queue.push(Script::cut_off());
        assert_eq!(queue.pending(), 3);
        let headers = hyper::HeaderMap::new();
        let played: Vec<String> =
            std::iter::from_fn(|| queue.next(&head(Operation::Upload, &headers)))
                .map(|a| a.to_string())
                .collect();
        assert_eq!(played, ["rate_limited", "rate_limited", "cut_off"]);
        assert_eq!(queue.pending(), 0);
    }

    #[test]
    fn a_script_on_one_operation_lets_the_others_pass_to_the_next_script() {
        let queue = Queue::default();
        queue.push(Script::rate_limited().on(Operation::Delete));
        queue.push(Script::cut_off());
        let headers = hyper::HeaderMap::new();
        let next = |operation| {
            queue
                .next(&head(operation, &headers))
                .map(|a| a.to_string())
        };
        assert_eq!(next(Operation::Get).as_deref(), Some("cut_off"));
        assert_eq!(next(Operation::Get), None);
        assert_eq!(next(Operation::Delete).as_deref(), Some("rate_limited"));
        assert_eq!(queue.pending(), 0);
    }
}
