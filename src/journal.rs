//! The journal: every request the mock received, accepted or refused, with what it answered.
//!
//! Tests read it through [`MockImages::requests`](crate::MockImages::requests) and
//! [`MockImages::uploads`](crate::MockImages::uploads), or wait on it with
//! [`MockImages::wait_for_uploads`](crate::MockImages::wait_for_uploads).

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::HeaderMap;
use hyper::Method;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::api::route::Operation;
use crate::error::ApiError;
use crate::script::ScriptKind;
use crate::state::Delivery;
use crate::store::{Store, StoredImage};

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
    /// scripted [`reset`](crate::Script::reset)). [`outcome`](Self::outcome) says the same
    /// as a type, with a cut-off answer told apart.
    pub status: u16,
    /// How the connection ended: a whole answer, no answer, or an answer cut off half-way.
    pub outcome: Outcome,
    /// The errors answered (empty for an accepted upload). Each names its rule and field.
    pub errors: Vec<ApiError>,
    /// The upload, if this request was an accepted one, or one a [`Script`](crate::Script)
    /// with a matcher on the body answered with an error or a reset after reading and checking
    /// it: then [`scripted`](Self::scripted) says so, nothing was stored, and the upload holds
    /// what was sent (its [`result`](Upload::result) is `null`).
    pub upload: Option<Upload>,
    /// When the request arrived.
    pub received: SystemTime,
    /// The operation the request was routed to; `None` for a path or method of no operation.
    pub operation: Option<Operation>,
    /// Whether the request was for a delivery URL (`GET /cdn-cgi/imagedelivery/...`): no
    /// operation of the API, but a route the mock serves.
    pub delivery: bool,
    /// The image the request was about (the id in its path, percent-decoded, or the id an
    /// upload got).
    pub image_id: Option<String>,
    /// What the [`Script`](crate::Script) that answered this request did, if one did.
    pub scripted: Option<ScriptKind>,
}

/// How the connection of a request ended, for [`RequestRecord::outcome`].
///
/// The status stays in [`RequestRecord::status`] too (`0` when there was none), since most
/// tests only compare statuses; this type tells a reset from an answer without a magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A whole answer of this status was sent.
    Answered(u16),
    /// The connection was closed without an answer (a scripted
    /// [`reset`](crate::Script::reset) or [`reset_mid_upload`](crate::Script::reset_mid_upload)).
    Reset,
    /// The status and headers were sent, then the body stopped half-way and the connection was
    /// closed (a scripted [`cut_off`](crate::Script::cut_off)).
    CutOff(u16),
}

impl Outcome {
    fn of(status: u16, scripted: Option<ScriptKind>) -> Outcome {
        match (status, scripted) {
            (0, _) => Outcome::Reset,
            (status, Some(ScriptKind::CutOff)) => Outcome::CutOff(status),
            (status, _) => Outcome::Answered(status),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Answered(status) => write!(f, "{status}"),
            Outcome::Reset => f.write_str("no answer (connection closed)"),
            Outcome::CutOff(status) => write!(f, "{status} (answer cut off)"),
        }
    }
}

