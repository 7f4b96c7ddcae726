//! Cloudflare response envelopes, built from the recorded ones in `fixtures/`.
//!
//! A success is the recorded 200 envelope (`fixtures/post-image.json`) with its `result`
//! replaced by the request's own values; a refusal is the failure envelope
//! (`fixtures/error.json`) with its `errors` replaced. Everything else is sent as recorded:
//! `result` first, then `success`, `errors`, `messages`, no `result_info`, pretty-printed with
//! two spaces (RECORDED.md section 0, finding 3; section 3).

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use serde_json::{json, Map, Value};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::error::ApiError;
use crate::ordered::Json;
use crate::state::Delivery;
use crate::store::StoredImage;

const SUCCESS_FIXTURE: &str = include_str!("../fixtures/post-image.json");
const ERROR_FIXTURE: &str = include_str!("../fixtures/error.json");
const RATE_LIMITED_FIXTURE: &str = include_str!("../fixtures/rate-limited.json");
const INTERNAL_ERROR_FIXTURE: &str = include_str!("../fixtures/internal-error.json");
const AUTHENTICATION_FIXTURE: &str = include_str!("../fixtures/authentication-error.json");

/// The `Content-Type` of the Images service's JSON answers, as recorded (RECORDED.md section 0,
/// finding 3).
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// Every fixture, by file name, for tests that check them: those the mock answers from, and the
/// recorded answers of the other operations that tests hold the mock's answers to.
#[cfg(test)]
pub(crate) const FIXTURES: [(&str, &str); 11] = [
    ("post-image.json", SUCCESS_FIXTURE),
    ("get-image.json", include_str!("../fixtures/get-image.json")),
    (
        "get-image-draft.json",
        include_str!("../fixtures/get-image-draft.json"),
    ),
    (
        "get-images.json",
        include_str!("../fixtures/get-images.json"),
    ),
    (
        "patch-image.json",
        include_str!("../fixtures/patch-image.json"),
    ),
    (
        "delete-image.json",
        include_str!("../fixtures/delete-image.json"),
    ),
    (
        "delete-image-not-found.json",
        include_str!("../fixtures/delete-image-not-found.json"),
    ),
    ("error.json", ERROR_FIXTURE),
    ("rate-limited.json", RATE_LIMITED_FIXTURE),
    ("internal-error.json", INTERNAL_ERROR_FIXTURE),
    ("authentication-error.json", AUTHENTICATION_FIXTURE),
];

/// A recorded error answer, sent as recorded by a [`Script`](crate::Script): status, headers,
/// body, and the first error of the body for the journal.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Bytes,
    pub(crate) error: ApiError,
}

fn recorded(name: &str, rule: crate::rule::Rule, text: &str) -> Recorded {
    let fixture: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("fixtures/{name} is not JSON: {e}"));
    let body = fixture_body(name, text);
    let first = &body["errors"][0];
    let status = fixture["status"]
        .as_u64()
        .unwrap_or_else(|| panic!("fixtures/{name} has no status")) as u16;
    // In the recorded order (a `Value`'s map is sorted unless `preserve_order` is on).
    let headers = match ordered_fixture(name, text).get("headers") {
        Some(Json::Object(headers)) => headers
            .clone()
            .into_iter()
            .map(|(k, v)| match v {
                Json::String(v) => (k, v),
                _ => (k, String::new()),
            })
            .collect(),
        _ => Vec::new(),
    };
    Recorded {
        status,
        headers,
        error: ApiError {
            code: first["code"]
                .as_u64()
                .unwrap_or_else(|| panic!("fixtures/{name} has no errors[0].code"))
                as u32,
            status,
            message: first["message"].as_str().unwrap_or_default().to_owned(),
            rule,
            pointer: None,
            schema_path: None,
            confirmed: fixture["provenance"]["confirmed"]
                .as_bool()
                .unwrap_or(false),
            error_chain: Box::default(),
        },
        body: Bytes::from(
            serde_json::to_vec(&ordered_fixture_body(name, text)).expect("JSON serialises"),
        ),
    }
}

