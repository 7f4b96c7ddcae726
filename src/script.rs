//! Scripted answers: what the next requests get instead of the normal answer, to test how a
//! client handles a rate limit, a server error, a slow answer or a broken connection.
//!
//! A [`Script`] is queued on the mock with [`MockImages::script`](crate::MockImages::script).
//! Each request to an operation the mock serves, before any other check, takes the first
//! queued answer for its operation ([`Script::on`]) or for any; when none is left the mock
//! answers normally again. Every scripted request is journalled, with
//! [`RequestRecord::scripted`](crate::RequestRecord::scripted) naming its script.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::api::route::Operation;
use crate::envelope::{self, Recorded};

/// What the next request(s) get instead of the normal answer: of any operation the mock serves,
/// or of one ([`on`](Self::on)).
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
    answer: Answer,
    times: usize,
    operation: Option<Operation>,
}

/// What a script answers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    /// A recorded error envelope from `fixtures/`.
    Recorded(&'static std::sync::LazyLock<Recorded>),
    /// The normal answer, after a pause.
    Delay(Duration),
    /// The connection closed before any answer.
    Reset,
    /// The connection closed after part of the request body was read, before any answer.
    ResetMidUpload,
    /// The normal answer's headers and half its body, then the connection closed.
    CutOff,
}

impl Script {
    fn new(answer: Answer) -> Script {
        Script {
            answer,
            times: 1,
            operation: None,
        }
    }

    /// `429 Too Many Requests` with `Retry-After: 1` and Cloudflare's rate-limit envelope
    /// (`971 Please wait and consider throttling your request speed`), from
    /// `fixtures/rate-limited.json`. The official SDKs retry it.
    pub fn rate_limited() -> Script {
        Script::new(Answer::Recorded(&envelope::RATE_LIMITED))
    }

    /// `500` with an internal-error envelope (`10001 Internal server error`: assumed, no real
    /// one is recorded), from `fixtures/internal-error.json`. The official SDKs retry it.
    pub fn internal_error() -> Script {
        Script::new(Answer::Recorded(&envelope::INTERNAL_ERROR))
    }

    /// `401` with `10000 Authentication error` in the API gateway's recorded body (the status is
    /// assumed), from `fixtures/authentication-error.json`, as when a token is revoked mid-run.
    /// Not retried by the SDKs.
    pub fn authentication_error() -> Script {
        Script::new(Answer::Recorded(&envelope::AUTHENTICATION_ERROR))
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
        Script::new(Answer::Delay(delay))
    }

    /// The connection is reset (a TCP RST, on Unix) without an answer, before the mock reads
    /// the body: the client sees "connection reset by peer".
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::reset());
    /// let sent = reqwest::Client::new().post(mock.upload_url()).bearer_auth("t").send().await;
    /// assert!(sent.is_err());
    /// assert_eq!(mock.requests()[0].status, 0); // no answer
    /// assert_eq!(mock.requests()[0].scripted.as_deref(), Some("reset"));
    /// # }
    /// ```
    pub fn reset() -> Script {
        Script::new(Answer::Reset)
    }

    /// The connection is reset (a TCP RST, on Unix) without an answer after the mock has read
    /// about half the request body (at least its first chunk): a reset while the upload is
    /// still being sent.
    pub fn reset_mid_upload() -> Script {
        Script::new(Answer::ResetMidUpload)
    }

    /// The normal answer is processed (an upload is accepted and journalled), but the response
    /// stops half-way through its body and the connection is closed: the client sees the status
    /// and headers, then an error reading the body.
    pub fn cut_off() -> Script {
        Script::new(Answer::CutOff)
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
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Recorded(recorded) => f.write_str(&recorded.error.rule),
            Answer::Delay(delay) => write!(f, "delay {delay:?}"),
            Answer::Reset => f.write_str("reset"),
            Answer::ResetMidUpload => f.write_str("reset_mid_upload"),
            Answer::CutOff => f.write_str("cut_off"),
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

    /// The answer for the next request of `operation`, if one is scripted.
    pub(crate) fn next(&self, operation: Operation) -> Option<Answer> {
        let mut scripts = self.lock();
        let index = scripts
            .iter()
            .position(|s| s.operation.is_none_or(|o| o == operation))?;
        let script = &mut scripts[index];
        let answer = script.answer;
        script.times -= 1;
        if script.times == 0 {
            scripts.remove(index);
        }
        Some(answer)
    }

    /// How many scripted answers were never played.
    pub(crate) fn pending(&self) -> usize {
        self.lock().iter().map(|s| s.times).sum()
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

    #[test]
    fn scripts_play_in_order_and_repeat() {
        let queue = Queue::default();
        queue.push(Script::rate_limited().times(2));
        queue.push(Script::reset().times(0));
        queue.push(Script::cut_off());
        assert_eq!(queue.pending(), 3);
        let played: Vec<String> = std::iter::from_fn(|| queue.next(Operation::Upload))
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
        let next = |operation| queue.next(operation).map(|a| a.to_string());
        assert_eq!(next(Operation::Get).as_deref(), Some("cut_off"));
        assert_eq!(next(Operation::Get), None);
        assert_eq!(next(Operation::Delete).as_deref(), Some("rate_limited"));
        assert_eq!(queue.pending(), 0);
    }
}
