//! `GET .../images/v1/{image_id}/blob`: the stored bytes, with the content type of their
//! detected format. The real API may answer large images with a near-lossless copy; the mock
//! answers the original bytes.

use super::{not_found, Outcome, Reply};
use crate::state::Shared;

pub(super) fn blob(shared: &Shared, id: &str) -> Outcome {
    match shared.store.get_with_bytes(id) {
        Some((image, Some(bytes))) => Outcome {
            reply: Reply {
                status: 200,
                content_type: image.content_type(),
                headers: Vec::new(),
                body: bytes,
            },
            ..Outcome::ok(bytes::Bytes::new())
        },
        // A draft has no bytes yet (assumed: 404, as for a missing image).
        _ => not_found(),
    }
}