/// `fixtures/rate-limited.json`: 429, 971, `Retry-After: 1`.
pub(crate) static RATE_LIMITED: LazyLock<Recorded> = LazyLock::new(|| {
    recorded(
        "rate-limited.json",
        crate::rule::Rule::RateLimited,
        RATE_LIMITED_FIXTURE,
    )
});
/// `fixtures/internal-error.json`: 500, 10001 (assumed).
pub(crate) static INTERNAL_ERROR: LazyLock<Recorded> = LazyLock::new(|| {
    recorded(
        "internal-error.json",
        crate::rule::Rule::InternalError,
        INTERNAL_ERROR_FIXTURE,
    )
});
/// `fixtures/authentication-error.json`: 401, 10000.
pub(crate) static AUTHENTICATION_ERROR: LazyLock<Recorded> = LazyLock::new(|| {
    recorded(
        "authentication-error.json",
        crate::rule::Rule::Authentication,
        AUTHENTICATION_FIXTURE,
    )
});

/// The body of a fixture as JSON: a recorded raw body (a string, as the recorder stored it) is
/// parsed; a body written as a JSON value is taken as it is.
pub(crate) fn fixture_body(name: &str, text: &str) -> Value {
    let fixture: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("fixtures/{name} is not JSON: {e}"));
    match fixture.get("body") {
        Some(Value::String(raw)) => serde_json::from_str(raw)
            .unwrap_or_else(|e| panic!("the body of fixtures/{name} is not JSON: {e}")),
        Some(body) => body.clone(),
        None => panic!("fixtures/{name} has no body"),
    }
}

/// A fixture as JSON in its recorded order.
fn ordered_fixture(name: &str, text: &str) -> crate::ordered::Object {
    match serde_json::from_str(text) {
        Ok(Json::Object(fixture)) => fixture,
        Ok(_) => panic!("fixtures/{name} is not an object"),
        Err(e) => panic!("fixtures/{name} is not JSON: {e}"),
    }
}

/// [`fixture_body`] with its members in their recorded order: what the answers are made of.
fn ordered_fixture_body(name: &str, text: &str) -> Json {
    match ordered_fixture(name, text).get("body") {
        Some(Json::String(raw)) => serde_json::from_str(raw)
            .unwrap_or_else(|e| panic!("the body of fixtures/{name} is not JSON: {e}")),
        Some(body) => body.clone(),
        None => panic!("fixtures/{name} has no body"),
    }
}

/// A recorded body serialised once, pretty-printed as recorded, split around the member the
/// mock fills in per request, so an answer is the two halves around that member's JSON: no
/// clone of the fixture and no parse per request.
struct Template {
    before: Vec<u8>,
    after: Vec<u8>,
}

impl Template {
    fn new(name: &str, text: &str, member: &str) -> Template {
        const HOLE: &str = "\u{0}cloudflare-images-mock-hole\u{0}";
        let mut body = ordered_fixture_body(name, text);
        let Json::Object(object) = &mut body else {
            panic!("the body of fixtures/{name} is not an object")
        };
        let Some(hole) = object.get_mut(member) else {
            panic!("fixtures/{name} has no {member}")
        };
        *hole = Json::String(HOLE.to_owned());
        let text = serde_json::to_string_pretty(&body).expect("a JSON value serialises");
        let hole = serde_json::to_string(HOLE).expect("a string serialises");
        let (before, after) = text.split_once(&hole).expect("the hole is in the body");
        Template {
            before: before.as_bytes().to_vec(),
            after: after.as_bytes().to_vec(),
        }
    }

    /// The body with `member` in the hole, pretty-printed one level in (a member of the
    /// top-level object), so the whole is what `to_string_pretty` makes of it.
    fn fill(&self, member: &impl serde::Serialize) -> Bytes {
        self.fill_with(|out| write_pretty(out, member, 1))
    }

    /// The body with what `write` writes in the hole.
    fn fill_with(&self, write: impl FnOnce(&mut Vec<u8>)) -> Bytes {
        // Written into a buffer of the thread, then copied into one of the exact size (the
        // journal keeps this body for every request: no spare capacity): one allocation, where a
        // buffer of a guessed size took a larger one and shrank it.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        /// A buffer grown past this (a long list) is not kept for the next answer.
        const KEPT: usize = 64 * 1024;
        SCRATCH.with_borrow_mut(|out| {
            out.clear();
            out.extend_from_slice(&self.before);
            write(out);
            out.extend_from_slice(&self.after);
            let body = Bytes::copy_from_slice(out);
            if out.capacity() > KEPT {
                *out = Vec::new();
            }
            body
        })
    }
}

