//! Accepted uploads: the success envelope echoes the request, as the real API's does.

use cloudflare_images_mock::{conformance, MockImages, Operation};
use reqwest::multipart::Form;
use serde_json::{json, Value};

use crate::helpers::*;

/// `2026-11-23T13:21:07.123Z` for `at`, to compare with `uploaded` (same shape, so the strings
/// order as the times do).
fn stamp(at: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

fn assert_rfc3339_utc_millis(text: &str) {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    assert_eq!(text.len(), shape.len(), "{text}");
    for (got, want) in text.chars().zip(shape.chars()) {
        match want {
            'd' => assert!(got.is_ascii_digit(), "{text}"),
            other => assert_eq!(got, other, "{text}"),
        }
    }
}

fn assert_generated_id(id: &str) {
    assert_eq!(id.len(), 36, "{id}");
    assert!(id.ends_with("00"), "{id}");
    for (i, c) in id.char_indices() {
        if [8, 13, 18, 23].contains(&i) {
            assert_eq!(c, '-', "{id}");
        } else {
            assert!(c.is_ascii_hexdigit() && !c.is_ascii_uppercase(), "{id}");
        }
    }
    uuid::Uuid::parse_str(id).expect("a generated id is a UUID");
}

#[tokio::test]
async fn a_file_upload_is_echoed_in_the_recorded_envelope() {
    // Arrange
    let mock = MockImages::start().await;
    let before = stamp(time::OffsetDateTime::now_utc());

    // Act
    let (status, body) = send(&mock, png_form()).await;

    // Assert
    let after = stamp(time::OffsetDateTime::now_utc());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["messages"], json!([]));
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["result", "success", "errors", "messages"],
        "the recorded envelope: result first, no result_info"
    );
    let result = &body["result"];
    let id = result["id"].as_str().expect("an id");
    assert_generated_id(id);
    assert_eq!(result["filename"], "cat.png");
    let keys: Vec<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "filename",
            "uploaded",
            "requireSignedURLs",
            "variants"
        ],
        "no creator and no meta key when none was sent, as recorded"
    );
    assert_eq!(result["requireSignedURLs"], false);
    let uploaded = result["uploaded"].as_str().expect("uploaded is a string");
    assert_rfc3339_utc_millis(uploaded);
    assert!(
        before.as_str() <= uploaded && uploaded <= after.as_str(),
        "{before} {uploaded} {after}"
    );
    assert_eq!(
        result["variants"],
        json!([format!(
            "https://imagedelivery.net/{}/{id}/public",
            mock.account_hash()
        )])
    );
    assert_eq!(mock.account_hash().len(), 22);

    let uploads = mock.uploads();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(upload.id, id);
    assert_eq!(upload.account_id, mock.account_id());
    assert_eq!(upload.filename.as_deref(), Some("cat.png"));
    assert_eq!(upload.content_type.as_deref(), Some("image/png"));
    assert_eq!(upload.format.as_deref(), Some("png"));
    assert_eq!(upload.dimensions, Some((1, 1)));
    assert_eq!(upload.file.as_deref(), Some(PNG_1X1));
    assert_eq!(upload.url, None);
    assert_eq!(upload.creator, None);
    assert_eq!(upload.meta, None);
    assert!(!upload.require_signed_urls);
    assert_eq!(upload.result, *result);
    assert_eq!(
        upload.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_last_accepted(&mock);
}

#[tokio::test]
async fn every_field_is_echoed() {
    // Arrange
    let mock = MockImages::start().await;
    let form = png_form()
        .text("creator", "user-42")
        .text("metadata", r#"{"owner":"42","n":1,"nested":{"a":true}}"#)
        .text("requireSignedURLs", "true");

    // Act
    let (status, body) = send(&mock, form).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["creator"], "user-42");
    assert_eq!(
        result["meta"],
        json!({"owner": "42", "n": 1, "nested": {"a": true}})
    );
    assert_eq!(result["requireSignedURLs"], true);
    let upload = &mock.uploads()[0];
    assert_eq!(upload.creator.as_deref(), Some("user-42"));
    assert_eq!(
        upload.meta.clone().map(Value::Object).unwrap(),
        result["meta"]
    );
    assert!(upload.require_signed_urls);
    let names: Vec<&str> = upload
        .fields
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["creator", "metadata", "requireSignedURLs"]);
}

