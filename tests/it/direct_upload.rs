//! Direct creator uploads: a draft, its one-time upload URL served by the mock, expiry.

use std::time::Duration;

use cloudflare_images_mock::MockImages;
use reqwest::multipart::Form;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

use crate::helpers::*;

fn direct_url(mock: &MockImages, version: &str) -> String {
    format!(
        "{}/accounts/{}/images/{version}/direct_upload",
        mock.base_url(),
        mock.account_id()
    )
}

async fn create(mock: &MockImages, form: Form) -> (u16, Value) {
    post(
        client()
            .post(direct_url(mock, "v2"))
            .bearer_auth(TOKEN)
            .multipart(form),
    )
    .await
}

async fn details(mock: &MockImages, id: &str) -> reqwest::Response {
    let id = id.replace('/', "%2F");
    client()
        .get(format!(
            "{}/accounts/{}/images/v1/{id}",
            mock.base_url(),
            mock.account_id()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
}

async fn list(mock: &MockImages, version: &str) -> Value {
    let url = format!(
        "{}/accounts/{}/images/{version}",
        mock.base_url(),
        mock.account_id()
    );
    post(client().get(url).bearer_auth(TOKEN)).await.1
}

/// Posts a PNG to an upload URL as returned, without credentials.
async fn post_file(url: &str) -> (u16, Value) {
    post(client().post(url).multipart(png_form())).await
}

fn expiry_in(seconds: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds))
        .format(&Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn a_draft_takes_its_file_once_through_the_upload_url() {
    // Arrange
    let mock = MockImages::builder()
        .credentials(cloudflare_images_mock::Credentials::token(TOKEN))
        .start()
        .await;
    let form = Form::new()
        .text("id", "drafts/cat.png")
        .text("creator", "me")
        .text("metadata[owner]", "42")
        .text("expiry", expiry_in(600));

    // Act
    let (status, body) = create(&mock, form).await;

    // Assert: {id, uploadURL} pointing at the mock.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], "drafts/cat.png");
    let upload_url = body["result"]["uploadURL"].as_str().unwrap().to_owned();
    assert_eq!(
        upload_url,
        format!("{}/{}/drafts/cat.png", mock.uri(), mock.account_hash())
    );
    // The draft: visible, not listed, not counted.
    let draft: Value = details(&mock, "drafts/cat.png").await.json().await.unwrap();
    assert_eq!(draft["result"]["draft"], true, "{draft}");
    assert_eq!(draft["result"]["filename"], Value::Null, "{draft}");
    assert_eq!(draft["result"]["meta"], json!({"owner": "42"}));
    assert_eq!(list(&mock, "v1").await["result"]["images"], json!([]));
    assert_eq!(list(&mock, "v2").await["result"]["images"], json!([]));
    let stats = list(&mock, "v1/stats").await;
    assert_eq!(stats["result"]["count"]["current"], 0, "{stats}");

    // A refused post leaves the URL usable.
    let (status, _) = post(client().post(&upload_url).multipart(Form::new().part(
        "file",
        file_part(b"not an image".to_vec(), "x.txt", "text/plain"),
    )))
    .await;
    assert_eq!(status, 415);

    // The file, without credentials: the draft becomes the image.
    let (status, body) = post_file(&upload_url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], "drafts/cat.png");
    let image: Value = details(&mock, "drafts/cat.png").await.json().await.unwrap();
    let result = &image["result"];
    assert!(result.get("draft").is_none(), "{image}");
    assert_eq!(result["meta"], json!({"owner": "42"}));
    assert_eq!(result["creator"], "me");
    assert_eq!(result["filename"], "cat.png", "{image}");
    assert_eq!(
        list(&mock, "v1/stats").await["result"]["count"]["current"],
        1
    );
    assert_eq!(
        list(&mock, "v2").await["result"]["images"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(mock.uploads().len(), 1);

    // A second use is refused.
    let (status, body) = post_file(&upload_url).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"][0]["code"], 5409);
    assert_last_refused(&mock, 409, "upload_url_used");
}

#[tokio::test]
async fn the_upload_base_can_be_another_host_and_ids_are_generated() {
    let mock = MockImages::builder()
        .upload_base("https://upload.imagedelivery.net/")
        .start()
        .await;

    // A form of no part is refused (the real backend refuses it too, RECORDED.md section 4.5).
    let (status, _) = create(&mock, Form::new()).await;
    assert_eq!(status, 400);

    let (status, body) = create(&mock, Form::new().text("creator", "me")).await;

    assert_eq!(status, 200, "{body}");
    let id = body["result"]["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(
        body["result"]["uploadURL"],
        format!(
            "https://upload.imagedelivery.net/{}/{id}",
            mock.account_hash()
        )
    );
}

#[tokio::test]
async fn a_bad_expiry_is_refused_by_the_schemas_rule() {
    let mock = MockImages::start().await;
    for (expiry, rule) in [
        (expiry_in(60), "expiry_out_of_range"),
        (expiry_in(7 * 3600), "expiry_out_of_range"),
        ("garbage".to_owned(), "expiry_not_date_time"),
    ] {
        let (status, body) = create(&mock, Form::new().text("expiry", expiry.clone())).await;
        assert_eq!(status, 400, "{expiry}: {body}");
        assert_eq!(body["errors"][0]["code"], 5400, "{body}");
        assert_last_refused(&mock, 400, rule);
    }
    let (status, body) = create(&mock, Form::new().text("expiry", expiry_in(300))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_json_body_to_v2_is_415_as_recorded() {
    let mock = MockImages::start().await;

    let (status, body) = post(
        client()
            .post(direct_url(&mock, "v2"))
            .bearer_auth(TOKEN)
            .json(&json!({"expiry": expiry_in(600)})),
    )
    .await;

    assert_eq!(status, 415, "{body}");
    assert_error(
        &body,
        5415,
        "Must be uploaded as a form, not as raw image data. Please use multipart/form-data format",
        None,
    );
}

#[tokio::test]
async fn a_custom_id_taken_is_409_and_custom_id_rules_apply() {
    let mock = MockImages::start().await;
    let (status, _) = create(&mock, Form::new().text("id", "taken")).await;
    assert_eq!(status, 200);

    let (status, body) = create(&mock, Form::new().text("id", "taken")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"][0]["code"], 5409);

    let uuid = "0a1b2c3d-0000-4000-8000-000000000000";
    let (status, body) = create(&mock, Form::new().text("id", uuid)).await;
    assert_eq!(status, 400, "{body}");
    assert_last_refused(&mock, 400, "id_uuid");
}

#[tokio::test]
async fn an_expired_draft_is_gone_and_its_url_refused() {
    let mock = MockImages::start().await;
    let form = Form::new()
        .text("id", "soon-gone")
        .text("expiry", expiry_in(125));
    let (_, body) = create(&mock, form).await;
    let id = body["result"]["id"].as_str().unwrap().to_owned();
    let upload_url = body["result"]["uploadURL"].as_str().unwrap().to_owned();
    mock.clock().advance(Duration::from_secs(60));
    assert_eq!(details(&mock, &id).await.status(), 200, "not yet expired");

    mock.clock().advance(Duration::from_secs(70));

    assert_eq!(details(&mock, &id).await.status(), 404);
    let (status, body) = post_file(&upload_url).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errors"][0]["code"], 5404);
    assert_last_refused(&mock, 404, "upload_url_expired");
    assert!(mock.images().is_empty());
    // The id is free again.
    let (status, _) = create(&mock, Form::new().text("id", id.clone())).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_deprecated_v1_takes_json() {
    let mock = MockImages::start().await;

    let (status, body) = post(
        client()
            .post(direct_url(&mock, "v1"))
            .bearer_auth(TOKEN)
            .json(&json!({"expiry": expiry_in(600)})),
    )
    .await;

    assert_eq!(status, 200, "{body}");
    let upload_url = body["result"]["uploadURL"].as_str().unwrap().to_owned();
    let (status, body) = post_file(&upload_url).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = post(
        client()
            .post(direct_url(&mock, "v1"))
            .bearer_auth(TOKEN)
            .json(&json!({"expiry": "soon"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_last_refused(&mock, 400, "expiry_not_date_time");
}
