//! An upload form made into the JSON instance that `schemas/upload.schema.json` validates, and the
//! upload that comes out when it passes.
//!
//! This is the only place that knows how clients put values into parts: `requireSignedURLs` as
//! the strings `true`/`false`, and `metadata` in the three shapes real clients send (one JSON
//! part as the docs' curl examples do, `metadata[key]` parts as the official TypeScript SDK does,
//! `metadata.key` parts as the official Python SDK does). What is allowed is the schema's
//! business, not this module's.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::ingest::image::{self, ImageInfo};
use crate::ingest::multipart::{FilePart, Form};
use crate::ordered::{Json, Object};
use crate::schema;
use crate::Rule;

/// The deepest nesting of `metadata[a][b]...` / `metadata.a.b...` part names the mock rebuilds;
/// deeper names are refused before they can build a value deep enough to exhaust the stack.
const MAX_METADATA_DEPTH: usize = 32;

/// An upload that passed every rule of the schema.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub(crate) id: Option<String>,
    pub(crate) creator: Option<String>,
    /// `None` when no `metadata` part was sent; in the order sent.
    pub(crate) meta: Option<Object>,
    pub(crate) require_signed_urls: bool,
    pub(crate) url: Option<String>,
    pub(crate) file: Option<FilePart>,
    pub(crate) image: Option<ImageInfo>,
    /// Every text part, as sent.
    pub(crate) fields: Vec<(String, String)>,
}

/// Validates a form: every violation, or the checked upload.
pub(crate) fn check(form: Form) -> Result<Checked, Vec<ApiError>> {
    let image = form
        .file
        .as_ref()
        .map(|file| image::probe(&file.bytes.bytes));
    let (instance, metadata) = instance_and_metadata(&form, image.as_ref()).map_err(|e| vec![e])?;
    let errors = schema::validate(&instance);
    if !errors.is_empty() {
        return Err(errors);
    }
    // The instance is spent: its values are moved out rather than copied.
    let Value::Object(mut instance) = instance else {
        unreachable!("an instance is an object")
    };
    let mut text = |key: &str| match instance.remove(key) {
        Some(Value::String(text)) => Some(text),
        _ => None,
    };
    let (id, creator, url) = (text("id"), text("creator"), text("url"));
    Ok(Checked {
        id,
        creator,
        url,
        require_signed_urls: instance.get("requireSignedURLs") == Some(&Value::Bool(true)),
        meta: match metadata {
            Some(Json::Object(meta)) => Some(meta),
            _ => None,
        },
        file: form.file,
        image,
        fields: form.texts,
    })
}

/// Validates bytes fetched for a `url` upload by the same image rules as a `file` part; the
/// errors point at `/url`.
pub(crate) fn check_fetched(
    bytes: &[u8],
    filename: Option<&str>,
) -> Result<ImageInfo, Vec<ApiError>> {
    let info = image::probe(bytes);
    let file = file_instance(filename, None, bytes.len() as u64, &info);
    let mut errors = schema::validate(&Value::Object(Map::from_iter([("file".to_owned(), file)])));
    if errors.is_empty() {
        return Ok(info);
    }
    for error in &mut errors {
        error.pointer = Some("/url".to_owned());
    }
    Err(errors)
}

/// The JSON instance of a form, and its metadata in the order sent (the instance's map is
/// sorted unless serde_json's `preserve_order` is on; an answer echoes the order sent).
pub(crate) fn instance_and_metadata(
    form: &Form,
    image: Option<&ImageInfo>,
) -> Result<(Value, Option<Json>), ApiError> {
    let mut instance = Map::new();
    if let (Some(file), Some(info)) = (&form.file, image) {
        let size = file.bytes.bytes.len() as u64;
        let value = file_instance(
            file.filename.as_deref(),
            file.content_type.as_deref(),
            size,
            info,
        );
        instance.insert("file".to_owned(), value);
    }
    let mut metadata: Option<Json> = None;
    let mut json_part_seen = false;
    for (name, text) in &form.texts {
        match name.as_str() {
            "id" | "creator" | "url" | "requireSignedURLs" => {
                let value = match (name.as_str(), text.as_str()) {
                    ("requireSignedURLs", "true") => Value::Bool(true),
                    ("requireSignedURLs", "false") => Value::Bool(false),
                    _ => Value::String(text.clone()),
                };
                if instance.insert(name.clone(), value).is_some() {
                    return Err(duplicate(name));
                }
            }
            "metadata" => {
                if json_part_seen {
                    return Err(duplicate(name));
                }
                json_part_seen = true;
                // A value that is not JSON stays a string, which the schema refuses by type.
                let parsed = serde_json::from_str::<Json>(text)
                    .unwrap_or_else(|_| Json::String(text.clone()));
                metadata = Some(match (metadata.take(), parsed) {
                    (Some(Json::Object(mut keyed)), Json::Object(json)) => {
                        for (key, value) in json {
                            keyed.insert(key, value);
                        }
                        Json::Object(keyed)
                    }
                    (_, parsed) => parsed,
                });
            }
            _ => {
                if let Some(path) = metadata_path(name)? {
                    let root = metadata.get_or_insert_with(|| Json::Object(Object::default()));
                    if let Json::Object(map) = root {
                        insert_path(map, &path, text);
                    }
                }
            }
        }
    }
    if let Some(metadata) = &metadata {
        instance.insert("metadata".to_owned(), metadata.to_value());
    }
    Ok((Value::Object(instance), metadata))
}

