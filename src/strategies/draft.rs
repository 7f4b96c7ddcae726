//! [`Draft`]: an upload before a client writes it, and how each [`ClientStyle`] writes it.
//!
//! This is where the knowledge of clients lives: their file part defaults and Content-Type
//! guesses, how each SDK flattens `metadata` and what it leaves out, and the order of parts.
//! The strategies decide the values; this module only writes them down.

use std::fmt;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::form::{
    Body, BytesSummary, ClientStyle, ExpectedResult, FileParam, MetadataEncoding, Random,
    UploadForm, UploadParams, WirePart,
};

/// The values of an upload and the client that will write them.
#[derive(Clone)]
pub(crate) struct Draft {
    pub(crate) client: ClientStyle,
    /// Draws the boundary; see [`ClientStyle::boundary`].
    pub(crate) boundary_seed: u128,
    /// Draws the order of the fields (0: file, url, id, creator, metadata, requireSignedURLs).
    pub(crate) order_seed: u64,
    pub(crate) file: Option<FileParam>,
    pub(crate) url: Option<UrlSpec>,
    pub(crate) id: Option<String>,
    pub(crate) creator: Option<String>,
    /// Any value: an object is sent in the client's encoding, anything else as one part.
    pub(crate) metadata: Option<Value>,
    /// The text of the `requireSignedURLs` part (`"true"`, `"false"`, or anything for a fault).
    pub(crate) require_signed_urls: Option<String>,
}

/// A `url` and what its origin serves.
#[derive(Clone)]
pub(crate) struct UrlSpec {
    pub(crate) url: String,
    /// The last segment of the URL's path, which the API takes as the file name.
    pub(crate) filename: Option<String>,
    pub(crate) served: Option<Bytes>,
}

impl fmt::Debug for Draft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Draft")
            .field("client", &self.client)
            .field("file", &self.file)
            .field("url", &self.url.as_ref().map(|u| &u.url))
            .field("id", &self.id)
            .field("creator", &self.creator)
            .field("metadata", &self.metadata)
            .field("require_signed_urls", &self.require_signed_urls)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UrlSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSpec")
            .field("url", &self.url)
            .field("filename", &self.filename)
            .field("served", &self.served.as_deref().map(BytesSummary))
            .finish()
    }
}

/// The fields of a form, in the order the docs list them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    File,
    Url,
    Id,
    Creator,
    Metadata,
    RequireSignedUrls,
}

impl Draft {
    /// The form this draft makes, with no expectation of the answer.
    pub(crate) fn render(&self) -> UploadForm {
        self.build(false)
    }

    /// The form this draft makes, with the answer the API gives an upload it accepts.
    pub(crate) fn render_valid(&self) -> UploadForm {
        self.build(true)
    }

    /// Whether the client leaves this text out (the Python SDK drops empty strings).
    fn drops(&self, text: &str) -> bool {
        self.client == ClientStyle::PythonSdk && text.is_empty()
    }

