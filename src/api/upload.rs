//! `POST /accounts/{account_id}/images/v1`: a multipart upload, read as a stream under the
//! limits, checked by `schemas/upload.schema.json`, and stored.

use std::sync::OnceLock;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::BodyStream;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::http::request::Parts;
use xxhash_rust::xxh3::xxh3_128;

use crate::api::route::Operation;
use crate::error::ApiError;
use crate::ingest::fetch;
use crate::ingest::file::FileBytes;
use crate::ingest::form::{self as form_rules, Checked};
use crate::ingest::multipart;
use crate::journal::{Accepted, Entry, Fields, RequestRecord, View};
use crate::matcher::Head;
use crate::schema::catalogue_error;
use crate::script::ScriptKind;
use crate::state::Shared;
use crate::store::StoredImage;
use crate::Rule;

/// What an upload came to: stored, or answered by a script that matched its body.
pub(super) enum Uploaded {
    /// Stored (after a scripted [`Delay`](ScriptKind::Delay) or with a scripted
    /// [`CutOff`](ScriptKind::CutOff) answer to come, if a body script matched).
    Stored(Accepted, Option<ScriptKind>),
    /// Answered by a script (an error or a reset) after its body was read and checked: not
    /// stored; the journal keeps what was sent.
    Scripted(Accepted, ScriptKind),
}