fn file_instance(
    filename: Option<&str>,
    content_type: Option<&str>,
    size: u64,
    info: &ImageInfo,
) -> Value {
    let mut file = Map::new();
    file.insert(
        "filename".to_owned(),
        filename.map_or(Value::Null, Value::from),
    );
    file.insert(
        "content_type".to_owned(),
        content_type.map_or(Value::Null, Value::from),
    );
    file.insert("size".to_owned(), size.into());
    file.insert(
        "format".to_owned(),
        info.format.map_or(Value::Null, Value::from),
    );
    if let (Some(width), Some(height)) = (info.width, info.height) {
        file.insert("width".to_owned(), width.into());
        file.insert("height".to_owned(), height.into());
        file.insert("area".to_owned(), width.saturating_mul(height).into());
    }
    Value::Object(file)
}

fn duplicate(name: &str) -> ApiError {
    schema::catalogue_error(
        Rule::MalformedMultipart,
        &[(
            "detail",
            &format!("the part {name:?} appears more than once"),
        )],
    )
}

/// One step of a keyed metadata part name.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    /// `[]`: append to an array (how the TypeScript SDK sends array values).
    Push,
}

/// The path of a `metadata[a][b]` or `metadata.a.b` part name; `None` for other names.
fn metadata_path(name: &str) -> Result<Option<Vec<Step>>, ApiError> {
    let bad = || {
        schema::catalogue_error(
            Rule::MalformedMultipart,
            &[(
                "detail",
                &format!("the part name {name:?} is not a metadata key"),
            )],
        )
    };
    let path = if let Some(rest) = name.strip_prefix("metadata[") {
        let mut steps = Vec::new();
        let mut rest = rest;
        loop {
            let close = rest.find(']').ok_or_else(bad)?;
            let key = &rest[..close];
            steps.push(if key.is_empty() {
                Step::Push
            } else {
                Step::Key(key.to_owned())
            });
            rest = &rest[close + 1..];
            if rest.is_empty() {
                break;
            }
            rest = rest.strip_prefix('[').ok_or_else(bad)?;
        }
        steps
    } else if let Some(rest) = name.strip_prefix("metadata.") {
        rest.split('.')
            .map(|key| Step::Key(key.to_owned()))
            .collect()
    } else {
        return Ok(None);
    };
    if path.len() > MAX_METADATA_DEPTH {
        return Err(schema::catalogue_error(
            Rule::MalformedMultipart,
            &[(
                "detail",
                &format!("metadata keys nest at most {MAX_METADATA_DEPTH} levels deep"),
            )],
        ));
    }
    if matches!(path.first(), Some(Step::Push)) {
        return Err(bad());
    }
    Ok(Some(path))
}