impl RequestRecord {
    /// Whether the request was answered with success.
    pub fn is_accepted(&self) -> bool {
        self.errors.is_empty() && (200..300).contains(&self.status)
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
    /// The image id: the custom id sent, or the one the mock generated (empty for an upload a
    /// script answered without storing it, when no custom id was sent).
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
    /// The file bytes (of the `file` part, or fetched from `url`), read from the store while the
    /// image is stored; `None` once it is deleted, when [`file_size`](Self::file_size) and
    /// [`file_xxh3`](Self::file_xxh3) remain. [`file_matches`](Self::file_matches) compares
    /// either way.
    pub file: Option<Bytes>,
    /// The size of the file in bytes (kept when the bytes are not).
    pub file_size: Option<u64>,
    /// The XXH3-128 digest of the file (as `xxhash_rust::xxh3::xxh3_128` computes it), kept
    /// when the bytes are not. Computed from the stored bytes when the upload is first read, or
    /// when its image is deleted, not while the file arrives: most uploads of a test are never
    /// read back, and hashing each on arrival was a cost every upload paid. XXH3 rather than
    /// SHA-256, which costs more than receiving the file.
    pub file_xxh3: Option<u128>,
    /// The `url` sent, if the image was uploaded from a URL.
    pub url: Option<String>,
    /// The `creator` sent.
    pub creator: Option<String>,
    /// The metadata, whichever of the three encodings the client used; `None` when no
    /// `metadata` was sent (the answer then has no `meta` key).
    pub meta: Option<Map<String, Value>>,
    /// The `requireSignedURLs` sent (`false` when absent).
    pub require_signed_urls: bool,
    /// Every text part, in the order sent, as `(name, value)`.
    pub fields: Vec<(String, String)>,
    /// The request headers.
    pub headers: Vec<(String, String)>,
    /// The `result` object the mock answered (`null` for an upload a script answered without
    /// storing it).
    pub result: Value,
}

impl Upload {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the file received is `expected`: compared byte for byte while the image is
    /// stored, by size and XXH3-128 digest after it is deleted. `false` for an upload without a
    /// file.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start().await;
    /// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"/>"#;
    /// let form = reqwest::multipart::Form::new()
    ///     .part("file", reqwest::multipart::Part::text(svg).file_name("cat.svg"));
    /// reqwest::Client::new()
    ///     .post(mock.upload_url())
    ///     .bearer_auth("token")
    ///     .multipart(form)
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// let id = mock.uploads()[0].id.clone();
    /// let url = format!("{}/{id}", mock.upload_url());
    /// reqwest::Client::new().delete(url).bearer_auth("token").send().await.unwrap();
    /// let upload = &mock.uploads()[0]; // deleted: only its size and digest remain
    /// assert_eq!(upload.file, None);
    /// assert!(upload.file_matches(svg.as_bytes()));
    /// assert!(!upload.file_matches(b"<svg/>"));
    /// # }
    /// ```
    pub fn file_matches(&self, expected: &[u8]) -> bool {
        match (&self.file, self.file_size, self.file_xxh3) {
            (Some(bytes), _, _) => bytes.as_ref() == expected,
            (None, Some(size), Some(digest)) => {
                size == expected.len() as u64 && digest == xxhash_rust::xxh3::xxh3_128(expected)
            }
            _ => false,
        }
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// What the journal keeps of a request until a test reads it as a [`RequestRecord`]: copied
/// out of hyper's buffers (a header value borrowed from hyper would keep its whole read buffer
/// alive), with the answer's body in place of a `result` value. Its bytes end up in the
/// journal's record blocks: kept for good, they are not worth an allocation each.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) method: Method,
    pub(crate) head: Head,
    pub(crate) received: SystemTime,
    pub(crate) status: u16,
    pub(crate) errors: Vec<ApiError>,
    pub(crate) scripted: Option<ScriptKind>,
    pub(crate) operation: Option<Operation>,
    /// A request for a delivery URL.
    pub(crate) delivery: bool,
    /// The image the request was about; `None` for a stored upload, whose id is its image's
    /// (see [`Entry::image_id`]): no copy of it per upload.
    pub(crate) image_id: Option<String>,
    pub(crate) accepted: Option<Accepted>,
}

/// What expectations look at in a record (of the journal, or one copied out).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary<'a> {
    pub(crate) operation: Option<Operation>,
    /// A request for a delivery URL: served, with no operation.
    pub(crate) delivery: bool,
    pub(crate) image_id: Option<&'a str>,
    /// An accepted upload.
    pub(crate) upload: bool,
    pub(crate) answered_with_success: bool,
    pub(crate) scripted: bool,
}

impl Summary<'_> {
    /// A request to no operation of the API, or to one the mock does not serve. Delivery URLs
    /// and the one-time upload URL of a direct creator upload (no operation of the API, but an
    /// image named) are served.
    pub(crate) fn unserved(&self) -> bool {
        !self.delivery
            && self
                .operation
                .map_or(self.image_id.is_none(), |operation| !operation.is_served())
    }

