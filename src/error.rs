//! The two kinds of error this crate deals in: [`ApiError`], what the mock answers a client (one
//! entry of a Cloudflare error envelope), and [`Error`], what can go wrong setting a mock up.
//!
//! The wording of messages is not part of the API, except where an [`ApiError`] repeats the
//! message the real Cloudflare API sends (those are pinned by tests).

use std::fmt;
use std::net::SocketAddr;

/// One refusal, as the mock answers it and records it.
///
/// The same value feeds the error envelope sent to the client, the journal entry and the report
/// of [`conformance::check_upload`](crate::conformance::check_upload), so the three never
/// disagree.
///
/// ```
/// use cloudflare_images_mock::conformance;
///
/// let body = "--b\r\nContent-Disposition: form-data; name=\"creator\"\r\n\r\nme\r\n--b--\r\n";
/// let errors = conformance::check_upload("multipart/form-data; boundary=b", body.as_bytes())
///     .unwrap_err();
/// assert_eq!(errors[0].code, 5400);
/// assert_eq!(errors[0].rule, "file_or_url_required");
/// assert_eq!(errors[0].pointer.as_deref(), Some("/file"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The Cloudflare error code, e.g. `5411`.
    pub code: u32,
    /// The HTTP status the real API answers with this error, e.g. `400`.
    pub status: u16,
    /// The message, as the real API words it where that is known.
    pub message: String,
    /// The rule that was broken, e.g. [`Rule::IdUuid`](crate::Rule::IdUuid) or
    /// [`Rule::MissingAuth`](crate::Rule::MissingAuth); it compares with its name
    /// (`error.rule == "id_uuid"`).
    pub rule: crate::Rule,
    /// The JSON pointer of the form field at fault (`"/metadata"`), kept by the journal: the
    /// answered error object is `{code, message}` only, as the real API's are.
    pub pointer: Option<String>,
    /// Where the rule lives in `schemas/upload.schema.json`, for rules of the upload schema.
    pub schema_path: Option<String>,
    /// Whether the code and the status are confirmed from the real API; `false` means the mock
    /// assumes them (see the schema's `note`s and `schemas/errors.json`).
    pub confirmed: bool,
    /// The errors this one chains to, sent as its `error_chain`: the gateway's answer to a
    /// malformed `Authorization` header, `6003 Invalid request headers`, chains
    /// `6111 Invalid format for Authorization header` (recorded). Empty for most errors (a
    /// boxed slice, so that an `ApiError` stays small enough to pass around in `Result`s).
    pub error_chain: Box<[ChainedError]>,
}

/// One entry of an error's `error_chain`: a code and a message, as the gateway sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainedError {
    /// The Cloudflare code, e.g. `6111`.
    pub code: u32,
    /// The message, e.g. `Invalid format for Authorization header`.
    pub message: String,
}

impl ApiError {
    /// The form field at fault, without the leading `/` of its pointer (`"metadata"`).
    pub fn field(&self) -> Option<&str> {
        let pointer = self.pointer.as_deref()?;
        let field = pointer.strip_prefix('/').unwrap_or(pointer);
        Some(field.split('/').next().unwrap_or(field))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} [{}]", self.status, self.code, self.rule)?;
        if let Some(pointer) = &self.pointer {
            write!(f, " at {pointer}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// What can go wrong setting up a mock.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound (already in use, no permission, ...).
    Bind {
        /// The address the mock tried to bind.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The mock's server thread or its runtime could not be started.
    Spawn(std::io::Error),
    /// A builder setting is invalid: the message names the setting and the rule.
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bind { addr, source } => {
                write!(f, "cloudflare-images-mock could not bind {addr}: {source}")
            }
            Error::Spawn(source) => {
                write!(
                    f,
                    "cloudflare-images-mock could not start its server thread: {source}"
                )
            }
            Error::Config(message) => {
                write!(f, "invalid cloudflare-images-mock setting: {message}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Spawn(source) => Some(source),
            Error::Config(_) => None,
        }
    }
}