/// Inserts `text` at `path`. A key sent twice becomes an array of its values (how the Python SDK
/// repeats array items); a later part replaces an earlier one of another shape.
fn insert_path(map: &mut Object, path: &[Step], text: &str) {
    let Some((Step::Key(key), rest)) = path.split_first() else {
        return;
    };
    match rest.first() {
        None => match map.get_mut(key) {
            Some(Json::Array(items)) => items.push(Json::from(text)),
            Some(existing @ Json::String(_)) => {
                let first = std::mem::replace(existing, Json::Null);
                *existing = Json::Array(vec![first, Json::from(text)]);
            }
            _ => map.insert(key.clone(), Json::from(text)),
        },
        Some(Step::Push) => {
            let entry = map.entry(key, || Json::Array(Vec::new()));
            if !matches!(entry, Json::Array(_)) {
                *entry = Json::Array(Vec::new());
            }
            if let Json::Array(items) = entry {
                items.push(Json::from(text));
            }
        }
        Some(Step::Key(_)) => {
            let entry = map.entry(key, || Json::Object(Object::default()));
            if !matches!(entry, Json::Object(_)) {
                *entry = Json::Object(Object::default());
            }
            if let Json::Object(inner) = entry {
                insert_path(inner, rest, text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance(form: &Form, image: Option<&ImageInfo>) -> Result<Value, ApiError> {
        instance_and_metadata(form, image).map(|(instance, _)| instance)
    }

    /// The metadata of a form with these text parts, as an answer writes it.
    fn metadata_as_sent(parts: &[(&str, &str)]) -> String {
        let form = Form {
            file: None,
            texts: parts
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        };
        let (_, metadata) = instance_and_metadata(&form, None).unwrap();
        serde_json::to_string(&metadata.unwrap()).unwrap()
    }

    #[test]
    fn metadata_keeps_the_order_it_was_sent_in_whatever_serde_json_features() {
        assert_eq!(
            metadata_as_sent(&[("metadata", r#"{"z":1,"a":{"y":2,"b":3}}"#)]),
            r#"{"z":1,"a":{"y":2,"b":3}}"#
        );
        assert_eq!(
            metadata_as_sent(&[
                ("metadata[z]", "1"),
                ("metadata[a][y]", "2"),
                ("metadata[a][b]", "3"),
                ("metadata[m][]", "4"),
                ("metadata[z]", "5"),
            ]),
            r#"{"z":["1","5"],"a":{"y":"2","b":"3"},"m":["4"]}"#
        );
        assert_eq!(
            metadata_as_sent(&[("metadata.z", "1"), ("metadata.a", "2")]),
            r#"{"z":"1","a":"2"}"#
        );
        // A JSON part after keyed parts: its keys go after theirs, a key of both in its place.
        assert_eq!(
            metadata_as_sent(&[("metadata[z]", "1"), ("metadata", r#"{"b":2,"z":3}"#)]),
            r#"{"z":3,"b":2}"#
        );
    }

    fn meta(parts: &[(&str, &str)]) -> Value {
        let form = Form {
            file: None,
            texts: parts
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
        };
        instance(&form, None).unwrap()["metadata"].clone()
    }

    #[test]
    fn three_metadata_encodings_give_the_same_object() {
        let json = meta(&[("metadata", r#"{"owner":"42","nested":{"a":"true"}}"#)]);
        let brackets = meta(&[("metadata[owner]", "42"), ("metadata[nested][a]", "true")]);
        let dots = meta(&[("metadata.owner", "42"), ("metadata.nested.a", "true")]);
        assert_eq!(json, json!({"owner": "42", "nested": {"a": "true"}}));
        assert_eq!(brackets, json);
        assert_eq!(dots, json);
    }

    #[test]
    fn arrays_from_both_sdks() {
        assert_eq!(
            meta(&[("metadata[t][]", "a"), ("metadata[t][]", "b")]),
            json!({"t": ["a", "b"]})
        );
        assert_eq!(
            meta(&[("metadata.t", "a"), ("metadata.t", "b")]),
            json!({"t": ["a", "b"]})
        );
    }

    #[test]
    fn a_json_part_that_is_no_object_is_left_for_the_schema_to_refuse() {
        assert_eq!(meta(&[("metadata", "not json")]), json!("not json"));
        assert_eq!(meta(&[("metadata", "[1]")]), json!([1]));
    }

    #[test]
    fn repeated_single_fields_are_refused() {
        let form = Form {
            file: None,
            texts: vec![("id".into(), "a".into()), ("id".into(), "b".into())],
        };
        assert_eq!(instance(&form, None).unwrap_err().code, 5400);
        let form = Form {
            file: None,
            texts: vec![
                ("metadata".into(), "{}".into()),
                ("metadata".into(), "{}".into()),
            ],
        };
        assert_eq!(instance(&form, None).unwrap_err().code, 5400);
    }

    #[test]
    fn deep_and_broken_metadata_names_are_refused() {
        let deep = format!("metadata{}", "[a]".repeat(MAX_METADATA_DEPTH + 1));
        assert!(metadata_path(&deep).is_err());
        assert!(metadata_path("metadata[a").is_err());
        assert!(metadata_path("metadata[a]x").is_err());
        assert!(metadata_path("metadata[]").is_err());
        assert_eq!(metadata_path("metadataX").unwrap(), None);
    }

    #[test]
    fn booleans_are_read_from_their_strings() {
        let form = Form {
            file: None,
            texts: vec![("requireSignedURLs".into(), "true".into())],
        };
        assert_eq!(
            instance(&form, None).unwrap()["requireSignedURLs"],
            json!(true)
        );
    }
}
