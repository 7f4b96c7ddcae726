//! [`MockImages`]: what a test holds.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use super::builder::{MockImagesBuilder, DEFAULT_IMAGES_ALLOWED, DEFAULT_MEMORY_BUDGET};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::expect::{self, Expectation, Expectations, Times};
use crate::journal::View;
use crate::journal::{RequestRecord, Upload, WaitTimeout};
use crate::script::Script;
use crate::state::Shared;
use crate::store::StoredImage;

/// A running mock of the Cloudflare Images API, on 127.0.0.1 and a port of its own.
///
/// Start one per test; it stops when dropped (see the `Drop` implementation for what that
/// guarantees). Point your client at [`base_url`](Self::base_url)
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
    pub(super) shared: Arc<Shared>,
    pub(super) address: SocketAddr,
    pub(super) account_id: String,
    pub(super) shutdown: Option<oneshot::Sender<()>>,
    /// Closed when the serve future has ended and let go of everything of the mock's: what the
    /// drop waits for, and how the handle knows that the server stopped.
    pub(super) ended: watch::Receiver<()>,
    /// The runtime of the pool thread serving the mock, for the waits of the handle: its timers
    /// run there, so that a caller needs no tokio of its own.
    pub(super) server: tokio::runtime::Handle,
}

impl MockImages {
    /// Starts a mock with the default settings: any credentials, any account id, variant
    /// `public`, 127.0.0.1 on a free port.
    ///
    /// Awaits nothing of the caller's: the server runs on a thread the process's mocks share,
    /// with a runtime of its own ([`MockImagesBuilder::start`] says what a start costs), so any
    /// executor will do (a plain `#[test]` has [`start_blocking`](Self::start_blocking)).
    ///
    /// # Panics
    /// If no port can be bound or no server thread started; [`MockImagesBuilder::try_start`] returns
    /// these as errors.
    pub async fn start() -> MockImages {
        MockImages::builder().start().await
    }

    /// [`start`](Self::start) for a plain `#[test]`, or code under any other runtime.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start_blocking();
    /// let mut stream = std::net::TcpStream::connect(mock.address()).unwrap();
    /// let path = format!("/client/v4/accounts/{}/images/v1/stats", mock.account_id());
    /// write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n").unwrap();
    /// let mut answer = String::new();
    /// stream.read_to_string(&mut answer).unwrap();
    /// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    /// ```
    ///
    /// # Panics
    /// As [`start`](Self::start); [`MockImagesBuilder::try_start_blocking`] returns the errors.
    #[track_caller]
    pub fn start_blocking() -> MockImages {
        MockImages::builder().start_blocking()
    }

