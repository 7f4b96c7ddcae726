//! Direct creator uploads: `POST .../images/v2/direct_upload` (a multipart form) and the
//! deprecated `POST .../images/v1/direct_upload` (a JSON body) create a draft and answer
//! `{id, uploadURL}`; `POST /{account_hash}/{image_id}` on the mock, the one-time upload URL,
//! takes the draft's file without credentials, by the upload's own rules.
//!
//! The fields a direct upload shares with an upload are checked by the upload schema's rules
//! (the fields named by `x-upload-fields` of `schemas/direct-upload.schema.json`, except the
//! rules it lists in `x-upload-rules-not-applied`); `expiry` by the direct-upload schema.
//! Drafts expire lazily, by the mock's [`Clock`](crate::Clock), when next looked at; `expiry`'s
//! window and default are relative to the same clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::http::request::Parts;
use percent_encoding::utf8_percent_encode;
use serde_json::{Map, Value};

use super::{read_small_body, upload, Outcome};
use crate::envelope;
use crate::error::ApiError;
use crate::ingest::form;
use crate::ordered::{Json, Object};
use crate::schema::{self, catalogue_error, DIRECT_UPLOAD, UPLOAD};
use crate::state::Shared;
use crate::store::{DraftRefused, StoredImage};
use crate::Rule;

/// A direct upload that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DirectUpload {
    pub(crate) id: Option<String>,
    pub(crate) creator: Option<String>,
    /// In the order sent.
    pub(crate) meta: Option<Object>,
    pub(crate) require_signed_urls: bool,
    pub(crate) expires: SystemTime,
}

/// `POST .../images/v2/direct_upload` (`v1` false: a multipart form) or `.../v1/direct_upload`
/// (a JSON body; a multipart form is read as v2's).
pub(super) async fn create(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
    v1: bool,
) -> Outcome {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let instance = if !reads_form(v1, content_type) {
        match read_small_body(shared, parts, body).await {
            Ok(bytes) => v1_instance(&bytes),
            Err(error) => Err(vec![error]),
        }
    } else {
        match upload::read(shared, parts, body).await {
            Ok(form) => form_instance(&form),
            Err(error) => Err(vec![error]),
        }
    };
    let now = shared.clock.now();
    let checked = match instance.and_then(|(instance, metadata)| check(instance, metadata, now)) {
        Ok(checked) => checked,
        Err(errors) => return Outcome::refused(errors),
    };
    let id = checked.id.unwrap_or_else(|| shared.ids.image_id());
    let draft = StoredImage {
        id: id.clone(),
        filename: None,
        creator: checked.creator,
        meta: checked.meta.as_ref().map(Object::to_map),
        meta_sent: checked.meta,
        require_signed_urls: checked.require_signed_urls,
        uploaded: now,
        draft: true,
        format: None,
        dimensions: None,
        file_size: None,
    };
    if shared
        .store
        .insert_draft(Arc::new(draft), checked.expires)
        .is_err()
    {
        return Outcome::refused(vec![upload::duplicate_id()]);
    }
    let upload_url = format!(
        "{}/{}/{}",
        shared.config.upload_base,
        shared.config.account_hash,
        utf8_percent_encode(&id, crate::envelope::ID_IN_PATH)
    );
    let result = serde_json::json!({ "id": id, "uploadURL": upload_url });
    Outcome {
        image_id: Some(id),
        ..Outcome::ok(envelope::success(&result))
    }
}

/// Whether a direct upload's body is read as a multipart form: always for v2; for v1 when its
/// `Content-Type` is multipart (else it is read as JSON).
pub(crate) fn reads_form(v1: bool, content_type: Option<&str>) -> bool {
    !v1 || content_type.is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
    })
}

