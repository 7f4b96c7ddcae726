//! Image details, update, delete, and the two lists, against the store.

use hyper::body::Incoming;
use hyper::http::request::Parts;

use super::{not_found, read_small_body, Outcome};
use crate::envelope;
use crate::error::ApiError;
use crate::params::{self, ImageUpdate, ListV2, SortOrder};
use crate::schema;
use crate::state::Shared;
use crate::store::Cursor;
use crate::Rule;

/// The checks of a PATCH body that need no stored image, in the handler's order: at most
/// [`MAX_JSON_BODY`](super::MAX_JSON_BODY) bytes (`body_too_large`), then the rules of
/// `schemas/image-update.schema.json`. The handler reads the body with the same limit, so a
/// longer one never gets here from the server; [`crate::conformance::check_request`] has the
/// whole body.
pub(crate) fn update_request(body: &[u8]) -> Result<ImageUpdate, Vec<ApiError>> {
    if body.len() > super::MAX_JSON_BODY {
        return Err(vec![schema::catalogue_error(Rule::BodyTooLarge, &[])]);
    }
    params::image_update(body)
}

/// The checks of a v2 list query that need no stored image: the rules of
/// `schemas/list-v2.schema.json`, then the continuation token, which must be one the mock could
/// have issued (`bad_continuation_token`).
pub(crate) fn list_v2_request(
    query: Option<&str>,
) -> Result<(ListV2, Option<Cursor>), Vec<ApiError>> {
    let list = params::list_v2(query)?;
    let after = match list.continuation_token.as_deref() {
        None => None,
        Some(token) => match Cursor::from_token(token) {
            Some(cursor) => Some(cursor),
            None => {
                return Err(vec![schema::catalogue_error(
                    Rule::BadContinuationToken,
                    &[("token", token)],
                )])
            }
        },
    };
    Ok((list, after))
}

/// `GET .../images/v1/{image_id}`.
pub(super) fn get(shared: &Shared, id: &str) -> Outcome {
    match shared.store.get(id) {
        Some(image) => Outcome::ok(envelope::image(&image, &shared.delivery())),
        None => not_found(),
    }
}

/// `PATCH .../images/v1/{image_id}`: metadata replaces (does not merge); a custom-id image
/// cannot be made private (5410).
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
    let update = match update_request(&bytes) {
        Ok(update) => update,
        Err(errors) => {
            // A missing image is what the real API checks first (assumed: no recording shows
            // a bad body sent for a missing image).
            if shared.store.get(id).is_none() {
                return not_found();
            }
            return Outcome::refused(errors);
        }
    };
    let changed = shared.store.update(id, |image| {
        if update.require_signed_urls == Some(true) && is_custom(&image.id) {
            return Err(vec![schema::custom_id_private_error()]);
        }
        if let Some(creator) = &update.creator {
            image.creator = Some(creator.clone());
        }
        if let Some(meta) = &update.metadata {
            image.set_meta(Some(meta.clone()));
        }
        if let Some(private) = update.require_signed_urls {
            image.require_signed_urls = private;
        }
        Ok(())
    });
    match changed {
        None => not_found(),
        Some(Err(errors)) => Outcome::refused(errors),
        Some(Ok(image)) => Outcome::ok(envelope::image(&image, &shared.delivery())),
    }
}

/// Whether an id is a custom one: generated ids are UUIDs, which a custom id cannot be.
fn is_custom(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_err()
}

/// `DELETE .../images/v1/{image_id}`: the image, its bytes and its id are gone.
pub(super) fn delete(shared: &Shared, id: &str) -> Outcome {
    match shared.store.remove(id) {
        Some(_) => Outcome::ok(envelope::empty_result()),
        None => not_found(),
    }
}

/// `GET .../images/v1`: pages in upload order (assumed: the real order is not documented).
pub(super) fn list_v1(shared: &Shared, query: Option<&str>) -> Outcome {
    let list = match params::list_v1(query) {
        Ok(list) => list,
        Err(errors) => return Outcome::refused(errors),
    };
    let images = shared.store.page(list.page, list.per_page, |image| {
        list.matches(image.creator.as_deref())
    });
    Outcome::ok(envelope::list_v1(&images, &shared.delivery()))
}

/// `GET .../images/v2`: by upload time then id, newest first unless asked otherwise, with an
/// opaque continuation token.
pub(super) fn list_v2(shared: &Shared, query: Option<&str>) -> Outcome {
    let (list, after) = match list_v2_request(query) {
        Ok(checked) => checked,
        Err(errors) => return Outcome::refused(errors),
    };
    let ascending = matches!(list.sort_order, SortOrder::Asc);
    let (images, next) =
        shared
            .store
            .page_by_time(after.as_ref(), ascending, list.per_page, |image| {
                list.matches(image.creator.as_deref(), image.meta.as_ref())
            });
    let token = next.map(|cursor| cursor.token());
    Outcome::ok(envelope::list_v2(
        &images,
        token.as_deref(),
        &shared.delivery(),
    ))
}