    fn build(&self, valid: bool) -> UploadForm {
        let client = self.client;
        let boundary = client.boundary(self.boundary_seed);
        let order: Vec<Field> = if client == ClientStyle::PythonSdk {
            // The SDK's own order of text fields, then the files.
            vec![
                Field::Id,
                Field::Creator,
                Field::Metadata,
                Field::RequireSignedUrls,
                Field::Url,
                Field::File,
            ]
        } else {
            let mut fields = vec![
                Field::File,
                Field::Url,
                Field::Id,
                Field::Creator,
                Field::Metadata,
                Field::RequireSignedUrls,
            ];
            if self.order_seed != 0 {
                let mut random = Random(self.order_seed);
                for i in (1..fields.len()).rev() {
                    fields.swap(i, random.below(i as u64 + 1) as usize);
                }
            }
            fields
        };
        let mut parts = Vec::new();
        let mut file_name_sent = None;
        let mut metadata_sent = false;
        for field in order {
            match field {
                Field::File => {
                    if let Some(file) = &self.file {
                        let (part, filename) = file_part(client, file);
                        file_name_sent = filename;
                        parts.push(part);
                    }
                }
                Field::Url => self.text(&mut parts, "url", self.url.as_ref().map(|u| &u.url)),
                Field::Id => self.text(&mut parts, "id", self.id.as_ref()),
                Field::Creator => self.text(&mut parts, "creator", self.creator.as_ref()),
                Field::Metadata => {
                    if let Some(metadata) = &self.metadata {
                        let before = parts.len();
                        metadata_parts(client, metadata, &mut parts);
                        metadata_sent = parts.len() > before;
                    }
                }
                Field::RequireSignedUrls => self.text(
                    &mut parts,
                    "requireSignedURLs",
                    self.require_signed_urls.as_ref(),
                ),
            }
        }
        let expected = valid.then(|| ExpectedResult {
            id: self.id.clone(),
            filename: match &self.url {
                Some(url) => url.filename.clone(),
                None => file_name_sent.map(|name| client.read_back(&name)),
            },
            creator: self.creator.clone().filter(|c| !self.drops(c)),
            meta: match &self.metadata {
                Some(Value::Object(map)) if metadata_sent => {
                    Some(rebuilt(client.metadata_encoding(), map))
                }
                _ => None,
            },
            require_signed_urls: self.require_signed_urls.as_deref() == Some("true"),
        });
        let params = UploadParams {
            file: self.file.clone(),
            url: self.url.as_ref().map(|u| u.url.clone()),
            id: self.id.clone(),
            creator: self.creator.clone(),
            metadata: self.metadata.clone(),
            require_signed_urls: match self.require_signed_urls.as_deref() {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
        };
        UploadForm {
            client,
            params,
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body: Body::Multipart { boundary, parts },
            expected,
            served: self
                .url
                .as_ref()
                .and_then(|u| Some((u.url.clone(), u.served.clone()?))),
        }
    }

    fn text(&self, parts: &mut Vec<WirePart>, name: &str, value: Option<&String>) {
        if let Some(value) = value.filter(|v| !self.drops(v)) {
            parts.push(text_part(self.client, name, value));
        }
    }
}

/// A text part.
pub(crate) fn text_part(client: ClientStyle, name: &str, value: &str) -> WirePart {
    WirePart {
        name: Some(name.to_owned()),
        head: format!(
            "Content-Disposition: form-data; name=\"{}\"",
            client.escape(name)
        ),
        value: Bytes::copy_from_slice(value.as_bytes()),
    }
}

/// The `file` part as `client` writes it, and the file name it sends (unescaped).
pub(crate) fn file_part(client: ClientStyle, file: &FileParam) -> (WirePart, Option<String>) {
    const OCTET_STREAM: &str = "application/octet-stream";
    let given = file.content_type.clone();
    let (filename, content_type) = match (client, &file.filename) {
        (ClientStyle::Curl, Some(name)) => (
            Some(name.clone()),
            Some(given.unwrap_or_else(|| guess(name, false).to_owned())),
        ),
        // `-F 'file=<cat.png'`: the content without a file name.
        (ClientStyle::Curl, None) | (ClientStyle::Reqwest, _) => (file.filename.clone(), given),
        (ClientStyle::PythonSdk, Some(name)) => (
            Some(name.clone()),
            Some(given.unwrap_or_else(|| guess(name, true).to_owned())),
        ),
        (ClientStyle::PythonSdk, None) => {
            (Some("upload".to_owned()), Some(OCTET_STREAM.to_owned()))
        }
        (ClientStyle::TypeScriptSdk, name) => (
            Some(name.clone().unwrap_or_else(|| "unknown_file".to_owned())),
            Some(given.unwrap_or_else(|| OCTET_STREAM.to_owned())),
        ),
    };
    let mut head = "Content-Disposition: form-data; name=\"file\"".to_owned();
    if let Some(name) = &filename {
        head.push_str(&format!("; filename=\"{}\"", client.escape(name)));
    }
    if let Some(content_type) = content_type {
        head.push_str(&format!("\r\nContent-Type: {content_type}"));
    }
    (
        WirePart {
            name: Some("file".to_owned()),
            head,
            value: file.bytes.clone(),
        },
        filename,
    )
}

/// The Content-Type a client guesses from a file name: curl's table, or (`python`) the wider
/// one of Python's `mimetypes`.
fn guess(filename: &str, python: bool) -> &'static str {
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("txt") => "text/plain",
        Some("htm" | "html") => "text/html",
        Some("pdf") => "application/pdf",
        Some("xml") => "application/xml",
        Some("webp") if python => "image/webp",
        Some("avif") if python => "image/avif",
        Some("heic") if python => "image/heic",
        _ => "application/octet-stream",
    }
}

/// The parts of `metadata` as `client` sends them: an object in the client's encoding,
/// anything else as one part holding its text (a string as it is, other values as JSON).
pub(crate) fn metadata_parts(client: ClientStyle, metadata: &Value, parts: &mut Vec<WirePart>) {
    let drops_empty = client == ClientStyle::PythonSdk;
    match (metadata, client.metadata_encoding()) {
        (Value::Object(map), MetadataEncoding::Brackets) => {
            for (key, value) in map {
                brackets(client, &format!("metadata[{key}]"), value, parts);
            }
        }
        (Value::Object(map), MetadataEncoding::Dots) => {
            for (key, value) in map {
                dots(client, &format!("metadata.{key}"), value, parts);
            }
        }
        (Value::String(text), _) => {
            if !(drops_empty && text.is_empty()) {
                parts.push(text_part(client, "metadata", text));
            }
        }
        (value, _) => parts.push(text_part(client, "metadata", &value.to_string())),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// The TypeScript SDK's `addFormValue`: objects become `[key]`, arrays `[]`, the rest `String(v)`.
fn brackets(client: ClientStyle, name: &str, value: &Value, parts: &mut Vec<WirePart>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                brackets(client, &format!("{name}[{key}]"), value, parts);
            }
        }
        Value::Array(items) => {
            for item in items {
                brackets(client, &format!("{name}[]"), item, parts);
            }
        }
        scalar => {
            if let Some(text) = scalar_text(scalar) {
                parts.push(text_part(client, name, &text));
            }
        }
    }
}

