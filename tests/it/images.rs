//! The stateful Images API beyond the upload: image details, update, delete, blob, the v1 and v2
//! lists, the usage statistics, the journal's operations, `insert_image`, and scripts on a GET.
//! Every test runs a real client against a real mock; every answer is checked against the
//! official response schema of its operation (`call`).

use std::time::{Duration, UNIX_EPOCH};

use cloudflare_images_mock::{conformance, MockImages, NewImage, Operation, Script, StoredImage};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::helpers::*;

const OTHER_ACCOUNT: &str = "123e105f4ecef8ad9ca31a8372d0c353";
const NOT_FOUND_BODY: &str = "ERROR 5404: Image not found\n";

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

fn image_url(mock: &MockImages, id: &str) -> String {
    format!("{}/{id}", mock.upload_url())
}

fn blob_url(mock: &MockImages, id: &str) -> String {
    format!("{}/{id}/blob", mock.upload_url())
}

fn list_v1_url(mock: &MockImages, query: &str) -> String {
    format!("{}?{query}", mock.upload_url())
}

fn list_v2_url(mock: &MockImages, query: &str) -> String {
    format!(
        "{}/accounts/{}/images/v2?{query}",
        mock.base_url(),
        mock.account_id()
    )
}

fn stats_url(mock: &MockImages) -> String {
    format!("{}/stats", mock.upload_url())
}

