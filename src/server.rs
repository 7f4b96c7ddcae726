//! [`MockImages`], its builder, and the server behind it.
//!
//! The server runs on a thread of its own with a current-thread tokio runtime, as wiremock's
//! does: it works under either flavour of `#[tokio::test]` (and outside tokio), and dropping the
//! handle can stop it synchronously, closing every connection and freeing the port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{FutureExt, TryStreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::body::Body as _;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::auth::{self, Credentials};
use crate::envelope;
use crate::error::{ApiError, Error};
use crate::expect::{self, Expectations, Times};
use crate::fetch::{self, Fetcher};
use crate::journal::{Journal, RequestRecord, Upload, WaitTimeout};
use crate::multipart::{self, Limits};
use crate::route::{self, Route};
use crate::script::{Answer, Queue, Reset, Script};
use crate::upload::{self, Checked};

/// The account id [`MockImages::account_id`] gives when none is pinned: the one the official
/// SDKs' test suites use.
const DEFAULT_ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// The most request headers, and header bytes, the mock answers normally; more get a 431
/// envelope. hyper itself refuses (with a bare 431) only past [`HYPER_MAX_HEADERS`] headers or
/// its read buffer (about 400 KiB) of head.
const MAX_HEADERS: usize = 100;
const MAX_HEADER_BYTES: usize = 64 * 1024;
const HYPER_MAX_HEADERS: usize = 128;

/// How many bytes of uploaded files the journal keeps by default (the most recent ones).
const DEFAULT_RETAINED_FILE_BYTES: u64 = 32 << 20;

/// After an answer decided before the end of the body, the rest of the body is read and dropped
/// in the background, so that a client still sending can finish and read the answer instead of
/// meeting a reset. Draining stops (and the connection closes) past this many bytes...
const DRAIN_LIMIT: u64 = 2 << 30;
/// ...or when the client sends nothing for this long.
const DRAIN_IDLE: Duration = Duration::from_secs(10);

/// A running mock of the Cloudflare Images API, on 127.0.0.1 and a port of its own.
///
/// Start one per test; it stops when dropped. Point your client at [`base_url`](Self::base_url)
/// (what the official SDKs take as their base URL) and use [`account_id`](Self::account_id).
///
/// ```
/// use cloudflare_images_mock::MockImages;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = MockImages::start().await;
/// assert!(mock.base_url().starts_with("http://127.0.0.1:"));
/// assert!(mock.base_url().ends_with("/client/v4"));
/// assert_eq!(
///     mock.upload_url(),
///     format!("{}/accounts/{}/images/v1", mock.base_url(), mock.account_id())
/// );
/// # }
/// ```
#[must_use = "the mock stops as soon as it is dropped: bind it to a variable (`let mock = ...`)"]
pub struct MockImages {
    shared: Arc<Shared>,
    address: SocketAddr,
    account_id: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

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
    host: IpAddr,
    port: u16,
    credentials: Option<Credentials>,
    account_id: Option<String>,
    account_hash: Option<String>,
    variants: Vec<String>,
    allow_network: bool,
    fetch_timeout: Duration,
    header_timeout: Duration,
    body_timeout: Duration,
    retain_file_bytes: u64,
    fail_on_unserved_routes: bool,
    fail_on_refusals: bool,
}

/// The body of the mock's responses: whole, or cut off by a script.
type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// What the connections of one mock share.
#[derive(Debug)]
struct Shared {
    config: Config,
    journal: Journal,
    /// Custom ids taken: a custom id uploaded twice is refused.
    custom_ids: Mutex<std::collections::HashSet<String>>,
    fetcher: Fetcher,
    /// Set when the mock itself failed (a bug): the handle reports it instead of staying silent.
    failure: Mutex<Option<String>>,
    /// Makes the server thread panic: how the tests of fault reporting stage a fault.
    crash: tokio::sync::Notify,
    /// Scripted answers waiting for upload requests.
    scripts: Queue,
    /// What the handle checks at drop.
    expectations: Mutex<Expectations>,
}

#[derive(Debug)]
struct Config {
    credentials: Option<Credentials>,
    pinned_account: Option<String>,
    account_hash: String,
    variants: Vec<String>,
    limits: Limits,
    header_timeout: Duration,
    body_timeout: Duration,
}