/// The Python SDK's querystring flattening (`nested_format="dots"`, `array_format="repeat"`),
/// which leaves out `None` and `""`.
fn dots(client: ClientStyle, name: &str, value: &Value, parts: &mut Vec<WirePart>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                dots(client, &format!("{name}.{key}"), value, parts);
            }
        }
        Value::Array(items) => {
            for item in items {
                dots(client, name, item, parts);
            }
        }
        scalar => {
            if let Some(text) = scalar_text(scalar).filter(|t| !t.is_empty()) {
                parts.push(text_part(client, name, &text));
            }
        }
    }
}

/// The object the API rebuilds from `map` sent in `encoding`: the same object from JSON; from
/// bracket or dot parts, strings only, and nothing for what the SDK did not send. Python sends a
/// one-item list as a single part, which comes back as a string.
pub(crate) fn rebuilt(encoding: MetadataEncoding, map: &Map<String, Value>) -> Map<String, Value> {
    fn value(encoding: MetadataEncoding, value: &Value) -> Option<Value> {
        let dots = encoding == MetadataEncoding::Dots;
        let text = |v: &Value| scalar_text(v).filter(|t| !(dots && t.is_empty()));
        match value {
            Value::Object(map) => {
                let inner = object(encoding, map);
                (!inner.is_empty()).then_some(Value::Object(inner))
            }
            Value::Array(items) => {
                let mut texts: Vec<Value> =
                    items.iter().filter_map(text).map(Value::from).collect();
                match texts.len() {
                    0 => None,
                    1 if dots => texts.pop(),
                    _ => Some(Value::Array(texts)),
                }
            }
            scalar => text(scalar).map(Value::from),
        }
    }
    fn object(encoding: MetadataEncoding, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .filter_map(|(k, v)| Some((k.clone(), value(encoding, v)?)))
            .collect()
    }
    match encoding {
        MetadataEncoding::Json => map.clone(),
        _ => object(encoding, map),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(client: ClientStyle) -> Draft {
        Draft {
            client,
            boundary_seed: 7,
            order_seed: 0,
            file: Some(FileParam {
                bytes: Bytes::from(crate::samples::image("png", 2, 3)),
                filename: Some("my \"cat\".png".to_owned()),
                content_type: None,
            }),
            url: None,
            id: None,
            creator: Some(String::new()),
            metadata: Some(json!({"a": 1, "b": {"c": true}, "l": ["x"], "e": ""})),
            require_signed_urls: Some("false".to_owned()),
        }
    }

    #[test]
    fn each_client_writes_the_same_upload_its_own_way() {
        for &client in ClientStyle::ALL {
            let form = draft(client).render_valid();
            let checked = crate::conformance::check_upload(&form.content_type(), &form.body())
                .unwrap_or_else(|e| panic!("{client:?}: {e:?}\n{form:?}"));
            let expected = form.expected().unwrap();
            assert_eq!(checked.filename, expected.filename, "{client:?}");
            assert_eq!(checked.meta, expected.meta, "{client:?}");
            assert_eq!(checked.creator, expected.creator, "{client:?}");
        }
    }

    #[test]
    fn sdk_encodings_rebuild_strings() {
        let map = json!({"a": 1, "b": {"c": true, "d": {}}, "l": ["x"], "e": "", "n": null});
        let map = map.as_object().unwrap();
        assert_eq!(
            Value::Object(rebuilt(MetadataEncoding::Brackets, map)),
            json!({"a": "1", "b": {"c": "true"}, "l": ["x"], "e": ""})
        );
        assert_eq!(
            Value::Object(rebuilt(MetadataEncoding::Dots, map)),
            json!({"a": "1", "b": {"c": "true"}, "l": "x"})
        );
    }

    #[test]
    fn file_names_as_servers_read_them() {
        let form = draft(ClientStyle::Reqwest).render_valid();
        assert_eq!(
            form.expected().unwrap().filename.as_deref(),
            Some("my \"cat\".png")
        );
        let form = draft(ClientStyle::Curl).render_valid();
        assert_eq!(
            form.expected().unwrap().filename.as_deref(),
            Some("my %22cat%22.png")
        );
        let mut python = draft(ClientStyle::PythonSdk);
        python.file.as_mut().unwrap().filename = None;
        assert_eq!(
            python
                .render_valid()
                .expected()
                .unwrap()
                .filename
                .as_deref(),
            Some("upload")
        );
    }
}