/// What came back, whatever its content type.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        // `application/json; charset=UTF-8` from the Images service (as recorded); a scripted
        // gateway answer keeps its own.
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "status {}: {content_type}",
            self.status
        );
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends a request; every answer is checked against the official response schema of its
/// operation (`conformance::check_response`).
async fn call(request: RequestBuilder) -> Answer {
    let request = request.build().expect("a valid request");
    let operation = Operation::of(request.method().as_str(), request.url().path());
    let response = client().execute(request).await.expect("the mock answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("a whole body");
    if let Some(operation) = operation {
        if let Err(problems) = conformance::check_response(operation, status, &body) {
            panic!(
                "the answer ({status}) to {operation} does not match the official description: \
                 {problems:?}\nbody: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    Answer {
        status,
        headers,
        body,
    }
}

/// A JSON answer.
async fn json_call(request: RequestBuilder) -> (u16, Value) {
    let answer = call(request).await;
    (answer.status, answer.json())
}

fn get(url: &str) -> RequestBuilder {
    client().get(url).bearer_auth(TOKEN)
}

fn patch(url: &str, body: Value) -> RequestBuilder {
    client().patch(url).bearer_auth(TOKEN).json(&body)
}

fn delete(url: &str) -> RequestBuilder {
    client().delete(url).bearer_auth(TOKEN)
}

/// The recorded answer to a missing image: 404, plain text, `cf-images: err=5404`.
fn assert_not_found(answer: &Answer) {
    let text = String::from_utf8_lossy(&answer.body);
    assert_eq!(answer.status, 404, "{text}");
    assert_eq!(text, NOT_FOUND_BODY);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain;charset=utf-8")
    );
    assert_eq!(answer.header("cf-images"), Some("err=5404"));
    assert_eq!(answer.header("content-length"), Some("28"));
}

/// A refusal envelope whose first error has this code and message (the pointer not looked at).
fn assert_refusal(body: &Value, code: u64, message: &str) {
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["result"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
    assert_eq!(body["errors"][0]["message"], message, "{body}");
}

/// Uploads over HTTP and returns the `result`.
async fn upload(mock: &MockImages, form: reqwest::multipart::Form) -> Value {
    let (status, body) = send(mock, form).await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// A form with a PNG of `width` x 1 (distinct bytes per width) and these text fields.
fn form_with(width: u32, texts: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new()
        .part("file", file_part(png(width, 1), "cat.png", "image/png"));
    for (name, value) in texts {
        form = form.text(name.to_string(), value.to_string());
    }
    form
}

fn ids(body: &Value) -> Vec<String> {
    body["result"]["images"]
        .as_array()
        .unwrap_or_else(|| panic!("no result.images: {body}"))
        .iter()
        .map(|image| image["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn millis(image: &StoredImage) -> u128 {
    image
        .uploaded
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
}

/// The ids of the stored images in the v2 list's order: by upload time (ms), then id.
fn by_time_then_id(mock: &MockImages, ascending: bool) -> Vec<String> {
    let mut images: Vec<(u128, String)> = mock
        .images()
        .iter()
        .map(|image| (millis(image), image.id.clone()))
        .collect();
    images.sort();
    if !ascending {
        images.reverse();
    }
    images.into_iter().map(|(_, id)| id).collect()
}

/// The `x-cloudflare-error` of `rule` in one of the mock's schema files.
fn schema_rule(schema: &str, rule: &str) -> Value {
    fn find(node: &Value, rule: &str) -> Option<Value> {
        match node {
            Value::Object(map) => {
                if let Some(error) = map.get("x-cloudflare-error") {
                    if error["rule"] == rule {
                        return Some(error.clone());
                    }
                }
                map.values().find_map(|v| find(v, rule))
            }
            Value::Array(items) => items.iter().find_map(|v| find(v, rule)),
            _ => None,
        }
    }
    let schema: Value = serde_json::from_str(schema).expect("a schema is JSON");
    find(&schema, rule).unwrap_or_else(|| panic!("no rule {rule}"))
}

const UPLOAD_SCHEMA: &str = include_str!("../../schemas/upload.schema.json");

// ---------------------------------------------------------------------------------------------
// GET
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn get_answers_what_the_upload_answered() {
    // Arrange
    let mock = MockImages::start().await;
    let uploaded = upload(
        &mock,
        form_with(3, &[("creator", "me"), ("metadata", r#"{"a":1}"#)]),
    )
    .await;
    let id = uploaded["id"].as_str().unwrap();

    // Act
    let (status, body) = post(get(&image_url(&mock, id))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"], uploaded);
    assert_eq!(body["success"], true);
}

#[tokio::test]
async fn a_custom_id_with_a_slash_is_found_percent_encoded_and_raw() {
    // Arrange
    let mock = MockImages::start().await;
    let uploaded = upload(&mock, form_with(3, &[("id", "a/b.png")])).await;

    // Act
    let (encoded, encoded_body) = post(get(&image_url(&mock, "a%2Fb.png"))).await;
    let (raw, raw_body) = post(get(&image_url(&mock, "a/b.png"))).await;

    // Assert
    assert_eq!((encoded, raw), (200, 200), "{encoded_body} {raw_body}");
    assert_eq!(encoded_body["result"], uploaded);
    assert_eq!(raw_body["result"], uploaded);
    assert_eq!(uploaded["id"], "a/b.png");
}

#[tokio::test]
async fn a_custom_id_ending_in_blob_is_found_when_percent_encoded() {
    // Arrange
    let mock = MockImages::start().await;
    mock.insert_image(NewImage::new(png(2, 2)).id("cat/blob"));

    // Act
    let (status, body) = post(get(&image_url(&mock, "cat%2Fblob"))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], "cat/blob");
}

#[tokio::test]
async fn an_unknown_image_is_the_recorded_404_text() {
    // Arrange
    let mock = MockImages::start().await;

    for id in [
        "2cdc28f0-017a-49c4-9ed7-87056c83901f",
        "nope.png",
        "a%2Fb.png",
    ] {
        // Act
        let answer = call(get(&image_url(&mock, id))).await;

        // Assert
        assert_not_found(&answer);
        let record = last_request(&mock);
        assert_eq!(record.status, 404);
        assert_eq!(record.errors[0].code, 5404);
        assert_eq!(record.operation, Some(Operation::Get));
    }
}

/// Every endpoint of an image or the account, with `id` an existing image.
fn every_endpoint(base: &str, id: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("{base}/images/v1/{id}")),
        (Method::PATCH, format!("{base}/images/v1/{id}")),
        (Method::DELETE, format!("{base}/images/v1/{id}")),
        (Method::GET, format!("{base}/images/v1/{id}/blob")),
        (Method::GET, format!("{base}/images/v1")),
        (Method::GET, format!("{base}/images/v2")),
        (Method::GET, format!("{base}/images/v1/stats")),
    ]
}

#[tokio::test]
async fn no_credentials_is_9106_on_every_endpoint() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));
    let base = format!("{}/accounts/{}", mock.base_url(), mock.account_id());

    for (method, url) in every_endpoint(&base, &image.id) {
        // Act
        let (status, body) = post(
            client()
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;

        // Assert
        assert_eq!(status, 400, "{method} {url}: {body}");
        assert_gateway_error(
            &body,
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        );
        assert_last_refused(&mock, 400, "missing_auth");
    }
    assert!(mock.image(&image.id).is_some(), "the DELETE did nothing");
}

#[tokio::test]
async fn a_pinned_account_refuses_the_others_with_7003_on_every_endpoint() {
    // Arrange
    let mock = MockImages::builder()
        .account_id(OTHER_ACCOUNT)
        .start()
        .await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));
    let other = "023e105f4ecef8ad9ca31a8372d0c353";
    let base = format!("{}/accounts/{other}", mock.base_url());

    for (method, url) in every_endpoint(&base, &image.id) {
        // Act
        let (status, body) = post(
            client()
                .request(method.clone(), &url)
                .bearer_auth(TOKEN)
                .json(&json!({})),
        )
        .await;

        // Assert
        assert_eq!(status, 400, "{method} {url}: {body}");
        assert_eq!(body["errors"][0]["code"], 7003, "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(other),
            "{body}"
        );
        assert_eq!(body["errors"][1]["code"], 7000, "{body}");
        assert_last_refused(&mock, 400, "account_not_routable");
    }
    assert!(mock.image(&image.id).is_some(), "the DELETE did nothing");
}

// ---------------------------------------------------------------------------------------------
// PATCH
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_metadata_replaces_it_and_a_later_get_shows_it() {
    // Arrange
    let mock = MockImages::start().await;
    let uploaded = upload(&mock, form_with(3, &[("metadata", r#"{"a":1,"b":2}"#)])).await;
    let url = image_url(&mock, uploaded["id"].as_str().unwrap());

    // Act
    let (status, body) = post(patch(&url, json!({"metadata": {"c": 3}}))).await;
    let (_, later) = post(get(&url)).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["meta"], json!({"c": 3}));
    assert_eq!(later["result"]["meta"], json!({"c": 3}));
    assert_eq!(later["result"], body["result"]);
    // Only the metadata changed.
    let mut expected = uploaded.clone();
    expected["meta"] = json!({"c": 3});
    assert_eq!(body["result"], expected);
    assert_last_accepted(&mock);
}

#[tokio::test]
async fn update_sets_the_creator() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)).metadata(json!({"keep": true})));
    let url = image_url(&mock, &image.id);

    // Act
    let (status, body) = post(patch(&url, json!({"creator": "user-7"}))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["creator"], "user-7");
    assert_eq!(body["result"]["meta"], json!({"keep": true}), "untouched");
    assert_eq!(
        mock.image(&image.id).unwrap().creator.as_deref(),
        Some("user-7")
    );
}

#[tokio::test]
async fn update_with_empty_metadata_sets_an_empty_meta_and_without_leaves_none() {
    // Arrange: an image uploaded without metadata has no `meta` key (RECORDED.md section 3).
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));
    let url = image_url(&mock, &image.id);

    // Act
    let (_, before) = post(get(&url)).await;
    let (_, creator_only) = post(patch(&url, json!({"creator": "me"}))).await;
    let (status, emptied) = post(patch(&url, json!({"metadata": {}}))).await;

    // Assert
    assert_eq!(before["result"].get("meta"), None, "{before}");
    assert_eq!(creator_only["result"].get("meta"), None, "{creator_only}");
    assert_eq!(status, 200, "{emptied}");
    assert_eq!(
        emptied["result"]["meta"],
        json!({}),
        "metadata sent: meta present"
    );
    assert_eq!(
        mock.image(&image.id).unwrap().meta,
        Some(serde_json::Map::new())
    );
}