/// Width and height, as the journal gives them.
type Dimensions = Option<(u64, u64)>;

#[tokio::test]
async fn every_image_format_is_accepted_and_detected_from_the_bytes() {
    // Arrange
    let mock = MockImages::start().await;
    let cases: [(&str, Vec<u8>, Dimensions); 5] = [
        ("png", png(640, 480), Some((640, 480))),
        ("gif", gif(7, 3), Some((7, 3))),
        ("jpeg", jpeg(300, 200), Some((300, 200))),
        ("svg", svg(10, 20), Some((10, 20))),
        ("avif", avif(100, 50), Some((100, 50))),
    ];

    for (i, (format, bytes, dimensions)) in cases.into_iter().enumerate() {
        // Act: the part's Content-Type says nothing useful, as the SDKs' does not.
        let form = Form::new().part(
            "file",
            file_part(
                bytes.clone(),
                &format!("image.{format}"),
                "application/octet-stream",
            ),
        );
        let (status, body) = send(&mock, form).await;

        // Assert
        assert_eq!(status, 200, "{format}: {body}");
        let upload = &mock.uploads()[i];
        assert_eq!(upload.format.as_deref(), Some(format));
        assert_eq!(upload.dimensions, dimensions, "{format}");
        assert_eq!(upload.file.as_deref(), Some(&bytes[..]));
        assert_eq!(body["result"]["filename"], format!("image.{format}"));
    }
}

#[tokio::test]
async fn variants_follow_the_builder() {
    // Arrange
    let mock = MockImages::builder()
        .variants(["public", "thumbnail", "hero"])
        .account_hash("Vi7wi5KSItxGFsWRG2Us6Q")
        .start()
        .await;

    // Act
    let (status, body) = send(&mock, png_form().text("id", "shop/items/cat.png")).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.account_hash(), "Vi7wi5KSItxGFsWRG2Us6Q");
    let base = "https://imagedelivery.net/Vi7wi5KSItxGFsWRG2Us6Q/shop/items/cat.png";
    assert_eq!(
        body["result"]["variants"],
        json!([
            format!("{base}/public"),
            format!("{base}/thumbnail"),
            format!("{base}/hero")
        ])
    );
}

#[tokio::test]
async fn account_hashes_are_stable_per_account_and_shaped_like_the_real_ones() {
    // Arrange
    let first = MockImages::start().await;
    let second = MockImages::start().await;
    let other = MockImages::builder()
        .account_id("123e105f4ecef8ad9ca31a8372d0c353")
        .start()
        .await;

    // Act
    let hashes = [
        first.account_hash(),
        second.account_hash(),
        other.account_hash(),
    ];

    // Assert
    assert_eq!(hashes[0], hashes[1]);
    assert_ne!(hashes[0], hashes[2]);
    for hash in hashes {
        assert_eq!(hash.len(), 22, "{hash}");
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{hash}"
        );
    }
}

#[tokio::test]
async fn a_custom_id_is_the_image_id() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = send(&mock, png_form().text("id", "products/2024/cat.png")).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], "products/2024/cat.png");
    assert_eq!(
        body["result"]["variants"][0],
        format!(
            "https://imagedelivery.net/{}/products/2024/cat.png/public",
            mock.account_hash()
        )
    );
    assert_eq!(mock.uploads()[0].id, "products/2024/cat.png");
}

#[tokio::test]
async fn generated_ids_differ_between_uploads() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (_, first) = send(&mock, png_form()).await;
    let (_, second) = send(&mock, png_form()).await;

    // Assert
    assert_generated_id(first["result"]["id"].as_str().unwrap());
    assert_generated_id(second["result"]["id"].as_str().unwrap());
    assert_ne!(first["result"]["id"], second["result"]["id"]);
    assert_eq!(mock.uploads().len(), 2);
}

