//! Signing keys: list, add, delete, over HTTP against a real mock.

use cloudflare_images_mock::{conformance, MockImages, Operation};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

fn keys_url(mock: &MockImages, name: Option<&str>) -> String {
    let base = format!("{}/keys", mock.upload_url());
    name.map_or(base.clone(), |name| format!("{base}/{name}"))
}

/// Sends a request to a signing-key operation; the answer is checked against the official
/// response schema of the operation.
async fn call(mock: &MockImages, method: Method, name: Option<&str>) -> (u16, Value) {
    let operation = match (&method, name) {
        (&Method::GET, None) => Operation::ListKeys,
        (&Method::PUT, Some(_)) => Operation::AddKey,
        _ => Operation::DeleteKey,
    };
    let response = client()
        .request(method, keys_url(mock, name))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    if let Err(problems) = conformance::check_response(operation, status, &body) {
        panic!("{operation}: {problems:?}");
    }
    (status, serde_json::from_slice(&body).unwrap())
}

fn names(body: &Value) -> Vec<&str> {
    body["result"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_new_mock_has_a_default_key_shaped_like_the_official_example() {
    let mock = MockImages::start().await;

    let (status, body) = call(&mock, Method::GET, None).await;

    assert_eq!(status, 200);
    assert_eq!(names(&body), ["default"]);
    let value = body["result"]["keys"][0]["value"].as_str().unwrap();
    assert_eq!(value.len(), 33, "{value}");
    assert!(value.ends_with('='));
    assert_eq!(last_request(&mock).operation, Some(Operation::ListKeys));
}

#[tokio::test]
async fn adding_and_deleting_keys_answers_every_key() {
    let mock = MockImages::start().await;

    let (added_status, added) = call(&mock, Method::PUT, Some("rotation-2")).await;
    let (listed_status, listed) = call(&mock, Method::GET, None).await;
    let (deleted_status, deleted) = call(&mock, Method::DELETE, Some("default")).await;

    assert_eq!(
        (added_status, listed_status, deleted_status),
        (200, 200, 200)
    );
    assert_eq!(names(&added), ["default", "rotation-2"]);
    assert_eq!(added["result"], listed["result"]);
    assert_eq!(names(&deleted), ["rotation-2"]);
    assert_eq!(
        deleted["result"]["keys"][0]["value"],
        added["result"]["keys"][1]["value"]
    );
}

#[tokio::test]
async fn deleting_the_last_key_generates_a_new_default() {
    let mock = MockImages::start().await;
    let (_, before) = call(&mock, Method::GET, None).await;

    let (status, after) = call(&mock, Method::DELETE, Some("default")).await;

    assert_eq!(status, 200);
    assert_eq!(names(&after), ["default"]);
    assert_ne!(
        after["result"]["keys"][0]["value"],
        before["result"]["keys"][0]["value"]
    );
}

#[tokio::test]
async fn deleting_a_key_that_does_not_exist_is_404_and_a_name_over_20_characters_5400() {
    let mock = MockImages::builder().fail_on_refusals(false).start().await;

    let (missing, missing_body) = call(&mock, Method::DELETE, Some("nope")).await;
    let long = "k".repeat(21);
    let (too_long, too_long_body) = call(&mock, Method::PUT, Some(&long)).await;
    let (twenty, _) = call(&mock, Method::PUT, Some(&long[..20])).await;

    assert_eq!(missing, 404);
    assert_eq!(missing_body["errors"][0]["code"], 5404);
    assert_eq!(too_long, 400);
    assert_eq!(too_long_body["errors"][0]["code"], 5400);
    assert_eq!(
        mock.requests()[1].errors[0].rule,
        "signing_key_name_too_long"
    );
    assert_eq!(twenty, 200);
}