#[tokio::test]
async fn update_makes_a_generated_id_image_private() {
    // Arrange
    let mock = MockImages::start().await;
    let uploaded = upload(&mock, form_with(3, &[])).await;
    let id = uploaded["id"].as_str().unwrap();
    assert_eq!(uploaded["requireSignedURLs"], false);

    // Act
    let (status, body) = post(patch(
        &image_url(&mock, id),
        json!({"requireSignedURLs": true}),
    ))
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["requireSignedURLs"], true);
    assert_eq!(body["result"]["id"], id, "the mock keeps the id");
    assert!(mock.image(id).unwrap().require_signed_urls);
}

#[tokio::test]
async fn update_refuses_to_make_a_custom_id_image_private_and_changes_nothing() {
    // Arrange
    let mock = MockImages::start().await;
    let uploaded = upload(
        &mock,
        form_with(3, &[("id", "logos/cat.png"), ("metadata", r#"{"a":1}"#)]),
    )
    .await;
    let url = image_url(&mock, "logos%2Fcat.png");
    let rule = schema_rule(UPLOAD_SCHEMA, "id_with_signed_urls");

    // Act
    let (status, body) = post(patch(
        &url,
        json!({"requireSignedURLs": true, "metadata": {"b": 2}, "creator": "x"}),
    ))
    .await;
    let (_, later) = post(get(&url)).await;

    // Assert
    assert_eq!(
        u64::from(status),
        rule["status"].as_u64().unwrap(),
        "{body}"
    );
    assert_eq!(rule["code"], 5410);
    assert_refusal(&body, 5410, rule["message"].as_str().unwrap());
    assert_eq!(later["result"], uploaded, "the image is unchanged");
    let refused = &mock.requests()[1];
    assert_eq!(refused.errors[0].rule, "id_with_signed_urls");
    assert_eq!(refused.status, status);
}

#[tokio::test]
async fn update_with_an_empty_body_is_the_recorded_5400() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));

    // Act
    let (status, body) = post(
        client()
            .patch(image_url(&mock, &image.id))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(""),
    )
    .await;

    // Assert
    assert_eq!(status, 400, "{body}");
    assert_refusal(
        &body,
        5400,
        "Bad request: EOF while parsing a value at line 1 column 0",
    );
    assert_last_refused(&mock, 400, "update_body_not_json");
}

#[tokio::test]
async fn update_refuses_metadata_over_1024_bytes_and_accepts_1024() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)).metadata(json!({"a": 1})));
    let url = image_url(&mock, &image.id);
    // {"k":"..."} is 8 bytes around the value.
    let at_limit = json!({"k": "x".repeat(1024 - 8)});
    let over = json!({"k": "x".repeat(1024 - 7)});
    assert_eq!(at_limit.to_string().len(), 1024);

    // Act
    let (too_big, too_big_body) = post(patch(&url, json!({ "metadata": over }))).await;
    let unchanged = mock.image(&image.id).unwrap().meta;
    let (fits, fits_body) = post(patch(&url, json!({ "metadata": at_limit }))).await;

    // Assert
    assert_eq!(too_big, 400, "{too_big_body}");
    assert_refusal(
        &too_big_body,
        5400,
        "Bad request: metadata: must not exceed 1024 bytes as JSON",
    );
    assert_eq!(unchanged.map(Value::Object), Some(json!({"a": 1})));
    assert_eq!(fits, 200, "{fits_body}");
    assert_eq!(fits_body["result"]["meta"], at_limit);
}

#[tokio::test]
async fn update_refuses_a_creator_of_1025_characters() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));

    // Act
    let (status, body) = post(patch(
        &image_url(&mock, &image.id),
        json!({"creator": "c".repeat(1025)}),
    ))
    .await;

    // Assert
    assert_eq!(status, 400, "{body}");
    assert_refusal(
        &body,
        5400,
        "Bad request: creator: must be at most 1024 characters",
    );
    assert_last_refused(&mock, 400, "update_creator_too_long");
    assert_eq!(mock.image(&image.id).unwrap().creator, None);
}

#[tokio::test]
async fn update_of_a_missing_image_is_the_404_text() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let good_body = call(patch(
        &image_url(&mock, "missing.png"),
        json!({"creator": "x"}),
    ))
    .await;
    let bad_body = call(
        client()
            .patch(image_url(&mock, "missing.png"))
            .bearer_auth(TOKEN)
            .body("{"),
    )
    .await;

    // Assert
    assert_not_found(&good_body);
    assert_not_found(&bad_body);
    assert_eq!(last_request(&mock).operation, Some(Operation::Update));
}

// ---------------------------------------------------------------------------------------------
// DELETE
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn delete_answers_an_empty_result() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));

    // Act
    let (status, body) = json_call(delete(&image_url(&mock, &image.id))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    // As recorded (RECORDED.md §4.3; the whole body: tests/it/recorded.rs).
    assert_eq!(body["result"], json!({}));
    assert_eq!(body["success"], true);
    assert_eq!(body["errors"], json!([]));
    assert_eq!(body["messages"], json!([]));
    assert_last_accepted(&mock);
}

#[tokio::test]
async fn a_deleted_image_is_gone_from_get_delete_and_blob() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));
    let url = image_url(&mock, &image.id);
    let (status, _) = json_call(delete(&url)).await;
    assert_eq!(status, 200);

    // Act
    let get_again = call(get(&url)).await;
    let delete_again = call(delete(&url)).await;
    let blob = call(get(&blob_url(&mock, &image.id))).await;

    // Assert
    assert_not_found(&get_again);
    assert_not_found(&delete_again);
    assert_not_found(&blob);
    assert!(mock.image(&image.id).is_none());
    assert!(mock.image_bytes(&image.id).is_none());
}

