//! [`UploadForm`]: one upload as a given client serialises it, the params a user would give that
//! client, and what the API answers when it accepts it.

use std::fmt;

use bytes::Bytes;
use serde_json::{Map, Value};

/// The client whose multipart serialisation an [`UploadForm`] reproduces: the shape of its
/// boundary, its part headers, how it escapes a `"` in a file name, the file name and part
/// Content-Type it gives a file that has none, how it sends `metadata`, and the order of parts.
///
/// None of them puts a line break or a backslash in a generated name: the strategies never
/// generate either (see [`valid_upload`](super::valid_upload)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientStyle {
    /// curl's `-F` (the docs' examples). Boundary: 24 dashes and 22 alphanumerics (16 hex
    /// digits before curl 8). A `"` in a file name is sent as `%22`. A file part's Content-Type
    /// is guessed from the file name's extension; `-F 'file=<cat.png'` sends a file part without
    /// file name. `metadata` is one JSON part. Parts in command-line order.
    Curl,
    /// reqwest's `multipart::Form`. Boundary: four groups of 16 hex digits. A `"` in a file name
    /// is sent as `\"`. `Part::bytes` has neither file name nor Content-Type unless set.
    /// `metadata` is one JSON part. Parts in the order added.
    Reqwest,
    /// The official Python SDK (`cloudflare` 5.9, on httpx). Boundary: 32 hex digits. A `"` in a
    /// file name is sent as `%22`. `metadata` as `metadata.key` parts (nested: `metadata.a.b`,
    /// lists: the part repeated); `None` and `""` values are not sent. Text parts in the SDK's
    /// order, then the file; bare bytes are sent as `upload`, `application/octet-stream`.
    PythonSdk,
    /// The official TypeScript SDK (`cloudflare` 7.3, on undici's `FormData`). Boundary:
    /// `----formdata-undici-0` and 11 digits. A `"` in a name or file name is sent as `%22`.
    /// `metadata` as `metadata[key]` parts (nested: `metadata[a][b]`, arrays:
    /// `metadata[key][]`). Parts in the order of the params object; a file without a name is
    /// sent as `unknown_file`, `application/octet-stream`.
    TypeScriptSdk,
}

impl ClientStyle {
    /// Every client style, in declaration order.
    pub const ALL: &'static [ClientStyle] = &[
        ClientStyle::Curl,
        ClientStyle::Reqwest,
        ClientStyle::PythonSdk,
        ClientStyle::TypeScriptSdk,
    ];

    /// How this client sends an object `metadata`.
    pub fn metadata_encoding(self) -> MetadataEncoding {
        match self {
            ClientStyle::Curl | ClientStyle::Reqwest => MetadataEncoding::Json,
            ClientStyle::PythonSdk => MetadataEncoding::Dots,
            ClientStyle::TypeScriptSdk => MetadataEncoding::Brackets,
        }
    }

    /// Whether this client escapes a `"` in a file name as `%22` (the HTML form encoding) rather
    /// than `\"`. A server reads `%22` back as those three characters: none percent-decodes a
    /// file name.
    fn percent_escapes(self) -> bool {
        !matches!(self, ClientStyle::Reqwest)
    }

    /// A name or file name as this client writes it between the quotes.
    pub(crate) fn escape(self, text: &str) -> String {
        if self.percent_escapes() {
            let text = text
                .replace('"', "%22")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            if self == ClientStyle::PythonSdk {
                text.replace('\\', "\\\\")
            } else {
                text
            }
        } else {
            text.replace('\\', "\\\\").replace('"', "\\\"")
        }
    }

    /// The file name a server reads from what this client writes for `name`: backslash escapes
    /// undone, percent escapes left as sent. Names never hold a backslash or a line break.
    pub(crate) fn read_back(self, name: &str) -> String {
        if self.percent_escapes() {
            self.escape(name)
        } else {
            name.to_owned()
        }
    }

    /// The boundary this client would draw from `seed`.
    pub(crate) fn boundary(self, seed: u128) -> String {
        let mut random = Random(seed as u64 ^ (seed >> 64) as u64);
        let mut pick = |alphabet: &[u8], n: usize| -> String {
            (0..n)
                .map(|_| char::from(alphabet[random.below(alphabet.len() as u64) as usize]))
                .collect()
        };
        const HEX: &[u8] = b"0123456789abcdef";
        const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        match self {
            ClientStyle::Curl if seed & 1 == 1 => format!("{}{}", "-".repeat(24), pick(HEX, 16)),
            ClientStyle::Curl => format!("{}{}", "-".repeat(24), pick(ALNUM, 22)),
            ClientStyle::Reqwest => {
                let groups: Vec<String> = (0..4).map(|_| pick(HEX, 16)).collect();
                groups.join("-")
            }
            ClientStyle::PythonSdk => pick(HEX, 32),
            ClientStyle::TypeScriptSdk => {
                format!("----formdata-undici-0{}", pick(b"0123456789", 11))
            }
        }
    }
}

