//! The official SDKs' own serialisations, byte for byte as FACTS.md captured them: the Python
//! SDK 5.9.0 (httpx) and the TypeScript SDK 7.3.0 (undici FormData), with the SDK test suites'
//! credentials and root base URL.

use cloudflare_images_mock::{Credentials, MockImages};
use serde_json::json;

use crate::helpers::*;

const SDK_EMAIL: &str = "user@example.com";
const SDK_KEY: &str = "144c9defac04969c7bfad8efaa8ea194";
const SDK_ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// A mock set up as the SDK test suites expect of Prism: their credentials, their account.
async fn sdk_mock() -> MockImages {
    MockImages::builder()
        .credentials(Credentials::key(SDK_EMAIL, SDK_KEY))
        .account_id(SDK_ACCOUNT)
        .start()
        .await
}

/// The SDK test suites use a root base URL (`http://127.0.0.1:4010`).
fn root_upload_url(mock: &MockImages) -> String {
    format!("{}/accounts/{SDK_ACCOUNT}/images/v1", mock.uri())
}

fn python_headers(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("Accept", "application/json")
        .header("User-Agent", "Cloudflare/Python 5.9.0")
        .header("X-Stainless-Lang", "python")
        .header("X-Stainless-Package-Version", "5.9.0")
        .header("X-Stainless-OS", "Linux")
        .header("X-Stainless-Arch", "x64")
        .header("X-Stainless-Runtime", "CPython")
        .header("X-Stainless-Runtime-Version", "3.12.3")
        .header("X-Stainless-Async", "false")
        .header("X-Stainless-Retry-Count", "0")
        .header("X-Stainless-Read-Timeout", "60")
        .header("api-version", "2026-11-23")
        .header("X-Auth-Email", SDK_EMAIL)
        .header("X-Auth-Key", SDK_KEY)
}

fn typescript_headers(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request
        .header("accept", "application/json")
        .header("user-agent", "Cloudflare/JS 7.3.0")
        .header("x-stainless-lang", "js")
        .header("x-stainless-package-version", "7.3.0")
        .header("x-stainless-os", "Linux")
        .header("x-stainless-arch", "x64")
        .header("x-stainless-runtime", "node")
        .header("x-stainless-runtime-version", "v22.11.0")
        .header("x-stainless-retry-count", "0")
        .header("api-version", "2026-11-23")
        .header("x-auth-email", SDK_EMAIL)
        .header("x-auth-key", SDK_KEY)
}

#[tokio::test]
async fn python_sdk_upload_of_bare_bytes() {
    // Arrange: client.images.v1.create(account_id=..., file=png_bytes, creator="user-42",
    // metadata={"owner": "42", "n": 1, "nested": {"a": True}}, require_signed_urls=False):
    // dot parts first, then the file as `upload`, application/octet-stream.
    let mock = sdk_mock().await;
    let form = RawForm::new("d3b07384d113edec49eaa6238ad5ff00")
        .text("creator", "user-42")
        .text("metadata.owner", "42")
        .text("metadata.n", "1")
        .text("metadata.nested.a", "true")
        .text("requireSignedURLs", "false")
        .file(
            "file",
            Some("upload"),
            Some("application/octet-stream"),
            PNG_1X1,
        );
    let (content_type, body) = form.finish();

    // Act
    let (status, body) = post(python_headers(
        client()
            .post(root_upload_url(&mock))
            .header("Content-Type", content_type)
            .body(body),
    ))
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["filename"], "upload");
    assert_eq!(result["creator"], "user-42");
    assert_eq!(
        result["meta"],
        json!({"owner": "42", "n": "1", "nested": {"a": "true"}})
    );
    assert_eq!(result["requireSignedURLs"], false);
    let upload = &mock.uploads()[0];
    assert_eq!(upload.account_id, SDK_ACCOUNT);
    assert_eq!(
        upload.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(upload.format.as_deref(), Some("png"));
    assert_eq!(upload.file.as_deref(), Some(PNG_1X1));
    assert_eq!(upload.header("user-agent"), Some("Cloudflare/Python 5.9.0"));
    assert_eq!(upload.header("x-stainless-lang"), Some("python"));
    assert_eq!(upload.header("X-Stainless-Read-Timeout"), Some("60"));
    assert_eq!(upload.header("x-auth-email"), Some(SDK_EMAIL));
    assert_eq!(upload.header("x-auth-key"), Some(SDK_KEY));
    assert!(upload
        .fields
        .contains(&("requireSignedURLs".to_owned(), "false".to_owned())));
    assert_last_accepted(&mock);
}