#[tokio::test]
async fn a_deleted_custom_id_can_be_uploaded_again() {
    // Arrange
    let mock = MockImages::start().await;
    let first = upload(&mock, form_with(3, &[("id", "reused.png")])).await;
    let (status, _) = json_call(delete(&image_url(&mock, "reused.png"))).await;
    assert_eq!(status, 200);

    // Act
    let (again, body) = send(&mock, form_with(5, &[("id", "reused.png")])).await;

    // Assert
    assert_eq!(again, 200, "not 5409: {body}");
    assert_eq!(body["result"]["id"], "reused.png");
    assert_eq!(
        mock.image_bytes("reused.png").unwrap(),
        png(5, 1),
        "the new bytes"
    );
    assert_eq!(first["id"], "reused.png");
}

#[tokio::test]
async fn a_deleted_image_leaves_the_handle_and_the_stats() {
    // Arrange
    let mock = MockImages::start().await;
    let kept = mock.insert_image(NewImage::new(png(1, 1)));
    let gone = mock.insert_image(NewImage::new(png(2, 2)));
    let (_, before) = json_call(get(&stats_url(&mock))).await;

    // Act
    let (status, _) = json_call(delete(&image_url(&mock, &gone.id))).await;
    let (_, after) = json_call(get(&stats_url(&mock))).await;

    // Assert
    assert_eq!(status, 200);
    let ids: Vec<String> = mock.images().into_iter().map(|i| i.id).collect();
    assert_eq!(ids, [kept.id]);
    assert_eq!(before["result"]["count"]["current"], 2);
    assert_eq!(after["result"]["count"]["current"], 1);
}

// ---------------------------------------------------------------------------------------------
// Blob
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn blob_answers_the_exact_bytes_with_the_detected_content_type() {
    // Arrange
    let mock = MockImages::start().await;
    let mut padded_png = png(4, 4);
    padded_png.extend((0..5000u32).map(|i| (i % 251) as u8));
    // Each with a part content type that says otherwise.
    let cases = [
        ("png", padded_png, "application/octet-stream", "image/png"),
        ("svg", svg(7, 3), "image/png", "image/svg+xml"),
        ("jpeg", jpeg(5, 6), "image/gif", "image/jpeg"),
        ("gif", gif(2, 9), "text/plain", "image/gif"),
    ];

    for (name, bytes, part_type, expected_type) in cases {
        let form = reqwest::multipart::Form::new().part(
            "file",
            file_part(bytes.clone(), &format!("f.{name}"), part_type),
        );
        let id = upload(&mock, form).await["id"].as_str().unwrap().to_owned();

        // Act
        let answer = call(get(&blob_url(&mock, &id))).await;

        // Assert
        assert_eq!(answer.status, 200, "{name}");
        assert_eq!(answer.header("content-type"), Some(expected_type), "{name}");
        assert_eq!(answer.body.as_ref(), bytes.as_slice(), "{name}");
        assert_eq!(mock.image_bytes(&id).unwrap(), bytes, "{name}");
        assert_eq!(last_request(&mock).operation, Some(Operation::Blob));
    }
}

#[tokio::test]
async fn blob_of_a_custom_id_with_a_slash_raw_and_encoded() {
    // Arrange
    let mock = MockImages::start().await;
    let bytes = svg(3, 3);
    mock.insert_image(NewImage::new(bytes.clone()).id("a/b.svg"));

    // Act
    let raw = call(get(&blob_url(&mock, "a/b.svg"))).await;
    let encoded = call(get(&blob_url(&mock, "a%2Fb.svg"))).await;

    // Assert
    for answer in [raw, encoded] {
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.as_ref(), bytes.as_slice());
        assert_eq!(answer.header("content-type"), Some("image/svg+xml"));
    }
}

// ---------------------------------------------------------------------------------------------
// List v1
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn list_v1_pages_hold_1000_images_by_default() {
    // Arrange
    let mock = MockImages::start().await;
    for _ in 0..1001 {
        mock.insert_image(NewImage::new(PNG_1X1));
    }
    let all: Vec<String> = mock.images().into_iter().map(|i| i.id).collect();

    // Act
    let (status, first) = json_call(get(&list_v1_url(&mock, ""))).await;
    let (_, second) = json_call(get(&list_v1_url(&mock, "page=2"))).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(ids(&first), &all[..1000]);
    assert_eq!(ids(&second), &all[1000..]);
    assert!(
        first["result"].get("continuation_token").is_none(),
        "v1 has no token"
    );
    assert_eq!(first["success"], true);
}

#[tokio::test]
async fn list_v1_per_page_is_10_to_10000() {
    // Arrange
    let mock = MockImages::start().await;
    mock.insert_image(NewImage::new(PNG_1X1));

    for (query, expected) in [
        ("per_page=9", 400),
        ("per_page=10001", 400),
        ("per_page=abc", 400),
        ("per_page=10", 200),
        ("per_page=10000", 200),
        ("page=0", 400),
    ] {
        // Act
        let (status, body) = json_call(get(&list_v1_url(&mock, query))).await;

        // Assert
        assert_eq!(status, expected, "{query}: {body}");
        if expected == 400 {
            assert_eq!(body["errors"][0]["code"], 5400, "{query}: {body}");
        } else {
            assert_eq!(ids(&body).len(), 1, "{query}");
        }
    }
    let (_, body) = json_call(get(&list_v1_url(&mock, "per_page=9"))).await;
    assert_refusal(
        &body,
        5400,
        "Bad request: per_page: must be an integer from 10 to 10000",
    );
}

#[tokio::test]
async fn list_v1_page_2_of_10_is_images_11_to_20_in_upload_order() {
    // Arrange
    let mock = MockImages::start().await;
    let mut uploaded = Vec::new();
    for i in 0..25u32 {
        // Ids in no sorted order: the list must follow the uploads, not the ids.
        let id = format!("p{:02}.png", (i * 7) % 25);
        let result = upload(&mock, form_with(i + 1, &[("id", &id)])).await;
        uploaded.push(result["id"].as_str().unwrap().to_owned());
    }

    // Act
    let (status, body) = json_call(get(&list_v1_url(&mock, "page=2&per_page=10"))).await;
    let (_, last) = json_call(get(&list_v1_url(&mock, "page=3&per_page=10"))).await;
    let (_, beyond) = json_call(get(&list_v1_url(&mock, "page=4&per_page=10"))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), &uploaded[10..20]);
    assert_eq!(ids(&last), &uploaded[20..]);
    assert!(ids(&beyond).is_empty());
}

