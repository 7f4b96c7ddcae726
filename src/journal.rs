//! The journal: every request the mock received, accepted or refused, with what it answered.
//!
//! Tests read it through [`MockImages::requests`](crate::MockImages::requests) and
//! [`MockImages::uploads`](crate::MockImages::uploads), or wait on it with
//! [`MockImages::wait_for_uploads`](crate::MockImages::wait_for_uploads).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::error::ApiError;

/// One request the mock received, and what it answered.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cloudflare_images_mock::MockImages;
///
/// // GET / is no route of the mock: allow it, or the mock would fail the test at drop.
/// let mock = MockImages::builder().fail_on_unserved_routes(false).start().await;
/// let _ = reqwest::Client::new().get(mock.uri()).send().await.unwrap();
/// let request = &mock.requests()[0];
/// assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/"));
/// assert_eq!(request.status, 400); // no credentials: 9106
/// assert_eq!(request.errors[0].code, 9106);
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// The request headers, in order; values that are not UTF-8 are shown lossily.
    pub headers: Vec<(String, String)>,
    /// The HTTP status answered; `0` when the connection was closed without an answer (a
    /// scripted [`reset`](crate::Script::reset)).
    pub status: u16,
    /// The errors answered (empty for an accepted upload). Each names its rule and field.
    pub errors: Vec<ApiError>,
    /// The accepted upload, if this request was one.
    pub upload: Option<Upload>,
    /// When the request arrived.
    pub received: SystemTime,
    /// The [`Script`](crate::Script) that answered this request, if any: `"rate_limited"`,
    /// `"internal_error"`, `"authentication"`, `"delay 1s"`, `"reset"`, `"reset_mid_upload"`
    /// or `"cut_off"`.
    pub scripted: Option<String>,
}

