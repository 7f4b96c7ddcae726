//! Bytes for `url` uploads. The mock is hermetic by default: it answers with bytes the test
//! registered for a URL, fetches plain `http://` URLs from loopback hosts (a test's own image
//! server), and reaches other hosts only when the builder allows it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::ApiError;
use crate::schema::catalogue_error;
use crate::Rule;

/// Where the bytes of `url` uploads come from.
#[derive(Debug)]
pub(crate) struct Fetcher {
    served: Mutex<HashMap<String, Bytes>>,
    allow_network: bool,
    timeout: Duration,
}

impl Fetcher {
    pub(crate) fn new(allow_network: bool, timeout: Duration) -> Fetcher {
        Fetcher {
            served: Mutex::new(HashMap::new()),
            allow_network,
            timeout,
        }
    }

    pub(crate) fn serve(&self, url: String, bytes: Bytes) {
        self.served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url, bytes);
    }

    /// The bytes at `url`: at most `limit` + one chunk of them, so that an oversize image is
    /// refused by the schema's size rule without being read whole.
    pub(crate) async fn fetch(&self, url: &str, limit: u64) -> Result<Bytes, ApiError> {
        let served = self
            .served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .cloned();
        if let Some(bytes) = served {
            return Ok(bytes);
        }
        let failed = |detail: &str| catalogue_error(Rule::FetchFailed, &[("detail", detail)]);
        let uri: Uri = url
            .parse()
            .map_err(|_| failed("the url cannot be parsed"))?;
        let host = uri.host().unwrap_or("");
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback && !self.allow_network {
            return Err(failed(
                "cloudflare-images-mock is hermetic: register the bytes of this url with \
                 MockImages::serve_url, serve them from 127.0.0.1, or allow the network with \
                 MockImagesBuilder::allow_network",
            ));
        }
        if !uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            return Err(failed(
                "cloudflare-images-mock fetches only http:// urls; register the bytes of \
                 https urls with MockImages::serve_url",
            ));
        }
        tokio::time::timeout(self.timeout, get(uri, limit))
            .await
            .map_err(|_| failed(&format!("no answer within {:?}", self.timeout)))?
            .map_err(|detail| failed(&detail))
    }
}

async fn get(uri: Uri, limit: u64) -> Result<Bytes, String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(uri)
        .await
        .map_err(|e| format!("the origin cannot be reached: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("the origin answered {}", response.status()));
    }
    let mut body = response.into_body();
    let mut bytes = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("the origin's answer broke off: {e}"))?;
        if let Ok(data) = frame.into_data() {
            bytes.extend_from_slice(&data);
            if bytes.len() as u64 > limit {
                break;
            }
        }
    }
    Ok(bytes.freeze())
}

/// The file name of a `url` upload: the last segment of its path (assumed: the real API's rule
/// is not documented).
pub(crate) fn filename(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, path) = path.split_once('/')?;
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames() {
        assert_eq!(
            filename("https://e.com/a/logo.png?x=1").as_deref(),
            Some("logo.png")
        );
        assert_eq!(filename("https://e.com/").as_deref(), None);
        assert_eq!(filename("https://e.com").as_deref(), None);
    }
}
