//! How a fuzz input of the `bodies` target becomes a request to a real mock, in process: the
//! JSON bodies, forms, path names and queries of the operations beyond the upload. Shared by the
//! fuzz target and by the test that replays its corpus in the normal suite
//! (`tests/it/fuzz_corpus.rs`).
//!
//! The request goes over HTTP/1.1 to a [`MockImages`] started once per process (and started
//! anew every [`REQUESTS_PER_MOCK`] requests, so the journal and the store stay small in a long
//! run), so every byte goes through the code path the server runs: routing, credentials, body
//! reading, the schemas, the store. Every answer must be a real one: no 5xx, and for an
//! operation of the API an answer the official description allows (`check_response`).
//!
//! The first byte picks the request (modulo [`SHAPES`]), the rest is read as:
//! - 0 `POST .../v1/variants`: the JSON body;
//! - 1 `PATCH .../v1/variants/{name}`: `<name>\n<JSON body>`;
//! - 2 `PUT .../v1/keys/{name}`: the name;
//! - 3 `POST .../v1/direct_upload`: the JSON body;
//! - 4 `POST .../v2/direct_upload`: text parts `<name>\xfe<value>` separated by `\xff`, framed
//!   into a well-formed multipart form;
//! - 5 `POST .../v2/direct_upload`: `<content type>\n<body>`, both arbitrary;
//! - 6 `PATCH .../v1/{image}` of a stored image: the JSON body;
//! - 7 `GET /cdn-cgi/imagedelivery/{hash}/...`: `<id>/<variant>?<query>` after the hash;
//! - 8 a delivery URL signed by the mock for a private image: byte 1 picks the lifetime (none
//!   or seconds), byte 2 the image and variant, the rest is appended to the query (`&...`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use cloudflare_images_mock::conformance::check_response;
use cloudflare_images_mock::{MockImages, NewImage, Operation};

/// The number of request shapes the first byte picks from.
pub const SHAPES: u8 = 9;

/// How many requests one mock answers before the next input starts a new one.
pub const REQUESTS_PER_MOCK: u32 = 20_000;

/// The custom id of a stored public image, that updates and delivery URLs name (a private
/// image, which cannot have a custom id, is stored too).
pub const PUBLIC_IMAGE: &str = "fuzz-public.png";

const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

struct Server {
    runtime: tokio::runtime::Runtime,
    mock: Option<MockImages>,
    connection: Option<TcpStream>,
    answered: u32,
    /// The generated id of the stored private image.
    private_image: String,
}

static SERVER: Mutex<Option<Server>> = Mutex::new(None);

impl Server {
    fn new() -> Server {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let mut server = Server {
            runtime,
            mock: None,
            connection: None,
            answered: 0,
            private_image: String::new(),
        };
        server.restart();
        server
    }

    /// A fresh mock with its two images; dropping the last one reports any failure it saw (a
    /// handler that panicked), as a panic.
    fn restart(&mut self) {
        self.connection = None;
        drop(self.mock.take());
        let mock = self.runtime.block_on(
            MockImages::builder()
                .fail_on_unserved_routes(false)
                .variants(["public", "thumb"])
                .start(),
        );
        mock.insert_image(NewImage::new(PNG_1X1).id(PUBLIC_IMAGE));
        self.private_image = mock
            .insert_image(NewImage::new(PNG_1X1).require_signed_urls(true))
            .id;
        self.mock = Some(mock);
        self.answered = 0;
    }

    fn mock(&self) -> &MockImages {
        self.mock.as_ref().expect("started")
    }

    /// Sends a request (`target` is the path and query); the status and the body.
    fn send(
        &mut self,
        method: &str,
        target: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        if let Some(content_type) = content_type {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        // A kept-alive connection the mock has closed meanwhile is opened again, once.
        for attempt in 0..2 {
            if self.connection.is_none() {
                let stream = TcpStream::connect(self.mock().address()).expect("the mock listens");
                stream.set_nodelay(true).ok();
                stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
                self.connection = Some(stream);
            }
            let stream = self.connection.as_mut().expect("connected");
            match stream
                .write_all(&request)
                .and_then(|()| read_response(stream))
            {
                Ok(answer) => {
                    self.answered += 1;
                    return answer;
                }
                Err(e) => {
                    self.connection = None;
                    assert!(attempt == 0, "no answer to {method} {target}: {e}");
                }
            }
        }
        unreachable!("the second attempt answers or panics")
    }
}

/// Reads one response with a `Content-Length`; the status and the body.
fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    let mut body = buffer.split_off(head_end);
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok((status, body))
}

/// `bytes` as one path segment: every byte but the unreserved ones percent-encoded.
fn segment(bytes: &[u8]) -> String {
    encode(bytes, b"-._~")
}

/// `bytes` as a query: the unreserved bytes and `&`, `=` kept, the rest percent-encoded.
fn query(bytes: &[u8]) -> String {
    encode(bytes, b"-._~&=")
}

fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A header value made of `bytes`: what a header cannot hold replaced by `_`.
fn header_value(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '_'
            }
        })
        .collect()
}

fn split_once(bytes: &[u8], at: u8) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == at) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// The text parts `<name>\xfe<value>` separated by `\xff`, as a multipart form.
fn form(rest: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fuzzboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::with_capacity(rest.len() + 256);
    for part in rest.split(|&b| b == 0xff) {
        let (name, value) = split_once(part, 0xfe);
        let name = String::from_utf8_lossy(name).replace(['"', '\r', '\n'], "_");
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Runs one input against the mock, and returns the status of the answer (`None` for an empty
/// input); a panic (here or in the mock) is a finding.
pub fn run(data: &[u8]) -> Option<u16> {
    let (&shape, rest) = data.split_first()?;
    let mut guard = SERVER.lock().unwrap_or_else(|p| p.into_inner());
    let server = guard.get_or_insert_with(Server::new);
    if server.answered >= REQUESTS_PER_MOCK {
        server.restart();
    }
    let api = format!("/client/v4/accounts/{}/images", server.mock().account_id());
    let json = Some("application/json");
    let (operation, method, target, content_type, body): (
        Option<Operation>,
        &str,
        String,
        Option<String>,
        Vec<u8>,
    ) = match shape % SHAPES {
        0 => (
            Some(Operation::CreateVariant),
            "POST",
            format!("{api}/v1/variants"),
            json.map(str::to_owned),
            rest.to_vec(),
        ),
        1 => {
            let (name, body) = split_once(rest, b'\n');
            let name = if name.is_empty() {
                "x".as_bytes()
            } else {
                name
            };
            (
                Some(Operation::UpdateVariant),
                "PATCH",
                format!("{api}/v1/variants/{}", segment(name)),
                json.map(str::to_owned),
                body.to_vec(),
            )
        }
        2 => {
            let name = if rest.is_empty() {
                "k".as_bytes()
            } else {
                rest
            };
            (
                Some(Operation::AddKey),
                "PUT",
                format!("{api}/v1/keys/{}", segment(name)),
                None,
                Vec::new(),
            )
        }
        3 => (
            Some(Operation::DirectUploadV1),
            "POST",
            format!("{api}/v1/direct_upload"),
            json.map(str::to_owned),
            rest.to_vec(),
        ),
        4 => {
            let (content_type, body) = form(rest);
            (
                Some(Operation::DirectUploadV2),
                "POST",
                format!("{api}/v2/direct_upload"),
                Some(content_type),
                body,
            )
        }
        5 => {
            let (content_type, body) = split_once(rest, b'\n');
            (
                Some(Operation::DirectUploadV2),
                "POST",
                format!("{api}/v2/direct_upload"),
                Some(header_value(content_type)),
                body.to_vec(),
            )
        }
        6 => (
            Some(Operation::Update),
            "PATCH",
            format!("{api}/v1/{PUBLIC_IMAGE}"),
            json.map(str::to_owned),
            rest.to_vec(),
        ),
        7 => {
            let (path, q) = split_once(rest, b'?');
            let path: Vec<String> = path.split(|&b| b == b'/').map(segment).collect();
            let mut target = format!(
                "/cdn-cgi/imagedelivery/{}/{}",
                server.mock().account_hash(),
                path.join("/")
            );
            if !q.is_empty() {
                target.push('?');
                target.push_str(&query(q));
            }
            (None, "GET", target, None, Vec::new())
        }
        _ => {
            let lifetime = rest.first().copied().unwrap_or(0);
            let pick = rest.get(1).copied().unwrap_or(0);
            let extra = rest.get(2..).unwrap_or_default();
            let expires_in = (lifetime != 0).then(|| Duration::from_secs(u64::from(lifetime) * 60));
            let id = if pick % 2 == 0 {
                server.private_image.as_str()
            } else {
                PUBLIC_IMAGE
            };
            let variant = if pick / 2 % 2 == 0 { "public" } else { "thumb" };
            let url = server.mock().signed_delivery_url(id, variant, expires_in);
            let at = url.find("/cdn-cgi/").expect("a delivery URL of the mock");
            let mut target = url[at..].to_owned();
            if !extra.is_empty() {
                target.push('&');
                target.push_str(&query(extra));
            }
            (None, "GET", target, None, Vec::new())
        }
    };
    let (status, answer) = server.send(method, &target, content_type.as_deref(), &body);
    let shown = || {
        format!(
            "{method} {target} ({content_type:?}) {:?} -> {status} {:?}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&answer)
        )
    };
    assert!((200..500).contains(&status), "no real answer: {}", shown());
    if let Some(operation) = operation {
        if let Err(problems) = check_response(operation, status, &answer) {
            panic!("not of the official shape: {problems:?}: {}", shown());
        }
    } else if status == 200 {
        assert!(!answer.is_empty(), "an empty image: {}", shown());
    }
    Some(status)
}