/// `POST` of a file to the one-time upload URL of the draft `id`: no credentials; the upload's
/// file rules; a refused attempt leaves the draft waiting; an accepted one makes it the image.
pub(super) async fn upload_to_url(
    shared: &Shared,
    parts: &Parts,
    body: &mut Incoming,
    id: String,
) -> Outcome {
    let refused = |errors: Vec<ApiError>, id: String| Outcome {
        image_id: Some(id),
        ..Outcome::refused(errors)
    };
    let draft = match shared.store.draft(&id) {
        Ok(draft) => draft,
        Err(why) => return refused(vec![refusal(&why)], id),
    };
    let checked = match upload::read_checked(shared, parts, body).await {
        Ok(checked) => checked,
        Err(errors) => return refused(errors, id),
    };
    match upload::store_as(shared, checked, Some(&draft)).await {
        Ok(accepted) => Outcome {
            reply: super::Reply::json(200, envelope::image(&accepted.image, &shared.delivery())),
            errors: Vec::new(),
            image_id: Some(id),
            accepted: Some(accepted),
            scripted: None,
        },
        Err(errors) => refused(errors, id),
    }
}

/// The refusal of a one-time upload URL that cannot take a file (assumed codes: no evidence).
pub(crate) fn refusal(why: &DraftRefused) -> ApiError {
    match why {
        DraftRefused::Gone => catalogue_error(Rule::UploadUrlExpired, &[]),
        DraftRefused::Used => catalogue_error(Rule::UploadUrlUsed, &[]),
    }
}

/// An instance to check, and its metadata as sent.
type Instance = (Map<String, Value>, Option<Json>);

/// The instance of a v1 JSON body (an empty body is `{}`).
pub(crate) fn v1_instance(bytes: &[u8]) -> Result<Instance, Vec<ApiError>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((Map::new(), None));
    }
    let instance: Map<String, Value> = serde_json::from_slice(bytes).map_err(|e| {
        vec![DIRECT_UPLOAD.error(
            "direct_upload_v1_body_not_json",
            &[("serde", &e.to_string())],
        )]
    })?;
    // The metadata again, in the order sent (the map is sorted unless `preserve_order` is on).
    let metadata = match serde_json::from_slice(bytes) {
        Ok(Json::Object(mut body)) => body.get_mut("metadata").map(std::mem::take),
        _ => None,
    };
    Ok((instance, metadata))
}

/// The instance of a v2 form: the upload's reading of the shared fields, and `expiry`.
pub(crate) fn form_instance(
    form: &crate::ingest::multipart::Form,
) -> Result<Instance, Vec<ApiError>> {
    let (instance, metadata) = form::instance_and_metadata(form, None).map_err(|e| vec![e])?;
    let Value::Object(mut instance) = instance else {
        unreachable!("an instance is an object")
    };
    let mut expiry = form.texts.iter().filter(|(name, _)| name == "expiry");
    if let Some((_, value)) = expiry.next() {
        if expiry.next().is_some() {
            return Err(vec![catalogue_error(
                Rule::MalformedMultipart,
                &[("detail", "the part \"expiry\" appears more than once")],
            )]);
        }
        instance.insert("expiry".to_owned(), Value::String(value.clone()));
    }
    Ok((instance, metadata))
}

