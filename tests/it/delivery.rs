//! Delivery URLs (`GET /cdn-cgi/imagedelivery/{hash}/{id}/{variant}`), over HTTP against a real
//! mock: the stored bytes, 404 for what is not there, signatures for private images, computed
//! here as Cloudflare's docs compute them (not with the crate's signer).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloudflare_images_mock::{MockImages, NewImage};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

/// Uploads the 1x1 PNG as `id` over HTTP, private or not.
async fn upload(mock: &MockImages, id: &str, private: bool) {
    let form = png_form()
        .text("id", id.to_owned())
        .text("requireSignedURLs", private.to_string());
    let (status, body) = send(mock, form).await;
    assert_eq!(status, 200, "{body}");
}

/// Uploads the 1x1 PNG with a generated id (private images cannot have custom ids); its id.
async fn upload_private(mock: &MockImages) -> String {
    let form = png_form().text("requireSignedURLs", "true");
    let (status, body) = send(mock, form).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["id"].as_str().unwrap().to_owned()
}

struct Answer {
    status: u16,
    content_type: String,
    cf_images: Option<String>,
    body: Vec<u8>,
}

async fn get(url: &str) -> Answer {
    let response = client().get(url).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        content_type: header("content-type").unwrap_or_default(),
        cf_images: header("cf-images"),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// The signing keys' values, read over HTTP as a client would.
async fn key_values(mock: &MockImages) -> Vec<String> {
    let body: Value = client()
        .get(format!("{}/keys", mock.upload_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["result"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["value"].as_str().unwrap().to_owned())
        .collect()
}

/// Cloudflare's docs (serve-private-images): stringToSign = pathname + "?" + searchParams;
/// sig = lowercase hex HMAC-SHA256 with the key's UTF-8 bytes.
fn hmac_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `url` signed with `key`, expiring at `exp` (or never).
fn signed(mock: &MockImages, url: &str, key: &str, exp: Option<u64>) -> String {
    let path = url
        .strip_prefix(&format!("{}/cdn-cgi/imagedelivery", mock.uri()))
        .unwrap();
    assert!(path.starts_with(&format!("/{}/", mock.account_hash())));
    match exp {
        Some(exp) => {
            let sig = hmac_hex(key, &format!("{path}?exp={exp}"));
            format!("{url}?exp={exp}&sig={sig}")
        }
        None => format!("{url}?sig={}", hmac_hex(key, path)),
    }
}

fn assert_refused(answer: &Answer, status: u16, code: u32) {
    assert_eq!(answer.status, status);
    assert_eq!(answer.cf_images.as_deref(), Some(&*format!("err={code}")));
    assert!(answer.content_type.starts_with("text/plain"));
    let text = String::from_utf8(answer.body.clone()).unwrap();
    assert!(text.starts_with(&format!("ERROR {code}: ")), "{text}");
}

#[tokio::test]
async fn a_public_image_is_served_with_its_bytes_and_content_type_without_credentials() {
    let mock = MockImages::start().await;
    upload(&mock, "a/cat.png", false).await;
    let jpeg = jpeg(3, 2);
    mock.insert_image(NewImage::new(jpeg.clone()).id("dog.jpg"));

    let url = mock.delivery_url("a/cat.png", "public");
    assert_eq!(
        url,
        format!(
            "{}/cdn-cgi/imagedelivery/{}/a/cat.png/public",
            mock.uri(),
            mock.account_hash()
        )
    );
    let answer = get(&url).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "image/png");
    assert_eq!(answer.body, PNG_1X1);
    let answer = get(&mock.delivery_url("dog.jpg", "public")).await;
    assert_eq!((answer.status, answer.body), (200, jpeg));
    assert_eq!(answer.content_type, "image/jpeg");

    let record = last_request(&mock);
    assert!(record.delivery);
    assert_eq!(record.operation, None);
    assert_eq!(record.image_id.as_deref(), Some("dog.jpg"));
    // Not an unserved route: the mock does not fail the test at drop.
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
async fn a_percent_encoded_id_is_decoded() {
    let mock = MockImages::start().await;
    upload(&mock, "a b.png", false).await;
    let url = mock.delivery_url("a b.png", "public");
    assert!(url.contains("/a%20b.png/"), "{url}");
    assert_eq!(get(&url).await.status, 200);
}

#[tokio::test]
async fn unknown_image_variant_or_hash_are_404_with_cf_images() {
    let mock = MockImages::start().await;
    upload(&mock, "cat.png", false).await;
    let base = format!("{}/cdn-cgi/imagedelivery", mock.uri());
    let hash = mock.account_hash();

    for url in [
        mock.delivery_url("nope.png", "public"),
        mock.delivery_url("cat.png", "thumbnail"),
        format!("{base}/AAAAAAAAAAAAAAAAAAAAAA/cat.png/public"),
        format!("{base}/{hash}/cat.png"),
        format!("{base}/{hash}"),
    ] {
        let answer = get(&url).await;
        assert_refused(&answer, 404, 9404);
        assert_eq!(answer.body, b"ERROR 9404: Image not found\n", "{url}");
        let record = last_request(&mock);
        assert!(record.delivery, "{url}");
        assert_eq!(record.errors[0].rule, "delivery_not_found");
    }
    // A deleted image is gone.
    let deleted = client()
        .delete(format!("{}/cat.png", mock.upload_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_refused(
        &get(&mock.delivery_url("cat.png", "public")).await,
        404,
        9404,
    );
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
async fn a_private_image_needs_a_signature_the_client_computes_as_the_docs_say() {
    let mock = MockImages::start().await;
    let id = upload_private(&mock).await;
    let url = mock.delivery_url(&id, "public");
    let key = key_values(&mock).await.remove(0);

    let unsigned = get(&url).await;
    assert_refused(&unsigned, 403, 9425);
    assert!(String::from_utf8_lossy(&unsigned.body).starts_with("ERROR 9425: Image access denied"));

    let in_an_hour = signed(&mock, &url, &key, Some(now() + 3600));
    let answer = get(&in_an_hour).await;
    assert_eq!((answer.status, answer.body.as_slice()), (200, PNG_1X1));
    assert_eq!(answer.content_type, "image/png");

    let expired = signed(&mock, &url, &key, Some(now() - 1));
    assert_refused(&get(&expired).await, 403, 9425);

    let forever = signed(&mock, &url, &key, None);
    assert_eq!(get(&forever).await.status, 200);

    // The signature covers the variant and exp.
    let other_variant = in_an_hour.replace("/public?", "/thumbnail?");
    assert_ne!(get(&other_variant).await.status, 200);
    let tampered = in_an_hour.replace("?exp=", "?exp=1");
    assert_refused(&get(&tampered).await, 403, 9425);
    let wrong_key = signed(&mock, &url, "not-the-key", Some(now() + 60));
    assert_refused(&get(&wrong_key).await, 403, 9425);

    // The crate's own signer agrees.
    let own = mock.signed_delivery_url(&id, "public", Some(Duration::from_secs(60)));
    assert_eq!(get(&own).await.status, 200);
    assert_eq!(
        get(&mock.signed_delivery_url(&id, "public", None))
            .await
            .status,
        200
    );
    assert_eq!(mock.verify(), Ok(()));
}

#[tokio::test]
async fn a_variant_that_never_requires_signed_urls_serves_private_images() {
    let mock = MockImages::start().await;
    let id = upload_private(&mock).await;
    let created = client()
        .post(format!("{}/variants", mock.upload_url()))
        .bearer_auth(TOKEN)
        .json(&json!({
            "id": "open",
            "options": {"fit": "cover", "width": 10, "height": 10, "metadata": "none"},
            "neverRequireSignedURLs": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);

    let answer = get(&mock.delivery_url(&id, "open")).await;
    assert_eq!((answer.status, answer.body.as_slice()), (200, PNG_1X1));
    assert_refused(&get(&mock.delivery_url(&id, "public")).await, 403, 9425);
}

#[tokio::test]
async fn any_current_key_signs_and_a_deleted_key_no_longer_does() {
    let mock = MockImages::start().await;
    let id = upload_private(&mock).await;
    let url = mock.delivery_url(&id, "public");
    let added = client()
        .put(format!("{}/keys/second", mock.upload_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 200);
    let keys = key_values(&mock).await;
    assert_eq!(keys.len(), 2);
    let exp = Some(now() + 600);
    for key in &keys {
        assert_eq!(get(&signed(&mock, &url, key, exp)).await.status, 200);
    }

    let deleted = client()
        .delete(format!("{}/keys/second", mock.upload_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_refused(&get(&signed(&mock, &url, &keys[1], exp)).await, 403, 9425);
    assert_eq!(get(&signed(&mock, &url, &keys[0], exp)).await.status, 200);
}

#[tokio::test]
async fn delivery_host_changes_the_variants_urls_in_answers() {
    let default = MockImages::start().await;
    upload(&default, "cat.png", false).await;
    let (_, body) = post(
        client()
            .get(format!("{}/cat.png", default.upload_url()))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(
        body["result"]["variants"],
        json!([format!(
            "https://imagedelivery.net/{}/cat.png/public",
            default.account_hash()
        )])
    );

    let mock = MockImages::builder()
        .delivery_host("https://images.example.com/cdn-cgi/imagedelivery/")
        .start()
        .await;
    let form = png_form().text("id", "a/cat.png");
    let (status, body) = send(&mock, form).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"]["variants"],
        json!([format!(
            "https://images.example.com/cdn-cgi/imagedelivery/{}/a/cat.png/public",
            mock.account_hash()
        )])
    );
}

#[tokio::test]
async fn variants_urls_can_point_at_the_mock_itself() {
    // A fixed port, so the host is known before start.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mock = MockImages::builder()
        .port(port)
        .delivery_host(format!("http://127.0.0.1:{port}/cdn-cgi/imagedelivery"))
        .start()
        .await;
    upload(&mock, "cat.png", false).await;
    let (_, body) = post(
        client()
            .get(format!("{}/cat.png", mock.upload_url()))
            .bearer_auth(TOKEN),
    )
    .await;
    let url = body["result"]["variants"][0].as_str().unwrap();
    assert_eq!(url, mock.delivery_url("cat.png", "public"));
    assert_eq!(get(url).await.body, PNG_1X1);
}