impl MockImages {
    /// Starts a mock with the default settings: any credentials, any account id, variant
    /// `public`, 127.0.0.1 on a free port.
    ///
    /// # Panics
    /// If no port can be bound or no thread started; [`MockImagesBuilder::try_start`] returns
    /// these as errors.
    pub async fn start() -> MockImages {
        MockImages::builder().start().await
    }

    /// A builder, for credentials to require, an account id to pin, a fixed port, variants, ...
    pub fn builder() -> MockImagesBuilder {
        MockImagesBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            credentials: None,
            account_id: None,
            account_hash: None,
            variants: vec!["public".to_owned()],
            allow_network: false,
            fetch_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            retain_file_bytes: DEFAULT_RETAINED_FILE_BYTES,
            fail_on_unserved_routes: true,
            fail_on_refusals: false,
        }
    }

    /// `http://127.0.0.1:PORT`, the root of the mock.
    pub fn uri(&self) -> String {
        self.check_alive();
        format!("http://{}", self.address)
    }

    /// `http://127.0.0.1:PORT/client/v4`: what the official SDKs take as their base URL (the
    /// real one is `https://api.cloudflare.com/client/v4`).
    pub fn base_url(&self) -> String {
        format!("{}/client/v4", self.uri())
    }

    /// The upload endpoint for [`account_id`](Self::account_id):
    /// `{base_url}/accounts/{account_id}/images/v1`.
    pub fn upload_url(&self) -> String {
        format!("{}/accounts/{}/images/v1", self.base_url(), self.account_id)
    }

    /// An account id the mock accepts: the pinned one, or else
    /// `023e105f4ecef8ad9ca31a8372d0c353` (any 32-hex id is accepted when none is pinned).
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The socket address the mock listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The account hash of the delivery URLs in `variants`
    /// (`https://imagedelivery.net/<account_hash>/<id>/<variant>`).
    pub fn account_hash(&self) -> &str {
        &self.shared.config.account_hash
    }

    /// Every request received so far, accepted or refused, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.check_alive();
        self.shared.journal.requests()
    }

    /// Every upload accepted so far, in order.
    pub fn uploads(&self) -> Vec<Upload> {
        self.check_alive();
        self.shared.journal.uploads()
    }

    /// Waits until at least `n` uploads were accepted and returns them, or says how many arrived
    /// when `timeout` passed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start().await;
    /// let err = mock.wait_for_uploads(1, Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.to_string(), "expected 1 upload(s) within 10ms, 0 accepted (0 request(s) in all)");
    /// # }
    /// ```
    pub async fn wait_for_uploads(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Upload>, WaitTimeout> {
        self.check_alive();
        match self.shared.journal.wait_for_uploads(n, timeout).await {
            Ok(()) => Ok(self.uploads()),
            Err(accepted) => Err(WaitTimeout {
                expected: n,
                accepted,
                requests: self.shared.journal.len(),
                timeout,
            }),
        }
    }

    /// Answers `url` uploads of exactly this URL with `bytes`, as if the origin served them.
    pub fn serve_url(&self, url: impl Into<String>, bytes: impl Into<Bytes>) {
        self.shared.fetcher.serve(url.into(), bytes.into());
    }

    /// Queues a scripted answer: the next upload request(s) get it instead of the normal answer,
    /// then the mock answers normally again. Scripts queued one after the other play in order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.script(Script::rate_limited());
    /// let response = reqwest::Client::new()
    ///     .post(mock.upload_url())
    ///     .bearer_auth("token")
    ///     .send()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(response.status(), 429);
    /// assert_eq!(response.headers()["retry-after"], "1");
    /// let body: serde_json::Value = response.json().await.unwrap();
    /// assert_eq!(body["errors"][0]["code"], 971);
    /// # }
    /// ```
    pub fn script(&self, script: Script) {
        self.shared.scripts.push(script);
    }

    /// Declares how many uploads the test expects the mock to accept: an exact count (`2`) or a
    /// range (`1..=3`, `1..`). Checked when the mock is dropped, which panics with a report of
    /// what arrived if the count is off. A later call replaces an earlier one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start().await;
    /// mock.expect_uploads(0);
    /// mock.expect_uploads(0..=3);
    /// // ... the test; at the end of the scope the count is checked.
    /// # }
    /// ```
    pub fn expect_uploads(&self, expected: impl Into<Times>) {
        self.lock_expectations().uploads = Some(expected.into());
    }

    /// Checks the expectations now instead of at drop: `Err` holds the report the drop would
    /// panic with.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start().await;
    /// mock.expect_uploads(1);
    /// let report = mock.verify().unwrap_err();
    /// assert!(report.starts_with("cloudflare-images-mock: expected exactly 1 upload(s), 0 accepted"));
    /// mock.expect_uploads(0);
    /// assert!(mock.verify().is_ok());
    /// # }
    /// ```
    pub fn verify(&self) -> Result<(), String> {
        let expectations = self.lock_expectations().clone();
        expect::verify(
            &expectations,
            &self.shared.journal.requests(),
            self.shared.scripts.pending(),
        )
    }

    fn lock_expectations(&self) -> std::sync::MutexGuard<'_, Expectations> {
        self.shared
            .expectations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Panics with the cause if the server died: a test must never hang on a dead mock.
    #[track_caller]
    fn check_alive(&self) {
        let failure = self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(failure) = failure {
            panic!("cloudflare-images-mock failed: {failure}");
        }
        if self.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            panic!(
                "cloudflare-images-mock's server thread on {} has stopped",
                self.address
            );
        }
    }

    /// Makes the server thread fail, as a bug in the mock would: for the tests that check that
    /// such a fault is reported on the handle rather than hanging the test.
    #[doc(hidden)]
    pub fn stage_server_fault(&self) {
        self.shared.crash.notify_one();
    }
}

