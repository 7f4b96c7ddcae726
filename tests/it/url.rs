//! `url` uploads: registered bytes, a loopback origin, and the refusals (5454, and the image
//! rules pointing at `/url`).

use std::time::Duration;

use cloudflare_images_mock::MockImages;
use reqwest::multipart::Form;

use crate::helpers::*;

const FETCH_FAILED: &str = "Failed to fetch image from url: ";

fn url_form(url: &str) -> Form {
    Form::new().text("url", url.to_owned())
}

/// Asserts a 5454 refusal whose detail contains `detail`.
fn assert_fetch_failed(status: u16, body: &serde_json::Value, detail: &str) {
    assert!((400..500).contains(&status), "a 4xx: {status} {body}");
    assert_eq!(
        status, 400,
        "the status schemas/errors.json assumes: {body}"
    );
    assert_eq!(body["errors"][0]["code"], 5454, "{body}");
    let message = body["errors"][0]["message"].as_str().expect("a message");
    let rest = message
        .strip_prefix(FETCH_FAILED)
        .unwrap_or_else(|| panic!("{message}"));
    assert!(rest.contains(detail), "{message:?} should say {detail:?}");
}

#[tokio::test]
async fn registered_bytes_are_served() {
    // Arrange
    let mock = MockImages::start().await;
    let url = "https://example.com/images/cat.png?size=large#top";
    mock.serve_url(url, png(32, 16));

    // Act
    let (status, body) = send(&mock, url_form(url).text("creator", "crawler")).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["filename"], "cat.png");
    assert_eq!(body["result"]["creator"], "crawler");
    let upload = &mock.uploads()[0];
    assert_eq!(upload.url.as_deref(), Some(url));
    assert_eq!(upload.filename.as_deref(), Some("cat.png"));
    assert_eq!(upload.file.as_deref(), Some(&png(32, 16)[..]));
    assert_eq!(upload.format.as_deref(), Some("png"));
    assert_eq!(upload.dimensions, Some((32, 16)));
    assert_eq!(upload.content_type, None);
    assert_last_accepted(&mock);
}

#[tokio::test]
async fn a_loopback_origin_is_fetched() {
    // Arrange
    let mock = MockImages::start().await;
    let origin = origin("200 OK", gif(20, 10)).await;
    let url = format!("http://{origin}/pictures/dog.gif");

    // Act
    let (status, body) = send(&mock, url_form(&url)).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["filename"], "dog.gif");
    let upload = &mock.uploads()[0];
    assert_eq!(upload.url.as_deref(), Some(url.as_str()));
    assert_eq!(upload.file.as_deref(), Some(&gif(20, 10)[..]));
    assert_eq!(upload.format.as_deref(), Some("gif"));
    assert_eq!(upload.dimensions, Some((20, 10)));
}

#[tokio::test]
async fn a_localhost_origin_is_fetched() {
    // Arrange
    let mock = MockImages::start().await;
    let origin = origin("200 OK", PNG_1X1.to_vec()).await;
    let url = format!("http://localhost:{}/a.png", origin.port());

    // Act
    let (status, body) = send(&mock, url_form(&url)).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["filename"], "a.png");
}

#[tokio::test]
async fn an_unregistered_url_elsewhere_is_5454_without_network() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = send(&mock, url_form("https://example.com/not-registered.png")).await;

    // Assert
    assert_fetch_failed(status, &body, "hermetic");
    assert_last_refused(&mock, 400, "fetch_failed");
    assert!(mock.uploads().is_empty());
}

#[tokio::test]
async fn a_loopback_origin_answering_404_is_5454() {
    // Arrange
    let mock = MockImages::start().await;
    let origin = origin("404 Not Found", b"no such picture".to_vec()).await;

    // Act
    let (status, body) = send(&mock, url_form(&format!("http://{origin}/missing.png"))).await;

    // Assert
    assert_fetch_failed(status, &body, "404");
    assert_last_refused(&mock, 400, "fetch_failed");
}

#[tokio::test]
async fn a_closed_loopback_port_is_5454() {
    // Arrange: a port that was just free.
    let mock = MockImages::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // Act
    let (status, body) = send(&mock, url_form(&format!("http://127.0.0.1:{port}/a.png"))).await;

    // Assert
    assert_fetch_failed(status, &body, "");
    assert_last_refused(&mock, 400, "fetch_failed");
}

#[tokio::test]
async fn an_origin_that_never_answers_is_5454_after_the_fetch_timeout() {
    // Arrange: an origin that accepts and stays silent, and a tiny timeout.
    let mock = MockImages::builder()
        .fetch_timeout(Duration::from_millis(50))
        .start()
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });

    // Act
    let (status, body) = send(&mock, url_form(&format!("http://{address}/slow.png"))).await;

    // Assert
    assert_fetch_failed(status, &body, "no answer within");
}