    /// A request refused without a script asking for it.
    pub(crate) fn unscripted_refusal(&self) -> bool {
        !self.scripted && !self.answered_with_success
    }
}

impl RequestRecord {
    pub(crate) fn summary(&self) -> Summary<'_> {
        Summary {
            operation: self.operation,
            delivery: self.delivery,
            image_id: self.image_id.as_deref(),
            upload: self.upload.is_some(),
            answered_with_success: self.is_accepted(),
            scripted: self.scripted.is_some(),
        }
    }
}

/// What the journal keeps of an accepted upload: the image as it was stored, and where its
/// bytes are in the store (the journal keeps no copy of them).
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) image: std::sync::Arc<StoredImage>,
    /// The key of the bytes in the store; `None` for an upload a script answered after reading
    /// its body, which was not stored.
    pub(crate) key: Option<u64>,
    pub(crate) content_type: Option<Bytes>,
    /// The file's XXH3-128 digest, once known: set when an upload is not stored (its bytes are
    /// dropped), else when it is first read (see [`Accepted::file_xxh3`]).
    pub(crate) file_xxh3: OnceLock<u128>,
    pub(crate) url: Option<Bytes>,
    /// Every text part as name and value (see [`Fields`]).
    pub(crate) fields: Fields,
}

impl Accepted {
    /// The file's digest: the one kept, or one hashed from `file` (the stored bytes, when the
    /// view reads them) and kept, or the one the store kept when the image was deleted.
    fn file_xxh3(&self, file: Option<&[u8]>, store: &Store) -> Option<u128> {
        if let Some(digest) = self.file_xxh3.get() {
            return Some(*digest);
        }
        let digest = match file {
            Some(bytes) => xxhash_rust::xxh3::xxh3_128(bytes),
            None => store.removed_digest(self.key?)?,
        };
        Some(*self.file_xxh3.get_or_init(|| digest))
    }
}

/// A request's target and headers in one buffer: the target, then each header's name and
/// value, each preceded by its length (4 bytes, little-endian).
#[derive(Debug)]
pub(crate) struct Head(Bytes);

impl Head {
    fn new(target: &str, headers: &HeaderMap) -> Head {
        let mut bytes = Vec::with_capacity(Head::size(target, headers));
        Head::write(&mut bytes, target, headers);
        Head(Bytes::from(bytes))
    }

    /// The head of a request written straight into the record blocks (see [`copy_into`]): no
    /// buffer of its own to fill, copy and free.
    fn new_in(slab: &mut BytesMut, target: &str, headers: &HeaderMap) -> Head {
        make_room(slab, Head::size(target, headers));
        Head::write(slab, target, headers);
        Head(slab.split().freeze())
    }

    fn size(target: &str, headers: &HeaderMap) -> usize {
        4 + target.len()
            + headers
                .iter()
                .map(|(name, value)| 8 + name.as_str().len() + value.len())
                .sum::<usize>()
    }

    fn write(bytes: &mut impl BufMut, target: &str, headers: &HeaderMap) {
        push_field(bytes, target.as_bytes());
        for (name, value) in headers {
            push_field(bytes, name.as_str().as_bytes());
            push_field(bytes, value.as_bytes());
        }
    }

    /// The fields in order: the target, then names and values alternating.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        length_prefixed(&self.0)
    }

    /// The path and, after a `?`, the query.
    fn target(&self) -> &str {
        // Written from a `str`.
        std::str::from_utf8(self.fields().next().unwrap_or_default()).unwrap_or_default()
    }

    fn pairs(&self) -> Vec<(String, String)> {
        pairs(self.fields().skip(1))
    }
}

/// Text parts as names and values alternating, each preceded by its length, in one buffer.
#[derive(Debug, Clone)]
pub(crate) struct Fields(Bytes);

