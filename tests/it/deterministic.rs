//! Deterministic mode: a seeded mock with a fixed clock answers the same requests with the same
//! bytes and journals them the same way on every run; a fixed clock drives `uploaded`, the
//! expiry of drafts and the `exp` of signed delivery URLs.

use std::time::{Duration, UNIX_EPOCH};

use cloudflare_images_mock::{Clock, MockImages};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

/// 2024-05-01T12:00:00Z.
const START: u64 = 1_714_564_800;

fn start() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(START)
}

async fn seeded(seed: u64) -> MockImages {
    MockImages::builder()
        .seed(seed)
        .clock(Clock::fixed(start()))
        .start()
        .await
}

/// One answer, with every header but none of the mock's own address (the only value that is
/// about transport: each mock has its own port).
async fn exchange(
    mock: &MockImages,
    method: Method,
    url: &str,
    form: Option<RawForm>,
) -> (String, Vec<u8>) {
    let mut request = client().request(method, url).bearer_auth(TOKEN);
    if let Some(form) = form {
        let (content_type, body) = form.finish();
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
    }
    let response = request.send().await.unwrap();
    let mut head = format!("{}\n", response.status());
    for (name, value) in response.headers() {
        head.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
    }
    let body = response.bytes().await.unwrap().to_vec();
    let address = mock.address().to_string();
    let body = String::from_utf8(body.clone())
        .map(|text| text.replace(&address, "{mock}").into_bytes())
        .unwrap_or(body);
    (head.replace(&address, "{mock}"), body)
}

fn png(boundary: &str) -> RawForm {
    RawForm::new(boundary).file("file", Some("cat.png"), Some("image/png"), PNG_1X1)
}

fn json(answer: &(String, Vec<u8>)) -> Value {
    serde_json::from_slice(&answer.1).unwrap()
}