/// `serde_json`'s `PrettyFormatter` (two spaces) starting at a given depth: a value written
/// into the hole of a [`Template`] is indented as the member of the envelope it is.
/// `PrettyFormatter` itself always starts at depth 0.
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    fn at(depth: usize) -> Pretty {
        Pretty {
            depth,
            has_value: false,
        }
    }

    fn indent<W: ?Sized + std::io::Write>(writer: &mut W, depth: usize) -> std::io::Result<()> {
        const SPACES: &[u8] = &[b' '; 64];
        let mut left = depth * 2;
        while left > 0 {
            let n = left.min(SPACES.len());
            writer.write_all(&SPACES[..n])?;
            left -= n;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            writer.write_all(b"\n")?;
            Pretty::indent(writer, self.depth)?;
        }
        writer.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })?;
        Pretty::indent(writer, self.depth)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        _writer: &mut W,
    ) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            writer.write_all(b"\n")?;
            Pretty::indent(writer, self.depth)?;
        }
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })?;
        Pretty::indent(writer, self.depth)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        _writer: &mut W,
    ) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

static SUCCESS: LazyLock<Template> =
    LazyLock::new(|| Template::new("post-image.json", SUCCESS_FIXTURE, "result"));
static FAILURE: LazyLock<Template> =
    LazyLock::new(|| Template::new("error.json", ERROR_FIXTURE, "errors"));

/// The body of a success whose result is `result`.
pub(crate) fn success(result: &impl serde::Serialize) -> Bytes {
    SUCCESS.fill(result)
}

/// The body of a refusal: the failure envelope, pretty-printed as the Images service's recorded
/// successes are (assumed for failures: no recorded JSON failure shows its layout).
pub(crate) fn failure(errors: &[ApiError]) -> Bytes {
    FAILURE.fill(&errors.iter().map(error_entry).collect::<Vec<_>>())
}

/// One error as the Images service answers it: `{code, message}` and nothing else, as recorded
/// (RECORDED.md section 0, finding 8: no `source.pointer`, no `documentation_url`). The field
/// and the rule at fault stay in the journal ([`ApiError::pointer`], [`ApiError::rule`]).
#[derive(serde::Serialize)]
struct ErrorEntry<'a> {
    code: u32,
    message: &'a str,
}

fn error_entry(error: &ApiError) -> ErrorEntry<'_> {
    ErrorEntry {
        code: error.code,
        message: &error.message,
    }
}

/// The body of a success whose result is one image: what [`success`] makes of an
/// [`ImageResult`], written member by member (the answer to every upload: serde's
/// serialisation of it, its escaping of every string byte by byte above all, was about 5% of an
/// upload's work).
pub(crate) fn image(image: &StoredImage, delivery: &Delivery) -> Bytes {
    SUCCESS.fill_with(|out| write_image(out, image, delivery))
}

/// [`ImageResult`] as `Pretty::at(1)` serialises it, into `out`.
fn write_image(out: &mut Vec<u8>, image: &StoredImage, delivery: &Delivery) {
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, key: &str| {
        out.extend_from_slice(if first { b"\n    \"" } else { b",\n    \"" });
        first = false;
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\": ");
    };
    out.push(b'{');
    key(out, "id");
    write_str(out, &image.id);
    if image.draft || image.filename.is_some() {
        key(out, "filename");
        match &image.filename {
            Some(filename) => write_str(out, filename),
            None => out.extend_from_slice(b"null"),
        }
    }
    if let Some(creator) = &image.creator {
        key(out, "creator");
        write_str(out, creator);
    }
    // As sent; the map only for an image whose order is unknown (see `ImageResult`).
    match (&image.meta_sent, &image.meta) {
        (Some(sent), _) => {
            key(out, "meta");
            write_pretty(out, sent, 2);
        }
        (None, Some(map)) => {
            key(out, "meta");
            write_pretty(out, map, 2);
        }
        (None, None) => {}
    }
    key(out, "uploaded");
    out.push(b'"');
    write_timestamp(out, image.uploaded.into());
    out.push(b'"');
    key(out, "requireSignedURLs");
    out.extend_from_slice(if image.require_signed_urls {
        b"true"
    } else {
        b"false"
    });
    key(out, "variants");
    if delivery.variants.is_empty() {
        out.extend_from_slice(b"[]");
    } else {
        for (i, variant) in delivery.variants.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"[\n      " } else { b",\n      " });
            write_variant_url(out, delivery, &image.id, variant);
        }
        out.extend_from_slice(b"\n    ]");
    }
    if image.draft {
        key(out, "draft");
        out.extend_from_slice(b"true");
    }
    out.extend_from_slice(b"\n  }");
}

