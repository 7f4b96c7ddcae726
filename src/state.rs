//! What the connections of one mock share: its settings, its store, its journal, its scripts
//! and its expectations.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::auth::Credentials;
use crate::clock::Clock;
use crate::expect::Expectations;
use crate::ids::Ids;
use crate::ingest::fetch::Fetcher;
use crate::ingest::multipart::Limits;
use crate::journal::Journal;
use crate::script::Queue;
use crate::store::Store;

/// What the connections of one mock share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) journal: Journal,
    /// Every image stored, with its bytes.
    pub(crate) store: Store,
    pub(crate) fetcher: Fetcher,
    /// Set when the mock itself failed (a bug): the handle reports it instead of staying silent.
    pub(crate) failure: Mutex<Option<String>>,
    /// Makes the server thread panic: how the tests of fault reporting stage a fault.
    pub(crate) crash: tokio::sync::Notify,
    /// Scripted answers waiting for requests.
    pub(crate) scripts: Queue,
    /// What the handle checks at drop.
    pub(crate) expectations: Mutex<Expectations>,
    /// The time the mock goes by (the store's drafts expire by the same clock).
    pub(crate) clock: Clock,
    /// Where generated image ids come from (signing keys: the same source, held by the store).
    pub(crate) ids: Ids,
}

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) pinned_account: Option<String>,
    /// The account hash of delivery URLs.
    pub(crate) account_hash: Arc<str>,
    /// What `variants` URLs start with (`https://imagedelivery.net`, no trailing `/`).
    pub(crate) delivery_host: Arc<str>,
    pub(crate) limits: Limits,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    /// `count.allowed` of the usage statistics.
    pub(crate) images_allowed: u64,
    /// Recorded answers that replace the mock's own refusals.
    pub(crate) fixtures: Arc<crate::fixtures::Fixtures>,
    /// The base of the one-time upload URLs of direct creator uploads (no trailing `/`): the
    /// mock's own root unless the builder names another.
    pub(crate) upload_base: Arc<str>,
}

/// What an image's delivery URLs (`variants` in answers) are made of now: the account hash and
/// the account's current variants (cheap to clone: three shared pointers).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// `https://imagedelivery.net` by default, without a trailing `/`.
    pub(crate) host: Arc<str>,
    pub(crate) account_hash: Arc<str>,
    pub(crate) variants: Arc<[String]>,
}

impl Shared {
    /// What delivery URLs are made of at this moment.
    pub(crate) fn delivery(&self) -> Delivery {
        Delivery {
            host: Arc::clone(&self.config.delivery_host),
            account_hash: Arc::clone(&self.config.account_hash),
            variants: self.store.variants.names(),
        }
    }
}

/// The message of a panic payload.
pub(crate) fn cause(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

pub(crate) fn fail(shared: &Shared, failure: String) {
    let mut slot = shared.failure.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(failure);
}