#[tokio::test]
async fn python_sdk_upload_with_signed_urls_and_a_tuple_file() {
    // Arrange: file=("a.png", png_bytes, "image/png"), require_signed_urls=True.
    let mock = sdk_mock().await;
    let form = RawForm::new("0f343b0931126a20f133d67c2b018a3b")
        .text("requireSignedURLs", "true")
        .file("file", Some("a.png"), Some("image/png"), PNG_1X1);
    let (content_type, body) = form.finish();

    // Act
    let (status, body) = post(python_headers(
        client()
            .post(root_upload_url(&mock))
            .header("Content-Type", content_type)
            .body(body),
    ))
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["filename"], "a.png");
    assert_eq!(body["result"]["requireSignedURLs"], true);
    assert_eq!(
        body["result"].get("meta"),
        None,
        "no metadata sent: no meta key"
    );
    assert!(mock.uploads()[0].require_signed_urls);
}

#[tokio::test]
async fn typescript_sdk_upload_of_an_unnamed_buffer() {
    // Arrange: client.images.v1.create({account_id, file: await toFile(buf), metadata:
    // {owner: "42", nested: {a: true}, tags: ["x", "y"]}, requireSignedURLs: true}).
    let mock = sdk_mock().await;
    let form = RawForm::new("----formdata-undici-038417266712")
        .file(
            "file",
            Some("unknown_file"),
            Some("application/octet-stream"),
            PNG_1X1,
        )
        .text("metadata[owner]", "42")
        .text("metadata[nested][a]", "true")
        .text("metadata[tags][]", "x")
        .text("metadata[tags][]", "y")
        .text("requireSignedURLs", "true");
    let (content_type, body) = form.finish();

    // Act
    let (status, body) = post(typescript_headers(
        client()
            .post(root_upload_url(&mock))
            .header("content-type", content_type)
            .body(body),
    ))
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["filename"], "unknown_file");
    assert_eq!(
        result.get("creator"),
        None,
        "no creator sent: no creator key"
    );
    assert_eq!(
        result["meta"],
        json!({"owner": "42", "nested": {"a": "true"}, "tags": ["x", "y"]})
    );
    assert_eq!(result["requireSignedURLs"], true);
    let upload = &mock.uploads()[0];
    assert_eq!(
        upload.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(upload.format.as_deref(), Some("png"));
    assert_eq!(upload.header("User-Agent"), Some("Cloudflare/JS 7.3.0"));
    assert_eq!(upload.header("X-Stainless-Lang"), Some("js"));
    assert_eq!(upload.header("x-auth-key"), Some(SDK_KEY));
}

#[tokio::test]
async fn sdk_uploads_through_the_client_v4_base_url_too() {
    // Arrange: a user pointing the SDK at `mock.base_url()`.
    let mock = sdk_mock().await;
    let form = RawForm::new("d3b07384d113edec49eaa6238ad5ff00").file(
        "file",
        Some("upload"),
        Some("application/octet-stream"),
        PNG_1X1,
    );
    let (content_type, body) = form.finish();
    let url = format!("{}/accounts/{SDK_ACCOUNT}/images/v1", mock.base_url());

    // Act
    let (status, body) = post(python_headers(
        client()
            .post(url)
            .header("Content-Type", content_type)
            .body(body),
    ))
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_sdk_test_credentials_are_required_when_configured() {
    // Arrange: the right email with another key.
    let mock = sdk_mock().await;
    let (content_type, body) = RawForm::new("d3b07384d113edec49eaa6238ad5ff00")
        .file(
            "file",
            Some("upload"),
            Some("application/octet-stream"),
            PNG_1X1,
        )
        .finish();

    // Act
    let (status, body) = post(
        client()
            .post(root_upload_url(&mock))
            .header("X-Auth-Email", SDK_EMAIL)
            .header("X-Auth-Key", "0000000000000000000000000000000")
            .header("Content-Type", content_type)
            .body(body),
    )
    .await;

    // Assert
    assert_eq!(status, 401, "{body}");
    assert_gateway_error(&body, 10000, "Authentication error");
    assert_last_refused(&mock, 401, "authentication");
}

#[tokio::test]
async fn the_typescript_sdk_test_upload_is_refused_as_the_real_api_would() {
    // Arrange: the (skipped) create test of cloudflare-typescript: id 'id', creator 'creator',
    // file toFile(Buffer.from('Example data'), 'README.md'), requireSignedURLs true and a url.
    let mock = sdk_mock().await;
    let form = RawForm::new("----formdata-undici-012345678901")
        .text("id", "id")
        .text("creator", "creator")
        .file(
            "file",
            Some("README.md"),
            Some("application/octet-stream"),
            b"Example data",
        )
        .text("requireSignedURLs", "true")
        .text("url", "https://example.com/path/to/logo.png");
    let (content_type, body) = form.finish();

    // Act
    let (status, body) = post(typescript_headers(
        client()
            .post(root_upload_url(&mock))
            .header("content-type", content_type)
            .body(body),
    ))
    .await;

    // Assert: file and url together, an id with signed URLs, and no image.
    assert_eq!(status, 400, "{body}");
    let codes: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_u64().unwrap())
        .collect();
    assert!(codes.contains(&5400), "{body}");
    assert!(codes.contains(&5410), "{body}");
    assert!(codes.contains(&5455), "{body}");
    assert!(mock.uploads().is_empty());
}
