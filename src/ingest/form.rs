//! An upload form made into the JSON instance that `schemas/upload.schema.json` validates, and the
//! upload that comes out when it passes.
//!
//! This is the only place that knows how clients put values into parts: `requireSignedURLs` as
//! the strings `true`/`false`, and `metadata` in the three shapes real clients send (one JSON
//! part as the docs' curl examples do, `metadata[key]` parts as the official TypeScript SDK does,
//! `metadata.key` parts as the official Python SDK does). What is allowed is the schema's
//! business, not this module's.

use std::cell::RefCell;

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
    // The instance of the last form checked on this thread, filled in place: its keys and
    // string buffers serve again, where building one per upload cost a dozen allocations (and as
    // many frees) of keys, map nodes and strings.
    thread_local! {
        static INSTANCE: RefCell<Value> = const { RefCell::new(Value::Null) };
    }
    let image = form
        .file
        .as_ref()
        .map(|file| image::probe(&file.bytes.bytes));
    INSTANCE.with_borrow_mut(|instance| {
        if !instance.is_object() {
            *instance = Value::Object(Map::new());
        }
        let Value::Object(members) = instance else {
            unreachable!("made an object above")
        };
        let metadata = fill_instance(members, &form, image.as_ref()).map_err(|e| vec![e])?;
        let errors = schema::validate(instance);
        if !errors.is_empty() {
            return Err(errors);
        }
        // From the parts rather than the instance: no lookup in it for a member a form seldom
        // has. Each of these parts was sent at most once, and a `requireSignedURLs` that is not
        // `true` or `false` was refused by type.
        let mut checked = Checked {
            id: None,
            creator: None,
            url: None,
            require_signed_urls: false,
            meta: match metadata {
                Some(Json::Object(meta)) => Some(meta),
                _ => None,
            },
            file: None,
            image,
            fields: Vec::new(),
        };
        for (name, text) in &form.texts {
            match name.as_str() {
                "id" => checked.id = Some(text.clone()),
                "creator" => checked.creator = Some(text.clone()),
                "url" => checked.url = Some(text.clone()),
                "requireSignedURLs" => checked.require_signed_urls = text == "true",
                _ => {}
            }
        }
        checked.file = form.file;
        checked.fields = form.texts;
        Ok(checked)
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
    let metadata = fill_instance(&mut instance, form, image)?;
    Ok((Value::Object(instance), metadata))
}

/// The members an upload instance may have, each set at most once per form.
const MEMBERS: [&str; 6] = [
    "file",
    "id",
    "creator",
    "url",
    "requireSignedURLs",
    "metadata",
];

/// Makes `instance` the JSON instance of a form (see [`instance_and_metadata`]), reusing what
/// it holds: the members the form has are overwritten in place, the others removed.
fn fill_instance(
    instance: &mut Map<String, Value>,
    form: &Form,
    image: Option<&ImageInfo>,
) -> Result<Option<Json>, ApiError> {
    let mut set = [false; MEMBERS.len()];
    let mut mark = |name: &str| match MEMBERS.iter().position(|member| *member == name) {
        Some(at) => !std::mem::replace(&mut set[at], true),
        None => true,
    };
    if let (Some(file), Some(info)) = (&form.file, image) {
        mark("file");
        let size = file.bytes.bytes.len() as u64;
        let slot = slot(instance, "file");
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(fields) = slot {
            fill_file_instance(
                fields,
                file.filename.as_deref(),
                file.content_type.as_deref(),
                size,
                info,
            );
        }
    }
    let mut metadata: Option<Json> = None;
    let mut json_part_seen = false;
    for (name, text) in &form.texts {
        match name.as_str() {
            "id" | "creator" | "url" | "requireSignedURLs" => {
                if !mark(name) {
                    return Err(duplicate(name));
                }
                let slot = slot(instance, name);
                match (name.as_str(), text.as_str()) {
                    ("requireSignedURLs", "true") => *slot = Value::Bool(true),
                    ("requireSignedURLs", "false") => *slot = Value::Bool(false),
                    _ => set_str(slot, Some(text)),
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
        mark("metadata");
        *slot(instance, "metadata") = metadata.to_value();
    }
    instance.retain(|key, _| {
        MEMBERS
            .iter()
            .position(|member| member == key)
            .is_some_and(|at| set[at])
    });
    Ok(metadata)
}

/// The value of `key` in `map`, inserted as `null` if missing.
fn slot<'m>(map: &'m mut Map<String, Value>, key: &str) -> &'m mut Value {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), Value::Null);
    }
    map.get_mut(key).expect("inserted above")
}

/// Sets `slot` to a string (or `null`), in the string already there if it is one.
fn set_str(slot: &mut Value, text: Option<&str>) {
    match (slot, text) {
        (Value::String(old), Some(text)) => text.clone_into(old),
        (slot, text) => *slot = text.map_or(Value::Null, Value::from),
    }
}

fn file_instance(
    filename: Option<&str>,
    content_type: Option<&str>,
    size: u64,
    info: &ImageInfo,
) -> Value {
    let mut file = Map::new();
    fill_file_instance(&mut file, filename, content_type, size, info);
    Value::Object(file)
}

/// Makes `file` the instance of a file part, in place when it holds the same members (one pass
/// over them; a lookup per member cost about as much as the allocations it saves), afresh
/// otherwise.
fn fill_file_instance(
    file: &mut Map<String, Value>,
    filename: Option<&str>,
    content_type: Option<&str>,
    size: u64,
    info: &ImageInfo,
) {
    let dimensions = info.width.zip(info.height);
    let members = if dimensions.is_some() { 7 } else { 4 };
    let mut filled = 0;
    if file.len() == members {
        for (key, value) in file.iter_mut() {
            match (key.as_str(), dimensions) {
                ("filename", _) => set_str(value, filename),
                ("content_type", _) => set_str(value, content_type),
                ("size", _) => *value = size.into(),
                ("format", _) => set_str(value, info.format),
                ("width", Some((width, _))) => *value = width.into(),
                ("height", Some((_, height))) => *value = height.into(),
                ("area", Some((width, height))) => *value = width.saturating_mul(height).into(),
                _ => break,
            }
            filled += 1;
        }
    }
    if filled == members {
        return;
    }
    file.clear();
    let text = |text: Option<&str>| text.map_or(Value::Null, Value::from);
    file.insert("filename".to_owned(), text(filename));
    file.insert("content_type".to_owned(), text(content_type));
    file.insert("size".to_owned(), size.into());
    file.insert("format".to_owned(), text(info.format));
    if let Some((width, height)) = dimensions {
        file.insert("width".to_owned(), width.into());
        file.insert("height".to_owned(), height.into());
        file.insert("area".to_owned(), width.saturating_mul(height).into());
    }
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

    /// An instance filled in place over the instance of another form is the one built afresh.
    #[test]
    fn an_instance_filled_over_another_is_the_fresh_one() {
        let text = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        let file = |filename: Option<&str>| crate::ingest::multipart::FilePart {
            filename: filename.map(str::to_owned),
            content_type: Some("image/png".to_owned()),
            bytes: crate::ingest::file::FileBytes::from(bytes::Bytes::from_static(b"abc")),
        };
        let sized = ImageInfo {
            format: Some("png"),
            width: Some(4),
            height: Some(3),
        };
        let unsized_ = ImageInfo {
            format: None,
            width: None,
            height: None,
        };
        let forms = [
            (
                Form {
                    file: Some(file(Some("a.png"))),
                    texts: vec![text("id", "x"), text("metadata[k]", "v")],
                },
                Some(&sized),
            ),
            (
                Form {
                    file: Some(file(None)),
                    texts: vec![text("requireSignedURLs", "true"), text("creator", "me")],
                },
                Some(&unsized_),
            ),
            (
                Form {
                    file: None,
                    texts: vec![text("url", "https://example.com/a.png")],
                },
                None,
            ),
            (
                Form {
                    file: None,
                    texts: vec![text("id", "y"), text("id", "z")],
                },
                None,
            ),
        ];
        let mut reused = Map::new();
        for _ in 0..2 {
            for (form, image) in &forms {
                let filled = fill_instance(&mut reused, form, *image).map(|_| reused.clone());
                let fresh = instance_and_metadata(form, *image).map(|(instance, _)| instance);
                match (filled, fresh) {
                    (Ok(filled), Ok(fresh)) => assert_eq!(Value::Object(filled), fresh),
                    (Err(filled), Err(fresh)) => assert_eq!(filled.message, fresh.message),
                    (filled, fresh) => panic!("{filled:?} against {fresh:?}"),
                }
            }
        }
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