impl Drop for MockImages {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // The server thread catches its own panics (they land in `failure`).
            let _ = thread.join();
        }
        if std::thread::panicking() {
            return;
        }
        if let Some(failure) = self
            .shared
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            panic!("cloudflare-images-mock failed: {failure}");
        }
        if let Err(report) = self.verify() {
            panic!("{report}");
        }
    }
}

impl std::fmt::Debug for MockImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockImages")
            .field("address", &self.address)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
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

    /// How many bytes of uploaded files the journal keeps: the bytes of the most recent uploads
    /// up to this budget (32 MiB by default), so that a long test run stays bounded in memory;
    /// older uploads keep their size and SHA-256 instead
    /// ([`Upload::file_size`], [`Upload::file_sha256`]). `u64::MAX` keeps everything.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::builder().retain_file_bytes(100 << 20).start().await;
    /// # }
    /// ```
    pub fn retain_file_bytes(mut self, budget: u64) -> Self {
        self.retain_file_bytes = budget;
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
    /// let wrong = format!("{}/accounts/{}/images/v2", mock.base_url(), mock.account_id());
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

    /// Starts the mock.
    ///
    /// # Panics
    /// With the cause, if the settings are invalid, the port cannot be bound or the server
    /// thread cannot start; [`try_start`](Self::try_start) returns these as errors.
    pub async fn start(self) -> MockImages {
        match self.try_start().await {
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
        crate::schema::warm_up();
        envelope::warm_up();
        let addr = SocketAddr::new(self.host, self.port);
        let listener = StdListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        listener.set_nonblocking(true).map_err(Error::Spawn)?;
        let address = listener.local_addr().map_err(Error::Spawn)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Spawn)?;
        let account_id = self
            .account_id
            .clone()
            .unwrap_or_else(|| DEFAULT_ACCOUNT_ID.to_owned());
        let shared = Arc::new(Shared {
            config: Config {
                credentials: self.credentials,
                pinned_account: self.account_id,
                account_hash: self
                    .account_hash
                    .unwrap_or_else(|| account_hash(&account_id)),
                variants: self.variants,
                limits: Limits::standard(),
                header_timeout: self.header_timeout,
                body_timeout: self.body_timeout,
            },
            journal: Journal::new(self.retain_file_bytes),
            custom_ids: Mutex::new(std::collections::HashSet::new()),
            fetcher: Fetcher::new(self.allow_network, self.fetch_timeout),
            failure: Mutex::new(None),
            crash: tokio::sync::Notify::new(),
            scripts: Queue::default(),
            expectations: Mutex::new(Expectations {
                uploads: None,
                unserved_routes: self.fail_on_unserved_routes,
                refusals: self.fail_on_refusals,
            }),
        });
        let (shutdown, stop) = oneshot::channel();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("cloudflare-images-mock {address}"))
            .spawn(move || {
                let serving = std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(serve(listener, Arc::clone(&server_shared), stop));
                });
                if let Err(panic) = std::panic::catch_unwind(serving) {
                    fail(
                        &server_shared,
                        format!("its server thread panicked: {}", cause(&*panic)),
                    );
                }
            })
            .map_err(Error::Spawn)?;
        Ok(MockImages {
            shared,
            address,
            account_id,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }
}

