//! [`MockImagesBuilder`]: the settings of a mock, and its start.

use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};

use super::handle::MockImages;
use super::pool;
use super::serve::run;
use crate::auth::Credentials;
use crate::clock::Clock;
use crate::envelope;
use crate::error::Error;
use crate::expect::Expectations;
use crate::ids::Ids;
use crate::ingest::fetch::Fetcher;
use crate::ingest::multipart::Limits;
use crate::journal::Journal;
use crate::script::Queue;
use crate::state::{Config, Shared};
use crate::store::Store;

/// The account id [`MockImages::account_id`] gives when none is pinned: the one the official
/// SDKs' test suites use.
pub(super) const DEFAULT_ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// How many bytes of stored images a mock keeps in memory by default; past it, the oldest go to
/// a temporary directory. Every file of a typical test stays in memory, and a laptop running a
/// test suite's mocks side by side is fine with it.
pub(super) const DEFAULT_MEMORY_BUDGET: u64 = 256 << 20;

/// `count.allowed` of the usage statistics by default: the official description's example.
pub(super) const DEFAULT_IMAGES_ALLOWED: u64 = 100_000;

/// Settings of a [`MockImages`], ending in [`start`](Self::start).
///
/// ```
/// use cloudflare_images_mock::{Credentials, MockImages};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = MockImages::builder()
///     .credentials(Credentials::key("user@example.com", "144c9defac04969c7bfad8efaa8ea194"))
///     .account_id("023e105f4ecef8ad9ca31a8372d0c353")
///     .variants(["public", "thumbnail"])
///     .start()
///     .await;
/// assert_eq!(mock.account_id(), "023e105f4ecef8ad9ca31a8372d0c353");
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.start().await`"]
pub struct MockImagesBuilder {
    pub(super) host: IpAddr,
    pub(super) port: u16,
    pub(super) credentials: Option<Credentials>,
    pub(super) account_id: Option<String>,
    pub(super) account_hash: Option<String>,
    pub(super) delivery_host: String,
    pub(super) variants: Vec<String>,
    pub(super) allow_network: bool,
    pub(super) fetch_timeout: Duration,
    pub(super) header_timeout: Duration,
    pub(super) body_timeout: Duration,
    pub(super) memory_budget: u64,
    pub(super) images_allowed: u64,
    pub(super) fail_on_unserved_routes: bool,
    pub(super) fail_on_refusals: bool,
    pub(super) upload_base: Option<String>,
    pub(super) seed: Option<u64>,
    pub(super) clock: Option<Clock>,
    pub(super) fixtures: Option<std::path::PathBuf>,
}

impl MockImagesBuilder {
    /// Requires these credentials; others get `10000 Authentication error`. By default any
    /// credentials are accepted (none at all still get `9106`).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Pins the account: uploads to any other account id get `7003`. By default any id of 32
    /// lowercase hex digits is accepted.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// Listens on this port instead of a free one (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Listens on this address instead of 127.0.0.1 (for the standalone server).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The account hash of delivery URLs; by default one derived from the account id, 22
    /// characters like the real ones.
    pub fn account_hash(mut self, account_hash: impl Into<String>) -> Self {
        self.account_hash = Some(account_hash.into());
        self
    }

    /// What the delivery URLs in `result.variants` start with, instead of
    /// `https://imagedelivery.net` (the real host, the default): a custom domain's
    /// `https://example.com/cdn-cgi/imagedelivery`, or the mock's own
    /// [`delivery_url`](crate::MockImages::delivery_url) base when its port is fixed. The URLs
    /// read `{host}/{account_hash}/{id}/{variant}`; a trailing `/` is dropped.
    pub fn delivery_host(mut self, host: impl Into<String>) -> Self {
        let host: String = host.into();
        self.delivery_host = host.trim_end_matches('/').to_owned();
        self
    }

    /// The variants configured on the account, one delivery URL each in `result.variants`;
    /// `["public"]` by default, as on a new account.
    pub fn variants<I, S>(mut self, variants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.variants = variants.into_iter().map(Into::into).collect();
        self
    }

    /// The base of the one-time `uploadURL`s that direct creator uploads answer
    /// (`{base}/{account_hash}/{image_id}`, like the real
    /// `https://upload.imagedelivery.net/{account_hash}/{image_id}`). By default the mock's own
    /// root ([`MockImages::uri`](crate::MockImages::uri)), which serves them without
    /// credentials: a client or browser test can post the file to the URL as returned.
    pub fn upload_base(mut self, url: impl Into<String>) -> Self {
        self.upload_base = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Lets `url` uploads fetch `http://` URLs from hosts other than loopback. Off by default:
    /// a test should not depend on the network.
    pub fn allow_network(mut self, allow: bool) -> Self {
        self.allow_network = allow;
        self
    }

    /// How long a `url` upload waits for its origin (10 s by default).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// How many bytes of stored images the mock keeps in memory (256 MiB by default). The
    /// store keeps every image's bytes until the image is deleted; past the budget the oldest go
    /// to a temporary directory the mock owns and removes when it is dropped, so nothing is lost
    /// and memory stays bounded. `0` keeps every file on disk.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, NewImage};
    ///
    /// let mock = MockImages::builder().memory_budget(0).start().await;
    /// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"/>"#;
    /// let image = mock.insert_image(NewImage::new(svg));
    /// assert_eq!(mock.image_bytes(&image.id).as_deref(), Some(svg.as_bytes())); // read back from disk
    /// # }
    /// ```
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Answers refusals with the recorded answers of a directory of fixtures, as
    /// `cloudflare-images-mock verify --record DIR` writes them: a request the mock refuses by
    /// a rule of which the directory holds a recording, for the same operation, gets the
    /// recorded status, content type and body instead of the mock's own. Successes stay the
    /// mock's own answers (a recording cannot know their ids). A file that cannot be read or
    /// lacks its provenance fails the start with [`Error::Config`].
    ///
    /// ```
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let err = MockImages::builder().fixtures("no/such/dir").try_start_blocking().unwrap_err();
    /// assert!(err.to_string().contains("fixtures no/such/dir"));
    /// ```
    pub fn fixtures(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.fixtures = Some(dir.into());
        self
    }

    /// `count.allowed` of the usage statistics (`GET .../images/v1/stats`): 100,000 by default.
    pub fn images_allowed(mut self, allowed: u64) -> Self {
        self.images_allowed = allowed;
        self
    }

    /// How long a client may take to send the request line and headers (30 s by default); a
    /// connection that says nothing for that long is closed, so stuck clients cost nothing.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long the body of an upload may stall between two chunks (30 s by default); past it
    /// the upload is refused with a `408` envelope (assumed: Cloudflare's own answer to a stalled
    /// body is not documented).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Whether a request to a route the mock does not serve (answered `7000 No route for that
    /// URI` or `7001` for a wrong method: a misconfigured base URL, a wrong method) fails the
    /// test when the mock is dropped. On by default, so that a broken client cannot pass
    /// silently; turn it off for tests that send such requests on purpose.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::builder().fail_on_unserved_routes(false).start().await;
    /// let wrong = format!("{}/accounts/{}/images/v3", mock.base_url(), mock.account_id());
    /// let response = reqwest::Client::new().post(wrong).bearer_auth("t").send().await.unwrap();
    /// assert_eq!(response.status(), 404);
    /// # } // no panic here
    /// ```
    pub fn fail_on_unserved_routes(mut self, fail: bool) -> Self {
        self.fail_on_unserved_routes = fail;
        self
    }

    /// Strict mode: any refused request the test did not script fails the test when the mock is
    /// dropped, for tests that only send valid uploads. Off by default.
    pub fn fail_on_refusals(mut self, fail: bool) -> Self {
        self.fail_on_refusals = fail;
        self
    }

    /// Makes every value the mock generates a function of `seed`: image ids, signing-key
    /// values, and through them continuation tokens. The same requests, sent one after the
    /// other, then get the same answers on every run; fix the [`clock`](Self::clock) too and
    /// the times (`uploaded`, the journal's `received`, the `date` header) match as well, for
    /// byte-identical answers and journals (snapshot tests). Concurrent requests draw in the
    /// order they arrive, which no seed can fix. By default values are random.
    ///
    /// The account hash is not drawn: it is derived from the account id, seeded or not.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, NewImage};
    ///
    /// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"/>"#;
    /// let first = MockImages::builder().seed(42).start().await;
    /// let second = MockImages::builder().seed(42).start().await;
    /// assert_eq!(
    ///     first.insert_image(NewImage::new(svg)).id,
    ///     second.insert_image(NewImage::new(svg)).id
    /// );
    /// # }
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The clock the mock goes by: `uploaded`, the journal's `received`, the `date` header,
    /// the expiry of drafts (default and allowed window of `expiry`) and the `exp` of signed
    /// delivery URLs. [`Clock::system`] by default; [`Clock::fixed`] for snapshots and for
    /// tests of expiry that move it with [`MockImages::clock`]. Timers about transport
    /// (header and body timeouts, fetch timeouts, scripted delays) stay on real time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use cloudflare_images_mock::{Clock, MockImages};
    ///
    /// let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    /// let mock = MockImages::builder().clock(Clock::fixed(start)).start().await;
    /// let list = reqwest::Client::new().get(mock.upload_url()).bearer_auth("t").send().await.unwrap();
    /// assert_eq!(list.headers()["date"], "Tue, 14 Nov 2023 22:13:20 GMT");
    /// assert_eq!(mock.requests()[0].received, start);
    /// # }
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Starts the mock.
    ///
    /// A start binds the listener, builds the mock's state and hands its server to one of a few
    /// threads the process's mocks share (started on first use, each with a current-thread
    /// tokio runtime, no more than the cores or 4). No runtime is built and no thread started
    /// per mock: a start is the bind, the state and one message to that thread. The mocks on a
    /// thread share nothing but it: each has its own state, port and connections, and a fault
    /// in one is reported on its own handle only.
    ///
    /// Nothing here waits on the caller's runtime: the `async` is for symmetry with the clients
    /// it tests, and any executor, or none ([`start_blocking`](Self::start_blocking)), will do.
    ///
    /// # Panics
    /// With the cause, if the settings are invalid, the port cannot be bound or a server
    /// thread cannot start; [`try_start`](Self::try_start) returns these as errors.
    pub async fn start(self) -> MockImages {
        match self.try_start_blocking() {
            Ok(mock) => mock,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts the mock from a plain `#[test]` or any other code that is not `async`.
    ///
    /// ```
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::builder().variants(["public", "thumbnail"]).start_blocking();
    /// assert!(mock.base_url().starts_with("http://127.0.0.1:"));
    /// ```
    ///
    /// # Panics
    /// As [`start`](Self::start); [`try_start_blocking`](Self::try_start_blocking) returns the
    /// errors.
    #[track_caller]
    pub fn start_blocking(self) -> MockImages {
        match self.try_start_blocking() {
            Ok(mock) => mock,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts the mock, or says why it cannot.
    ///
    /// ```
    /// use cloudflare_images_mock::MockImages;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let first = MockImages::start().await;
    /// let err = MockImages::builder().port(first.address().port()).try_start().await.unwrap_err();
    /// assert!(err.to_string().starts_with("cloudflare-images-mock could not bind 127.0.0.1:"));
    /// # }
    /// ```
    pub async fn try_start(self) -> Result<MockImages, Error> {
        self.try_start_blocking()
    }

    /// Starts the mock, or says why it cannot, without `async`: the form of
    /// [`try_start`](Self::try_start) for a plain `#[test]`.
    ///
    /// ```
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let err = MockImages::builder().variants(Vec::<String>::new()).try_start_blocking().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid cloudflare-images-mock setting: variants must name at least one variant");
    /// ```
    pub fn try_start_blocking(self) -> Result<MockImages, Error> {
        if let Some(pinned) = &self.account_id {
            if !crate::schema::is_account_id(pinned) {
                return Err(Error::Config(format!(
                    "account_id {pinned:?} is not 32 lowercase hex digits, so the real API \
                     would never route to it"
                )));
            }
        }
        if self.variants.is_empty() {
            return Err(Error::Config(
                "variants must name at least one variant".to_owned(),
            ));
        }
        let fixtures = match &self.fixtures {
            Some(dir) => crate::fixtures::Fixtures::load(dir)
                .map_err(|why| Error::Config(format!("fixtures {}: {why}", dir.display())))?,
            None => crate::fixtures::Fixtures::default(),
        };
        crate::schema::warm_up();
        envelope::warm_up();
        let addr = SocketAddr::new(self.host, self.port);
        let listener = StdListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        listener.set_nonblocking(true).map_err(Error::Spawn)?;
        let address = listener.local_addr().map_err(Error::Spawn)?;
        let place = pool::place().map_err(Error::Spawn)?;
        let server = place.handle.clone();
        let account_id = self
            .account_id
            .clone()
            .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
        let clock = self.clock.unwrap_or_default();
        let ids = self.seed.map_or_else(Ids::random, Ids::seeded);
        let shared = Arc::new(Shared {
            config: Config {
                credentials: self.credentials,
                pinned_account: self.account_id,
                account_hash: self
                    .account_hash
                    .unwrap_or_else(|| account_hash(&account_id))
                    .into(),
                delivery_host: self.delivery_host.into(),
                images_allowed: self.images_allowed,
                fixtures: Arc::new(fixtures),
                limits: Limits::standard(),
                header_timeout: self.header_timeout,
                body_timeout: self.body_timeout,
                upload_base: self
                    .upload_base
                    .unwrap_or_else(|| format!("http://{address}"))
                    .into(),
            },
            journal: Journal::new(),
            store: Store::new(
                self.memory_budget,
                &self.variants,
                clock.clone(),
                ids.clone(),
            ),
            fetcher: Fetcher::new(self.allow_network, self.fetch_timeout),
            failure: Mutex::new(None),
            crash: tokio::sync::Notify::new(),
            scripts: Queue::default(),
            expectations: Mutex::new(Expectations {
                uploads: None,
                operations: Vec::new(),
                unserved_routes: self.fail_on_unserved_routes,
                refusals: self.fail_on_refusals,
            }),
            clock,
            ids,
        });
        let (shutdown, stop) = oneshot::channel();
        let (ended_sender, ended) = watch::channel(());
        server.spawn(run(
            listener,
            Arc::clone(&shared),
            stop,
            ended_sender,
            place,
        ));
        Ok(MockImages {
            shared,
            address,
            account_id,
            shutdown: Some(shutdown),
            ended,
            server,
        })
    }
}

/// A 22-character, base64url-looking hash like the real ones, stable for an account id.
pub(super) fn account_hash(account_id: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let digest = Sha256::digest(account_id.as_bytes());
    // 22 characters of 6 bits each: the first 132 bits of the digest.
    let bits = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    let tail = u128::from(digest[16] >> 4);
    (0..22)
        .map(|i| {
            let index = if i < 21 {
                (bits >> (122 - 6 * i)) & 63
            } else {
                ((bits & 3) << 4) | tail
            };
            char::from(ALPHABET[index as usize])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_hashes_are_22_base64url_characters_and_stable() {
        let hash = account_hash(DEFAULT_ACCOUNT_ID);
        assert_eq!(hash.len(), 22);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(hash, account_hash(DEFAULT_ACCOUNT_ID));
        assert_ne!(hash, account_hash("123e105f4ecef8ad9ca31a8372d0c353"));
    }
}