/// `value` pretty-printed as the member of an object `depth` levels in.
fn write_pretty(out: &mut Vec<u8>, value: &impl Serialize, depth: usize) {
    let mut serializer = serde_json::Serializer::with_formatter(out, Pretty::at(depth));
    value
        .serialize(&mut serializer)
        .expect("a JSON value serialises");
}

/// Whether serde_json escapes any byte of `text` (checked without an early exit, which
/// vectorises).
fn needs_escaping(text: &[u8]) -> bool {
    text.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// A JSON string as serde_json writes it: copied as it is when nothing in it needs escaping,
/// by serde_json otherwise.
fn write_str(out: &mut Vec<u8>, text: &str) {
    if needs_escaping(text.as_bytes()) {
        serde_json::to_writer(&mut *out, text).expect("a string serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// The body of a success whose result is `{}` (a delete).
pub(crate) fn empty_result() -> Bytes {
    success(&Map::new())
}

/// The body of a v1 list: `result: {images: [...]}`.
pub(crate) fn list_v1(images: &[Arc<StoredImage>], delivery: &Delivery) -> Bytes {
    success(&ImageList {
        images,
        delivery,
        continuation_token: None,
    })
}

/// The body of a v2 list: `result: {images: [...], continuation_token}`.
pub(crate) fn list_v2(
    images: &[Arc<StoredImage>],
    token: Option<&str>,
    delivery: &Delivery,
) -> Bytes {
    success(&ImageList {
        images,
        delivery,
        continuation_token: Some(token),
    })
}

/// The body of the variants: `result: {variants: {<name>: {...}}}`, an object keyed by name as
/// recorded.
pub(crate) fn variants(variants: &[crate::store::Variant]) -> Bytes {
    struct ByName<'a>(&'a [crate::store::Variant]);
    impl Serialize for ByName<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for variant in self.0 {
                map.serialize_entry(&variant.id, variant)?;
            }
            map.end()
        }
    }
    struct Listed<'a>(&'a [crate::store::Variant]);
    impl Serialize for Listed<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry("variants", &ByName(self.0))?;
            map.end()
        }
    }
    success(&Listed(variants))
}

/// The body of one variant: `result: {variant: {...}}`.
pub(crate) fn variant(variant: &crate::store::Variant) -> Bytes {
    struct One<'a>(&'a crate::store::Variant);
    impl Serialize for One<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(Some(1))?;
            map.serialize_entry("variant", self.0)?;
            map.end()
        }
    }
    success(&One(variant))
}

/// The body of the signing keys: `result: {keys: [{name, value}]}`.
pub(crate) fn keys(keys: &[crate::store::Key]) -> Bytes {
    let keys: Vec<Value> = keys
        .iter()
        .map(|key| json!({ "name": key.name, "value": key.value }))
        .collect();
    success(&json!({ "keys": keys }))
}

/// The body of the usage statistics: `result: {count: {allowed, current}}`.
pub(crate) fn stats(allowed: u64, current: u64) -> Bytes {
    success(&json!({ "count": { "allowed": allowed, "current": current } }))
}

/// An image as the API answers it, in the order of the recorded answers.
pub(crate) struct ImageResult<'a> {
    pub(crate) image: &'a StoredImage,
    pub(crate) delivery: &'a Delivery,
}

impl Serialize for ImageResult<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let image = self.image;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &image.id)?;
        // The official description types filename as a string: when there is none to echo (a
        // file part without a filename, a url without a last path segment), the key is left
        // out (assumed); a draft has `"filename": null`, as recorded.
        if image.draft || image.filename.is_some() {
            map.serialize_entry("filename", &image.filename)?;
        }
        // Recorded results have no `creator` key when none was set, and no `meta` key when no
        // metadata was sent (RECORDED.md §0.4, §3). Where a set `creator` goes is not recorded:
        // after `filename`, as in the docs' examples (assumed).
        if let Some(creator) = &image.creator {
            map.serialize_entry("creator", creator)?;
        }
        // As sent; the map only for an image whose order is unknown (none so far).
        match (&image.meta_sent, &image.meta) {
            (Some(meta), _) => map.serialize_entry("meta", meta)?,
            (None, Some(meta)) => map.serialize_entry("meta", meta)?,
            (None, None) => {}
        }
        map.serialize_entry("uploaded", &timestamp(image.uploaded.into()))?;
        map.serialize_entry("requireSignedURLs", &image.require_signed_urls)?;
        map.serialize_entry(
            "variants",
            &Variants {
                delivery: self.delivery,
                id: &image.id,
            },
        )?;
        if image.draft {
            map.serialize_entry("draft", &true)?;
        }
        map.end()
    }
}