/// A 22-character, base64url-looking hash like the real ones, stable for an account id.
fn account_hash(account_id: &str) -> String {
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

async fn serve(listener: StdListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            fail(&shared, format!("could not listen: {e}"));
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = shared.crash.notified() => panic!("a fault staged by MockImages::stage_server_fault"),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors and the like: wait for some to free up.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let header_timeout = shared.config.header_timeout;
    // A second handle on the socket, so that a scripted reset can make the close a real reset
    // (SO_LINGER 0: RST, not FIN) while hyper owns the stream.
    #[cfg(unix)]
    let socket = std::os::fd::AsFd::as_fd(&stream)
        .try_clone_to_owned()
        .ok()
        .map(Arc::new);
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        #[cfg(unix)]
        let socket = socket.clone();
        async move {
            let answer = answer_guarded(shared, request).await;
            #[cfg(unix)]
            if let (Err(Reset), Some(socket)) = (&answer, &socket) {
                let _ = socket2::SockRef::from(socket.as_ref()).set_linger(Some(Duration::ZERO));
            }
            answer
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The message of a panic payload.
fn cause(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

fn fail(shared: &Shared, failure: String) {
    let mut slot = shared.failure.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(failure);
}

/// Answers a request; a panic in the mock (a bug) still gets an envelope and is reported on
/// the handle.
async fn answer_guarded(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Reset> {
    let guarded = std::panic::AssertUnwindSafe(answer(Arc::clone(&shared), request));
    match guarded.catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let cause = cause(&*panic);
            fail(&shared, format!("a request handler panicked: {cause}"));
            let error = ApiError {
                code: 10001,
                status: 500,
                message: format!("cloudflare-images-mock failed (a bug in the mock): {cause}"),
                rule: "mock_bug".to_owned(),
                pointer: None,
                schema_path: None,
                confirmed: false,
            };
            Ok(respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                envelope::failure(&[error]),
            ))
        }
    }
}

async fn answer(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Body>, Reset> {
    let received = SystemTime::now();
    let (parts, mut body) = request.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut record = RequestRecord {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        status: 200,
        errors: Vec::new(),
        upload: None,
        received,
        scripted: None,
    };
    // Scripts apply to the upload route before any other check.
    let script = if route::route(&parts.method, parts.uri.path()).is_ok() {
        shared.scripts.next()
    } else {
        None
    };
    if let Some(answer) = script {
        record.scripted = Some(answer.to_string());
        match answer {
            Answer::Recorded(recorded) => {
                record.status = recorded.status;
                record.errors = vec![recorded.error.clone()];
                let mut response = respond(
                    StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::BAD_REQUEST),
                    recorded.body.clone(),
                );
                for (name, value) in &recorded.headers {
                    if let (Ok(name), Ok(value)) = (
                        hyper::header::HeaderName::from_bytes(name.as_bytes()),
                        hyper::header::HeaderValue::from_str(value),
                    ) {
                        response.headers_mut().insert(name, value);
                    }
                }
                if !body.is_end_stream() {
                    tokio::spawn(drain(body));
                }
                return Ok(finish(&shared, record, response));
            }
            Answer::Reset => {
                record.status = 0;
                finish(&shared, record, ());
                return Err(Reset);
            }
            Answer::ResetMidUpload => {
                let declared = parts
                    .headers
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                let mut read = 0u64;
                while let Some(Ok(frame)) = body.frame().await {
                    read += frame.data_ref().map_or(0, |data| data.len() as u64);
                    if read >= declared / 2 {
                        break;
                    }
                }
                record.status = 0;
                finish(&shared, record, ());
                return Err(Reset);
            }
            Answer::Delay(delay) => tokio::time::sleep(delay).await,
            Answer::CutOff => {}
        }
    }
    let outcome = upload(&shared, &parts, &mut body, &record.headers).await;
    let response = match outcome {
        Ok(upload) => {
            let body = envelope::success(&upload.result);
            record.upload = Some(upload);
            respond(StatusCode::OK, body)
        }
        Err(errors) => {
            let status = errors.first().map_or(400, |e| e.status);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            record.status = status.as_u16();
            let body = envelope::failure(&errors);
            record.errors = errors;
            respond(status, body)
        }
    };
    if !body.is_end_stream() {
        // The answer goes out now; the rest of the body is read and dropped meanwhile.
        tokio::spawn(drain(body));
    }
    let response = if matches!(script, Some(Answer::CutOff)) {
        cut_off(response)
    } else {
        response
    };
    Ok(finish(&shared, record, response))
}

/// Logs and journals a request, and passes its answer on.
fn finish<T>(shared: &Shared, record: RequestRecord, response: T) -> T {
    log(&record);
    shared.journal.record(record);
    response
}

/// The response with the same status, headers and `Content-Length`, whose body stops half-way
/// with an error: hyper then closes the connection.
fn cut_off(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let whole = body
        .collect()
        .now_or_never()
        .and_then(Result::ok)
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    parts.headers.insert(
        CONTENT_LENGTH,
        hyper::header::HeaderValue::from(whole.len()),
    );
    let half = whole.slice(..whole.len() / 2);
    // The error comes a moment after the first half, so that hyper flushes the status line, the
    // headers and the half before it closes the connection.
    let frames = futures_util::StreamExt::chain(
        futures_util::stream::iter([Ok(hyper::body::Frame::data(half))]),
        futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "answer cut off by a script",
            ))
        }),
    );
    Response::from_parts(
        parts,
        BodyExt::boxed(http_body_util::StreamBody::new(frames)),
    )
}

