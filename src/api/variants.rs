//! The variants: list, create, details (also flat), update, delete. Bodies are checked by
//! `schemas/variant.schema.json`; a missing variant gets the recorded plain text.

use hyper::body::Incoming;
use hyper::http::request::Parts;

use super::{read_small_body, Outcome};
use crate::envelope;
use crate::params;
use crate::schema::catalogue_error;
use crate::state::Shared;
use crate::store::Refused;
use crate::Rule;

/// The most variants an account may have (cloudflare-docs `create-variants.mdx`).
const MAX_VARIANTS: usize = 100;

/// `GET .../images/v1/variants`: `result: {variants: {<name>: {...}}}`.
pub(super) fn list(shared: &Shared) -> Outcome {
    Outcome::ok(envelope::variants(&shared.store.variants.all()))
}

/// `POST .../images/v1/variants`.
pub(super) async fn create(shared: &Shared, parts: &Parts, body: &mut Incoming) -> Outcome {
    let bytes = match read_small_body(shared, parts, body).await {
        Ok(bytes) => bytes,
        Err(error) => return Outcome::refused(vec![error]),
    };
    let variant = match params::variant(&bytes, None) {
        Ok(variant) => variant,
        Err(errors) => return Outcome::refused(errors),
    };
    match shared.store.variants.create(variant, MAX_VARIANTS) {
        Ok(variant) => Outcome::ok(envelope::variant(&variant)),
        Err(Refused::Exists) => Outcome::refused(vec![catalogue_error(Rule::VariantExists, &[])]),
        Err(Refused::Limit) => Outcome::refused(vec![catalogue_error(
            Rule::VariantLimit,
            &[("limit", &MAX_VARIANTS.to_string())],
        )]),
    }
}

/// `GET .../images/v1/variants/{variant_id}` (`flat`: the definition as the result itself).
pub(super) fn get(shared: &Shared, id: &str, flat: bool) -> Outcome {
    match shared.store.variants.get(id) {
        Some(variant) if flat => Outcome::ok(envelope::success(&variant)),
        Some(variant) => Outcome::ok(envelope::variant(&variant)),
        None => not_found(),
    }
}

/// `PATCH .../images/v1/variants/{variant_id}`: new options, and `neverRequireSignedURLs` when
/// the body sets it.
pub(super) async fn update(
    shared: &Shared,
    id: &str,
    parts: &Parts,
    body: &mut Incoming,
) -> Outcome {
    let bytes = match read_small_body(shared, parts, body).await {
        Ok(bytes) => bytes,
        Err(error) => return Outcome::refused(vec![error]),
    };
    if shared.store.variants.get(id).is_none() {
        return not_found();
    }
    let variant = match params::variant(&bytes, Some(id)) {
        Ok(variant) => variant,
        Err(errors) => return Outcome::refused(errors),
    };
    let never =
        params::sets_never_require_signed_urls(&bytes).then_some(variant.never_require_signed_urls);
    match shared.store.variants.update(id, variant.options, never) {
        Ok(variant) => Outcome::ok(envelope::variant(&variant)),
        Err(_) => not_found(),
    }
}

/// `DELETE .../images/v1/variants/{variant_id}`: `result: {}`.
pub(super) fn delete(shared: &Shared, id: &str) -> Outcome {
    match shared.store.variants.delete(id) {
        Ok(()) => Outcome::ok(envelope::empty_result()),
        Err(_) => not_found(),
    }
}

fn not_found() -> Outcome {
    Outcome::refused(vec![super::variant_not_found()])
}