impl Fields {
    pub(crate) fn new(fields: &[(String, String)]) -> Fields {
        let mut bytes = Vec::with_capacity(
            fields
                .iter()
                .map(|(name, value)| 8 + name.len() + value.len())
                .sum(),
        );
        for field in fields.iter().flat_map(|(name, value)| [name, value]) {
            push_field(&mut bytes, field.as_bytes());
        }
        Fields(Bytes::from(bytes))
    }

    fn pairs(&self) -> Vec<(String, String)> {
        pairs(length_prefixed(&self.0))
    }
}

/// Appends a field as its length (4 bytes, little-endian) and its bytes. Heads are bounded by
/// hyper's read buffer (about 400 KiB) and text parts by the body limit: lengths fit in 4 bytes.
fn push_field(bytes: &mut impl BufMut, field: &[u8]) {
    bytes.put_slice(&(field.len() as u32).to_le_bytes());
    bytes.put_slice(field);
}

/// The fields of a buffer written by [`push_field`], in order.
fn length_prefixed(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let (length, after) = rest.split_first_chunk::<4>()?;
        let (field, after) = after.split_at(u32::from_le_bytes(*length) as usize);
        rest = after;
        Some(field)
    })
}

/// Names and values alternating, as text (lossily where they are not UTF-8).
fn pairs<'a>(mut fields: impl Iterator<Item = &'a [u8]>) -> Vec<(String, String)> {
    std::iter::from_fn(|| Some((text(fields.next()?), text(fields.next()?)))).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The target of a request: its path and, after a `?`, its query.
fn target(head: &hyper::http::request::Parts) -> &str {
    head.uri
        .path_and_query()
        .map_or_else(|| head.uri.path(), |target| target.as_str())
}

impl Entry {
    /// The head of a request, copied.
    pub(crate) fn new(head: &hyper::http::request::Parts, received: SystemTime) -> Entry {
        Entry {
            head: Head::new(target(head), &head.headers),
            ..Entry::headless(head.method.clone(), received)
        }
    }

    /// An entry whose head [`Journal::record`] copies when it journals it.
    pub(crate) fn headless(method: Method, received: SystemTime) -> Entry {
        Entry {
            method,
            head: Head(Bytes::new()),
            received,
            status: 200,
            errors: Vec::new(),
            scripted: None,
            operation: None,
            delivery: false,
            image_id: None,
            accepted: None,
        }
    }

    /// The image the request was about: the one named, or the stored upload's.
    pub(crate) fn image_id(&self) -> Option<&str> {
        self.image_id.as_deref().or_else(|| match &self.accepted {
            Some(accepted) if accepted.key.is_some() => Some(accepted.image.id.as_str()),
            _ => None,
        })
    }

    /// What an expectation looks at.
    pub(crate) fn summary(&self) -> Summary<'_> {
        Summary {
            operation: self.operation,
            delivery: self.delivery,
            image_id: self.image_id(),
            upload: self.stored(),
            answered_with_success: self.errors.is_empty() && (200..300).contains(&self.status),
            scripted: self.scripted.is_some(),
        }
    }

    /// Whether the request was an upload that was stored (not one a script answered).
    pub(crate) fn stored(&self) -> bool {
        self.accepted.as_ref().is_some_and(|a| a.key.is_some())
    }

    pub(crate) fn record(&self, view: &View<'_>) -> RequestRecord {
        let headers = self.head.pairs();
        let target = self.head.target();
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (target.to_owned(), None),
        };
        let upload = self
            .accepted
            .as_ref()
            .map(|accepted| upload(headers.clone(), &path, accepted, view));
        RequestRecord {
            method: self.method.as_str().to_owned(),
            path,
            query,
            headers,
            status: self.status,
            outcome: Outcome::of(self.status, self.scripted),
            errors: self.errors.clone(),
            upload,
            received: self.received,
            operation: self.operation,
            delivery: self.delivery,
            image_id: self.image_id().map(str::to_owned),
            scripted: self.scripted,
        }
    }
}