struct ImageList<'a> {
    images: &'a [Arc<StoredImage>],
    delivery: &'a Delivery,
    /// `None` for a v1 list (no token member); `Some(None)` for the last v2 page.
    continuation_token: Option<Option<&'a str>>,
}

impl Serialize for ImageList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Images<'a>(&'a [Arc<StoredImage>], &'a Delivery);
        impl Serialize for Images<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for image in self.0 {
                    seq.serialize_element(&ImageResult {
                        image,
                        delivery: self.1,
                    })?;
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(None)?;
        if let Some(token) = self.continuation_token {
            map.serialize_entry("continuation_token", &token)?;
        }
        map.serialize_entry("images", &Images(self.images, self.delivery))?;
        map.end()
    }
}

/// `https://imagedelivery.net/<account hash>/<id>/<variant>` for each variant.
struct Variants<'a> {
    delivery: &'a Delivery,
    id: &'a str,
}

/// What an image id (or a variant's name) has escaped in a delivery URL: characters a URL path
/// cannot hold; `/` stays, since custom ids have subpaths.
pub(crate) const ID_IN_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
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

impl Serialize for Variants<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.delivery.variants.len()))?;
        let mut url = String::new();
        for variant in self.delivery.variants.iter() {
            variant_url(&mut url, self.delivery, self.id, variant);
            seq.serialize_element(&url)?;
        }
        seq.end()
    }
}

/// Makes `url` the delivery URL of the image `id` in `variant`. Put together piece by piece:
/// `format_args!` through serde's `collect_str` ran the formatting machinery for every piece
/// (half a per cent of an upload's time).
fn variant_url(url: &mut String, delivery: &Delivery, id: &str, variant: &str) {
    let (host, hash) = (&delivery.host, &delivery.account_hash);
    url.clear();
    url.reserve(host.len() + hash.len() + id.len() + variant.len() + 3);
    url.push_str(host);
    url.push('/');
    url.push_str(hash);
    url.push('/');
    url.extend(percent_encoding::utf8_percent_encode(id, ID_IN_PATH));
    url.push('/');
    // A variant's name may hold any character but `/` (found by the `bodies` fuzz target: a
    // name with a backquote made a URL the official description refuses).
    url.extend(percent_encoding::utf8_percent_encode(variant, ID_IN_PATH));
}

/// The JSON string of [`variant_url`], written in place: no string of its own to build and
/// free for every variant of every answer.
fn write_variant_url(out: &mut Vec<u8>, delivery: &Delivery, id: &str, variant: &str) {
    let start = out.len();
    out.push(b'"');
    out.extend_from_slice(delivery.host.as_bytes());
    out.push(b'/');
    out.extend_from_slice(delivery.account_hash.as_bytes());
    out.push(b'/');
    write_in_path(out, id);
    out.push(b'/');
    write_in_path(out, variant);
    if needs_escaping(&out[start + 1..]) {
        // Only from a host or account hash configured so; written from `str`s.
        let url = String::from_utf8_lossy(&out[start + 1..]).into_owned();
        out.truncate(start);
        write_str(out, &url);
    } else {
        out.push(b'"');
    }
}

/// `segment` percent-encoded by [`ID_IN_PATH`], appended to `out`. A generated id and the
/// usual variant names are letters, digits and `-`, which the set leaves as they are (tested):
/// copied after a check that vectorises, where the encoder looks at one byte at a time.
fn write_in_path(out: &mut Vec<u8>, segment: &str) {
    let plain = segment.bytes().fold(true, |all, b| {
        all & (b.is_ascii_alphanumeric() | (b == b'-'))
    });
    if plain {
        out.extend_from_slice(segment.as_bytes());
    } else {
        for chunk in percent_encoding::utf8_percent_encode(segment, ID_IN_PATH) {
            out.extend_from_slice(chunk.as_bytes());
        }
    }
}

