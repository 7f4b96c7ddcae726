//! Shared tools of the integration tests: image bytes built by hand (headers only, where that is
//! all the mock reads), hand-made multipart bodies, and senders that return the status and the
//! JSON body after checking the body against the official response schemas.

use std::net::SocketAddr;

use cloudflare_images_mock::{conformance, MockImages, Operation, RequestRecord};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// Any bearer token: the default mock accepts every credential.
pub const TOKEN: &str = "test-token";

/// A complete, decodable 1x1 RGBA PNG (the well-known transparent pixel).
pub const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, // signature
    0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, // IHDR, 13 bytes
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // 1 x 1
    0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, // 8-bit RGBA, CRC
    0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, // IDAT, 10 bytes
    0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, // zlib
    0x0D, 0x0A, 0x2D, 0xB4, // CRC
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82, // IEND
];

/// Bytes that are no image of any format (text the mock's own tests call unknown).
pub const GARBAGE: &[u8] = b"this is definitely not an image file";

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG header of any size: signature, IHDR (8-bit grayscale) with its CRC, IEND.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG whose IHDR is cut off in the middle of the height: a PNG the mock cannot decode.
pub fn png_truncated_ihdr() -> Vec<u8> {
    png(7, 3)[..23].to_vec()
}

/// GIF89a with its logical screen descriptor, and the trailer.
pub fn gif(width: u16, height: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0]);
    out.push(0x3B);
    out
}

/// JPEG: SOI, a baseline SOF0 with the size, EOI (all the header reader needs).
pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 8];
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[1, 1, 0x11, 0]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// An SVG document of `width` x `height`.
pub fn svg(width: u32, height: u32) -> Vec<u8> {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"><rect width="1" height="1"/></svg>"#
    )
    .into_bytes()
}

/// A BMP header: a real image format Cloudflare does not take.
pub fn bmp(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.resize(0x12, 0);
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.resize(54, 0);
    out
}

fn bmff_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

fn full_box(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![version, 0, 0, 0];
    body.extend_from_slice(payload);
    bmff_box(kind, &body)
}

/// An AVIF header: `ftyp` (brand avif) and a `meta` box whose primary item has an `ispe`
/// property with the size. No pixels.
pub fn avif(width: u32, height: u32) -> Vec<u8> {
    let mut ftyp = b"avif".to_vec();
    ftyp.extend_from_slice(&0u32.to_be_bytes());
    for brand in [b"avif", b"mif1", b"miaf"] {
        ftyp.extend_from_slice(brand);
    }
    let mut hdlr = vec![0; 4];
    hdlr.extend_from_slice(b"pict");
    hdlr.extend_from_slice(&[0; 13]);
    let hdlr = full_box(b"hdlr", 0, &hdlr);
    let pitm = full_box(b"pitm", 0, &1u16.to_be_bytes());
    let mut infe = vec![0, 1, 0, 0];
    infe.extend_from_slice(b"av01");
    infe.push(0);
    let mut iinf = 1u16.to_be_bytes().to_vec();
    iinf.extend_from_slice(&full_box(b"infe", 2, &infe));
    let iinf = full_box(b"iinf", 0, &iinf);
    let mut ispe = width.to_be_bytes().to_vec();
    ispe.extend_from_slice(&height.to_be_bytes());
    let mut ipco = bmff_box(b"av1C", &[0x81, 0x00, 0x0C, 0x00]);
    ipco.extend_from_slice(&full_box(b"ispe", 0, &ispe));
    let ipma = full_box(b"ipma", 0, &[0, 0, 0, 1, 0, 1, 2, 0x81, 0x02]);
    let mut iprp = bmff_box(b"ipco", &ipco);
    iprp.extend_from_slice(&ipma);
    let mut meta = Vec::new();
    for child in [hdlr, pitm, iinf, bmff_box(b"iprp", &iprp)] {
        meta.extend_from_slice(&child);
    }
    let mut out = bmff_box(b"ftyp", &ftyp);
    out.extend_from_slice(&full_box(b"meta", 0, &meta));
    out
}

/// `len` bytes starting with a PNG 1x1 header, padded with zeros: a valid image of any size.
pub fn png_of_size(len: usize) -> Vec<u8> {
    let mut out = png(1, 1);
    assert!(len >= out.len());
    out.resize(len, 0);
    out
}

// ---------------------------------------------------------------------------------------------
// Forms
// ---------------------------------------------------------------------------------------------

/// A reqwest file part, as a user writes it.
pub fn file_part(bytes: impl Into<Vec<u8>>, filename: &str, mime: &str) -> Part {
    Part::bytes(bytes.into())
        .file_name(filename.to_owned())
        .mime_str(mime)
        .expect("valid mime")
}

