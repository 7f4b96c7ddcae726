//! Sending a case: plain HTTP/1.1 with hyper's client, the credentials of the run, the pace of
//! the rate limit, and `Retry-After` honoured on a `429`.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::catalogue::Request;
use super::pace::{self, Bucket};

/// How long one request may take, answer included (a 10 MiB upload on a slow line).
const TIMEOUT: Duration = Duration::from_secs(120);
/// How many times a `429` is retried.
const RETRIES: usize = 3;

/// The credentials a run sends.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    Token(String),
    Key { email: String, key: String },
}

/// Why a base URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BaseError {
    /// Not a URL, or no host.
    Invalid(String),
    /// `https://`: no TLS stack is built in yet.
    TlsNotBuiltIn,
    /// Another scheme than http(s).
    Scheme(String),
}

impl fmt::Display for BaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseError::Invalid(base) => write!(f, "--base {base:?} is no http:// URL with a host"),
            BaseError::TlsNotBuiltIn => f.write_str(
                "--base is https://, but verify has no TLS built in yet (the project builds no C \
                 code, and the pure-Rust TLS providers are not settled): run it against an \
                 http:// base, such as a local TLS-terminating proxy to the API",
            ),
            BaseError::Scheme(scheme) => write!(f, "--base has scheme {scheme:?}; use http://"),
        }
    }
}

/// A base URL `verify` can send to: `http://host[:port]/prefix`.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    url: String,
    host: String,
}

impl Base {
    pub(crate) fn parse(base: &str) -> Result<Base, BaseError> {
        let uri: Uri = base
            .parse()
            .map_err(|_| BaseError::Invalid(base.to_owned()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(BaseError::TlsNotBuiltIn),
            Some(other) => return Err(BaseError::Scheme(other.to_owned())),
            None => return Err(BaseError::Invalid(base.to_owned())),
        }
        let host = uri
            .host()
            .ok_or_else(|| BaseError::Invalid(base.to_owned()))?
            .to_owned();
        Ok(Base {
            url: base.trim_end_matches('/').to_owned(),
            host,
        })
    }

    /// Whether the host is this machine: a real account is never there, so no `--yes` needed.
    pub(crate) fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The URL of `request` on `account`.
    pub(crate) fn url(&self, account: &str, request: &Request) -> String {
        let query = request
            .query
            .as_deref()
            .map_or_else(String::new, |q| format!("?{q}"));
        format!("{}/accounts/{account}{}{query}", self.url, request.path)
    }
}

/// What came back: an answer, or why none did.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Got {
        status: u16,
        content_type: Option<String>,
        body: Bytes,
    },
    Failed(String),
}

/// A target (or the in-process reference) with its credentials and pace.
pub(crate) struct Target {
    client: Client<HttpConnector, Full<Bytes>>,
    base: Base,
    account: String,
    auth: Auth,
    /// `None` for the in-process reference, which has no limit to keep.
    bucket: Option<Bucket>,
    /// The wait the last answer's `Retry-After` asked for.
    last_retry_after: Option<Duration>,
    /// The requests actually sent (retries included).
    pub(crate) sent: usize,
}

impl Target {
    pub(crate) fn new(base: Base, account: String, auth: Auth, paced: bool) -> Target {
        Target {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base,
            account,
            auth,
            bucket: paced.then(|| Bucket::new(Instant::now())),
            last_retry_after: None,
            sent: 0,
        }
    }

    /// Sends `request`, waiting for the pace and retrying a `429` after its `Retry-After`.
    pub(crate) async fn send(&mut self, request: &Request) -> Answer {
        let mut attempt = 0;
        loop {
            if let Some(bucket) = &mut self.bucket {
                let wait = bucket.take(Instant::now());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            self.sent += 1;
            let answer = self.send_once(request).await;
            match (&answer, attempt < RETRIES) {
                (Answer::Got { status: 429, .. }, true) => {
                    attempt += 1;
                    let wait = self
                        .last_retry_after
                        .take()
                        .unwrap_or(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                }
                _ => return answer,
            }
        }
    }

    async fn send_once(&mut self, request: &Request) -> Answer {
        let built = self.build(request);
        let Ok(built) = built else {
            return Answer::Failed("the request cannot be built".to_owned());
        };
        let response = match tokio::time::timeout(TIMEOUT, self.client.request(built)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Answer::Failed(format!("no answer: {e}")),
            Err(_) => return Answer::Failed(format!("no answer within {TIMEOUT:?}")),
        };
        let status = response.status().as_u16();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE);
        self.last_retry_after =
            header(RETRY_AFTER).and_then(|value| pace::retry_after(&value, SystemTime::now()));
        match tokio::time::timeout(TIMEOUT, response.into_body().collect()).await {
            Ok(Ok(body)) => Answer::Got {
                status,
                content_type,
                body: body.to_bytes(),
            },
            Ok(Err(e)) => Answer::Failed(format!("answer cut off: {e}")),
            Err(_) => Answer::Failed(format!("answer not read within {TIMEOUT:?}")),
        }
    }

    fn build(&self, request: &Request) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
        let mut builder = hyper::Request::builder()
            .method(Method::from_bytes(request.method.as_bytes())?)
            .uri(self.base.url(&self.account, request))
            .header(
                "user-agent",
                concat!("cloudflare-images-mock-verify/", env!("CARGO_PKG_VERSION")),
            )
            .header("accept", "application/json");
        if let Some(content_type) = &request.content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        if request.authenticated {
            builder = match &self.auth {
                Auth::Token(token) => builder.header("authorization", format!("Bearer {token}")),
                Auth::Key { email, key } => builder
                    .header("x-auth-email", email)
                    .header("x-auth-key", key),
            };
        }
        builder.body(Full::new(request.body.clone()))
    }
}