    /// A builder, for credentials to require, an account id to pin, a fixed port, variants, ...
    pub fn builder() -> MockImagesBuilder {
        MockImagesBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            credentials: None,
            account_id: None,
            account_hash: None,
            delivery_host: "https://imagedelivery.net".to_owned(),
            variants: vec!["public".to_owned()],
            allow_network: false,
            fetch_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            images_allowed: DEFAULT_IMAGES_ALLOWED,
            fixtures: None,
            fail_on_unserved_routes: true,
            fail_on_refusals: false,
            upload_base: None,
            seed: None,
            clock: None,
        }
    }

    /// `http://127.0.0.1:PORT`, the root of the mock.
    #[track_caller]
    pub fn uri(&self) -> String {
        self.check_alive();
        format!("http://{}", self.address)
    }

    /// `http://127.0.0.1:PORT/client/v4`: what the official SDKs take as their base URL (the
    /// real one is `https://api.cloudflare.com/client/v4`).
    #[track_caller]
    pub fn base_url(&self) -> String {
        format!("{}/client/v4", self.uri())
    }

    /// The upload endpoint for [`account_id`](Self::account_id):
    /// `{base_url}/accounts/{account_id}/images/v1`.
    #[track_caller]
    pub fn upload_url(&self) -> String {
        format!("{}/accounts/{}/images/v1", self.base_url(), self.account_id)
    }

    /// An account id the mock accepts: the pinned one, or else
    /// `023e105f4ecef8ad9ca31a8372d0c353` (any 32-hex id is accepted when none is pinned).
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The clock the mock goes by ([`MockImagesBuilder::clock`]): move it to see drafts of
    /// direct creator uploads expire, or signed delivery URLs run out, without waiting.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start().await; // the system clock: it runs on from where it is moved
    /// let url = format!("{}/accounts/{}/images/v2/direct_upload", mock.base_url(), mock.account_id());
    /// let client = reqwest::Client::new();
    /// let form = reqwest::multipart::Form::new().text("creator", "me");
    /// let answer = client.post(url).bearer_auth("t").multipart(form);
    /// let body: serde_json::Value = answer.send().await.unwrap().json().await.unwrap();
    /// let id = body["result"]["id"].as_str().unwrap();
    /// assert!(mock.image(id).unwrap().draft);
    /// mock.clock().advance(Duration::from_secs(31 * 60)); // past the default expiry, 30 minutes
    /// assert!(mock.image(id).is_none());
    /// # }
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
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

    /// The delivery URL of image `id` in `variant`, served by the mock itself:
    /// `{uri}/cdn-cgi/imagedelivery/{account_hash}/{id}/{variant}` (the form the real service
    /// serves on a custom domain; the id escaped as in `variants`, `/` kept). It answers the
    /// stored bytes unresized; a private image's URL needs a signature
    /// ([`signed_delivery_url`](Self::signed_delivery_url)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, NewImage};
    ///
    /// let mock = MockImages::start().await;
    /// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    /// mock.insert_image(NewImage::new(&png[..]).id("cat.png"));
    /// let answer = reqwest::get(mock.delivery_url("cat.png", "public")).await.unwrap();
    /// assert_eq!(answer.status(), 200);
    /// assert_eq!(answer.headers()["content-type"], "image/png");
    /// assert_eq!(answer.bytes().await.unwrap(), &png[..]);
    /// # }
    /// ```
    #[track_caller]
    pub fn delivery_url(&self, id: &str, variant: &str) -> String {
        format!(
            "{}{}{}",
            self.uri(),
            crate::api::delivery::PREFIX,
            self.delivery_path(id, variant)
        )
    }

    /// [`delivery_url`](Self::delivery_url) signed with the first current signing key, as the
    /// docs sign: `?exp={now + expires_in}&sig=...` (now by the mock's [`clock`](Self::clock)),
    /// or `?sig=...` of the path alone when `expires_in` is `None` (a URL that does not expire). For tests of a client that fetches
    /// private images; a test of a client's own signer should compute the signature itself.
    #[track_caller]
    pub fn signed_delivery_url(
        &self,
        id: &str,
        variant: &str,
        expires_in: Option<Duration>,
    ) -> String {
        let path = self.delivery_path(id, variant);
        let keys = self.shared.store.keys.all();
        let key = &keys.first().expect("there is always a signing key").value;
        let query = match expires_in {
            Some(lifetime) => {
                let exp = self
                    .shared
                    .clock
                    .unix_seconds()
                    .saturating_add(lifetime.as_secs());
                let query = format!("exp={exp}");
                let sig = crate::api::delivery::sign(key, &format!("{path}?{query}"));
                format!("{query}&sig={sig}")
            }
            None => format!("sig={}", crate::api::delivery::sign(key, &path)),
        };
        format!("{}?{query}", self.delivery_url(id, variant))
    }

    /// `/{account_hash}/{id}/{variant}`: what a signature signs.
    fn delivery_path(&self, id: &str, variant: &str) -> String {
        let id = percent_encoding::utf8_percent_encode(id, crate::envelope::ID_IN_PATH);
        let variant = percent_encoding::utf8_percent_encode(variant, crate::envelope::ID_IN_PATH);
        format!("/{}/{id}/{variant}", self.shared.config.account_hash)
    }

    /// Every request received so far, accepted or refused, in order.
    #[track_caller]
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.check_alive();
        self.shared.journal.requests(&self.view())
    }

    /// Every upload accepted so far, in order, each with its file while the image is stored
    /// (read back from the spill directory for files past the memory budget: after gigabytes
    /// of uploads, [`storage`](Self::storage) and [`image`](Self::image) are the cheap views).
    #[track_caller]
    pub fn uploads(&self) -> Vec<Upload> {
        self.check_alive();
        self.shared.journal.uploads(&self.view())
    }

    fn view(&self) -> View<'_> {
        View {
            store: &self.shared.store,
            delivery: self.shared.delivery(),
            bytes: true,
        }
    }

    /// Every image the mock stores now (drafts included), in upload order: what uploads and
    /// [`insert_image`](Self::insert_image) stored, as updates left it, without the deleted
    /// ones.
    pub fn images(&self) -> Vec<StoredImage> {
        self.shared.store.all()
    }

    /// The stored image called `id`, if there is one.
    pub fn image(&self, id: &str) -> Option<StoredImage> {
        self.shared
            .store
            .get(id)
            .map(|image| StoredImage::clone(&image))
    }

    /// The bytes of the stored image called `id`: what `GET .../images/v1/{id}/blob` answers.
    pub fn image_bytes(&self, id: &str) -> Option<Bytes> {
        self.shared
            .store
            .get_with_bytes(id)
            .and_then(|(_, bytes)| bytes)
    }

    /// Where the bytes of the stored images are: in memory, on disk, and the spill directory.
    /// Files pushed out of memory are written to disk behind the uploads that pushed them out;
    /// this waits until those writes are done, so it reads the same after the same uploads.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start().await;
    /// assert_eq!((mock.storage().in_memory, mock.storage().spill_dir), (0, None));
    /// # }
    /// ```
    pub fn storage(&self) -> crate::store::Storage {
        self.shared.store.storage()
    }

    /// Puts an image in the store before the client runs, checked by the same rules as an
    /// upload (`schemas/upload.schema.json`): the client then finds it as if it had been
    /// uploaded. Not a request: the journal does not list it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, NewImage};
    ///
    /// let mock = MockImages::start().await;
    /// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\0\0\0\0\x3a\x7e\x9b\x55".to_vec();
    /// let image = mock.insert_image(NewImage::new(png).filename("cat.png").metadata(serde_json::json!({"owner": 42})));
    /// let url = format!("{}/accounts/{}/images/v1/{}", mock.base_url(), mock.account_id(), image.id);
    /// let body: serde_json::Value = reqwest::Client::new().get(url).bearer_auth("t").send().await.unwrap().json().await.unwrap();
    /// assert_eq!(body["result"]["filename"], "cat.png");
    /// assert_eq!(body["result"]["meta"]["owner"], 42);
    /// # }
    /// ```
    ///
    /// # Panics
    /// With the errors an upload of it would get; [`try_insert_image`](Self::try_insert_image)
    /// returns them.
    #[track_caller]
    pub fn insert_image(&self, image: NewImage) -> StoredImage {
        match self.try_insert_image(image) {
            Ok(image) => image,
            Err(errors) => {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!(
                    "cloudflare-images-mock: insert_image refused, as an upload of it would be:\n  {}",
                    errors.join("\n  ")
                )
            }
        }
    }

    /// Puts an image in the store, or gives the errors an upload of it would get.
    pub fn try_insert_image(&self, image: NewImage) -> Result<StoredImage, Vec<ApiError>> {
        let checked = crate::ingest::form::check(image.form())?;
        let accepted = crate::api::upload::insert(&self.shared, checked, None)?;
        Ok(StoredImage::clone(&accepted.image))
    }

    /// Waits until at least `n` uploads were accepted and returns them, or says how many arrived
    /// when `timeout` passed. The timer is the mock's own: any executor can await this (tokio,
    /// `futures::executor::block_on`, ...).
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
    ///
    /// # Panics
    /// If the server died (as every accessor).
    pub async fn wait_for_uploads(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Upload>, WaitTimeout> {
        let reached = self.wait(n, timeout).await;
        self.waited(n, timeout, reached)
    }

    /// [`wait_for_uploads`](Self::wait_for_uploads) for a plain `#[test]`: blocks the calling
    /// thread (the server runs on another, so uploads keep arriving; a client on the same
    /// current-thread runtime would not run meanwhile).
    ///
    /// ```
    /// use std::time::Duration;
    /// use cloudflare_images_mock::MockImages;
    ///
    /// let mock = MockImages::start_blocking();
    /// let err = mock.wait_for_uploads_blocking(1, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.to_string(), "expected 1 upload(s) within 10ms, 0 accepted (0 request(s) in all)");
    /// ```
    ///
    /// # Panics
    /// If the server died (as every accessor).
    #[track_caller]
    pub fn wait_for_uploads_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Upload>, WaitTimeout> {
        let reached = block_on(self.wait(n, timeout));
        self.waited(n, timeout, reached)
    }

    /// Waits for `n` uploads: `Some(Err(accepted))` when `timeout` passed first, `None` when
    /// the server stopped. The timer is a task on the server's runtime, aborted when the wait
    /// ends or is dropped; the rest needs only the waker it is given, so any executor can poll
    /// this.
    #[track_caller]
    fn wait(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Option<Result<(), usize>>> + '_ {
        self.check_alive();
        let mut timer = Timer(
            self.server
                .spawn(async move { tokio::time::sleep(timeout).await }),
        );
        let mut ended = self.ended.clone();
        async move {
            tokio::select! {
                biased;
                () = self.shared.journal.uploads_reached(n) => Some(Ok(())),
                _ = ended.changed() => None,
                _ = &mut timer.0 => Some(Err(self.shared.journal.uploads_accepted())),
            }
        }
    }

    #[track_caller]
    fn waited(
        &self,
        n: usize,
        timeout: Duration,
        reached: Option<Result<(), usize>>,
    ) -> Result<Vec<Upload>, WaitTimeout> {
        match reached {
            Some(Ok(())) => Ok(self.uploads()),
            Some(Err(accepted)) => Err(WaitTimeout {
                expected: n,
                accepted,
                requests: self.shared.journal.len(),
                timeout,
            }),
            None => {
                self.check_alive();
                panic!(
                    "cloudflare-images-mock's server on {} stopped during a wait",
                    self.address
                )
            }
        }
    }

    /// Answers `url` uploads of exactly this URL with `bytes`, as if the origin served them.
    pub fn serve_url(&self, url: impl Into<String>, bytes: impl Into<Bytes>) {
        self.shared.fetcher.serve(url.into(), bytes.into());
    }

    /// Queues a scripted answer: the next request(s) it applies to (any operation the mock
    /// serves, or those [`Script::on`] and [`Script::when`] pick) get it instead of the normal
    /// answer, then the mock answers normally again. Scripts queued one after the other play in
    /// order.
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

    /// Declares an expectation on the requests of one operation, checked when the mock is
    /// dropped like [`expect_uploads`](Self::expect_uploads); expectations add up.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{Expectation, MockImages, Operation};
    ///
    /// let mock = MockImages::start().await;
    /// mock.expect(Expectation::new(Operation::Get).image_id("missing").times(1));
    /// let url = format!("{}/missing", mock.upload_url());
    /// let response = reqwest::Client::new().get(url).bearer_auth("t").send().await.unwrap();
    /// assert_eq!(response.status(), 404); // refused: does not count
    /// let report = mock.verify().unwrap_err();
    /// assert!(report.starts_with(
    ///     "cloudflare-images-mock: expected exactly 1 image details (GET /accounts/{account_id}/images/v1/{image_id}) \
    ///      of image \"missing\", 0 answered with success"), "{report}");
    /// # mock.reset_expectations();
    /// # }
    /// ```
    pub fn expect(&self, expectation: Expectation) {
        self.lock_expectations().operations.push(expectation);
    }

    /// Forgets every expectation declared so far ([`expect`](Self::expect),
    /// [`expect_uploads`](Self::expect_uploads)); the checks of unserved routes and strict mode
    /// stay as built.
    pub fn reset_expectations(&self) {
        let mut expectations = self.lock_expectations();
        expectations.operations.clear();
        expectations.uploads = None;
    }

    /// Starts the test's checks afresh: forgets the expectations (as
    /// [`reset_expectations`](Self::reset_expectations)), the queued scripts and the journal
    /// (what [`requests`](Self::requests) and [`uploads`](Self::uploads) list, and what the
    /// expectations count). The store is kept: images, variants and signing keys stay as the
    /// client left them, since they are the state the client sees (a fresh store is a fresh
    /// mock, `MockImages::start()`). A scoped guard made before still counts only the requests
    /// received after it was made.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{MockImages, Script};
    ///
    /// let mock = MockImages::start().await;
    /// mock.expect_uploads(3);
    /// mock.script(Script::reset());
    /// let stats = format!("{}/stats", mock.upload_url());
    /// reqwest::Client::new().get(&stats).bearer_auth("t").send().await.unwrap_err();
    /// mock.reset();
    /// assert!(mock.requests().is_empty());
    /// assert!(mock.verify().is_ok());
    /// # }
    /// ```
    pub fn reset(&self) {
        self.reset_expectations();
        self.shared.scripts.clear();
        self.shared.journal.clear();
    }

    /// The requests journalled since `position`, numbered as in [`requests`](Self::requests).
    pub(super) fn records_since(
        &self,
        position: usize,
        bytes: bool,
    ) -> Vec<(usize, RequestRecord)> {
        self.check_alive();
        self.shared.journal.requests_since(
            position,
            &View {
                bytes,
                ..self.view()
            },
        )
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
        if expect::holds(&expectations, &self.shared.journal) {
            return Ok(());
        }
        let bytes = expectations.operations.iter().any(Expectation::needs_bytes);
        expect::verify(
            &expectations,
            &self.shared.journal.requests(&View {
                bytes,
                ..self.view()
            }),
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
        if self.ended.has_changed().is_err() {
            panic!(
                "cloudflare-images-mock's server on {} has stopped",
                self.address
            );
        }
    }

    /// Makes the mock's server fail, as a bug in the mock would: for the tests that check that
    /// such a fault is reported on the handle rather than hanging the test.
    #[doc(hidden)]
    pub fn stage_server_fault(&self) {
        self.shared.crash.notify_one();
    }
}

/// The timer of a wait, on the server's runtime: aborted when the wait is over or dropped.
struct Timer(tokio::task::JoinHandle<()>);

impl Drop for Timer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `future` to its end on the calling thread, parked between polls: enough for the
/// futures of the handle, whose work runs on the server's thread.
///
/// Outside tokio's budget: called from inside a runtime's task (a drop at the end of a
/// `#[tokio::test]`), a tokio primitive that finds the task's budget spent would defer its
/// wake-up to that runtime, which cannot run while this thread is parked.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let future = tokio::task::unconstrained(future);
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(output) =
            std::future::Future::poll(future.as_mut(), &mut context)
        {
            return output;
        }
        std::thread::park();
    }
}

