//! `POST /accounts/{account_id}/images/v1`: a multipart upload, read as a stream under the
//! limits, checked by `schemas/upload.schema.json`, and stored.

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::BodyStream;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::request::Parts;

use crate::error::ApiError;
use crate::ingest::fetch;
use crate::ingest::file::FileBytes;
use crate::ingest::form::{self as form_rules, Checked};
use crate::ingest::multipart;
use crate::journal::{Accepted, Fields};
use crate::schema::catalogue_error;
use crate::state::Shared;
use crate::store::StoredImage;

pub(super) async fn upload(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
) -> Result<Accepted, Vec<ApiError>> {
    let checked = read_checked(shared, parts, body).await?;
    store(shared, checked).await
}

/// Reads an upload form and checks it by the upload schema (the file rules included): what an
/// upload and a one-time upload URL of a direct creator upload both take.
pub(super) async fn read_checked(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
) -> Result<Checked, Vec<ApiError>> {
    let form = read(shared, parts, body).await.map_err(|e| vec![e])?;
    form_rules::check(form)
}

/// Reads a multipart form under the limits, not yet checked by any schema.
pub(super) async fn read(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
) -> Result<multipart::Form, ApiError> {
    let config = &shared.config;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > config.limits.max_body()) {
        return Err(catalogue_error("body_too_large", &[]));
    }
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let boundary = multipart::boundary(content_type)?;
    let stream = BodyStream::new(body)
        .try_filter_map(|frame| futures_util::future::ready(Ok(frame.into_data().ok())));
    let stream = multipart::idle_timeout(stream, config.body_timeout);
    multipart::read_form(boundary, stream, declared, &config.limits).await
}

/// Stores a checked upload (fetching its `url` first): what the journal keeps of it.
pub(crate) async fn store(shared: &Shared, checked: Checked) -> Result<Accepted, Vec<ApiError>> {
    store_as(shared, checked, None).await
}

/// Stores a checked upload (fetching its `url` first), as the image `draft` becomes when one
/// is given (a one-time upload URL): the draft's id, creator, metadata and
/// `requireSignedURLs` win over the form's.
pub(crate) async fn store_as(
    shared: &Shared,
    mut checked: Checked,
    draft: Option<&StoredImage>,
) -> Result<Accepted, Vec<ApiError>> {
    let config = &shared.config;
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
        let info = form_rules::check_fetched(&bytes, filename.as_deref())?;
        fetched = Some((bytes, filename));
        checked.image = Some(info);
    }
    insert_as(shared, checked, fetched, draft)
}

/// Stores a checked upload whose `url`, if any, was fetched: what the journal keeps of it.
pub(crate) fn insert(
    shared: &Shared,
    checked: Checked,
    fetched: Option<(Bytes, Option<String>)>,
) -> Result<Accepted, Vec<ApiError>> {
    insert_as(shared, checked, fetched, None)
}

fn insert_as(
    shared: &Shared,
    mut checked: Checked,
    fetched: Option<(Bytes, Option<String>)>,
    draft: Option<&StoredImage>,
) -> Result<Accepted, Vec<ApiError>> {
    let (file, filename, content_type) = match (fetched, checked.file.take()) {
        (Some((bytes, filename)), _) => (Some(FileBytes::from(bytes)), filename, None),
        (None, Some(part)) => (Some(part.bytes), part.filename, part.content_type),
        (None, None) => (None, None, None),
    };
    let info = checked.image.as_ref();
    let (id, creator, meta, require_signed_urls) = match draft {
        Some(draft) => (
            draft.id.clone(),
            draft.creator.clone(),
            draft.meta_sent.clone(),
            draft.require_signed_urls,
        ),
        None => (
            checked.id.take().unwrap_or_else(|| shared.ids.image_id()),
            checked.creator.take(),
            checked.meta.take(),
            checked.require_signed_urls,
        ),
    };
    let image = StoredImage {
        id,
        filename,
        creator,
        meta: meta.as_ref().map(crate::ordered::Object::to_map),
        meta_sent: meta,
        require_signed_urls,
        uploaded: shared.clock.now(),
        draft: false,
        format: info.and_then(|i| i.format).map(str::to_owned),
        dimensions: info.and_then(|i| Some((i.width?, i.height?))),
        file_size: file.as_ref().map(|f| f.bytes.len() as u64),
    };
    let image = std::sync::Arc::new(image);
    let digest = file.as_ref().map(|f| f.digest);
    let bytes = file.map(|f| f.bytes);
    let key = match draft {
        Some(_) => shared
            .store
            .complete_draft(std::sync::Arc::clone(&image), bytes)
            .map_err(|refused| vec![super::direct::refusal(&refused)])?,
        None => shared
            .store
            .insert(std::sync::Arc::clone(&image), bytes)
            .map_err(|_taken| vec![duplicate_id()])?,
    };
    Ok(Accepted {
        image,
        key,
        content_type: content_type.map(Bytes::from),
        file_xxh3: digest,
        url: checked.url.map(Bytes::from),
        fields: Fields::new(&checked.fields),
    })
}

/// The refusal of an id that is taken (`5409`), pointing at `/id`.
pub(crate) fn duplicate_id() -> ApiError {
    let mut error = catalogue_error("duplicate_id", &[]);
    error.pointer = Some("/id".to_owned());
    error
}