/// Loads the fixtures now, so the first request does not pay for it.
pub(crate) fn warm_up() {
    LazyLock::force(&SUCCESS);
    LazyLock::force(&FAILURE);
    LazyLock::force(&RATE_LIMITED);
    LazyLock::force(&INTERNAL_ERROR);
    LazyLock::force(&AUTHENTICATION_ERROR);
}

/// `2026-11-23T13:21:07.123Z`: RFC 3339 in UTC with milliseconds, as Cloudflare writes
/// `uploaded`.
pub(crate) fn timestamp(at: time::OffsetDateTime) -> String {
    let mut out = Vec::with_capacity(24);
    write_timestamp(&mut out, at);
    String::from_utf8(out).expect("digits and ASCII punctuation")
}

/// [`timestamp`], appended to `out`.
fn write_timestamp(out: &mut Vec<u8>, at: time::OffsetDateTime) {
    let at = at.to_offset(time::UtcOffset::UTC);
    // Digit by digit into one array, each place a division by a constant: `format!` cost more
    // than the rest of the answer's `result`.
    let digit = |value: u32, place: u32| b'0' + (value / place % 10) as u8;
    let year = at.year().clamp(0, 9999) as u32;
    let (month, day) = (u32::from(u8::from(at.month())), u32::from(at.day()));
    let (hour, minute, second) = (
        u32::from(at.hour()),
        u32::from(at.minute()),
        u32::from(at.second()),
    );
    let millisecond = u32::from(at.millisecond());
    out.extend_from_slice(&[
        digit(year, 1000),
        digit(year, 100),
        digit(year, 10),
        digit(year, 1),
        b'-',
        digit(month, 10),
        digit(month, 1),
        b'-',
        digit(day, 10),
        digit(day, 1),
        b'T',
        digit(hour, 10),
        digit(hour, 1),
        b':',
        digit(minute, 10),
        digit(minute, 1),
        b':',
        digit(second, 10),
        digit(second, 1),
        b'.',
        digit(millisecond, 100),
        digit(millisecond, 10),
        digit(millisecond, 1),
        b'Z',
    ]);
}

/// The body of a refusal by Cloudflare's API gateway (credentials, the `Authorization` header's
/// format, routing) rather than by the Images service: compact JSON whose members are `keys`, in
/// that order, as recorded for the code (`envelope` of its entry in `schemas/errors.json`):
/// `success` (`false`), `errors` (`{code, message}`, with `error_chain` where the error has one),
/// `messages` (`[]`) and `result` (`null`).
pub(crate) fn gateway(keys: &[String], errors: &[ApiError]) -> Bytes {
    struct Body<'a> {
        keys: &'a [String],
        errors: &'a [ApiError],
    }
    impl Serialize for Body<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            // Written member by member: a map would sort them unless `preserve_order` is on.
            let mut map = serializer.serialize_map(Some(self.keys.len()))?;
            for key in self.keys {
                match key.as_str() {
                    "success" => map.serialize_entry(key, &false)?,
                    "errors" => map.serialize_entry(
                        key,
                        &self.errors.iter().map(gateway_entry).collect::<Vec<_>>(),
                    )?,
                    "messages" => map.serialize_entry(key, &[(); 0])?,
                    "result" => map.serialize_entry(key, &())?,
                    other => panic!("schemas/errors.json: unknown envelope member {other:?}"),
                }
            }
            map.end()
        }
    }
    Bytes::from(serde_json::to_vec(&Body { keys, errors }).expect("JSON serialises"))
}

/// One error of the gateway's body: `code`, `message`, then `error_chain` where there is one.
#[derive(serde::Serialize)]
struct GatewayEntry<'a> {
    code: u32,
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    error_chain: Vec<ErrorEntry<'a>>,
}