impl RequestRecord {
    /// Whether the request was answered with success.
    pub fn is_accepted(&self) -> bool {
        self.upload.is_some()
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// An accepted upload: what the client sent and what the mock answered.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cloudflare_images_mock::MockImages;
///
/// let mock = MockImages::start().await;
/// mock.serve_url("https://example.com/cat.svg", r#"<svg width="4" height="3"/>"#);
/// let form = reqwest::multipart::Form::new()
///     .text("url", "https://example.com/cat.svg")
///     .text("creator", "user-42");
/// reqwest::Client::new()
///     .post(mock.upload_url())
///     .bearer_auth("token")
///     .multipart(form)
///     .send()
///     .await
///     .unwrap();
/// let upload = &mock.uploads()[0];
/// assert_eq!(upload.creator.as_deref(), Some("user-42"));
/// assert_eq!(upload.filename.as_deref(), Some("cat.svg"));
/// assert_eq!(upload.file.as_deref(), Some(&br#"<svg width="4" height="3"/>"#[..]));
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Upload {
    /// The image id: the custom id sent, or the one the mock generated.
    pub id: String,
    /// The account the upload was sent to.
    pub account_id: String,
    /// The file name (of the `file` part, or the last segment of `url`).
    pub filename: Option<String>,
    /// The Content-Type of the `file` part, as sent (the SDKs send `application/octet-stream`).
    pub content_type: Option<String>,
    /// The image format detected from the bytes: `png`, `jpeg`, `gif`, `webp`, `svg`, `heic`,
    /// `avif`.
    pub format: Option<String>,
    /// The image width and height read from its header (none for an SVG without a size).
    pub dimensions: Option<(u64, u64)>,
    /// The file bytes (of the `file` part, or fetched from `url`), while the journal keeps them:
    /// the bytes of the most recent uploads are kept up to a budget (see
    /// [`MockImagesBuilder::retain_file_bytes`](crate::MockImagesBuilder::retain_file_bytes));
    /// older uploads keep only [`file_size`](Self::file_size) and
    /// [`file_sha256`](Self::file_sha256).
    pub file: Option<Bytes>,
    /// The size of the file in bytes (kept when the bytes are not).
    pub file_size: Option<u64>,
    /// The SHA-256 of the file, lowercase hex: set when the journal let go of the bytes.
    pub file_sha256: Option<String>,
    /// The `url` sent, if the image was uploaded from a URL.
    pub url: Option<String>,
    /// The `creator` sent.
    pub creator: Option<String>,
    /// The metadata, whichever of the three encodings the client used.
    pub meta: Map<String, Value>,
    /// The `requireSignedURLs` sent (`false` when absent).
    pub require_signed_urls: bool,
    /// Every text part, in the order sent, as `(name, value)`.
    pub fields: Vec<(String, String)>,
    /// The request headers.
    pub headers: Vec<(String, String)>,
    /// The `result` object the mock answered.
    pub result: Value,
}

impl Upload {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// The requests of one mock, in the order their answers were decided.
#[derive(Debug)]
pub(crate) struct Journal {
    state: Arc<State>,
    uploads: watch::Sender<usize>,
}

#[derive(Debug)]
struct State {
    records: Mutex<Records>,
    /// Signalled when the digests of evicted files are written.
    digested: Condvar,
}

#[derive(Debug, Default)]
struct Records {
    all: Vec<RequestRecord>,
    /// Indices into `all` of the uploads whose bytes are still kept, oldest first.
    holding: VecDeque<usize>,
    /// The bytes they hold.
    held: u64,
    /// The most bytes to hold.
    budget: u64,
    /// Evicted files whose digest is still being computed.
    pending: usize,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Records> {
        // A panic while holding this lock cannot leave the records half-written.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes the SHA-256 of each evicted file into its upload, and wakes the readers waiting for it.
fn digest(state: &State, evicted: Vec<(usize, Bytes)>) {
    for (index, bytes) in evicted {
        let digest = sha256_hex(&bytes);
        drop(bytes);
        let mut records = state.lock();
        if let Some(upload) = records.all[index].upload.as_mut() {
            upload.file_sha256 = Some(digest);
        }
        records.pending -= 1;
    }
    state.digested.notify_all();
}

impl Journal {
    /// A journal keeping the file bytes of recent uploads up to `budget` bytes.
    pub(crate) fn new(budget: u64) -> Journal {
        let records = Records {
            budget,
            ..Records::default()
        };
        let state = State {
            records: Mutex::new(records),
            digested: Condvar::new(),
        };
        Journal {
            state: Arc::new(state),
            uploads: watch::Sender::new(0),
        }
    }

    pub(crate) fn record(&self, record: RequestRecord) {
        let accepted = record.is_accepted();
        let size = record
            .upload
            .as_ref()
            .and_then(|u| u.file.as_ref())
            .map(|f| f.len() as u64);
        let mut evicted = Vec::new();
        {
            let mut records = self.state.lock();
            let index = records.all.len();
            records.all.push(record);
            if let Some(size) = size {
                records.holding.push_back(index);
                records.held += size;
            }
            while records.held > records.budget {
                let Some(oldest) = records.holding.pop_front() else {
                    break;
                };
                let upload = records.all[oldest]
                    .upload
                    .as_mut()
                    .expect("held uploads exist");
                if let Some(bytes) = upload.file.take() {
                    records.held -= bytes.len() as u64;
                    evicted.push((oldest, bytes));
                }
            }
            records.pending += evicted.len();
        }
        if !evicted.is_empty() {
            // Digests are computed off the request path, on a thread of their own (not the
            // runtime's blocking pool, which a dropped mock would cancel); readers wait for them.
            // Without a thread to spare, they are computed here: late, but never lost.
            let state = Arc::clone(&self.state);
            let spare = evicted.clone();
            let spawned = std::thread::Builder::new()
                .name("digest".into())
                .spawn(move || digest(&state, evicted));
            if spawned.is_err() {
                digest(&self.state, spare);
            }
        }
        if accepted {
            self.uploads.send_modify(|count| *count += 1);
        }
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.settled().all.clone()
    }

    pub(crate) fn uploads(&self) -> Vec<Upload> {
        self.settled()
            .all
            .iter()
            .filter_map(|record| record.upload.clone())
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().all.len()
    }

    /// The records, once every evicted file has its digest.
    fn settled(&self) -> MutexGuard<'_, Records> {
        let mut records = self.state.lock();
        while records.pending > 0 {
            records = self
                .state
                .digested
                .wait(records)
                .unwrap_or_else(|p| p.into_inner());
        }
        records
    }

    /// Waits until at least `n` uploads were accepted, or `timeout` passes.
    pub(crate) async fn wait_for_uploads(&self, n: usize, timeout: Duration) -> Result<(), usize> {
        let mut count = self.uploads.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|count| *count >= n)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(*self.uploads.borrow()),
        }
    }
}

/// [`MockImages::wait_for_uploads`](crate::MockImages::wait_for_uploads) ran out of time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitTimeout {
    /// How many uploads were awaited.
    pub expected: usize,
    /// How many were accepted by then.
    pub accepted: usize,
    /// How many requests arrived in all, refused ones included.
    pub requests: usize,
    /// How long the wait was.
    pub timeout: Duration,
}

impl std::fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "expected {} upload(s) within {:?}, {} accepted ({} request(s) in all)",
            self.expected, self.timeout, self.accepted, self.requests
        )
    }
}

impl std::error::Error for WaitTimeout {}