#[tokio::test]
async fn fetch_failures_point_at_url() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = send(&mock, url_form("https://example.com/not-registered.png")).await;

    // Assert: the error belongs to the `url` field, like every other error on a field; the
    // journal says so (the answered error is `{code, message}` only, as recorded).
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0].as_object().unwrap().len(), 2, "{body}");
    let record = last_request(&mock);
    assert_eq!(
        record.errors[0].pointer.as_deref(),
        Some("/url"),
        "{record:?}"
    );
}

#[tokio::test]
async fn fetched_garbage_is_5455_at_url() {
    // Arrange
    let mock = MockImages::start().await;
    let origin = origin("200 OK", GARBAGE.to_vec()).await;
    mock.serve_url(
        "https://example.com/page.png",
        b"<html>not an image</html>".to_vec(),
    );

    for url in [
        format!("http://{origin}/fake.png"),
        "https://example.com/page.png".to_owned(),
    ] {
        // Act
        let (status, body) = send(&mock, url_form(&url)).await;

        // Assert
        assert_eq!(status, 415, "{url}: {body}");
        assert_error(
            &body,
            5455,
            "Uploaded image must have image/jpeg, image/png, image/webp, image/gif or image/svg+xml content-type",
            Some((&mock, "/url")),
        );
        assert_last_refused(&mock, 415, "file_unsupported_type");
    }
    assert!(mock.uploads().is_empty());
}

#[tokio::test]
async fn fetched_images_go_through_the_image_rules() {
    // Arrange
    let mock = MockImages::start().await;
    mock.serve_url("https://example.com/huge.png", png(12001, 1));
    mock.serve_url("https://example.com/cut.png", png_truncated_ihdr());

    // Act
    let (huge, huge_body) = send(&mock, url_form("https://example.com/huge.png")).await;
    let (cut, cut_body) = send(&mock, url_form("https://example.com/cut.png")).await;

    // Assert
    assert_eq!(huge, 400, "{huge_body}");
    assert_error(
        &huge_body,
        5400,
        "Bad request: file: image width and height must be at most 12000 px",
        Some((&mock, "/url")),
    );
    assert_eq!(cut, 400, "{cut_body}");
    assert_error(
        &cut_body,
        9422,
        "Decode error: image failed to be decoded: the image header is truncated or corrupt",
        Some((&mock, "/url")),
    );
    assert_last_refused(&mock, 400, "file_undecodable");
}

#[tokio::test]
async fn a_fetched_image_over_10_mib_is_5413_at_url() {
    // Arrange
    let mock = MockImages::start().await;
    let origin = origin("200 OK", png_of_size(10 * 1024 * 1024 + 1)).await;

    // Act
    let (status, body) = send(&mock, url_form(&format!("http://{origin}/big.png"))).await;

    // Assert
    assert_eq!(status, 413, "{body}");
    assert_error(
        &body,
        5413,
        "Maximum image size of 10 MB is reached",
        Some((&mock, "/url")),
    );
    assert_last_refused(&mock, 413, "file_too_large");
}

#[tokio::test]
async fn an_https_loopback_url_is_not_fetched() {
    // Arrange
    let mock = MockImages::start().await;
    let origin = origin("200 OK", PNG_1X1.to_vec()).await;

    // Act
    let (status, body) = send(&mock, url_form(&format!("https://{origin}/a.png"))).await;

    // Assert
    assert_fetch_failed(status, &body, "http://");
}

#[tokio::test]
async fn a_url_upload_with_a_custom_id() {
    // Arrange
    let mock = MockImages::start().await;
    mock.serve_url("https://example.com/logo.svg", svg(100, 40));

    // Act
    let (status, body) = send(
        &mock,
        url_form("https://example.com/logo.svg").text("id", "brand/logo"),
    )
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], "brand/logo");
    assert_eq!(body["result"]["filename"], "logo.svg");
    assert_eq!(mock.uploads()[0].format.as_deref(), Some("svg"));
}

#[tokio::test]
async fn a_url_without_a_file_name_is_accepted_with_a_conforming_answer() {
    // Arrange: nothing after the host to take a file name from.
    let mock = MockImages::start().await;
    mock.serve_url("https://example.com/", PNG_1X1);

    // Act: `send` checks the answer against the official description (filename: a string).
    let (status, body) = send(&mock, url_form("https://example.com/")).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.uploads()[0].filename, None);
}

#[tokio::test]
async fn allow_network_lets_the_mock_try_other_hosts() {
    // Arrange: 192.0.2.1 is TEST-NET-1, never routed; a tiny timeout bounds the attempt.
    let mock = MockImages::builder()
        .allow_network(true)
        .fetch_timeout(Duration::from_millis(50))
        .start()
        .await;

    // Act
    let (status, body) = send(&mock, url_form("http://192.0.2.1/a.png")).await;

    // Assert: refused because the fetch failed, not because the mock is hermetic.
    assert_fetch_failed(status, &body, "");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("hermetic"), "{message}");
}
