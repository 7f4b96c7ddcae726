//! `GET .../images/v1/stats`: how many images the account may store and how many it does.

use super::Outcome;
use crate::envelope;
use crate::state::Shared;

pub(super) fn stats(shared: &Shared) -> Outcome {
    let current = shared.store.count() as u64;
    Outcome::ok(envelope::stats(shared.config.images_allowed, current))
}