#[tokio::test]
async fn a_custom_id_uploaded_twice_is_refused_with_5409() {
    // Arrange
    let mock = MockImages::start().await;
    let (status, _) = send(&mock, png_form().text("id", "cat.png")).await;
    assert_eq!(status, 200);

    // Act
    let (status, body) = send(
        &mock,
        png_form().text("id", "cat.png").text("creator", "other"),
    )
    .await;

    // Assert
    assert_eq!(status, 409, "{body}");
    assert_error(
        &body,
        5409,
        "Resource already exists. Verify the resource information and try again.",
        Some((&mock, "/id")),
    );
    assert_last_refused(&mock, 409, "duplicate_id");
    let uploads = mock.uploads();
    assert_eq!(uploads.len(), 1, "nothing is overwritten");
    assert_eq!(uploads[0].creator, None);
}

#[tokio::test]
async fn the_same_custom_id_on_two_mocks_is_independent() {
    // Arrange
    let first = MockImages::start().await;
    let second = MockImages::start().await;

    // Act
    let (a, _) = send(&first, png_form().text("id", "cat.png")).await;
    let (b, _) = send(&second, png_form().text("id", "cat.png")).await;

    // Assert
    assert_eq!((a, b), (200, 200));
}

#[tokio::test]
async fn every_answer_passes_the_official_response_schemas() {
    // Arrange
    // This test sends requests to routes the mock does not serve on purpose.
    let mock = MockImages::builder()
        .fail_on_unserved_routes(false)
        .start()
        .await;
    let client = client();
    let requests = [
        client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(png_form()),
        client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(png_form().text("id", "a.png").text("creator", "me")),
        client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(png_form().text("id", "a.png")),
        client.post(mock.upload_url()).multipart(png_form()),
        client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .json(&json!({"url": "x"})),
        client.get(mock.upload_url()).bearer_auth(TOKEN),
        client
            .post(format!("{}/nowhere", mock.uri()))
            .bearer_auth(TOKEN),
        client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(Form::new().text("creator", "x")),
    ];

    for request in requests {
        // Act
        let response = request.send().await.expect("an answer");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("a body");

        // Assert
        if let Err(problems) = conformance::check_response(Operation::Upload, status, &bytes) {
            panic!(
                "{status}: {problems:?}\n{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    assert_eq!(mock.requests().len(), 8);
    assert_eq!(mock.uploads().len(), 2);
}

#[tokio::test]
async fn accessors_describe_the_running_mock() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let address = mock.address();

    // Assert
    assert!(address.ip().is_loopback());
    assert_ne!(address.port(), 0);
    assert_eq!(mock.uri(), format!("http://127.0.0.1:{}", address.port()));
    assert_eq!(mock.base_url(), format!("{}/client/v4", mock.uri()));
    assert_eq!(mock.account_id(), "023e105f4ecef8ad9ca31a8372d0c353");
    assert_eq!(
        mock.upload_url(),
        format!(
            "{}/accounts/{}/images/v1",
            mock.base_url(),
            mock.account_id()
        )
    );
}

#[tokio::test]
async fn ids_are_percent_encoded_in_delivery_urls() {
    // Arrange: FACTS.md: a `%` in an id is written `%25` in delivery URLs.
    let mock = MockImages::start().await;

    // Act
    let (status, body) = send(&mock, png_form().text("id", "summer 2024/100%/a.png")).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], "summer 2024/100%/a.png");
    assert_eq!(
        body["result"]["variants"][0],
        format!(
            "https://imagedelivery.net/{}/summer%202024/100%25/a.png/public",
            mock.account_hash()
        )
    );
}

#[tokio::test]
async fn a_refused_upload_does_not_take_its_custom_id() {
    // Arrange
    let mock = MockImages::start().await;
    let (status, _) = send(
        &mock,
        png_form()
            .text("id", "cat.png")
            .text("creator", "c".repeat(1025)),
    )
    .await;
    assert_eq!(status, 400);

    // Act
    let (status, body) = send(&mock, png_form().text("id", "cat.png")).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.uploads().len(), 1);
}
