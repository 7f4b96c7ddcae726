//! What the connections of one mock share.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;

use crate::auth::Credentials;
use crate::expect::Expectations;
use crate::fetch::Fetcher;
use crate::journal::Journal;
use crate::multipart::Limits;
use crate::script::Queue;

/// The body of the mock's responses: whole, or cut off by a script.
pub(super) type Body = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// What the connections of one mock share.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: Config,
    pub(super) journal: Journal,
    /// Custom ids taken: a custom id uploaded twice is refused.
    pub(super) custom_ids: Mutex<std::collections::HashSet<String>>,
    pub(super) fetcher: Fetcher,
    /// Set when the mock itself failed (a bug): the handle reports it instead of staying silent.
    pub(super) failure: Mutex<Option<String>>,
    /// Makes the server thread panic: how the tests of fault reporting stage a fault.
    pub(super) crash: tokio::sync::Notify,
    /// Scripted answers waiting for upload requests.
    pub(super) scripts: Queue,
    /// What the handle checks at drop.
    pub(super) expectations: Mutex<Expectations>,
}

#[derive(Debug)]
pub(super) struct Config {
    pub(super) credentials: Option<Credentials>,
    pub(super) pinned_account: Option<String>,
    pub(super) account_hash: String,
    pub(super) variants: Vec<String>,
    pub(super) limits: Limits,
    pub(super) header_timeout: Duration,
    pub(super) body_timeout: Duration,
}

/// The message of a panic payload.
pub(super) fn cause(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

pub(super) fn fail(shared: &Shared, failure: String) {
    let mut slot = shared.failure.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(failure);
}