/// One line per request for the standalone server's log (and any `tracing` subscriber a test
/// installs): method, path, status and the error codes answered.
fn log(record: &RequestRecord) {
    if record.errors.is_empty() {
        tracing::info!("{} {} {}", record.method, record.path, record.status);
    } else {
        let codes: Vec<String> = record.errors.iter().map(|e| e.code.to_string()).collect();
        let rules: Vec<&str> = record.errors.iter().map(|e| e.rule.as_str()).collect();
        tracing::info!(
            "{} {} {} errors [{}] ({})",
            record.method,
            record.path,
            record.status,
            codes.join(", "),
            rules.join(", ")
        );
    }
}

fn respond(status: StatusCode, body: Bytes) -> Response<Body> {
    let body = Full::new(body).map_err(|never| match never {}).boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let json = hyper::header::HeaderValue::from_static("application/json");
    response.headers_mut().insert(CONTENT_TYPE, json);
    response
}

async fn upload(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    body: &mut Incoming,
    headers: &[(String, String)],
) -> Result<Upload, Vec<ApiError>> {
    let config = &shared.config;
    let header_bytes: usize = parts
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if parts.headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        let detail = format!(
            "{} headers of {header_bytes} bytes; at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes",
            parts.headers.len()
        );
        return Err(vec![crate::schema::catalogue_error(
            "headers_too_large",
            &[("detail", &detail)],
        )]);
    }
    auth::check(&parts.headers, config.credentials.as_ref()).map_err(|e| vec![e])?;
    let Route::Upload { account_id } =
        route::route(&parts.method, parts.uri.path()).map_err(|e| vec![e])?;
    route::check_account(account_id, config.pinned_account.as_deref())?;
    let account_id = account_id.to_owned();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.limits.max_body()) {
        return Err(vec![crate::schema::catalogue_error("body_too_large", &[])]);
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let boundary = multipart::boundary(content_type).map_err(|e| vec![e])?;
    let stream = BodyStream::new(body)
        .try_filter_map(|frame| futures_util::future::ready(Ok(frame.into_data().ok())));
    let stream = multipart::idle_timeout(stream, config.body_timeout);
    let form = multipart::read_form(boundary, stream, &config.limits)
        .await
        .map_err(|e| vec![e])?;
    let mut checked = upload::check(form)?;
    let mut fetched = None;
    if let Some(url) = &checked.url {
        let bytes = shared
            .fetcher
            .fetch(url, config.limits.max_file)
            .await
            .map_err(|mut e| {
                e.pointer = Some("/url".to_owned());
                vec![e]
            })?;
        let filename = fetch::filename(url);
        let info = upload::check_fetched(&bytes, filename.as_deref())?;
        fetched = Some((bytes, filename));
        checked.image = Some(info);
    }
    let id = checked.id.clone().unwrap_or_else(generated_id);
    let (file, filename, content_type) = match (fetched, &checked.file) {
        (Some((bytes, filename)), _) => (Some(bytes), filename, None),
        (None, Some(part)) => (
            Some(part.bytes.clone()),
            part.filename.clone(),
            part.content_type.clone(),
        ),
        (None, None) => (None, None, None),
    };
    let result = result(config, &id, filename.as_deref(), &checked);
    // Generated ids cannot collide; only custom ids are kept, to refuse a second upload (5409).
    if checked.id.is_some() {
        let mut custom_ids = shared.custom_ids.lock().unwrap_or_else(|p| p.into_inner());
        if !custom_ids.insert(id.clone()) {
            let mut error = crate::schema::catalogue_error("duplicate_id", &[]);
            error.pointer = Some("/id".to_owned());
            return Err(vec![error]);
        }
    }
    let image = checked.image.as_ref();
    Ok(Upload {
        id,
        account_id,
        filename,
        content_type,
        format: image.and_then(|i| i.format).map(str::to_owned),
        dimensions: image.and_then(|i| Some((i.width?, i.height?))),
        file_size: file.as_ref().map(|f| f.len() as u64),
        file_sha256: None,
        file,
        url: checked.url,
        creator: checked.creator,
        meta: checked.meta,
        require_signed_urls: checked.require_signed_urls,
        fields: checked.fields,
        headers: headers.to_vec(),
        result,
    })
}