/// Stops the server, then checks the expectations (panicking with a report, unless the thread
/// is already panicking).
///
/// The stop is a message to the serve future on its pool thread, and the drop waits until that
/// future has closed the listener (a new connection to the port is refused), aborted every
/// connection and let go of the mock's state (the stored images' bytes are freed): a round
/// trip to that thread, with no thread to join. Dropped on a pool thread itself (a handle
/// moved into a task running there), the drop cannot wait for a future only that thread runs,
/// and returns at once; the server stops moments later.
impl Drop for MockImages {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if !super::pool::on_pool_thread() {
            // Closed, never sent to: `changed` ends when the serve future has let go of it.
            let _ = block_on(self.ended.changed());
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

/// An image to put in the store with [`MockImages::insert_image`]: its bytes, and what an upload
/// would send with them.
///
/// ```
/// use cloudflare_images_mock::NewImage;
///
/// let image = NewImage::new("<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>")
///     .id("avatars/42.svg")
///     .creator("user-42")
///     .metadata(serde_json::json!({"plan": "pro"}));
/// # let _ = image;
/// ```
#[derive(Debug, Clone)]
#[must_use = "a NewImage does nothing until passed to `MockImages::insert_image`"]
pub struct NewImage {
    bytes: Bytes,
    filename: Option<String>,
    texts: Vec<(String, String)>,
}

impl NewImage {
    /// An image of these bytes (its format is detected from them, as for an upload).
    pub fn new(bytes: impl Into<Bytes>) -> NewImage {
        NewImage {
            bytes: bytes.into(),
            filename: None,
            texts: Vec::new(),
        }
    }

    /// A custom id (by default the mock generates one).
    pub fn id(self, id: impl Into<String>) -> NewImage {
        self.text("id", id.into())
    }

    /// The file name.
    pub fn filename(mut self, filename: impl Into<String>) -> NewImage {
        self.filename = Some(filename.into());
        self
    }

    /// The creator.
    pub fn creator(self, creator: impl Into<String>) -> NewImage {
        self.text("creator", creator.into())
    }

    /// The metadata (an object, at most 1024 bytes as JSON, as for an upload).
    pub fn metadata(self, metadata: serde_json::Value) -> NewImage {
        self.text("metadata", metadata.to_string())
    }

    /// Whether delivery URLs must be signed.
    pub fn require_signed_urls(self, private: bool) -> NewImage {
        self.text("requireSignedURLs", private.to_string())
    }

    fn text(mut self, name: &str, value: String) -> NewImage {
        self.texts.push((name.to_owned(), value));
        self
    }

    fn form(self) -> crate::ingest::multipart::Form {
        crate::ingest::multipart::Form {
            file: Some(crate::ingest::multipart::FilePart {
                filename: self.filename,
                content_type: None,
                bytes: crate::ingest::file::FileBytes::from(self.bytes),
            }),
            texts: self.texts,
        }
    }
}