/// Uploads, details, a v2 list over two pages, a direct creator upload and its one-time URL, a
/// new signing key, the keys, and deliveries public and signed: every answer, in order.
async fn transcript(mock: &MockImages) -> Vec<(String, Vec<u8>)> {
    let images = mock.upload_url();
    let mut answers = Vec::new();
    // Eleven: a v2 page holds at least ten.
    for i in 0..11 {
        let form = match i {
            1 => png("b1").text("metadata", r#"{"owner":42}"#),
            2 => png("b2").text("requireSignedURLs", "true"),
            i => png(&format!("b{i}")),
        };
        answers.push(exchange(mock, Method::POST, &images, Some(form)).await);
    }
    let first = json(&answers[0])["result"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let private = json(&answers[2])["result"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    answers.push(exchange(mock, Method::GET, &format!("{images}/{first}"), None).await);
    let v2 = format!(
        "{}/accounts/{}/images/v2",
        mock.base_url(),
        mock.account_id()
    );
    let page = exchange(mock, Method::GET, &format!("{v2}?per_page=10"), None).await;
    let token = json(&page)["result"]["continuation_token"]
        .as_str()
        .expect("a second page")
        .to_owned();
    answers.push(page);
    let next = format!("{v2}?per_page=10&continuation_token={token}");
    answers.push(exchange(mock, Method::GET, &next, None).await);
    let draft = RawForm::new("d").text("creator", "me");
    let direct = exchange(
        mock,
        Method::POST,
        &format!("{v2}/direct_upload"),
        Some(draft),
    )
    .await;
    let upload_url = json(&direct)["result"]["uploadURL"]
        .as_str()
        .unwrap()
        .replace("{mock}", &mock.address().to_string());
    answers.push(direct);
    answers.push(exchange(mock, Method::POST, &upload_url, Some(png("u"))).await);
    answers.push(exchange(mock, Method::PUT, &format!("{images}/keys/mine"), None).await);
    answers.push(exchange(mock, Method::GET, &format!("{images}/keys"), None).await);
    answers.push(
        exchange(
            mock,
            Method::GET,
            &mock.delivery_url(&first, "public"),
            None,
        )
        .await,
    );
    let signed = mock.signed_delivery_url(&private, "public", Some(Duration::from_secs(60)));
    answers.push(exchange(mock, Method::GET, &signed, None).await);
    answers
}

/// The journal, every field of every record, with the mock's address taken out.
fn journal(mock: &MockImages) -> Vec<String> {
    let address = mock.address().to_string();
    mock.requests()
        .iter()
        .map(|record| format!("{record:?}").replace(&address, "{mock}"))
        .collect()
}

#[tokio::test]
async fn a_seeded_mock_with_a_fixed_clock_answers_and_journals_the_same_bytes_every_run() {
    // Arrange
    let (one, two) = (seeded(7).await, seeded(7).await);

    // Act
    let (first, second) = (transcript(&one).await, transcript(&two).await);

    // Assert: every status, header and body.
    assert_eq!(first.len(), 20);
    for (i, ((head, body), (head2, body2))) in first.iter().zip(&second).enumerate() {
        assert!(head.starts_with("200 "), "answer {i}: {head}");
        assert_eq!(head, head2, "answer {i}");
        assert_eq!(body, body2, "answer {i}: {}", String::from_utf8_lossy(body));
        assert!(
            head.contains("date: Wed, 01 May 2024 12:00:00 GMT\n"),
            "{head}"
        );
    }
    assert_eq!(
        json(&first[0])["result"]["uploaded"],
        "2024-05-01T12:00:00.000Z"
    );
    // The journals, `received` included.
    let (journal_one, journal_two) = (journal(&one), journal(&two));
    assert_eq!(journal_one.len(), 20);
    assert_eq!(journal_one, journal_two);
    assert!(one.requests().iter().all(|r| r.received == start()));
}

#[tokio::test]
async fn different_seeds_give_different_values_and_no_seed_random_ones() {
    let generated = |mock: &MockImages| {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"/>"#;
        let id = mock
            .insert_image(cloudflare_images_mock::NewImage::new(svg))
            .id;
        let uuid = uuid::Uuid::parse_str(&id).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 4, "{id}");
        assert!(id.ends_with("00"), "{id}");
        id
    };
    let (one, other) = (seeded(1).await, seeded(2).await);
    let (a, b) = (transcript(&one).await, transcript(&other).await);
    assert_ne!(a[0].1, b[0].1, "the generated ids differ");
    assert_ne!(a[17].1, b[17].1, "the signing keys differ");
    assert_ne!(generated(&one), generated(&other));

    let (one, other) = (MockImages::start().await, MockImages::start().await);
    assert_ne!(generated(&one), generated(&other));
    let keys = |mock: &MockImages| {
        let url = format!("{}/keys", mock.upload_url());
        async move { post(client().get(url).bearer_auth(TOKEN)).await.1 }
    };
    assert_ne!(keys(&one).await, keys(&other).await);
}

#[tokio::test]
async fn a_fixed_clock_dates_uploads() {
    let mock = seeded(3).await;
    let (status, body) = send(&mock, png_form()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["uploaded"], "2024-05-01T12:00:00.000Z");
    let id = body["result"]["id"].as_str().unwrap();
    assert_eq!(mock.image(id).unwrap().uploaded, start());
    mock.clock().advance(Duration::from_millis(1500));
    let (_, body) = send(&mock, png_form()).await;
    assert_eq!(body["result"]["uploaded"], "2024-05-01T12:00:01.500Z");
}

fn direct_url(mock: &MockImages) -> String {
    format!(
        "{}/accounts/{}/images/v2/direct_upload",
        mock.base_url(),
        mock.account_id()
    )
}

#[tokio::test]
async fn advancing_past_a_drafts_expiry_makes_its_url_expired_and_the_draft_gone() {
    // Arrange: the default expiry, 30 minutes after the fixed time.
    let mock = seeded(4).await;
    let (status, body) = post(
        client()
            .post(direct_url(&mock))
            .bearer_auth(TOKEN)
            .multipart(reqwest::multipart::Form::new().text("creator", "me")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["result"]["id"].as_str().unwrap().to_owned();
    let upload_url = body["result"]["uploadURL"].as_str().unwrap().to_owned();
    mock.clock().advance(Duration::from_secs(30 * 60 - 1));
    assert!(
        mock.image(&id).unwrap().draft,
        "not expired a second before"
    );

    // Act
    mock.clock().advance(Duration::from_secs(1));

    // Assert
    assert!(mock.image(&id).is_none());
    let (status, body) = post(client().post(&upload_url).multipart(png_form())).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errors"][0]["code"], 5404);
    assert_last_refused(&mock, 404, "upload_url_expired");
}

#[tokio::test]
async fn direct_upload_expiry_is_checked_against_the_mocks_clock() {
    // 2020-01-01T00:00:00Z: in the past by the system's clock.
    let then = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    let mock = MockImages::builder()
        .clock(Clock::fixed(then))
        .start()
        .await;
    let create = |expiry: &'static str| {
        let form = reqwest::multipart::Form::new().text("expiry", expiry);
        post(
            client()
                .post(direct_url(&mock))
                .bearer_auth(TOKEN)
                .multipart(form),
        )
    };

    let (status, body) = create("2020-01-01T01:00:00Z").await;
    assert_eq!(status, 200, "an hour ahead of the mock's clock: {body}");
    let id = body["result"]["id"].as_str().unwrap().to_owned();
    let (status, _) = create("2020-01-01T00:01:00Z").await;
    assert_eq!(status, 400, "a minute ahead: under the window's 2 minutes");
    assert_last_refused(&mock, 400, "expiry_out_of_range");
    let (status, _) = create("2020-01-01T06:00:00Z").await;
    assert_eq!(status, 200, "the window's end, 6 hours ahead");

    mock.clock().advance(Duration::from_secs(3600));
    assert!(mock.image(&id).is_none(), "expired at its own expiry");
}

#[tokio::test]
async fn a_signed_delivery_urls_exp_is_checked_against_the_mocks_clock() {
    // Arrange: a private image and a URL valid for one more second by the fixed clock.
    let mock = seeded(5).await;
    let (_, body) = send(&mock, png_form().text("requireSignedURLs", "true")).await;
    let id = body["result"]["id"].as_str().unwrap().to_owned();
    let url = mock.signed_delivery_url(&id, "public", Some(Duration::from_secs(1)));
    assert!(url.contains(&format!("exp={}&", START + 1)), "{url}");
    let get = |url: String| async move { client().get(url).send().await.unwrap() };
    assert_eq!(get(url.clone()).await.status(), 200);

    // Act
    mock.clock().advance(Duration::from_secs(1));

    // Assert
    let refused = get(url).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["cf-images"], "err=9425");
}