fn names(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Checks an instance at `now`: the shared fields by the upload schema's rules, the others by
/// the direct-upload schema; every violation, or the direct upload.
pub(crate) fn check(
    mut instance: Map<String, Value>,
    metadata: Option<Json>,
    now: SystemTime,
) -> Result<DirectUpload, Vec<ApiError>> {
    let fields = names(DIRECT_UPLOAD.top("x-upload-fields"));
    let not_applied = names(DIRECT_UPLOAD.top("x-upload-rules-not-applied"));
    let (shared, own): (Map<String, Value>, Map<String, Value>) = std::mem::take(&mut instance)
        .into_iter()
        .partition(|(key, _)| fields.contains(&key.as_str()));
    let (shared, own) = (Value::Object(shared), Value::Object(own));
    let mut errors: Vec<ApiError> = UPLOAD
        .validate(&shared)
        .into_iter()
        .filter(|error| !not_applied.contains(&error.rule.as_str()))
        .collect();
    errors.extend(DIRECT_UPLOAD.validate_at(&own, now));
    if !errors.is_empty() {
        return Err(errors);
    }
    let expires = match own.get("expiry") {
        Some(expiry) => schema::parse_rfc3339(expiry).expect("checked by expiry_not_date_time"),
        None => now + Duration::from_secs(default_seconds()),
    };
    let Value::Object(mut shared) = shared else {
        unreachable!("built as an object")
    };
    let mut text = |key: &str| match shared.remove(key) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    let (id, creator) = (text("id"), text("creator"));
    Ok(DirectUpload {
        id,
        creator,
        require_signed_urls: shared.get("requireSignedURLs") == Some(&Value::Bool(true)),
        // The instance's metadata was checked; the one sent, in its order, is kept.
        meta: match (shared.remove("metadata"), metadata) {
            (Some(Value::Object(_)), Some(Json::Object(meta))) => Some(meta),
            _ => None,
        },
        expires,
    })
}

/// How long a draft lives when no `expiry` is sent, from the schema.
fn default_seconds() -> u64 {
    DIRECT_UPLOAD
        .property("expiry")
        .and_then(|expiry| expiry.get("x-default-seconds-from-now"))
        .and_then(Value::as_u64)
        .expect("schemas/direct-upload.schema.json states expiry's x-default-seconds-from-now")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::format_description::well_known::Rfc3339;

    fn at(seconds: i64) -> Value {
        let when = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
        Value::String(when.format(&Rfc3339).unwrap())
    }

    fn rules(instance: Value) -> Vec<String> {
        let Value::Object(instance) = instance else {
            panic!()
        };
        match check(instance, None, SystemTime::now()) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| e.rule.name().to_owned())
                .collect(),
        }
    }

    #[test]
    fn expiry_is_a_date_time_within_the_window() {
        assert!(rules(json!({})).is_empty());
        assert!(rules(json!({"expiry": at(180)})).is_empty());
        assert!(rules(json!({"expiry": at(6 * 3600 - 60)})).is_empty());
        assert_eq!(rules(json!({"expiry": at(60)})), ["expiry_out_of_range"]);
        assert_eq!(
            rules(json!({"expiry": at(7 * 3600)})),
            ["expiry_out_of_range"]
        );
        assert_eq!(rules(json!({"expiry": at(-600)})), ["expiry_out_of_range"]);
        assert_eq!(
            rules(json!({"expiry": "tomorrow"})),
            ["expiry_not_date_time"]
        );
        assert_eq!(rules(json!({"expiry": 5})), ["expiry_not_date_time"]);
    }

    #[test]
    fn the_window_and_default_come_from_the_schema() {
        let error = DIRECT_UPLOAD.error("expiry_out_of_range", &[]);
        assert_eq!(
            error.message,
            "Bad request: expiry: must be at least 120 and at most 21600 seconds from now"
        );
        assert_eq!(default_seconds(), 1800);
        let now = SystemTime::now();
        let Ok(checked) = check(Map::new(), None, now) else {
            panic!()
        };
        assert_eq!(checked.expires, now + Duration::from_secs(1800));
    }

    #[test]
    fn shared_fields_follow_the_upload_rules_but_need_no_file() {
        assert_eq!(
            rules(json!({"id": "00000000-0000-4000-8000-000000000000"})),
            ["id_uuid"]
        );
        assert_eq!(
            rules(json!({"id": "a", "requireSignedURLs": true})),
            ["id_with_signed_urls"]
        );
        assert_eq!(rules(json!({"metadata": "x"})), ["metadata_not_object"]);
        assert_eq!(
            rules(json!({"creator": "c".repeat(1025), "expiry": "no"})),
            ["creator_too_long", "expiry_not_date_time"]
        );
        let Ok(checked) = check(
            json!({"id": "a/b", "creator": "me", "metadata": {"k": "v"}, "url": "ignored"})
                .as_object()
                .unwrap()
                .clone(),
            serde_json::from_str(r#"{"k": "v"}"#).ok(),
            SystemTime::now(),
        ) else {
            panic!()
        };
        assert_eq!(checked.id.as_deref(), Some("a/b"));
        assert_eq!(checked.creator.as_deref(), Some("me"));
        assert_eq!(
            checked.meta.map(|meta| meta.to_map()),
            Some(json!({"k": "v"}).as_object().unwrap().clone())
        );
    }

    #[test]
    fn v1_bodies() {
        assert!(v1_instance(b"").unwrap().0.is_empty());
        let (_, metadata) = v1_instance(br#"{"metadata": {"z": 1, "a": 2}}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&metadata.unwrap()).unwrap(),
            r#"{"z":1,"a":2}"#,
            "the metadata in the order sent"
        );
        assert_eq!(
            v1_instance(b"[1]").unwrap_err()[0].rule,
            "direct_upload_v1_body_not_json"
        );
    }
}