fn gateway_entry(error: &ApiError) -> GatewayEntry<'_> {
    GatewayEntry {
        code: error.code,
        message: &error.message,
        error_chain: error
            .error_chain
            .iter()
            .map(|link| ErrorEntry {
                code: link.code,
                message: &link.message,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rule;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let at =
            time::OffsetDateTime::from_unix_timestamp_nanos(1_388_629_200_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2014-01-02T02:20:00.123Z");
        let at = time::OffsetDateTime::from_unix_timestamp(253_402_300_799).unwrap();
        assert_eq!(timestamp(at), "9999-12-31T23:59:59.000Z");
        let at = time::OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(timestamp(at), "1970-01-01T00:00:00.000Z");
    }

    /// The shape of a value: keys in their order, the kind of each value, arrays element by
    /// element; as text, since maps compare without regard to order.
    fn shape(value: &Value) -> String {
        fn walk(value: &Value) -> Value {
            match value {
                Value::Object(map) => {
                    Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v))).collect())
                }
                Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
                Value::String(_) => "string".into(),
                Value::Number(_) => "number".into(),
                Value::Bool(_) => "bool".into(),
                Value::Null => Value::Null,
            }
        }
        walk(value).to_string()
    }

    /// Asserts a body is laid out exactly as `to_string_pretty` lays it out (two spaces).
    fn assert_pretty(body: &[u8]) -> Value {
        let text = std::str::from_utf8(body).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(text, serde_json::to_string_pretty(&value).unwrap());
        value
    }

    fn delivery() -> Delivery {
        Delivery {
            host: "https://imagedelivery.net".into(),
            account_hash: "2222222222222222222222".into(),
            variants: vec!["public".to_owned()].into(),
        }
    }

    fn stored(draft: bool) -> StoredImage {
        let mut image = StoredImage {
            id: "00000000-0000-0000-0000-000000000000".into(),
            filename: (!draft).then(|| "image.jpg".to_owned()),
            creator: None,
            meta: None,
            meta_sent: None,
            require_signed_urls: false,
            uploaded: std::time::UNIX_EPOCH,
            draft,
            format: None,
            dimensions: None,
            file_size: None,
        };
        image.set_meta(Some(ordered(
            r#"{"key": "value", "nested": {"a": [1, {}], "e": []}}"#,
        )));
        image
    }

    /// What `write_in_path` copies as it is, the encoder leaves as it is.
    #[test]
    fn letters_digits_and_hyphens_are_not_encoded_in_a_path() {
        let plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
        let encoded = percent_encoding::utf8_percent_encode(plain, ID_IN_PATH).to_string();
        assert_eq!(encoded, plain);
        let mut out = Vec::new();
        write_in_path(&mut out, "a b/c");
        assert_eq!(out, b"a%20b/c");
    }

    /// The answer to an upload, written member by member, is byte for byte what serde makes of
    /// the same [`ImageResult`].
    #[test]
    fn an_image_written_by_hand_is_the_serialised_one() {
        let mut images = Vec::new();
        for draft in [false, true] {
            let plain = stored(draft);
            let mut odd = stored(draft);
            odd.id = "a/b c\"d\\e\u{1}\t\u{7f}é`|".into();
            odd.filename = Some("x\ny\"z.png".into());
            odd.creator = Some("user \"42\"".into());
            odd.require_signed_urls = true;
            odd.uploaded =
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
            let mut bare = stored(draft);
            bare.filename = None;
            bare.set_meta(None);
            let mut empty_meta = stored(draft);
            empty_meta.set_meta(Some(ordered("{}")));
            let mut map_only = stored(draft);
            map_only.meta_sent = None;
            images.extend([plain, odd, bare, empty_meta, map_only]);
        }
        let mut deliveries = vec![delivery()];
        deliveries.push(Delivery {
            host: "https://example.com/\"x\"".into(),
            account_hash: "h\\".into(),
            variants: vec![
                "public".to_owned(),
                "thumb nail".to_owned(),
                "a\"b".to_owned(),
            ]
            .into(),
        });
        deliveries.push(Delivery {
            variants: Vec::new().into(),
            ..delivery()
        });
        for image in &images {
            for delivery in &deliveries {
                let by_hand = super::image(image, delivery);
                let by_serde = success(&ImageResult { image, delivery });
                assert_eq!(
                    std::str::from_utf8(&by_hand).unwrap(),
                    std::str::from_utf8(&by_serde).unwrap()
                );
                assert_pretty(&by_hand);
            }
        }
    }

    fn ordered(text: &str) -> crate::ordered::Object {
        match serde_json::from_str(text).unwrap() {
            Json::Object(object) => object,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn every_answer_is_pretty_printed_with_result_first() {
        let image = stored(false);
        let bodies = [
            super::image(&image, &delivery()),
            list_v1(
                &[Arc::new(image.clone()), Arc::new(image.clone())],
                &delivery(),
            ),
            list_v2(&[Arc::new(image.clone())], Some("abc"), &delivery()),
            list_v2(&[], None, &delivery()),
            empty_result(),
            stats(100_000, 3),
            failure(&[crate::schema::catalogue_error(Rule::MissingAuth, &[])]),
        ];
        for body in bodies {
            let value = assert_pretty(&body);
            let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["result", "success", "errors", "messages"]);
        }
        assert_eq!(
            std::str::from_utf8(&empty_result()).unwrap(),
            "{\n  \"result\": {},\n  \"success\": true,\n  \"errors\": [],\n  \"messages\": []\n}"
        );
    }

    /// These read the bytes, not a `Value` (whose key order depends on serde_json's
    /// `preserve_order`, on in this crate's test build): an answer's order must not.
    #[test]
    fn answers_keep_the_recorded_order_and_the_metadata_order_in_their_bytes() {
        let mut image = stored(false);
        image.set_meta(Some(ordered(r#"{"z": 1, "a": {"y": 2, "b": 3}}"#)));
        let body = String::from_utf8(super::image(&image, &delivery()).to_vec()).unwrap();
        let at = |needle: &str| {
            body.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} in {body}"))
        };
        let envelope = [
            "\n  \"result\": {",
            "\n  \"success\": true",
            "\n  \"errors\": []",
            "\n  \"messages\": []",
        ];
        assert!(envelope.windows(2).all(|w| at(w[0]) < at(w[1])), "{body}");
        assert!(
            body.starts_with("{\n  \"result\": {\n    \"id\": "),
            "{body}"
        );
        let result = [
            "\"id\"",
            "\"filename\"",
            "\"meta\"",
            "\"uploaded\"",
            "\"requireSignedURLs\"",
            "\"variants\"",
        ];
        assert!(result.windows(2).all(|w| at(w[0]) < at(w[1])), "{body}");
        assert!(
            body.contains(
                "\"meta\": {\n      \"z\": 1,\n      \"a\": {\n        \"y\": 2,\n        \"b\": 3\n      }\n    },"
            ),
            "{body}"
        );
    }

    #[test]
    fn gateway_bodies_keep_the_recorded_member_order_in_their_bytes() {
        let error = crate::schema::catalogue_error(Rule::MissingAuth, &[]);
        let keys: Vec<String> = ["success", "errors", "messages", "result"]
            .map(str::to_owned)
            .to_vec();
        let body = gateway(&keys, &[error]);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"success":false,"errors":[{"code":9106,"message":"Missing X-Auth-Key, X-Auth-Email or Authorization headers"}],"messages":[],"result":null}"#
        );
        let mut chained = crate::schema::catalogue_error(Rule::MissingAuth, &[]);
        chained.error_chain = vec![crate::error::ChainedError {
            code: 6111,
            message: "m".to_owned(),
        }]
        .into_boxed_slice();
        let keys = ["result", "success", "errors", "messages"].map(str::to_owned);
        assert_eq!(
            std::str::from_utf8(&gateway(&keys, &[chained])).unwrap(),
            r#"{"result":null,"success":false,"errors":[{"code":9106,"message":"Missing X-Auth-Key, X-Auth-Email or Authorization headers","error_chain":[{"code":6111,"message":"m"}]}],"messages":[]}"#
        );
    }

    #[test]
    fn a_draft_has_the_recorded_shape() {
        let (name, text) = FIXTURES
            .iter()
            .find(|(name, _)| *name == "get-image-draft.json")
            .unwrap();
        let recorded = fixture_body(name, text);
        let mut draft = stored(true);
        draft.set_meta(Some(ordered(r#"{"key": "value"}"#)));
        let answered = assert_pretty(&super::image(&draft, &delivery()));
        assert_eq!(shape(&answered), shape(&recorded));
        assert_eq!(answered["result"]["filename"], Value::Null);
    }

    #[test]
    fn failure_keeps_the_recorded_shape() {
        let mut e = crate::schema::catalogue_error(Rule::MissingAuth, &[]);
        e.pointer = Some("/file".into());
        let body: Value = serde_json::from_slice(&failure(&[e])).unwrap();
        assert_eq!(body["success"], false);
        assert_eq!(body["result"], Value::Null);
        assert_eq!(body["messages"], json!([]));
        assert_eq!(
            body["errors"],
            json!([{"code": 9106, "message": "Missing X-Auth-Key, X-Auth-Email or Authorization headers"}]),
            "the pointer stays in the journal, not in the answer"
        );
    }
}
