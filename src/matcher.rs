//! [`Matcher`]: one condition on a request, shared by [`Expectation`](crate::Expectation)s and
//! [`Script`](crate::Script)s.
//!
//! Matchers on the request head (operation, method, image id in the path, header) are known as
//! soon as a request arrives; matchers on the upload (creator, metadata, file) only once its
//! body is read and checked. Expectations and scripts take both: a script with a matcher on the
//! body is decided once an upload's body is read (see [`Script::when`](crate::Script::when)).

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::api::route::Operation;
use crate::journal::RequestRecord;

/// A condition on a request, for [`Expectation::and`](crate::Expectation::and) and
/// [`Script::when`](crate::Script::when).
///
/// ```
/// use cloudflare_images_mock::{Matcher, Operation};
///
/// let matchers = [
///     Matcher::operation(Operation::Upload),
///     Matcher::method("POST"),
///     Matcher::image_id("cat.png"),
///     Matcher::header("x-request-id", "42"),
///     Matcher::creator("user-42"),
///     Matcher::metadata("owner", "42"),
///     Matcher::metadata_key("owner"),
///     Matcher::file_size(67),
///     Matcher::file_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
///     Matcher::function("has a query", |r| r.query.is_some()),
/// ];
/// assert_eq!(matchers[4].to_string(), "creator \"user-42\"");
/// assert!(matchers[0].on_head() && !matchers[4].on_head());
/// ```
#[derive(Clone)]
pub struct Matcher(pub(crate) Kind);

#[derive(Clone)]
pub(crate) enum Kind {
    Operation(Operation),
    Method(String),
    ImageId(String),
    Header(String, String),
    Creator(String),
    Metadata(String, Option<Value>),
    FileSize(u64),
    FileSha256(String),
    Function(String, Arc<dyn Fn(&RequestRecord) -> bool + Send + Sync>),
}

/// What a head matcher looks at: what is known of a request before its body is read.
pub(crate) struct Head<'a> {
    pub(crate) operation: Option<Operation>,
    pub(crate) method: &'a str,
    pub(crate) image_id: Option<&'a str>,
    pub(crate) headers: &'a hyper::HeaderMap,
}

/// How one matcher fared on one request, for the report of an unmet expectation.
pub(crate) struct Check {
    pub(crate) passed: bool,
    /// `operation ✓`, or `creator: expected "u-1", got "u-2"`.
    pub(crate) text: String,
}

impl Matcher {
    /// Requests routed to `operation`.
    pub fn operation(operation: Operation) -> Matcher {
        Matcher(Kind::Operation(operation))
    }

    /// Requests of this HTTP method (`"POST"`, any case).
    pub fn method(method: impl Into<String>) -> Matcher {
        Matcher(Kind::Method(method.into().to_ascii_uppercase()))
    }

    /// Requests about this image: the id in the path, percent-decoded, or the id an upload got.
    /// For a script of the head, only the id in the path; for a script with a matcher on the
    /// body too, the custom id an upload sends (see [`Script::when`](crate::Script::when)).
    pub fn image_id(id: impl Into<String>) -> Matcher {
        Matcher(Kind::ImageId(id.into()))
    }

    /// Requests with a header `name` (any case) whose first value is `value`.
    pub fn header(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher(Kind::Header(name.into(), value.into()))
    }

    /// Accepted uploads with this `creator`.
    pub fn creator(creator: impl Into<String>) -> Matcher {
        Matcher(Kind::Creator(creator.into()))
    }

    /// Accepted uploads whose metadata has `key` equal to `value` (compared as JSON:
    /// `Matcher::metadata("n", 1)` does not match `{"n": "1"}`).
    pub fn metadata(key: impl Into<String>, value: impl Into<Value>) -> Matcher {
        Matcher(Kind::Metadata(key.into(), Some(value.into())))
    }

    /// Accepted uploads whose metadata has `key`, with any value.
    pub fn metadata_key(key: impl Into<String>) -> Matcher {
        Matcher(Kind::Metadata(key.into(), None))
    }

    /// Accepted uploads of a file of `size` bytes.
    pub fn file_size(size: u64) -> Matcher {
        Matcher(Kind::FileSize(size))
    }

    /// Accepted uploads of a file whose SHA-256 is `hex` (any case). The digest is computed
    /// from the stored bytes when the expectation is checked: an upload whose image was deleted
    /// since no longer matches (the journal keeps only the file's XXH3 digest). A script
    /// computes it from the body received.
    pub fn file_sha256(hex: impl Into<String>) -> Matcher {
        Matcher(Kind::FileSha256(hex.into().to_ascii_lowercase()))
    }

    /// Requests for which `matches` answers `true`, called `name` in reports. It sees the
    /// whole [`RequestRecord`]; a [`Script`](crate::Script) decides it as a matcher on the body,
    /// once an upload's body is read (see [`Script::when`](crate::Script::when)).
    pub fn function(
        name: impl Into<String>,
        matches: impl Fn(&RequestRecord) -> bool + Send + Sync + 'static,
    ) -> Matcher {
        Matcher(Kind::Function(name.into(), Arc::new(matches)))
    }