/// Reads and drops the rest of a body, up to [`DRAIN_LIMIT`] bytes and while the client keeps
/// sending; then drops it, which closes the connection if the body did not end.
async fn drain(mut body: Incoming) {
    let mut read = 0u64;
    while read <= DRAIN_LIMIT {
        match tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, |data| data.len() as u64);
            }
            _ => return,
        }
    }
}

/// A generated image id shaped like the real ones: a UUID whose last byte is zero
/// (`107b9558-dd06-4bbd-5fef-9c2c16bb7900` in the official examples).
fn generated_id() -> String {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[15] = 0;
    uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
}

fn result(config: &Config, id: &str, filename: Option<&str>, checked: &Checked) -> Value {
    // Characters a URL path cannot hold are escaped; `/` stays, since custom ids have subpaths.
    const PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
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
    let escaped = percent_encoding::utf8_percent_encode(id, PATH).to_string();
    let variants: Vec<String> = config
        .variants
        .iter()
        .map(|variant| {
            format!(
                "https://imagedelivery.net/{}/{escaped}/{variant}",
                config.account_hash
            )
        })
        .collect();
    // The official description types filename as a string: when there is none to echo (a file
    // part without a filename, a url without a last path segment), the key is left out (assumed;
    // what the real API sends then is not known).
    let mut result = json!({
        "id": id,
        "filename": filename,
        "creator": checked.creator,
        "meta": checked.meta,
        "uploaded": envelope::timestamp(time::OffsetDateTime::now_utc()),
        "requireSignedURLs": checked.require_signed_urls,
        "variants": variants,
    });
    if filename.is_none() {
        if let Some(result) = result.as_object_mut() {
            result.remove("filename");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_look_like_the_real_ones() {
        let id = generated_id();
        assert_eq!(id.len(), 36);
        assert!(id.ends_with("00"), "{id}");
        assert_ne!(generated_id(), id);
    }

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
