//! The three ways clients send `metadata` give the same `meta`: one JSON part (curl and the
//! docs), `metadata[key]` parts (the TypeScript SDK), `metadata.key` parts (the Python SDK).

use cloudflare_images_mock::MockImages;
use reqwest::multipart::Form;
use serde_json::{json, Value};

use crate::helpers::*;

/// Uploads the PNG with these text parts; returns the answered `meta` and the journal's.
async fn meta_of(parts: &[(&str, &str)]) -> (Value, Value) {
    let mock = MockImages::start().await;
    let form = parts.iter().fold(png_form(), |form, (name, value)| {
        form.text(name.to_string(), value.to_string())
    });
    let (status, body) = send(&mock, form).await;
    assert_eq!(status, 200, "{parts:?}: {body}");
    let journal = mock.uploads()[0]
        .meta
        .clone()
        .map_or(Value::Null, Value::Object);
    (body["result"]["meta"].clone(), journal)
}

#[tokio::test]
async fn the_three_encodings_give_the_same_meta() {
    // Arrange
    let expected = json!({"owner": "42", "nested": {"a": "true"}});

    // Act
    let from_json = meta_of(&[("metadata", r#"{"owner":"42","nested":{"a":"true"}}"#)]).await;
    let from_brackets =
        meta_of(&[("metadata[owner]", "42"), ("metadata[nested][a]", "true")]).await;
    let from_dots = meta_of(&[("metadata.owner", "42"), ("metadata.nested.a", "true")]).await;

    // Assert
    for (answered, journal) in [from_json, from_brackets, from_dots] {
        assert_eq!(answered, expected);
        assert_eq!(journal, expected);
    }
}

#[tokio::test]
async fn arrays_in_the_three_encodings() {
    // Arrange
    let expected = json!({"tags": ["a", "b"]});

    // Act
    let from_json = meta_of(&[("metadata", r#"{"tags":["a","b"]}"#)]).await;
    let from_brackets = meta_of(&[("metadata[tags][]", "a"), ("metadata[tags][]", "b")]).await;
    let from_dots = meta_of(&[("metadata.tags", "a"), ("metadata.tags", "b")]).await;

    // Assert
    for (answered, journal) in [from_json, from_brackets, from_dots] {
        assert_eq!(answered, expected);
        assert_eq!(journal, expected);
    }
}

#[tokio::test]
async fn a_json_part_keeps_its_types() {
    // Act
    let (answered, _) = meta_of(&[(
        "metadata",
        r#"{"n":1,"f":1.5,"b":false,"z":null,"l":[1,{"x":"y"}]}"#,
    )])
    .await;

    // Assert
    assert_eq!(
        answered,
        json!({"n": 1, "f": 1.5, "b": false, "z": null, "l": [1, {"x": "y"}]})
    );
}

#[tokio::test]
async fn deep_keys_in_both_sdk_encodings() {
    // Act
    let (brackets, _) = meta_of(&[
        ("metadata[a][b][c]", "1"),
        ("metadata[a][b][d]", "2"),
        ("metadata[a][e]", "3"),
    ])
    .await;
    let (dots, _) = meta_of(&[
        ("metadata.a.b.c", "1"),
        ("metadata.a.b.d", "2"),
        ("metadata.a.e", "3"),
    ])
    .await;

    // Assert
    let expected = json!({"a": {"b": {"c": "1", "d": "2"}, "e": "3"}});
    assert_eq!(brackets, expected);
    assert_eq!(dots, expected);
}

#[tokio::test]
async fn no_metadata_is_no_meta_and_empty_metadata_is_an_empty_meta() {
    // Act
    let (answered, journal) = meta_of(&[("creator", "me")]).await;
    let (empty, empty_journal) = meta_of(&[("metadata", "{}")]).await;

    // Assert: recorded results have no `meta` key when no metadata was sent, and `meta: {}`
    // when `metadata={}` was (RECORDED.md section 3).
    assert_eq!(answered, Value::Null);
    assert_eq!(journal, Value::Null);
    assert_eq!(empty, json!({}));
    assert_eq!(empty_journal, json!({}));
}

#[tokio::test]
async fn keyed_parts_are_measured_like_a_json_part() {
    // Arrange: {"k":"…"} with 1017 characters is 1025 bytes, whichever encoding sent it.
    let mock = MockImages::start().await;
    let value = "v".repeat(1017);

    for name in ["metadata[k]", "metadata.k"] {
        // Act
        let (status, body) = send(&mock, png_form().text(name, value.clone())).await;

        // Assert
        assert_eq!(status, 400, "{name}: {body}");
        assert_error(
            &body,
            5400,
            "Bad request: metadata: must not exceed 1024 bytes as JSON",
            Some((&mock, "/metadata")),
        );
        assert_last_refused(&mock, 400, "metadata_too_large");
    }
    let (status, body) = send(&mock, png_form().text("metadata.k", "v".repeat(1016))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_broken_bracket_name_is_5400() {
    // Arrange
    let mock = MockImages::start().await;
    let form = Form::new()
        .part("file", file_part(PNG_1X1, "a.png", "image/png"))
        .text("metadata[owner", "42");

    // Act
    let (status, body) = send(&mock, form).await;

    // Assert
    assert_eq!(status, 400, "{body}");
    assert_error(
        &body,
        5400,
        "Bad request: the multipart/form-data body could not be read: the part name \"metadata[owner\" is not a metadata key",
        None,
    );
    assert_last_refused(&mock, 400, "malformed_multipart");
}

#[tokio::test]
async fn other_parts_are_kept_in_the_journal_but_not_in_meta() {
    // Arrange
    let mock = MockImages::start().await;
    let form = png_form().text("metadata.owner", "42").text("unknown", "x");

    // Act
    let (status, body) = send(&mock, form).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["meta"], json!({"owner": "42"}));
    let upload = &mock.uploads()[0];
    assert_eq!(
        upload.fields,
        [
            ("metadata.owner".to_owned(), "42".to_owned()),
            ("unknown".to_owned(), "x".to_owned())
        ]
    );
}