#[tokio::test]
async fn list_v1_filters_by_creator() {
    // Arrange
    let mock = MockImages::start().await;
    let x = mock.insert_image(NewImage::new(png(1, 1)).creator("x"));
    let y = mock.insert_image(NewImage::new(png(2, 1)).creator("y"));
    let x2 = mock.insert_image(NewImage::new(png(3, 1)).creator("x"));
    let nobody = mock.insert_image(NewImage::new(png(4, 1)));

    // Act
    let (_, only_x) = json_call(get(&list_v1_url(&mock, "creator=x"))).await;
    let (_, everyone) = json_call(get(&list_v1_url(&mock, ""))).await;
    let (_, unknown) = json_call(get(&list_v1_url(&mock, "creator=z"))).await;

    // Assert
    assert_eq!(ids(&only_x), [x.id.clone(), x2.id.clone()]);
    assert_eq!(ids(&everyone), [x.id, y.id, x2.id, nobody.id]);
    assert!(ids(&unknown).is_empty());
}

#[tokio::test]
async fn list_v1_empty_creator_lists_the_images_without_one() {
    // Arrange: the official description says `creator=` (empty) selects the images with no
    // creator (schemas/list-v1.schema.json, params::creator_matches).
    let mock = MockImages::start().await;
    mock.insert_image(NewImage::new(png(1, 1)).creator("x"));
    let nobody = mock.insert_image(NewImage::new(png(2, 1)));
    let nobody2 = mock.insert_image(NewImage::new(png(3, 1)));

    // Act
    let (status, body) = json_call(get(&list_v1_url(&mock, "creator="))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), [nobody.id, nobody2.id]);
}

#[tokio::test]
async fn list_v1_leaves_deleted_images_out() {
    // Arrange
    let mock = MockImages::start().await;
    let a = mock.insert_image(NewImage::new(png(1, 1)));
    let b = mock.insert_image(NewImage::new(png(2, 1)));
    let c = mock.insert_image(NewImage::new(png(3, 1)));
    let (status, _) = json_call(delete(&image_url(&mock, &b.id))).await;
    assert_eq!(status, 200);

    // Act
    let (_, body) = json_call(get(&list_v1_url(&mock, ""))).await;

    // Assert
    assert_eq!(ids(&body), [a.id, c.id]);
}

// ---------------------------------------------------------------------------------------------
// List v2
// ---------------------------------------------------------------------------------------------

/// Inserts `n` images a few milliseconds apart (distinct upload times); their ids in order.
async fn insert_spaced(mock: &MockImages, n: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(mock.insert_image(NewImage::new(png(i + 1, 1))).id);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    ids
}

#[tokio::test]
async fn list_v2_is_newest_first_by_default() {
    // Arrange
    let mock = MockImages::start().await;
    let mut inserted = insert_spaced(&mock, 5).await;

    // Act
    let (status, body) = json_call(get(&list_v2_url(&mock, ""))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    inserted.reverse();
    assert_eq!(ids(&body), inserted);
    assert_eq!(body["result"]["continuation_token"], Value::Null);
}

#[tokio::test]
async fn list_v2_sort_order_asc_is_oldest_first() {
    // Arrange
    let mock = MockImages::start().await;
    let inserted = insert_spaced(&mock, 5).await;

    // Act
    let (_, asc) = json_call(get(&list_v2_url(&mock, "sort_order=asc"))).await;
    let (_, desc) = json_call(get(&list_v2_url(&mock, "sort_order=desc"))).await;
    let (bad, bad_body) = json_call(get(&list_v2_url(&mock, "sort_order=ASC"))).await;

    // Assert
    assert_eq!(ids(&asc), inserted);
    let mut reversed = inserted.clone();
    reversed.reverse();
    assert_eq!(ids(&desc), reversed);
    assert_eq!(bad, 400, "{bad_body}");
    assert_eq!(bad_body["errors"][0]["code"], 5400);
}

/// Walks every page of a v2 list: the ids in order, and the size of each page.
async fn walk(mock: &MockImages, query: &str) -> (Vec<String>, Vec<usize>) {
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let query = match &token {
            Some(token) => format!("{query}&continuation_token={token}"),
            None => query.to_owned(),
        };
        let (status, body) = json_call(get(&list_v2_url(mock, &query))).await;
        assert_eq!(status, 200, "{query}: {body}");
        let page = ids(&body);
        sizes.push(page.len());
        all.extend(page);
        match &body["result"]["continuation_token"] {
            Value::String(next) => token = Some(next.clone()),
            Value::Null => return (all, sizes),
            other => panic!("a token is a string or null: {other}"),
        }
        assert!(sizes.len() < 100, "the walk does not end");
    }
}

/// 25 images inserted in a tight loop (many share a millisecond), with ids in the reverse of
/// their insertion order, so that ties are broken against the insertion order.
fn insert_25_tight(mock: &MockImages) {
    for i in 0..25u32 {
        mock.insert_image(NewImage::new(png(i + 1, 1)).id(format!("t{:02}.png", 24 - i)));
    }
}

#[tokio::test]
async fn list_v2_pages_walk_every_image_once_newest_first() {
    // Arrange
    let mock = MockImages::start().await;
    insert_25_tight(&mock);

    // Act
    let (walked, sizes) = walk(&mock, "per_page=10").await;

    // Assert
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(walked, by_time_then_id(&mock, false));
}

#[tokio::test]
async fn list_v2_pages_walk_every_image_once_oldest_first() {
    // Arrange
    let mock = MockImages::start().await;
    insert_25_tight(&mock);

    // Act
    let (walked, sizes) = walk(&mock, "per_page=10&sort_order=asc").await;

    // Assert
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(walked, by_time_then_id(&mock, true));
}

