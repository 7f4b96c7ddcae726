//! Reads an upload body as a stream with multer, under limits that bound memory.
//!
//! The file part is read chunk by chunk and abandoned as soon as it passes the size limit the
//! schema states. multer reads ahead whatever has already arrived, up to the whole-body limit
//! (the file limit plus room for the text parts, about 10.3 MiB), so an oversize upload is
//! decided having read at most that much plus one chunk. Text parts are small by nature and have
//! their own limit, and must be UTF-8. The headers of each part have a limit of their own
//! ([`MAX_PART_HEADERS`]).

use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;

use crate::error::ApiError;
use crate::ingest::file::{FileBytes, Receiver};
use crate::schema;
use crate::Rule;

/// The most bytes of headers one part may have, counted as `Name: value\r\n` lines: 8 KiB.
/// (multer keeps at most 32 headers per part, and of a header repeated only its last value.)
///
/// multer bounds a part's headers only by the whole-body limit, so without this a 1 MiB field
/// name (or a 1 MiB `Content-Disposition`) would be read and the part taken. 8 KiB is the
/// common bound of a single header line in front-end servers (nginx's
/// `large_client_header_buffers`, Apache's `LimitRequestFieldSize` of 8190 bytes), and about
/// 8 times what the schema lets a part header carry (a `metadata[key]` name holds at most the
/// 1024 bytes of metadata, a file name at most 255 characters, 1020 bytes of UTF-8), so values
/// over the schema's limits still get the schema's precise error rather than this one. The real
/// API's limit is not documented.
pub(crate) const MAX_PART_HEADERS: usize = 8 * 1024;

/// How much of a body the mock is willing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The largest file accepted; one byte more and the upload is refused (schema bound).
    pub(crate) max_file: u64,
    /// The largest text part (creator, id, metadata, ...). Generous: the schema's own limits are
    /// about 1 KiB, so values just over them still get the schema's precise error.
    pub(crate) max_text_part: u64,
    /// The most parts a body may have (the Python SDK sends one part per metadata key).
    pub(crate) max_parts: usize,
    /// The most bytes of headers a part may have ([`MAX_PART_HEADERS`]).
    pub(crate) max_part_headers: usize,
}

impl Limits {
    /// The limits of the real API where it states them, and generous bounds elsewhere.
    pub(crate) fn standard() -> Limits {
        Limits {
            max_file: schema::max_file_size(),
            max_text_part: 64 * 1024,
            max_parts: 1024,
            max_part_headers: MAX_PART_HEADERS,
        }
    }

    /// The most bytes a valid body can need: the file, every text part, and the framing.
    pub(crate) fn max_body(&self) -> u64 {
        self.max_file + self.max_text_part * 4 + 64 * 1024
    }
}

/// The parts of an upload form, as read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Form {
    /// The part named `file`, if any.
    pub(crate) file: Option<FilePart>,
    /// Every other part, in the order sent, as `(name, text)`; the text is the part's bytes,
    /// which must be UTF-8 (a `charset` of the part or a byte order mark changes nothing, and a
    /// UTF-8 byte order mark stays in the text as U+FEFF).
    pub(crate) texts: Vec<(String, String)>,
}

/// The `file` part.
#[derive(Debug, Clone)]
pub(crate) struct FilePart {
    pub(crate) filename: Option<String>,
    pub(crate) content_type: Option<String>,
    /// The bytes read (all of them, or, for an oversize file, the limit plus at most one chunk).
    pub(crate) bytes: FileBytes,
}

/// The boundary of a `multipart/form-data` content type, or the 5415 refusal.
pub(crate) fn boundary(content_type: Option<&str>) -> Result<String, ApiError> {
    content_type
        .and_then(|ct| match plain_boundary(ct) {
            Some(boundary) => Some(boundary.to_owned()),
            None => multer::parse_boundary(ct).ok(),
        })
        .ok_or_else(|| schema::catalogue_error(Rule::NotMultipart, &[]))
}