pub(super) async fn upload(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
    scripted: bool,
) -> Result<Uploaded, Vec<ApiError>> {
    let mut checked = read_checked(shared, parts, body).await?;
    let fetched = fetch(shared, &mut checked).await?;
    let prepared = prepare(shared, checked, fetched, None);
    // A script with a matcher on the body is decided here: the body is read and checked, the
    // store not yet changed.
    let script = match !scripted && shared.scripts.wants_body() {
        true => shared.scripts.next_for_body(
            &Head {
                operation: Some(Operation::Upload),
                method: parts.method.as_str(),
                image_id: None,
                headers: &parts.headers,
            },
            &prepared.record(shared, parts),
        ),
        false => None,
    };
    match script {
        Some(kind @ (ScriptKind::Error(_) | ScriptKind::Reset | ScriptKind::ResetMidUpload)) => {
            Ok(Uploaded::Scripted(prepared.accepted(), kind))
        }
        Some(ScriptKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            Ok(Uploaded::Stored(commit(shared, prepared, None)?, script))
        }
        Some(ScriptKind::CutOff) | None => {
            Ok(Uploaded::Stored(commit(shared, prepared, None)?, script))
        }
    }
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
        return Err(catalogue_error(Rule::BodyTooLarge, &[]));
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

/// Stores a checked upload (fetching its `url` first), as the image `draft` becomes when one
/// is given (a one-time upload URL): the draft's id, creator, metadata and
/// `requireSignedURLs` win over the form's.
pub(crate) async fn store_as(
    shared: &Shared,
    mut checked: Checked,
    draft: Option<&StoredImage>,
) -> Result<Accepted, Vec<ApiError>> {
    let fetched = fetch(shared, &mut checked).await?;
    insert_as(shared, checked, fetched, draft)
}

/// Fetches the `url` of a checked upload, if any, and checks what it got (the image's
/// description goes into `checked`). Borrows the upload: an upload without a `url` is not moved
/// through the future and back.
async fn fetch(
    shared: &Shared,
    checked: &mut Checked,
) -> Result<Option<(Bytes, Option<String>)>, Vec<ApiError>> {
    let Some(url) = &checked.url else {
        return Ok(None);
    };
    let bytes = shared
        .fetcher
        .fetch(url, shared.config.limits.max_file)
        .await
        .map_err(|mut e| {
            e.pointer = Some("/url".to_owned());
            vec![e]
        })?;
    let filename = fetch::filename(url);
    let info = form_rules::check_fetched(&bytes, filename.as_deref())?;
    checked.image = Some(info);
    Ok(Some((bytes, filename)))
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
    checked: Checked,
    fetched: Option<(Bytes, Option<String>)>,
    draft: Option<&StoredImage>,
) -> Result<Accepted, Vec<ApiError>> {
    let prepared = prepare(shared, checked, fetched, draft);
    commit(shared, prepared, draft)
}

/// A checked upload made into the image it would store, not stored yet.
struct Prepared {
    image: StoredImage,
    content_type: Option<Bytes>,
    url: Option<Bytes>,
    fields: Fields,
    /// The file, for the store.
    bytes: Option<Bytes>,
    /// Whether the id is to be generated when stored (no custom id was sent).
    generate_id: bool,
}

fn prepare(
    shared: &Shared,
    mut checked: Checked,
    fetched: Option<(Bytes, Option<String>)>,
    draft: Option<&StoredImage>,
) -> Prepared {
    let (file, filename, content_type) = match (fetched, checked.file.take()) {
        (Some((bytes, filename)), _) => (Some(FileBytes::from(bytes)), filename, None),
        (None, Some(part)) => (Some(part.bytes), part.filename, part.content_type),
        (None, None) => (None, None, None),
    };
    let info = checked.image.as_ref();
    let (id, creator, meta, require_signed_urls) = match draft {
        Some(draft) => (
            Some(draft.id.clone()),
            draft.creator.clone(),
            draft.meta_sent.clone(),
            draft.require_signed_urls,
        ),
        None => (
            checked.id.take(),
            checked.creator.take(),
            checked.meta.take(),
            checked.require_signed_urls,
        ),
    };
    let generate_id = id.is_none();
    let image = StoredImage {
        // An id is generated only for an image that is stored: a scripted answer takes none
        // from the random source.
        id: id.unwrap_or_default(),
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
    Prepared {
        image,
        content_type: content_type.map(Bytes::from),
        url: checked.url.map(Bytes::from),
        fields: Fields::new(&checked.fields),
        bytes: file.map(|f| f.bytes),
        generate_id,
    }
}

impl Prepared {
    /// What the journal keeps of the upload, not stored (yet). Bytes still held here are about
    /// to be dropped, the upload not stored: their digest is computed now, while it still can
    /// be.
    fn accepted(self) -> Accepted {
        let file_xxh3 = self
            .bytes
            .as_deref()
            .map_or_else(OnceLock::new, |bytes| OnceLock::from(xxh3_128(bytes)));
        Accepted {
            image: std::sync::Arc::new(self.image),
            key: None,
            content_type: self.content_type,
            file_xxh3,
            url: self.url,
            fields: self.fields,
        }
    }

    /// The request as the journal would record it if the upload is stored, for the matchers
    /// of scripts: answered `200`, with its file bytes; the image id is the custom id sent, or
    /// none.
    fn record(&self, shared: &Shared, parts: &Parts) -> RequestRecord {
        let mut entry = Entry::new(parts, shared.clock.now());
        entry.operation = Some(Operation::Upload);
        entry.accepted = Some(Accepted {
            image: std::sync::Arc::new(self.image.clone()),
            key: None,
            content_type: self.content_type.clone(),
            file_xxh3: OnceLock::new(),
            url: self.url.clone(),
            fields: self.fields.clone(),
        });
        if !self.generate_id {
            entry.image_id = Some(self.image.id.clone());
        }
        let view = View {
            store: &shared.store,
            delivery: shared.delivery(),
            bytes: false,
        };
        let mut record = entry.record(&view);
        if let Some(upload) = record.upload.as_mut() {
            upload.file.clone_from(&self.bytes);
            upload.file_xxh3 = self.bytes.as_deref().map(xxh3_128);
        }
        record
    }
}

/// Stores a prepared upload (as the draft's image when one is given).
fn commit(
    shared: &Shared,
    mut prepared: Prepared,
    draft: Option<&StoredImage>,
) -> Result<Accepted, Vec<ApiError>> {
    if prepared.generate_id {
        prepared.image.id = shared.ids.image_id();
    }
    // Taken first: a stored upload's digest is computed from the store when needed.
    let bytes = prepared.bytes.take();
    let accepted = prepared.accepted();
    let image = std::sync::Arc::clone(&accepted.image);
    let key = match draft {
        Some(_) => shared
            .store
            .complete_draft(image, bytes)
            .map_err(|refused| vec![super::direct::refusal(&refused)])?,
        None => shared
            .store
            .insert(image, bytes)
            .map_err(|_taken| vec![duplicate_id()])?,
    };
    Ok(Accepted {
        key: Some(key),
        ..accepted
    })
}

/// The refusal of an id that is taken (`5409`), pointing at `/id`.
pub(crate) fn duplicate_id() -> ApiError {
    let mut error = catalogue_error(Rule::DuplicateId, &[]);
    error.pointer = Some("/id".to_owned());
    error
}