#[tokio::test]
async fn list_v2_a_full_last_page_has_a_null_token() {
    // Arrange
    let mock = MockImages::start().await;
    for i in 0..20u32 {
        mock.insert_image(NewImage::new(png(i + 1, 1)));
    }

    // Act
    let (walked, sizes) = walk(&mock, "per_page=10").await;

    // Assert
    assert_eq!(sizes, [10, 10], "no empty trailing page");
    assert_eq!(walked.len(), 20);
}

#[tokio::test]
async fn list_v2_ties_in_upload_time_are_broken_by_id() {
    // Arrange: three images in one millisecond, inserted b, a, c; retried with fresh ids (told
    // apart by metadata) until the three land in the same millisecond.
    let mock = MockImages::start().await;
    let mut tied = None;
    for attempt in 0..200 {
        let ids: Vec<String> = ["b", "a", "c"]
            .iter()
            .map(|name| {
                mock.insert_image(
                    NewImage::new(PNG_1X1)
                        .id(format!("{attempt}-{name}"))
                        .metadata(json!({ "attempt": attempt })),
                )
                .id
            })
            .collect();
        let times: Vec<u128> = ids
            .iter()
            .map(|id| millis(&mock.image(id).unwrap()))
            .collect();
        if times.iter().all(|t| *t == times[0]) {
            tied = Some(attempt);
            break;
        }
    }
    let attempt = tied.expect("three inserts in one millisecond within 200 attempts");

    // Act
    let filter = format!("meta.attempt[eq]={attempt}");
    let (_, asc) = json_call(get(&list_v2_url(
        &mock,
        &format!("{filter}&sort_order=asc"),
    )))
    .await;
    let (_, desc) = json_call(get(&list_v2_url(&mock, &filter))).await;
    let (paged, sizes) = walk(&mock, &format!("{filter}&sort_order=asc&per_page=10")).await;

    // Assert
    let name = |n: &str| format!("{attempt}-{n}");
    assert_eq!(ids(&asc), [name("a"), name("b"), name("c")]);
    assert_eq!(ids(&desc), [name("c"), name("b"), name("a")]);
    assert_eq!((paged, sizes), (ids(&asc), vec![3]));
}

#[tokio::test]
async fn list_v2_a_token_is_a_position_that_survives_a_delete() {
    // Arrange
    let mock = MockImages::start().await;
    let inserted = insert_spaced(&mock, 15).await;
    let (_, first) = json_call(get(&list_v2_url(&mock, "per_page=10&sort_order=asc"))).await;
    let token = first["result"]["continuation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The last image of the first page, which the token points after, is deleted.
    let (status, _) = json_call(delete(&image_url(&mock, &inserted[9]))).await;
    assert_eq!(status, 200);

    // Act
    let (status, next) = json_call(get(&list_v2_url(
        &mock,
        &format!("per_page=10&sort_order=asc&continuation_token={token}"),
    )))
    .await;

    // Assert
    assert_eq!(status, 200, "{next}");
    assert_eq!(ids(&first), &inserted[..10]);
    assert_eq!(ids(&next), &inserted[10..]);
}

#[tokio::test]
async fn list_v2_a_garbage_token_is_5400() {
    // Arrange
    let mock = MockImages::start().await;
    mock.insert_image(NewImage::new(PNG_1X1));

    for token in ["garbage", "zz", "abc", "3a3a"] {
        // Act
        let (status, body) = json_call(get(&list_v2_url(
            &mock,
            &format!("continuation_token={token}"),
        )))
        .await;

        // Assert
        assert_eq!(status, 400, "{token}: {body}");
        assert_refusal(
            &body,
            5400,
            &format!("continuation_token: {token} is not a token of this list"),
        );
        assert_last_refused(&mock, 400, "bad_continuation_token");
    }
}

#[tokio::test]
async fn list_v2_per_page_is_10_to_10000() {
    // Arrange
    let mock = MockImages::start().await;

    for (query, expected) in [
        ("per_page=9", 400),
        ("per_page=10001", 400),
        ("per_page=10", 200),
    ] {
        // Act
        let (status, body) = json_call(get(&list_v2_url(&mock, query))).await;

        // Assert
        assert_eq!(status, expected, "{query}: {body}");
    }
    let (_, body) = json_call(get(&list_v2_url(&mock, "per_page=9"))).await;
    assert_refusal(&body, 5400, "per_page: must be an integer from 10 to 10000");
}

/// Five images with metadata to filter on; their ids by name.
fn insert_filterable(mock: &MockImages) -> std::collections::HashMap<&'static str, String> {
    let images = [
        ("n42", json!({"owner": 42, "size": 5, "a": {"b": "x"}})),
        ("s42", json!({"owner": "42", "size": 10})),
        ("n7", json!({"owner": 7, "size": 20, "a": {"b": "y"}})),
        (
            "text-size",
            json!({"owner": 8, "size": "15", "a": {"b": "x"}}),
        ),
        ("none", json!({})),
    ];
    images
        .into_iter()
        .enumerate()
        .map(|(i, (name, meta))| {
            let id = mock
                .insert_image(
                    NewImage::new(png(i as u32 + 1, 1))
                        .id(format!("{name}.png"))
                        .metadata(meta),
                )
                .id;
            (name, id)
        })
        .collect()
}

/// The ids a v2 list answers for `query`, sorted (the filters, not the order, are tested).
async fn filtered(mock: &MockImages, query: &str) -> Vec<String> {
    let (status, body) = json_call(get(&list_v2_url(mock, query))).await;
    assert_eq!(status, 200, "{query}: {body}");
    let mut found = ids(&body);
    found.sort();
    found
}

fn named(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = names.iter().map(|n| format!("{n}.png")).collect();
    out.sort();
    out
}