/// The boundary of the content type every client sends, `multipart/form-data; boundary=X`
/// with `X` of letters, digits and `'+-._`, read without multer's parse (the `mime` crate's,
/// which copies and lowercases the whole value); `None` for anything else, which multer reads.
/// Where this reads a boundary, multer reads the same one (tested).
fn plain_boundary(content_type: &str) -> Option<&str> {
    let (essence, rest) = content_type.split_at_checked("multipart/form-data".len())?;
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    let rest = rest.strip_prefix(';')?.trim_start_matches(' ');
    let (name, value) = rest.split_at_checked("boundary=".len())?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"'+-._".contains(&b);
    (name.eq_ignore_ascii_case("boundary=") && !value.is_empty() && value.bytes().all(plain))
        .then_some(value)
}

/// Reads the form from `body`, refusing what breaks the transport rules.
pub(crate) async fn read_form<'r, S, E>(
    boundary: String,
    body: S,
    size_hint: Option<u64>,
    limits: &Limits,
) -> Result<Form, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'r,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'r,
{
    // Parts are bounded below, by hand: the file part so that it stops at the schema's limit
    // with the schema's error rather than with multer's, a text part at `max_text_part`.
    // multer's limit for a named field is a map built for every body and hashed for every
    // part.
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(limits.max_body()));
    let mut multipart = multer::Multipart::with_constraints(body, boundary, constraints);
    let mut form = Form::default();
    let mut parts = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(refusal)? {
        parts += 1;
        if parts > limits.max_parts {
            return Err(malformed(&format!("more than {} parts", limits.max_parts)));
        }
        // Before the name is looked at or the content read: a part with a 1 MiB name is refused
        // as such, not taken (multer has read its headers, within the whole-body limit).
        let head = headers_len(field.headers());
        if head > limits.max_part_headers {
            return Err(schema::catalogue_error(
                Rule::PartHeadersTooLarge,
                &[(
                    "detail",
                    &format!(
                        "part {parts} has {head} bytes of headers, more than the {} bytes a \
                         part's headers may have",
                        limits.max_part_headers
                    ),
                )],
            ));
        }
        let name = field
            .name()
            .ok_or_else(|| malformed("a part has no name in its Content-Disposition"))?;
        // The file part's name is not kept: no copy of it.
        if name == "file" {
            if form.file.is_some() {
                return Err(malformed("the part \"file\" appears more than once"));
            }
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(|m| m.essence_str().to_owned());
            // Sized from the body's declared length: one buffer, never grown (see `file`).
            let capacity = size_hint.unwrap_or(0).min(limits.max_file + 1) as usize;
            let mut receiver = Receiver::new(capacity);
            let mut oversize = false;
            while let Some(chunk) = field.chunk().await.map_err(refusal)? {
                receiver.push(chunk);
                if receiver.len() > limits.max_file {
                    oversize = true;
                    break;
                }
            }
            form.file = Some(FilePart {
                filename,
                content_type,
                bytes: receiver.finish(),
            });
            if oversize {
                // Stop here: the schema's size rule decides the answer, and nothing after the
                // limit is read.
                return Ok(form);
            }
        } else {
            let name = name.to_owned();
            // The bytes as sent, under the per-part limit; multer's `text()` would decode them
            // by the part's charset or a byte order mark (`ff fe` read as UTF-16) and replace
            // what does not decode.
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(refusal)? {
                if (bytes.len() + chunk.len()) as u64 > limits.max_text_part {
                    // What multer's own limit answered.
                    return Err(refusal(multer::Error::FieldSizeExceeded {
                        limit: limits.max_text_part,
                        field_name: Some(name),
                    }));
                }
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(bytes).map_err(|e| {
                let detail = format!("the part \"{name}\" is not UTF-8 text: {}", e.utf8_error());
                let mut error =
                    schema::catalogue_error(Rule::TextPartNotUtf8, &[("detail", &detail)]);
                error.pointer = Some(pointer(&name));
                error
            })?;
            form.texts.push((name, text));
        }
    }
    Ok(form)
}