/// What the public views of records read besides the journal: the store (for the bytes of
/// uploads) and what delivery URLs are made of (for the `result` answered).
#[derive(Clone)]
pub(crate) struct View<'a> {
    pub(crate) store: &'a Store,
    pub(crate) delivery: Delivery,
    /// Whether uploads get their file bytes (read back from disk past the memory budget) and,
    /// while their image is stored, their digest: not for a report, which shows sizes only.
    pub(crate) bytes: bool,
}

/// The public view of an accepted upload.
fn upload(
    headers: Vec<(String, String)>,
    path: &str,
    accepted: &Accepted,
    view: &View<'_>,
) -> Upload {
    let image = &accepted.image;
    let file = accepted
        .key
        .filter(|_| view.bytes)
        .and_then(|key| view.store.bytes(key));
    // An upload a script answered got no `result`.
    let result = match accepted.key {
        Some(_) => serde_json::to_value(crate::envelope::ImageResult {
            image,
            delivery: &view.delivery,
        })
        .unwrap_or_default(),
        None => Value::Null,
    };
    Upload {
        id: image.id.clone(),
        // The account of the upload's own path (routed as it was when it arrived).
        account_id: match crate::api::route::route(&Method::POST, path, None) {
            crate::api::route::Routed::Api(route) => route.account_id.to_owned(),
            _ => String::new(),
        },
        filename: image.filename.clone(),
        content_type: accepted.content_type.as_deref().map(text),
        format: image.format.clone(),
        dimensions: image.dimensions,
        file_xxh3: accepted.file_xxh3(file.as_deref(), view.store),
        file,
        file_size: image.file_size,
        url: accepted.url.as_deref().map(text),
        creator: image.creator.clone(),
        meta: image.meta.clone(),
        require_signed_urls: image.require_signed_urls,
        fields: accepted.fields.pairs(),
        headers,
        result,
    }
}