/// A form holding the 1x1 PNG as `cat.png`.
pub fn png_form() -> Form {
    Form::new().part("file", file_part(PNG_1X1, "cat.png", "image/png"))
}

/// A multipart body written by hand, byte for byte.
pub struct RawForm {
    boundary: String,
    body: Vec<u8>,
}

impl RawForm {
    pub fn new(boundary: &str) -> RawForm {
        RawForm {
            boundary: boundary.to_owned(),
            body: Vec::new(),
        }
    }

    /// The Content-Type header that goes with this body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// A text part.
    pub fn text(mut self, name: &str, value: &str) -> RawForm {
        let head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n",
            self.boundary
        );
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(value.as_bytes());
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// A file part, with the filename and Content-Type given (each left out when `None`).
    pub fn file(
        mut self,
        name: &str,
        filename: Option<&str>,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> RawForm {
        let mut head = format!(
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"",
            self.boundary
        );
        if let Some(filename) = filename {
            head.push_str(&format!("; filename=\"{filename}\""));
        }
        head.push_str("\r\n");
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        self.body.extend_from_slice(head.as_bytes());
        self.body.extend_from_slice(bytes);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    /// Arbitrary bytes, as they are.
    pub fn raw(mut self, bytes: &[u8]) -> RawForm {
        self.body.extend_from_slice(bytes);
        self
    }

    /// The body with its closing boundary, and its Content-Type.
    pub fn finish(mut self) -> (String, Vec<u8>) {
        let content_type = self.content_type();
        self.body
            .extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (content_type, self.body)
    }

    /// The body without its closing boundary (a truncated body), and its Content-Type.
    pub fn unfinished(self) -> (String, Vec<u8>) {
        (self.content_type(), self.body)
    }
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Sends a request and returns the status and the JSON body, having checked the body against
/// the official response schemas (every answer of the mock must pass them).
pub async fn post(request: reqwest::RequestBuilder) -> (u16, Value) {
    let request = request.build().expect("a valid request");
    // A request to no operation gets a failure envelope, which every operation's schema allows.
    let operation =
        Operation::of(request.method().as_str(), request.url().path()).unwrap_or(Operation::Upload);
    let response = client().execute(request).await.expect("the mock answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.bytes().await.expect("the mock sends a whole body");
    // `application/json; charset=UTF-8` from the Images service (as recorded); a scripted
    // gateway answer keeps its own.
    assert!(
        content_type.starts_with("application/json"),
        "status {status}: {content_type}"
    );
    if let Err(problems) = conformance::check_response(operation, status, &bytes) {
        panic!(
            "the answer ({status}) does not match the official description: {problems:?}\nbody: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let body = serde_json::from_slice(&bytes).expect("the body is JSON");
    (status, body)
}

/// Uploads `form` to the mock's upload URL with a bearer token.
pub async fn send(mock: &MockImages, form: Form) -> (u16, Value) {
    post(
        client()
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(form),
    )
    .await
}

/// Uploads a hand-made body with the given Content-Type to the mock's upload URL.
pub async fn send_raw(mock: &MockImages, content_type: &str, body: Vec<u8>) -> (u16, Value) {
    post(
        client()
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body),
    )
    .await
}

/// Uploads a [`RawForm`], closed.
pub async fn send_form(mock: &MockImages, form: RawForm) -> (u16, Value) {
    let (content_type, body) = form.finish();
    send_raw(mock, &content_type, body).await
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// Asserts a refusal envelope whose first error is exactly `{code, message}`: the real API's
/// error objects carry nothing else, no `source.pointer` (RECORDED.md section 0, finding 8). The
/// field at fault is kept by the journal: `at` is the mock and the pointer its last request
/// records (`None`: no field is at fault).
pub fn assert_error(body: &Value, code: u64, message: &str, at: Option<(&MockImages, &str)>) {
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["result"], Value::Null, "{body}");
    assert_eq!(body["messages"], serde_json::json!([]), "{body}");
    let error = &body["errors"][0];
    assert_eq!(
        error,
        &serde_json::json!({"code": code, "message": message}),
        "{body}"
    );
    if let Some((mock, pointer)) = at {
        let record = last_request(mock);
        assert_eq!(
            record.errors[0].pointer.as_deref(),
            Some(pointer),
            "{record:?}"
        );
    }
}

/// The last request of the journal.
pub fn last_request(mock: &MockImages) -> RequestRecord {
    mock.requests().pop().expect("the journal holds a request")
}

/// Asserts the last request of the journal was refused with this status, by this rule.
pub fn assert_last_refused(mock: &MockImages, status: u16, rule: &str) {
    let record = last_request(mock);
    assert_eq!(record.status, status, "{record:?}");
    assert!(!record.errors.is_empty(), "{record:?}");
    assert_eq!(record.errors[0].rule, rule, "{record:?}");
    assert_eq!(record.errors[0].status, status, "{record:?}");
    assert!(!record.is_accepted());
}

/// Asserts the last request of the journal was accepted (200, no errors).
pub fn assert_last_accepted(mock: &MockImages) {
    let record = last_request(mock);
    assert_eq!(record.status, 200, "{record:?}");
    assert!(record.errors.is_empty(), "{record:?}");
    assert!(record.is_accepted());
}

// ---------------------------------------------------------------------------------------------
// A tiny origin server for `url` uploads
// ---------------------------------------------------------------------------------------------

/// Starts an HTTP origin on 127.0.0.1 that answers every request with `status_line` (e.g.
/// `200 OK`) and `body`; returns its address. It lives as long as the test's runtime.
pub async fn origin(status_line: &'static str, body: Vec<u8>) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an origin");
    let address = listener.local_addr().expect("origin address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status_line}\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    address
}

#[test]
fn the_png_constant_is_well_formed() {
    // Each chunk's CRC covers its type and data.
    assert_eq!(crc32(&PNG_1X1[12..29]).to_be_bytes(), PNG_1X1[29..33]);
    assert_eq!(crc32(&PNG_1X1[37..51]).to_be_bytes(), PNG_1X1[51..55]);
    assert_eq!(crc32(b"IEND").to_be_bytes(), PNG_1X1[63..67]);
    assert_eq!(PNG_1X1.len(), 67);
}

/// A GET to an Images endpoint the mock does not serve (v2 list); its status.
pub async fn get_unserved(mock: &MockImages) -> u16 {
    client()
        .get(format!(
            "{}/accounts/{}/images/v3",
            mock.base_url(),
            mock.account_id()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Asserts `body` is the API gateway's answer with one error, `code` and `message`, in the
/// recorded shape of that code: `{"success":false,"errors":[...]}` for `9106` and `10000`, with
/// `messages` and `result` after `errors` for `6003`.
pub fn assert_gateway_error(body: &Value, code: u64, message: &str) {
    let keys: Vec<&str> = body
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let expected: &[&str] = match code {
        6003 => &["success", "errors", "messages", "result"],
        _ => &["success", "errors"],
    };
    assert_eq!(keys, expected, "{body}");
    assert_eq!(body["success"], false, "{body}");
    let error = &body["errors"][0];
    assert_eq!(error["code"], code, "{body}");
    assert_eq!(error["message"], message, "{body}");
    assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
}

/// The number of proptest cases: `default`, or `CF_IMAGES_MOCK_PROPTEST_CASES` when set (a
/// value that is no number panics, rather than silently running the default).
pub fn proptest_cases(default: u32) -> u32 {
    const CASES: &str = "CF_IMAGES_MOCK_PROPTEST_CASES";
    match std::env::var(CASES) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{CASES} must be a number of cases, not {value:?}")),
        Err(_) => default,
    }
}

/// Runs `test` on `cases` values of `strategy`; a failure panics with the minimal failing value.
#[cfg(feature = "proptest")]
pub fn check<S: proptest::strategy::Strategy>(
    cases: u32,
    strategy: S,
    mut test: impl FnMut(S::Value) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        source_file: Some(file!()),
        ..proptest::test_runner::Config::default()
    });
    let test = std::cell::RefCell::new(&mut test);
    if let Err(failure) = runner.run(&strategy, |value| (test.borrow_mut())(value)) {
        panic!("{failure}\n{runner}");
    }
}

/// `errors` are exactly one error of `rule`, with its code and status (`shown` describes the
/// request, for the failure message).
#[cfg(feature = "proptest")]
pub fn refused_by_exactly(
    errors: &[cloudflare_images_mock::ApiError],
    rule: cloudflare_images_mock::strategies::InvalidRule,
    shown: &str,
) -> Result<(), proptest::test_runner::TestCaseError> {
    let rules: Vec<&str> = errors.iter().map(|e| e.rule.as_str()).collect();
    proptest::prop_assert_eq!(rules, vec![rule.name()], "{}", shown);
    proptest::prop_assert_eq!(
        (errors[0].code, errors[0].status),
        (rule.code(), rule.status())
    );
    Ok(())
}

/// Runs the ignored test `name` in a child process of this test binary, alone: for tests that
/// count threads, descriptors or ports, which other tests running beside them would change.
pub fn run_alone(name: &str) {
    run_in_child(&[name, "--exact", "--ignored", "--test-threads=1"], &[]);
}

/// Runs this test binary again with `args` and `env`, and asserts that exactly one test ran and
/// passed, showing the child's output otherwise.
pub fn run_in_child(args: &[&str], env: &[(&str, &str)]) {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
