//! A snapshot test of a client's output against a seeded mock with a fixed clock: the ids,
//! times and URLs in it are the same on every run, so the snapshot file
//! (`tests/it/snapshots/`) can be committed and reviewed like code.

use std::time::{Duration, UNIX_EPOCH};

use cloudflare_images_mock::{Clock, MockImages};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::helpers::*;

/// A client as an application would write it: uploads an avatar for `owner`, then lists the
/// account's images; what it returns is what the snapshot pins.
async fn upload_then_list(base_url: &str, account_id: &str, owner: &str) -> Value {
    let images = format!("{base_url}/accounts/{account_id}/images");
    let form = Form::new()
        .part("file", Part::bytes(PNG_1X1).file_name("avatar.png"))
        .text("metadata", json!({ "owner": owner }).to_string());
    let client = reqwest::Client::new();
    let upload: Value = client
        .post(format!("{images}/v1"))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list: Value = client
        .get(format!("{images}/v2"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    json!({ "upload": upload["result"], "list": list["result"] })
}

#[tokio::test]
async fn a_clients_output_against_a_seeded_mock_is_a_stable_snapshot() {
    let mock = MockImages::builder()
        .seed(42)
        .clock(Clock::fixed(
            UNIX_EPOCH + Duration::from_secs(1_714_564_800),
        ))
        .start()
        .await;
    let base_url = mock.base_url();

    let first = upload_then_list(&base_url, mock.account_id(), "ada").await;
    mock.clock().advance(Duration::from_secs(90));
    let second = upload_then_list(&base_url, mock.account_id(), "grace").await;

    insta::assert_json_snapshot!("upload_then_list", json!([first, second]));
}