#[tokio::test]
async fn list_v2_filter_eq() {
    // Arrange
    let mock = MockImages::start().await;
    insert_filterable(&mock);

    // Act
    let untyped = filtered(&mock, "meta.owner[eq]=42").await;
    let number = filtered(&mock, "meta.owner[eq:number]=42").await;
    let string = filtered(&mock, "meta.owner[eq:string]=42").await;

    // Assert: an untyped `eq` matches the number and the string (the mock's reading of "Exact
    // match"); the typed ones only their type.
    assert_eq!(untyped, named(&["n42", "s42"]));
    assert_eq!(number, named(&["n42"]));
    assert_eq!(string, named(&["s42"]));
}

#[tokio::test]
async fn list_v2_filter_gte_compares_numbers_only() {
    // Arrange
    let mock = MockImages::start().await;
    insert_filterable(&mock);

    // Act
    let gte = filtered(&mock, "meta.size[gte]=10").await;
    let gt = filtered(&mock, "meta.size[gt]=10").await;
    let lt = filtered(&mock, "meta.size[lt:number]=10").await;

    // Assert: the string "15" is no number.
    assert_eq!(gte, named(&["s42", "n7"]));
    assert_eq!(gt, named(&["n7"]));
    assert_eq!(lt, named(&["n42"]));
}

#[tokio::test]
async fn list_v2_filter_in_takes_pipe_separated_values() {
    // Arrange
    let mock = MockImages::start().await;
    insert_filterable(&mock);

    // Act
    let any = filtered(&mock, "meta.owner[in]=7|8").await;
    let numbers = filtered(&mock, "meta.owner[in:number]=42|7").await;
    let encoded = filtered(&mock, "meta.owner[in]=7%7C8").await;

    // Assert
    assert_eq!(any, named(&["n7", "text-size"]));
    assert_eq!(numbers, named(&["n42", "n7"]));
    assert_eq!(encoded, any);
}

#[tokio::test]
async fn list_v2_filter_on_a_nested_field() {
    // Arrange
    let mock = MockImages::start().await;
    insert_filterable(&mock);

    // Act
    let x = filtered(&mock, "meta.a.b[eq]=x").await;
    let and = filtered(&mock, "meta.a.b[eq]=x&meta.owner[eq]=42").await;
    let contradiction = filtered(&mock, "meta.a.b[eq]=x&meta.a.b[eq]=y").await;

    // Assert
    assert_eq!(x, named(&["n42", "text-size"]));
    assert_eq!(and, named(&["n42"]));
    assert!(contradiction.is_empty());
}

#[tokio::test]
async fn list_v2_six_filters_are_too_many() {
    // Arrange
    let mock = MockImages::start().await;
    insert_filterable(&mock);
    let five = "meta.a[eq]=1&meta.b[eq]=1&meta.c[eq]=1&meta.d[eq]=1&meta.e[eq]=1";

    // Act
    let (ok, _) = json_call(get(&list_v2_url(&mock, five))).await;
    let (status, body) = json_call(get(&list_v2_url(&mock, &format!("{five}&meta.f[eq]=1")))).await;

    // Assert
    assert_eq!(ok, 200);
    assert_eq!(status, 400, "{body}");
    assert_refusal(
        &body,
        5400,
        "Too many metadata filters: 6 provided, maximum 5 allowed",
    );
}

#[tokio::test]
async fn list_v2_an_unsupported_operator_is_named() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = json_call(get(&list_v2_url(&mock, "meta.x[not-eq]=1"))).await;

    // Assert
    assert_eq!(status, 400, "{body}");
    assert_refusal(
        &body,
        5400,
        "Unsupported metadata filter operator: 'not-eq'",
    );
}

#[tokio::test]
async fn list_v2_filters_by_creator() {
    // Arrange
    let mock = MockImages::start().await;
    let x = mock.insert_image(NewImage::new(png(1, 1)).creator("x"));
    mock.insert_image(NewImage::new(png(2, 1)).creator("y"));
    let nobody = mock.insert_image(NewImage::new(png(3, 1)));

    // Act
    let (_, only_x) = json_call(get(&list_v2_url(&mock, "creator=x"))).await;
    let (_, without) = json_call(get(&list_v2_url(&mock, "creator="))).await;

    // Assert
    assert_eq!(ids(&only_x), [x.id]);
    assert_eq!(ids(&without), [nobody.id]);
}

#[tokio::test]
async fn list_v2_leaves_deleted_images_out() {
    // Arrange
    let mock = MockImages::start().await;
    let inserted = insert_spaced(&mock, 3).await;
    let (status, _) = json_call(delete(&image_url(&mock, &inserted[1]))).await;
    assert_eq!(status, 200);

    // Act
    let (_, body) = json_call(get(&list_v2_url(&mock, "sort_order=asc"))).await;

    // Assert
    assert_eq!(ids(&body), [inserted[0].clone(), inserted[2].clone()]);
}

// ---------------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stats_count_follows_uploads_and_deletes() {
    // Arrange
    let mock = MockImages::start().await;
    let current = |body: &Value| body["result"]["count"]["current"].as_u64().unwrap();
    let (status, empty) = json_call(get(&stats_url(&mock))).await;

    // Act
    let a = upload(&mock, form_with(1, &[])).await;
    upload(&mock, form_with(2, &[])).await;
    mock.insert_image(NewImage::new(png(3, 1)));
    let (_, three) = json_call(get(&stats_url(&mock))).await;
    json_call(delete(&image_url(&mock, a["id"].as_str().unwrap()))).await;
    let (_, two) = json_call(get(&stats_url(&mock))).await;

    // Assert
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        empty["result"],
        json!({"count": {"allowed": 100000, "current": 0}})
    );
    assert_eq!(empty["success"], true);
    assert_eq!((current(&three), current(&two)), (3, 2));
    assert_eq!(last_request(&mock).operation, Some(Operation::Stats));
}

#[tokio::test]
async fn stats_allowed_is_the_builders() {
    // Arrange
    let mock = MockImages::builder().images_allowed(7).start().await;

    // Act
    let (status, body) = json_call(get(&stats_url(&mock))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["count"], json!({"allowed": 7, "current": 0}));
}

