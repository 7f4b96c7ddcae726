//! Variants: list, create, details (also flat), update, delete, over HTTP against a real mock;
//! an image's `variants` URLs follow the account's variants.

use cloudflare_images_mock::{conformance, MockImages, NewImage, Operation};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn url(mock: &MockImages, rest: &str) -> String {
    format!("{}/variants{rest}", mock.upload_url())
}

/// Sends a request; a JSON answer is checked against the official response schema of the
/// operation. Answers the status and the body (JSON, or the text as a string).
async fn call(mock: &MockImages, method: Method, rest: &str, body: Option<Value>) -> (u16, Value) {
    let target = url(mock, rest);
    let path = reqwest::Url::parse(&target).unwrap().path().to_owned();
    let operation = Operation::of(method.as_str(), &path).expect("a variants operation");
    let mut request = client().request(method, target).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
    let bytes = response.bytes().await.unwrap();
    if let Err(problems) = conformance::check_response(operation, status, &bytes) {
        panic!(
            "{operation} ({status}): {problems:?}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let body = if json {
        serde_json::from_slice(&bytes).unwrap()
    } else {
        Value::String(String::from_utf8(bytes.to_vec()).unwrap())
    };
    (status, body)
}

fn thumbnail() -> Value {
    json!({
        "id": "thumbnail",
        "options": {"fit": "cover", "width": 100, "height": 100, "metadata": "none"},
        "neverRequireSignedURLs": true
    })
}

#[tokio::test]
async fn a_new_account_has_the_recorded_public_variant() {
    let mock = MockImages::start().await;

    let (status, body) = call(&mock, Method::GET, "", None).await;

    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["variants"],
        json!({"public": {
            "id": "public",
            "options": {"fit": "scale-down", "width": 1366, "height": 768, "metadata": "none"},
            "neverRequireSignedURLs": false
        }})
    );
}

#[tokio::test]
async fn create_get_flat_update_delete() {
    let mock = MockImages::start().await;

    let (created, created_body) = call(&mock, Method::POST, "", Some(thumbnail())).await;
    let (got, got_body) = call(&mock, Method::GET, "/thumbnail", None).await;
    let (flat, flat_body) = call(&mock, Method::GET, "/thumbnail/flat", None).await;
    let patch = json!({"options": {"fit": "pad", "width": 50, "height": 60, "metadata": "keep"}});
    let (updated, updated_body) = call(&mock, Method::PATCH, "/thumbnail", Some(patch)).await;
    let (listed, listed_body) = call(&mock, Method::GET, "", None).await;
    let (deleted, deleted_body) = call(&mock, Method::DELETE, "/thumbnail", None).await;
    let (gone, gone_body) = call(&mock, Method::GET, "/thumbnail", None).await;

    assert_eq!(
        [created, got, flat, updated, listed, deleted, gone],
        [200, 200, 200, 200, 200, 200, 404]
    );
    assert_eq!(created_body["result"]["variant"], thumbnail());
    assert_eq!(got_body["result"]["variant"], thumbnail());
    assert_eq!(flat_body["result"], thumbnail());
    let variant = &updated_body["result"]["variant"];
    assert_eq!(variant["options"]["fit"], "pad");
    assert_eq!(variant["options"]["metadata"], "keep");
    assert_eq!(
        variant["neverRequireSignedURLs"], true,
        "not in the body: kept"
    );
    assert_eq!(listed_body["result"]["variants"]["thumbnail"], *variant);
    assert_eq!(deleted_body["result"], json!({}));
    assert_eq!(gone_body, "variant not found", "the recorded plain text");
    assert_eq!(mock.requests()[6].errors[0].code, 5401);
}

#[tokio::test]
async fn a_duplicate_name_is_409() {
    let mock = MockImages::builder().fail_on_refusals(false).start().await;
    call(&mock, Method::POST, "", Some(thumbnail())).await;

    let (status, body) = call(&mock, Method::POST, "", Some(thumbnail())).await;

    assert_eq!(status, 409);
    assert_eq!(body["errors"][0]["code"], 5409);
}

#[tokio::test]
async fn bodies_are_checked_by_the_variant_schema() {
    let mock = MockImages::start().await;
    let cases = [
        (json!({"id": "v", "options": {"fit": "xxx", "width": 1, "height": 1, "metadata": "none"}}),
         "variant_fit_unsupported",
         "Bad request: 'xxx' is not a supported fit mode. Use 'cover', 'contain' or 'scale-down'"),
        (json!({"id": "v"}), "variant_options_missing", "Bad request: missing field `options`"),
        (json!({"id": "v", "options": {"fit": "cover", "width": 0, "height": 1, "metadata": "none"}}),
         "variant_width_invalid", "Bad request: width: must be a number of at least 1"),
        (json!({"id": "v".repeat(100), "options": {"fit": "cover", "width": 1, "height": 1, "metadata": "none"}}),
         "variant_id_invalid", "Bad request: id: must be from 1 to 99 characters, without `/`"),
        (json!({"id": "v", "options": {"fit": "cover", "width": 1, "height": 1, "metadata": "all"}}),
         "variant_metadata_unsupported",
         "Bad request: 'all' is not a supported metadata mode. Use 'keep', 'copyright' or 'none'"),
    ];

    for (body, rule, message) in cases {
        let (status, answer) = call(&mock, Method::POST, "", Some(body)).await;

        assert_eq!(status, 400, "{rule}: {answer}");
        assert_eq!(answer["errors"][0]["code"], 5400);
        assert_eq!(answer["errors"][0]["message"], message);
        assert_eq!(last_request(&mock).errors[0].rule, rule);
    }
    mock.reset_expectations();
    assert_eq!(
        call(&mock, Method::GET, "", None).await.1["result"]["variants"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn an_images_variants_urls_follow_the_accounts_variants() {
    let mock = MockImages::start().await;
    let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>"#;
    let image = mock.insert_image(NewImage::new(svg).id("cat.svg"));
    call(&mock, Method::POST, "", Some(thumbnail())).await;
    call(&mock, Method::DELETE, "/public", None).await;

    let response = client()
        .get(format!("{}/{}", mock.upload_url(), image.id))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();

    let hash = mock.account_hash();
    assert_eq!(
        body["result"]["variants"],
        json!([format!(
            "https://imagedelivery.net/{hash}/cat.svg/thumbnail"
        )])
    );
}

// Found by the `bodies` fuzz target: a variant's name may hold any character but `/`, and the
// delivery URLs of an image then escape it (the official description wants URLs), and serve it.
#[tokio::test]
async fn a_variant_name_with_odd_characters_is_escaped_in_delivery_urls() {
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(PNG_1X1).id("odd.png"));
    let mut body = thumbnail();
    body["id"] = json!("thumb` #1");
    let (status, _) = call(&mock, Method::POST, "", Some(body)).await;
    assert_eq!(status, 200);

    let details = client()
        .get(format!("{}/{}", mock.upload_url(), image.id))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = details.status().as_u16();
    let bytes = details.bytes().await.unwrap();
    if let Err(problems) = conformance::check_response(Operation::Get, status, &bytes) {
        panic!("{problems:?}: {}", String::from_utf8_lossy(&bytes));
    }
    let details: Value = serde_json::from_slice(&bytes).unwrap();
    let urls: Vec<&str> = details["result"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|url| url.as_str().unwrap())
        .collect();
    assert!(
        urls.iter()
            .any(|url| url.ends_with("/odd.png/thumb%60%20%231")),
        "{urls:?}"
    );
    let served = client()
        .get(mock.delivery_url("odd.png", "thumb` #1"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap(), PNG_1X1);
}