/// How `metadata` travels in the form. The API rebuilds the same object from each; the bracket
/// and dot encodings carry strings only, so their numbers and booleans come back as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataEncoding {
    /// One `metadata` part holding the object as JSON (the docs' curl examples).
    Json,
    /// `metadata[key]`, `metadata[a][b]`, `metadata[key][]` parts (the TypeScript SDK).
    Brackets,
    /// `metadata.key`, `metadata.a.b` parts, a repeated part for each list item (the Python SDK).
    Dots,
}

/// The values of an upload as a user passes them to a client or SDK.
///
/// For a value of [`invalid_upload`](super::invalid_upload) whose fault lies below what an SDK
/// can express (a repeated part, a truncated body, `requireSignedURLs=yes`), the params describe
/// the upload as far as they can; [`UploadForm::body`] is the truth.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UploadParams {
    /// The `file` part.
    pub file: Option<FileParam>,
    /// The `url` to fetch the image from.
    pub url: Option<String>,
    /// The custom id.
    pub id: Option<String>,
    /// The `creator`.
    pub creator: Option<String>,
    /// The `metadata`: an object for every valid upload.
    pub metadata: Option<Value>,
    /// `requireSignedURLs`.
    pub require_signed_urls: Option<bool>,
}

/// The `file` of an upload.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct FileParam {
    /// The file's bytes.
    pub bytes: Bytes,
    /// The file name given to the client, if any (clients then send their default, or none).
    pub filename: Option<String>,
    /// The Content-Type given to the client, if any (clients then guess one, or send none).
    pub content_type: Option<String>,
}

impl fmt::Debug for FileParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileParam")
            .field("bytes", &BytesSummary(&self.bytes))
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// What the API answers in `result` for an accepted upload (the fields a test can predict).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExpectedResult {
    /// The custom id, if one was sent (otherwise the API makes one up).
    pub id: Option<String>,
    /// The file name: the `file` part's, as the server reads it from the client's escaping, or
    /// the last segment of the `url`'s path. With none, `result` leaves `filename` out.
    pub filename: Option<String>,
    /// The `creator` sent, or `None` (`null`).
    pub creator: Option<String>,
    /// The metadata as the API rebuilds it from the encoding used; `None` when the client sent
    /// no `metadata` part (an SDK sends none for an object it flattens to nothing), and then
    /// `result` has no `meta` key.
    pub meta: Option<Map<String, Value>>,
    /// Whether signed URLs are required.
    pub require_signed_urls: bool,
}

impl ExpectedResult {
    /// Compares this with the `result` object of a success envelope; the error names the first
    /// field that differs.
    pub fn check(&self, result: &Value) -> Result<(), String> {
        let got = |field: &str| result.get(field).filter(|v| !v.is_null());
        let text = |v: Option<&String>| v.map(|s| Value::from(s.as_str()));
        let mut expected = vec![
            ("filename", text(self.filename.as_ref())),
            ("creator", text(self.creator.as_ref())),
            ("meta", self.meta.clone().map(Value::Object)),
            (
                "requireSignedURLs",
                Some(Value::Bool(self.require_signed_urls)),
            ),
        ];
        if let Some(id) = &self.id {
            expected.insert(0, ("id", Some(Value::from(id.as_str()))));
        }
        // `None` matches `null` or no key: with no file name to echo, the mock leaves
        // `filename` out, as the official description types it a string.
        let differences: Vec<String> = expected
            .into_iter()
            .filter(|(field, value)| got(field) != value.as_ref())
            .map(|(field, value)| {
                let show =
                    |v: Option<&Value>| v.map_or_else(|| "none".to_owned(), Value::to_string);
                format!(
                    "result.{field}: expected {}, got {}",
                    show(value.as_ref()),
                    show(got(field))
                )
            })
            .collect();
        if differences.is_empty() {
            Ok(())
        } else {
            Err(differences.join("; "))
        }
    }
}

/// One upload request: a `Content-Type` header and a body as a real client writes them, the
/// params behind them, and (for an upload the API accepts) the answer to expect.
///
/// ```
/// use cloudflare_images_mock::strategies::valid_upload;
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
///
/// let form = valid_upload().new_tree(&mut TestRunner::default()).unwrap().current();
/// assert!(form.content_type().starts_with("multipart/form-data; boundary="));
/// assert!(!form.body().is_empty());
/// assert!(form.expected().is_some());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct UploadForm {
    pub(crate) client: ClientStyle,
    pub(crate) params: UploadParams,
    pub(crate) content_type: String,
    pub(crate) body: Body,
    pub(crate) expected: Option<ExpectedResult>,
    pub(crate) served: Option<(String, Bytes)>,
}