// ---------------------------------------------------------------------------------------------
// Journal and operations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_journal_names_each_requests_operation_and_image() {
    // Arrange
    let mock = MockImages::start().await;
    let id = upload(&mock, form_with(1, &[])).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    mock.insert_image(NewImage::new(png(2, 2)).id("a/b.png"));

    // Act
    post(get(&image_url(&mock, &id))).await;
    post(get(&image_url(&mock, "a%2Fb.png"))).await;
    post(patch(&image_url(&mock, "a/b.png"), json!({"creator": "c"}))).await;
    call(get(&blob_url(&mock, "a%2Fb.png"))).await;
    json_call(get(&list_v1_url(&mock, ""))).await;
    json_call(get(&list_v2_url(&mock, ""))).await;
    json_call(get(&stats_url(&mock))).await;
    json_call(delete(&image_url(&mock, "a%2Fb.png"))).await;
    call(get(&image_url(&mock, "missing"))).await;

    // Assert
    let journal: Vec<(Option<Operation>, Option<String>, u16)> = mock
        .requests()
        .into_iter()
        .map(|r| (r.operation, r.image_id, r.status))
        .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        journal,
        [
            (Some(Operation::Upload), some(&id), 200),
            (Some(Operation::Get), some(&id), 200),
            (Some(Operation::Get), some("a/b.png"), 200),
            (Some(Operation::Update), some("a/b.png"), 200),
            (Some(Operation::Blob), some("a/b.png"), 200),
            (Some(Operation::ListV1), None, 200),
            (Some(Operation::ListV2), None, 200),
            (Some(Operation::Stats), None, 200),
            (Some(Operation::Delete), some("a/b.png"), 200),
            (Some(Operation::Get), some("missing"), 404),
        ]
    );
    assert_eq!(mock.uploads().len(), 1, "only the upload is an upload");
}

#[tokio::test]
#[should_panic(expected = "check the client's base URL")]
async fn images_v3_still_gets_the_base_url_hint() {
    let mock = MockImages::start().await;

    let (status, body) = post(get(&list_v2_url(&mock, "").replace("/v2?", "/v3?"))).await;

    assert_eq!(status, 404, "{body}");
    assert_eq!(last_request(&mock).operation, None);
}

// ---------------------------------------------------------------------------------------------
// insert_image
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_inserted_image_is_served_by_get_list_and_blob() {
    // Arrange
    let mock = MockImages::start().await;
    let bytes = jpeg(9, 4);
    let image = mock.insert_image(
        NewImage::new(bytes.clone())
            .id("seeded/photo.jpg")
            .filename("photo.jpg")
            .creator("seed")
            .metadata(json!({"k": "v"})),
    );

    // Act
    let (status, body) = post(get(&image_url(&mock, "seeded%2Fphoto.jpg"))).await;
    let (_, v1) = json_call(get(&list_v1_url(&mock, "creator=seed"))).await;
    let (_, v2) = json_call(get(&list_v2_url(&mock, "meta.k[eq]=v"))).await;
    let blob = call(get(&blob_url(&mock, "seeded%2Fphoto.jpg"))).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["id"], "seeded/photo.jpg");
    assert_eq!(result["filename"], "photo.jpg");
    assert_eq!(result["creator"], "seed");
    assert_eq!(result["meta"], json!({"k": "v"}));
    assert_eq!(image.dimensions, Some((9, 4)));
    assert_eq!(ids(&v1), ["seeded/photo.jpg"]);
    assert_eq!(ids(&v2), ["seeded/photo.jpg"]);
    assert_eq!(v1["result"]["images"][0], *result);
    assert_eq!(blob.body.as_ref(), bytes.as_slice());
    assert_eq!(blob.header("content-type"), Some("image/jpeg"));
    assert!(mock.requests().len() == 4, "inserting is no request");
}

#[tokio::test]
async fn try_insert_image_gives_the_rule_an_upload_would_break() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let extension = mock.try_insert_image(NewImage::new(PNG_1X1).id("x.txt"));
    let metadata =
        mock.try_insert_image(NewImage::new(PNG_1X1).metadata(json!({"k": "x".repeat(1100)})));
    let not_an_image = mock.try_insert_image(NewImage::new(GARBAGE));

    // Assert
    let rule = |result: Result<StoredImage, Vec<cloudflare_images_mock::ApiError>>| {
        result.expect_err("refused")[0].rule
    };
    assert_eq!(rule(extension), "id_non_image_extension");
    assert_eq!(rule(metadata), "metadata_too_large");
    assert_eq!(rule(not_an_image), "file_unsupported_type");
    assert!(mock.images().is_empty());
}

#[tokio::test]
#[should_panic(expected = "insert_image refused, as an upload of it would be:")]
async fn insert_image_panics_on_an_invalid_id() {
    let mock = MockImages::start().await;

    mock.insert_image(NewImage::new(PNG_1X1).id("x.txt"));
}

#[tokio::test]
#[should_panic(expected = "[metadata_too_large]")]
async fn insert_image_panics_on_metadata_too_big_naming_the_rule() {
    let mock = MockImages::start().await;

    mock.insert_image(NewImage::new(PNG_1X1).metadata(json!({"k": "x".repeat(1100)})));
}

// ---------------------------------------------------------------------------------------------
// Scripts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_script_answers_a_get_too() {
    // Arrange
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(PNG_1X1));
    mock.script(Script::rate_limited());
    let url = image_url(&mock, &image.id);

    // Act
    let limited = call(get(&url)).await;
    let (status, body) = post(get(&url)).await;

    // Assert
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.json()["errors"][0]["code"], 971);
    assert_eq!(status, 200, "then normal again: {body}");
    let journal = mock.requests();
    assert_eq!(
        journal[0].scripted,
        Some(cloudflare_images_mock::ScriptKind::Error(
            cloudflare_images_mock::Rule::RateLimited
        ))
    );
    assert_eq!(journal[0].operation, Some(Operation::Get));
    assert_eq!(journal[1].scripted, None);
}