    /// Whether the matcher needs only the request head (operation, method, image id in the
    /// path, header), so that a [`Script`](crate::Script) using it is decided as soon as the
    /// head arrives, before the body is read.
    pub fn on_head(&self) -> bool {
        matches!(
            self.0,
            Kind::Operation(_) | Kind::Method(_) | Kind::ImageId(_) | Kind::Header(..)
        )
    }

    /// Whether the matcher matches a recorded request.
    pub fn matches(&self, record: &RequestRecord) -> bool {
        self.check(record).passed
    }

    /// Whether a head matcher matches a request that just arrived.
    pub(crate) fn matches_head(&self, head: &Head<'_>) -> bool {
        match &self.0 {
            Kind::Operation(operation) => head.operation == Some(*operation),
            Kind::Method(method) => head.method.eq_ignore_ascii_case(method),
            Kind::ImageId(id) => head.image_id == Some(id.as_str()),
            Kind::Header(name, value) => head
                .headers
                .get(name.as_str())
                .is_some_and(|v| v.as_bytes() == value.as_bytes()),
            _ => false,
        }
    }

    /// How the matcher fares on `record`, worded for the report.
    pub(crate) fn check(&self, record: &RequestRecord) -> Check {
        let upload = record.upload.as_ref();
        let (passed, got) = match &self.0 {
            Kind::Operation(operation) => (
                record.operation == Some(*operation),
                record
                    .operation
                    .map_or_else(|| "no operation".to_owned(), |o| o.to_string()),
            ),
            Kind::Method(method) => (
                record.method.eq_ignore_ascii_case(method),
                record.method.clone(),
            ),
            Kind::ImageId(id) => (
                record.image_id.as_deref() == Some(id.as_str()),
                quoted_or(record.image_id.as_deref(), "none"),
            ),
            Kind::Header(name, value) => {
                let got = record.header(name);
                (got == Some(value.as_str()), quoted_or(got, "missing"))
            }
            Kind::Creator(creator) => match upload {
                None => (false, "no accepted upload".to_owned()),
                Some(upload) => (
                    upload.creator.as_deref() == Some(creator.as_str()),
                    quoted_or(upload.creator.as_deref(), "none"),
                ),
            },
            Kind::Metadata(key, value) => match upload {
                None => (false, "no accepted upload".to_owned()),
                Some(upload) => match upload.meta.as_ref().and_then(|meta| meta.get(key)) {
                    None => (false, "missing".to_owned()),
                    Some(got) => (value.as_ref().is_none_or(|v| v == got), got.to_string()),
                },
            },
            Kind::FileSize(size) => match upload.and_then(|u| u.file_size) {
                None => (false, "no file".to_owned()),
                Some(got) => (got == *size, got.to_string()),
            },
            Kind::FileSha256(hex) => match upload {
                None => (false, "no accepted upload".to_owned()),
                Some(upload) => match &upload.file {
                    None => (false, "unknown (the image was deleted)".to_owned()),
                    Some(bytes) => {
                        let got = sha256_hex(bytes);
                        (&got == hex, got)
                    }
                },
            },
            Kind::Function(_, matches) => (matches(record), "false".to_owned()),
        };
        let text = if passed {
            format!("{} ✓", self.label())
        } else {
            match &self.0 {
                Kind::Function(..) => format!("{}: false", self.label()),
                Kind::Metadata(_, _) if got == "missing" => format!("{}: missing", self.label()),
                Kind::Header(..) if got == "missing" => format!("{}: missing", self.label()),
                _ => format!("{}: expected {}, got {got}", self.label(), self.expected()),
            }
        };
        Check { passed, text }
    }

    /// What the matcher looks at, as the report names it: `creator`, `metadata.owner`.
    fn label(&self) -> String {
        match &self.0 {
            Kind::Operation(_) => "operation".to_owned(),
            Kind::Method(_) => "method".to_owned(),
            Kind::ImageId(_) => "image id".to_owned(),
            Kind::Header(name, _) => format!("header {name}"),
            Kind::Creator(_) => "creator".to_owned(),
            Kind::Metadata(key, _) => format!("metadata.{key}"),
            Kind::FileSize(_) => "file size".to_owned(),
            Kind::FileSha256(_) => "file sha256".to_owned(),
            Kind::Function(name, _) => name.clone(),
        }
    }

    /// The value the matcher wants, as the report shows it.
    fn expected(&self) -> String {
        match &self.0 {
            Kind::Operation(operation) => operation.to_string(),
            Kind::Method(method) => method.clone(),
            Kind::ImageId(text) | Kind::Header(_, text) | Kind::Creator(text) => {
                format!("{text:?}")
            }
            Kind::Metadata(_, Some(value)) => value.to_string(),
            Kind::Metadata(_, None) => "a value".to_owned(),
            Kind::FileSize(size) => size.to_string(),
            Kind::FileSha256(hex) => hex.clone(),
            Kind::Function(..) => "true".to_owned(),
        }
    }
}

fn quoted_or(value: Option<&str>, none: &str) -> String {
    value.map_or_else(|| none.to_owned(), |v| format!("{v:?}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Metadata(key, None) => write!(f, "metadata.{key} present"),
            Kind::Metadata(key, Some(value)) => write!(f, "metadata.{key} = {value}"),
            Kind::Function(name, _) => write!(f, "{name}"),
            _ => write!(f, "{} {}", self.label(), self.expected()),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matcher({self})")
    }
}