/// The body stalled for longer than the mock waits between two chunks.
#[derive(Debug)]
pub(crate) struct Stalled(Duration);

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the body stalled for {:?}", self.0)
    }
}

impl std::error::Error for Stalled {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `body`, failing with [`Stalled`] when no chunk arrives for `idle`: a client that stops
/// sending half-way must not hold its upload open for ever.
///
/// One timer per body, made the first time the body has nothing ready and reset only after
/// progress: a body already in hyper's buffer (any small upload) never touches the timer wheel.
pub(crate) fn idle_timeout<S>(body: S, idle: Duration) -> IdleTimeout<S> {
    IdleTimeout {
        body: Some(body),
        idle,
        timer: None,
        moved: false,
    }
}

/// See [`idle_timeout`].
pub(crate) struct IdleTimeout<S> {
    /// `None` once ended or stalled.
    body: Option<S>,
    idle: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether a chunk arrived since the timer was last set.
    moved: bool,
}

impl<S, E> Stream for IdleTimeout<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(item) = Pin::new(body).poll_next(cx) {
            this.moved = true;
            if item.is_none() {
                this.body = None;
            }
            return Poll::Ready(item.map(|chunk| chunk.map_err(Into::into)));
        }
        let deadline = tokio::time::Instant::now() + this.idle;
        let timer = match &mut this.timer {
            Some(timer) => {
                if this.moved {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => this
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        this.moved = false;
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.body = None;
                Poll::Ready(Some(Err(Box::new(Stalled(this.idle)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The bytes of a part's headers, counted as `Name: value\r\n` lines. multer keeps the last
/// value of a header sent more than once (and at most 32 headers), so that is the one counted:
/// the values dropped were never looked at.
fn headers_len(headers: &hyper::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// The JSON pointer to the field `name` of the form.
fn pointer(name: &str) -> String {
    format!("/{}", name.replace('~', "~0").replace('/', "~1"))
}

fn malformed(detail: &str) -> ApiError {
    schema::catalogue_error(Rule::MalformedMultipart, &[("detail", detail)])
}

fn refusal(error: multer::Error) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            let mut e = schema::catalogue_error(Rule::BodyTooLarge, &[]);
            if let multer::Error::FieldSizeExceeded {
                field_name: Some(name),
                ..
            } = &error
            {
                e.pointer = Some(pointer(name));
            }
            e
        }
        multer::Error::StreamReadFailed(cause) if cause.is::<Stalled>() => {
            let seconds = cause.to_string();
            schema::catalogue_error(Rule::BodyStalled, &[("detail", &seconds)])
        }
        other => malformed(&lowercase_first(&other.to_string())),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The boundary read without multer is multer's, and what it does not read multer reads.
    #[test]
    fn a_plain_boundary_is_the_one_multer_reads() {
        let types = [
            "multipart/form-data; boundary=",
            "Multipart/Form-Data;boundary=",
            "multipart/form-data;   BOUNDARY=",
            "multipart/form-data ; boundary=",
            " multipart/form-data; boundary=",
            "multipart/form-datax; boundary=",
            "multipart/mixed; boundary=",
            "multipart/form-data; boundaryx=",
            "multipart/form-data; charset=utf-8; boundary=",
            "multipart/form-data; boundary",
            "multipart/form-data;; boundary=",
        ];
        let values = [
            "",
            "abc",
            "ABC-123_x.y+z'",
            "------WebKitFormBoundary7MA4YWxkTrZu0gW",
            "a b",
            "a ",
            "a;",
            "a; boundary=b",
            "a\"b",
            "\"quoted\"",
            "a=b",
            "a/b",
            "\u{e9}",
        ];
        let mut plain = 0;
        for content_type in types {
            for value in values {
                let content_type = format!("{content_type}{value}");
                let ours = boundary(Some(&content_type)).ok();
                let multer = multer::parse_boundary(&content_type).ok();
                assert_eq!(ours, multer, "{content_type:?}");
                if let Some(read) = plain_boundary(&content_type) {
                    assert_eq!(Some(read), multer.as_deref(), "{content_type:?}");
                    plain += 1;
                }
            }
        }
        assert!(plain >= 9, "{plain}");
    }
    use futures_util::StreamExt as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn an_oversize_file_is_abandoned_near_the_limit() {
        const CHUNK: usize = 64 * 1024;
        let head = Bytes::from_static(
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n",
        );
        let pulled = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&pulled);
        // An endless body: only the limit can stop the reader.
        let body = futures_util::stream::iter(std::iter::once(head).chain(std::iter::repeat_with(
            move || {
                counter.fetch_add(CHUNK as u64, Ordering::Relaxed);
                Bytes::from(vec![0u8; CHUNK])
            },
        )))
        .map(Ok::<_, std::convert::Infallible>);
        let limits = Limits::standard();
        // multer reads ahead while the stream is ready, so an always-ready stream stops at the
        // whole-body limit; either way the answer is 7011 and reading stops near the limit.
        match block_on(read_form("b".into(), body, None, &limits)) {
            Ok(form) => assert!(form.file.unwrap().bytes.bytes.len() as u64 > limits.max_file),
            Err(error) => assert_eq!((error.code, error.status), (7011, 413)),
        }
        let read = pulled.load(Ordering::Relaxed);
        assert!(
            read <= limits.max_body() + CHUNK as u64,
            "read {read} bytes"
        );
    }

    #[test]
    fn transport_refusals() {
        let read = |body: &'static str| {
            let stream = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
                Bytes::from_static(body.as_bytes()),
            )]);
            block_on(read_form("b".into(), stream, None, &Limits::standard()))
        };
        let truncated = read("--b\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\nabc");
        assert_eq!(truncated.unwrap_err().code, 5400);
        let nameless = read("--b\r\nContent-Disposition: form-data\r\n\r\nabc\r\n--b--\r\n");
        assert_eq!(nameless.unwrap_err().rule, "malformed_multipart");
        let two_files = read(
            "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\na\r\n\
             --b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nb\r\n--b--\r\n",
        );
        assert!(two_files.unwrap_err().message.contains("more than once"));
        assert_eq!(boundary(Some("application/json")).unwrap_err().code, 5415);
        assert_eq!(
            boundary(Some("multipart/form-data")).unwrap_err().code,
            5415
        );
        assert_eq!(boundary(None).unwrap_err().code, 5415);
        assert_eq!(
            boundary(Some("multipart/form-data; boundary=x")).unwrap(),
            "x"
        );
    }

    fn read_bytes(body: Vec<u8>, limits: &Limits) -> Result<Form, ApiError> {
        let stream =
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(body))]);
        block_on(read_form("b".into(), stream, None, limits))
    }

    fn text_body(head: &str, value: &[u8]) -> Vec<u8> {
        let mut body = format!("--b\r\n{head}\r\n\r\n").into_bytes();
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n--b--\r\n");
        body
    }

    #[test]
    fn a_text_part_must_be_utf8_whatever_its_charset_or_bom() {
        let creator = "Content-Disposition: form-data; name=\"creator\"";
        // `ff fe` is a UTF-16 byte order mark: multer's `text()` read this as "⣃".
        let error =
            read_bytes(text_body(creator, b"\xff\xfe\xc3\x28"), &Limits::standard()).unwrap_err();
        assert_eq!((error.code, error.status), (5400, 400));
        assert_eq!(error.rule, "text_part_not_utf8");
        assert_eq!(error.pointer.as_deref(), Some("/creator"));
        assert_eq!(
            error.message,
            "Bad request: the part \"creator\" is not UTF-8 text: invalid utf-8 sequence of 1 \
             bytes from index 0"
        );
        // A declared charset changes nothing: the bytes are read as UTF-8.
        let utf16 = format!("{creator}\r\nContent-Type: text/plain; charset=utf-16");
        let form = read_bytes(text_body(&utf16, b"ab"), &Limits::standard()).unwrap();
        assert_eq!(form.texts, [("creator".to_owned(), "ab".to_owned())]);
        // A UTF-8 byte order mark is kept, as U+FEFF.
        let form = read_bytes(text_body(creator, b"\xef\xbb\xbfme"), &Limits::standard()).unwrap();
        assert_eq!(form.texts[0].1, "\u{feff}me");
        // Any text part, a metadata key's included; the file part is bytes.
        let key = "Content-Disposition: form-data; name=\"metadata[a/b]\"";
        let error = read_bytes(text_body(key, b"ok\x80"), &Limits::standard()).unwrap_err();
        assert_eq!(error.pointer.as_deref(), Some("/metadata[a~1b]"));
        let file = "Content-Disposition: form-data; name=\"file\"; filename=\"a\"";
        let form = read_bytes(text_body(file, b"\xff\xfe"), &Limits::standard()).unwrap();
        assert_eq!(&form.file.unwrap().bytes.bytes[..], b"\xff\xfe");
    }

    #[test]
    fn part_headers_over_the_limit_are_refused() {
        let limits = Limits::standard();
        // `Content-Disposition: ` and `\r\n` around the value.
        let framing = "Content-Disposition".len() + 4;
        let head = |value_len: usize| {
            let prefix = "form-data; name=\"";
            let name = "n".repeat(value_len - prefix.len() - 1);
            format!("Content-Disposition: {prefix}{name}\"")
        };
        let most = limits.max_part_headers - framing;
        let form = read_bytes(text_body(&head(most), b"v"), &limits).unwrap();
        assert_eq!(form.texts.len(), 1);
        let error = read_bytes(text_body(&head(most + 1), b"v"), &limits).unwrap_err();
        assert_eq!((error.code, error.status), (5400, 400));
        assert_eq!(error.rule, "part_headers_too_large");
        assert_eq!(
            error.message,
            "Bad request: part 1 has 8193 bytes of headers, more than the 8192 bytes a part's \
             headers may have"
        );
        // A 1 MiB name, on the file part too.
        let huge = format!(
            "Content-Disposition: form-data; name=\"file\"; filename=\"{}\"",
            "a".repeat(1 << 20)
        );
        let error = read_bytes(text_body(&huge, b"v"), &limits).unwrap_err();
        assert_eq!(error.rule, "part_headers_too_large");
        // Many headers, each short, add up.
        let pads: String = (10..40)
            .map(|i| format!("\r\nX-Pad-{i}: 0123456789012345678901234567890123456789"))
            .collect();
        let many = format!("Content-Disposition: form-data; name=\"id\"{pads}");
        assert!(read_bytes(text_body(&many, b"v"), &limits).is_ok());
        let error = read_bytes(
            text_body(&many, b"v"),
            &Limits {
                max_part_headers: 1024,
                ..limits
            },
        )
        .unwrap_err();
        assert_eq!(error.rule, "part_headers_too_large");
    }

    #[test]
    fn too_many_parts() {
        let limits = Limits {
            max_parts: 3,
            ..Limits::standard()
        };
        let part = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n";
        let body = format!("{}--b--\r\n", part.repeat(4));
        let stream =
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(body))]);
        let error = block_on(read_form("b".into(), stream, None, &limits)).unwrap_err();
        assert_eq!(
            error.message,
            "Bad request: the multipart/form-data body could not be read: more than 3 parts"
        );
    }
}