/// A body: multipart parts still apart (so invalid values can rework them), or final bytes.
#[derive(Clone)]
pub(crate) enum Body {
    Multipart {
        boundary: String,
        parts: Vec<WirePart>,
    },
    Raw(Bytes),
}

/// A part as written: its header block (without the blank line) and its content.
#[derive(Clone)]
pub(crate) struct WirePart {
    /// The field name, before escaping (`None` for a part without one).
    pub(crate) name: Option<String>,
    pub(crate) head: String,
    pub(crate) value: Bytes,
}

impl UploadForm {
    /// The `Content-Type` header to send with [`body`](Self::body).
    pub fn content_type(&self) -> String {
        self.content_type.clone()
    }

    /// The request body.
    pub fn body(&self) -> Vec<u8> {
        match &self.body {
            Body::Raw(bytes) => bytes.to_vec(),
            Body::Multipart { boundary, parts } => render(boundary, parts),
        }
    }

    /// The values behind this upload, as a user passes them to an SDK.
    pub fn params(&self) -> &UploadParams {
        &self.params
    }

    /// The client whose serialisation this reproduces.
    pub fn client(&self) -> ClientStyle {
        self.client
    }

    /// What the API answers in `result`: `Some` for every value of
    /// [`valid_upload`](super::valid_upload), `None` for an upload the API refuses.
    pub fn expected(&self) -> Option<&ExpectedResult> {
        self.expected.as_ref()
    }

    /// For a `url` upload, the URL and the bytes its origin serves: register them with
    /// [`MockImages::serve_url`](crate::MockImages::serve_url) before sending.
    pub fn served(&self) -> Option<(&str, Bytes)> {
        self.served
            .as_ref()
            .map(|(url, bytes)| (url.as_str(), bytes.clone()))
    }

    pub(crate) fn parts_mut(&mut self) -> Option<&mut Vec<WirePart>> {
        match &mut self.body {
            Body::Multipart { parts, .. } => Some(parts),
            Body::Raw(_) => None,
        }
    }

    pub(crate) fn boundary(&self) -> Option<&str> {
        match &self.body {
            Body::Multipart { boundary, .. } => Some(boundary),
            Body::Raw(_) => None,
        }
    }
}

impl fmt::Debug for UploadForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("UploadForm");
        out.field("client", &self.client)
            .field("content_type", &self.content_type)
            .field("params", &self.params);
        match &self.body {
            Body::Raw(bytes) => out.field("body", &BytesSummary(bytes)),
            Body::Multipart { parts, .. } => {
                let parts: Vec<PartSummary<'_>> = parts.iter().map(PartSummary).collect();
                out.field("parts", &parts)
            }
        };
        out.field("expected", &self.expected)
            .field(
                "served",
                &self
                    .served
                    .as_ref()
                    .map(|(url, bytes)| (url, BytesSummary(bytes))),
            )
            .finish()
    }
}

/// A part in Debug output: its header block and a summary of its content.
struct PartSummary<'a>(&'a WirePart);

impl fmt::Debug for PartSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = self.0;
        if part.value.len() <= 48 && std::str::from_utf8(&part.value).is_ok() {
            write!(
                f,
                "{:?} = {:?}",
                part.head,
                String::from_utf8_lossy(&part.value)
            )
        } else {
            write!(f, "{:?} = {:?}", part.head, BytesSummary(&part.value))
        }
    }
}

/// Bytes in Debug output: their length, the image format they hold, and their first bytes.
pub(crate) struct BytesSummary<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for BytesSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        let info = crate::ingest::image::probe(bytes);
        let format = match (info.format, info.width, info.height) {
            (Some(format), Some(w), Some(h)) => format!("{format} {w}x{h}"),
            (Some(format), _, _) => format!("{format}, no size"),
            (None, _, _) => "not an image".to_owned(),
        };
        let head: String = bytes[..bytes.len().min(16)]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let more = if bytes.len() > 16 { "…" } else { "" };
        write!(f, "<{} bytes, {format}, {head}{more}>", bytes.len())
    }
}

/// A multipart body: each part after its delimiter, then the closing delimiter.
pub(crate) fn render(boundary: &str, parts: &[WirePart]) -> Vec<u8> {
    let size: usize = parts
        .iter()
        .map(|p| p.head.len() + p.value.len() + boundary.len() + 10)
        .sum();
    let mut out = Vec::with_capacity(size + boundary.len() + 8);
    for part in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(part.head.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&part.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    out
}

/// The length of [`render`]'s output, without rendering.
pub(crate) fn rendered_len(boundary: &str, parts: &[WirePart]) -> usize {
    let framing = boundary.len() + 10;
    parts
        .iter()
        .map(|p| p.head.len() + p.value.len() + framing)
        .sum::<usize>()
        + boundary.len()
        + 6
}

/// splitmix64: a small deterministic generator, so that a shrunk seed gives the same boundary
/// and part order again.
pub(crate) struct Random(pub(crate) u64);

impl Random {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