/// The requests of one mock, in the order their answers were decided.
#[derive(Debug)]
pub(crate) struct Journal {
    records: Mutex<Records>,
    uploads: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct Records {
    all: Vec<Entry>,
    /// How many records [`Journal::clear`] dropped, so that a position taken before a clear
    /// still marks the same point in time.
    cleared: usize,
    /// Where the bytes of every record are kept, for good.
    record_slab: BytesMut,
}

/// The size of the blocks records are copied into.
const SLAB: usize = 256 << 10;

/// `bytes`, copied into `slab`, which starts a new block when they do not fit (bytes larger than
/// a block get a block of their own). Records are kept for good: one allocation per 256 KiB of
/// them instead of one per record, and the buffers they arrived in go back to the allocator at
/// once, to be reused (in cache) by the next request.
pub(crate) fn copy_into(slab: &mut BytesMut, bytes: &[u8]) -> Bytes {
    make_room(slab, bytes.len());
    slab.extend_from_slice(bytes);
    slab.split().freeze()
}

/// Starts a new block when `slab` has no room for `size` more bytes: the bytes already handed
/// out stay in the old one, which is freed with the last of them.
fn make_room(slab: &mut BytesMut, size: usize) {
    if slab.capacity() - slab.len() < size {
        *slab = BytesMut::with_capacity(SLAB.max(size));
    }
}

impl Records {
    /// A record's bytes (the request's head, its text parts), copied into the record blocks.
    fn keep_record(&mut self, entry: &mut Entry, head: &hyper::http::request::Parts) {
        entry.head = Head::new_in(&mut self.record_slab, target(head), &head.headers);
        if let Some(accepted) = entry.accepted.as_mut() {
            let slab = &mut self.record_slab;
            accepted.fields = Fields(copy_into(slab, &accepted.fields.0));
            for text in [&mut accepted.content_type, &mut accepted.url]
                .into_iter()
                .flatten()
            {
                *text = copy_into(slab, text);
            }
        }
    }
}

impl Journal {
    pub(crate) fn new() -> Journal {
        Journal {
            records: Mutex::new(Records::default()),
            uploads: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        // A panic while holding this lock cannot leave the records half-written.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Journals `entry`, the entry of the request whose head is `head`.
    pub(crate) fn record(&self, mut entry: Entry, head: &hyper::http::request::Parts) {
        let accepted = entry.stored();
        {
            let mut records = self.lock();
            records.keep_record(&mut entry, head);
            records.all.push(entry);
        }
        if accepted {
            // Waking is for waiters only: with none (the usual case), notifying cost about 1% of
            // an upload. A waiter that subscribes meanwhile reads the count first, under the
            // lock this change holds.
            self.uploads.send_if_modified(|count| {
                *count += 1;
                self.uploads.receiver_count() > 0
            });
        }
    }

    pub(crate) fn requests(&self, view: &View<'_>) -> Vec<RequestRecord> {
        self.lock().all.iter().map(|e| e.record(view)).collect()
    }

    pub(crate) fn uploads(&self, view: &View<'_>) -> Vec<Upload> {
        self.lock()
            .all
            .iter()
            .filter(|entry| entry.stored())
            .filter_map(|entry| entry.record(view).upload)
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().all.len()
    }

    /// How many records were ever journalled, cleared ones included: a point in time for
    /// [`requests_since`](Self::requests_since).
    pub(crate) fn position(&self) -> usize {
        let records = self.lock();
        records.cleared + records.all.len()
    }

    /// The requests journalled since `position`, with the number each has in
    /// [`requests`](Self::requests) (counted from 1).
    pub(crate) fn requests_since(
        &self,
        position: usize,
        view: &View<'_>,
    ) -> Vec<(usize, RequestRecord)> {
        let records = self.lock();
        let start = position.saturating_sub(records.cleared);
        records
            .all
            .iter()
            .enumerate()
            .skip(start)
            .map(|(i, e)| (i + 1, e.record(view)))
            .collect()
    }

    /// Forgets every request (the bytes of uploads stay in the store, which owns them).
    pub(crate) fn clear(&self) {
        let mut records = self.lock();
        records.cleared += records.all.len();
        records.all.clear();
        drop(records);
        self.uploads.send_replace(0);
    }

    /// How many records `keep` keeps, without copying the records out: how expectations are
    /// checked at drop when they hold.
    pub(crate) fn count(&self, keep: impl Fn(Summary<'_>) -> bool) -> usize {
        self.lock().all.iter().filter(|e| keep(e.summary())).count()
    }

    /// Waits until at least `n` uploads were accepted. No timer here: the handle races this
    /// with one on the server's runtime, so that the caller's executor needs none.
    pub(crate) async fn uploads_reached(&self, n: usize) {
        let mut count = self.uploads.subscribe();
        // The sender lives as long as the journal, which outlives this borrow: never an error.
        let _ = count.wait_for(|count| *count >= n).await;
    }

    /// How many uploads were accepted so far.
    pub(crate) fn uploads_accepted(&self) -> usize {
        *self.uploads.borrow()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_gives_back_its_target_and_headers_in_order() {
        let mut headers = HeaderMap::new();
        headers.append("host", "127.0.0.1".parse().unwrap());
        headers.append("x-empty", hyper::header::HeaderValue::from_static(""));
        headers.append("x-twice", "a".parse().unwrap());
        headers.append("x-twice", "b".parse().unwrap());
        headers.append(
            "x-bytes",
            hyper::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let head = Head::new("/accounts/x/images/v1?a=1", &headers);
        assert_eq!(head.target(), "/accounts/x/images/v1?a=1");
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            head.pairs(),
            vec![
                pair("host", "127.0.0.1"),
                pair("x-empty", ""),
                pair("x-twice", "a"),
                pair("x-twice", "b"),
                pair("x-bytes", "caf\u{fffd}"),
            ]
        );
        assert_eq!(Head::new("/", &HeaderMap::new()).pairs(), vec![]);
    }

    #[test]
    fn fields_give_back_their_pairs_in_order() {
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let fields = vec![
            pair("creator", "user-42"),
            pair("metadata[é]", ""),
            pair("id", "a/b\r\nc"),
        ];
        assert_eq!(Fields::new(&fields).pairs(), fields);
        assert_eq!(Fields::new(&[]).pairs(), vec![]);
    }
}
