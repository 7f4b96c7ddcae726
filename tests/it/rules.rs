//! One accepted and one refused case (at least) per rule of `schemas/upload.schema.json`,
//! asserting the status, code, message and pointer the schema gives the rule.

use cloudflare_images_mock::MockImages;
use reqwest::multipart::Form;
use serde_json::Value;

use crate::helpers::*;

const CUSTOM_ID: &str = "The Custom ID is invalid. Custom IDs can include 1024 characters or less, any number of subpaths, and support the UTF-8 encoding standard for characters. Enter a new Custom ID and try again: ";
const SIGNED_WITH_ID: &str = "The image contains a custom ID and cannot be set to private. To make the image private, delete and upload the image again using a regular ID.";
const UNSUPPORTED: &str = "Uploaded image must have image/jpeg, image/png, image/webp, image/gif or image/svg+xml content-type";
const UNDECODABLE: &str =
    "Decode error: image failed to be decoded: the image header is truncated or corrupt";
const MIB: usize = 1024 * 1024;

/// What a refusal must look like.
struct Refusal<'a> {
    status: u16,
    code: u64,
    message: &'a str,
    pointer: &'a str,
    rule: &'a str,
}

/// Sends `form` and asserts it is accepted, returning the body.
async fn accepted(mock: &MockImages, form: Form) -> Value {
    let (status, body) = send(mock, form).await;
    assert_eq!(status, 200, "{body}");
    assert_last_accepted(mock);
    body
}

/// Sends `form` and asserts the refusal, in the answer and in the journal.
async fn refused(mock: &MockImages, form: Form, want: Refusal<'_>) {
    let uploads = mock.uploads().len();
    let (status, body) = send(mock, form).await;
    assert_eq!(status, want.status, "{body}");
    assert_error(&body, want.code, want.message, Some((mock, want.pointer)));
    assert_last_refused(mock, want.status, want.rule);
    let record = last_request(mock);
    assert_eq!(record.errors[0].code as u64, want.code);
    assert_eq!(record.errors[0].pointer.as_deref(), Some(want.pointer));
    assert_eq!(record.errors[0].field(), Some(&want.pointer[1..]));
    assert_eq!(
        mock.uploads().len(),
        uploads,
        "a refused upload is not stored"
    );
}

fn id_error(reason: &str) -> String {
    format!("{CUSTOM_ID}{reason}")
}

/// A form of the 1x1 PNG with a custom id.
fn with_id(id: &str) -> Form {
    png_form().text("id", id.to_owned())
}

/// A form of `bytes` as `name`.
fn file_form(bytes: Vec<u8>, name: &str) -> Form {
    Form::new().part("file", file_part(bytes, name, "application/octet-stream"))
}

// ---- the form as a whole ----------------------------------------------------------------------

#[tokio::test]
async fn file_and_url() {
    // Arrange
    let mock = MockImages::start().await;
    mock.serve_url("https://example.com/a.png", PNG_1X1);

    // Act + Assert
    accepted(&mock, png_form()).await;
    accepted(&mock, Form::new().text("url", "https://example.com/a.png")).await;
    refused(
        &mock,
        png_form().text("url", "https://example.com/a.png"),
        Refusal {
            status: 400,
            code: 5400,
            message:
                "Bad request: file, url: send either a file or a url, not both (they are mutually exclusive)",
            pointer: "/url",
            rule: "file_and_url",
        },
    )
    .await;
}

#[tokio::test]
async fn file_or_url_required() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: file: an upload needs a file part or a url",
        pointer: "/file",
        rule: "file_or_url_required",
    };

    // Act + Assert
    accepted(&mock, png_form().text("creator", "me")).await;
    refused(&mock, Form::new().text("creator", "me"), refusal()).await;
    refused(
        &mock,
        Form::new().text("metadata", r#"{"a":"b"}"#),
        refusal(),
    )
    .await;
}

#[tokio::test]
async fn id_with_signed_urls() {
    // Arrange
    let mock = MockImages::start().await;

    // Act + Assert
    accepted(
        &mock,
        with_id("public.png").text("requireSignedURLs", "false"),
    )
    .await;
    accepted(&mock, png_form().text("requireSignedURLs", "true")).await;
    refused(
        &mock,
        with_id("private.png").text("requireSignedURLs", "true"),
        Refusal {
            status: 400,
            code: 5410,
            message: SIGNED_WITH_ID,
            pointer: "/requireSignedURLs",
            rule: "id_with_signed_urls",
        },
    )
    .await;
}

// ---- url --------------------------------------------------------------------------------------

#[tokio::test]
async fn url_not_http() {
    // Arrange
    let mock = MockImages::start().await;
    mock.serve_url("HTTPS://example.com/upper.png", PNG_1X1);
    mock.serve_url("http://example.com/plain.png?size=1", PNG_1X1);
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: url: must be an absolute http or https URL",
        pointer: "/url",
        rule: "url_not_http",
    };

    // Act + Assert
    accepted(
        &mock,
        Form::new().text("url", "HTTPS://example.com/upper.png"),
    )
    .await;
    accepted(
        &mock,
        Form::new().text("url", "http://example.com/plain.png?size=1"),
    )
    .await;
    for url in [
        "ftp://example.com/a.png",
        "example.com/a.png",
        "/a.png",
        "https://",
        "https://exa mple.com/a.png",
    ] {
        refused(&mock, Form::new().text("url", url), refusal()).await;
    }
}

// ---- custom id --------------------------------------------------------------------------------

fn id_refusal(message: &str, rule: &'static str) -> (String, &'static str) {
    (id_error(message), rule)
}

async fn refused_id(mock: &MockImages, id: &str, (message, rule): (String, &'static str)) {
    refused(
        mock,
        with_id(id),
        Refusal {
            status: 400,
            code: 5411,
            message: &message,
            pointer: "/id",
            rule,
        },
    )
    .await;
}

#[tokio::test]
async fn id_empty() {
    // Arrange
    let mock = MockImages::start().await;

    // Act + Assert
    accepted(&mock, with_id("a")).await;
    refused_id(&mock, "", id_refusal("Must not be empty", "id_empty")).await;
}

#[tokio::test]
async fn id_too_long() {
    // Arrange
    let mock = MockImages::start().await;

    // Act + Assert: the limit is in characters, not bytes.
    accepted(&mock, with_id(&"a".repeat(1024))).await;
    accepted(&mock, with_id(&"é".repeat(1024))).await;
    refused_id(
        &mock,
        &"a".repeat(1025),
        id_refusal("Must not exceed 1024 characters", "id_too_long"),
    )
    .await;
    refused_id(
        &mock,
        &"é".repeat(1025),
        id_refusal("Must not exceed 1024 characters", "id_too_long"),
    )
    .await;
}

#[tokio::test]
async fn id_leading_or_trailing_slash() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || {
        id_refusal(
            "Must not start or end with a slash",
            "id_leading_or_trailing_slash",
        )
    };

    // Act + Assert
    accepted(&mock, with_id("a/b/c")).await;
    refused_id(&mock, "/a/b", refusal()).await;
    refused_id(&mock, "a/b/", refusal()).await;
}

#[tokio::test]
async fn id_uuid() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || id_refusal("Must not be UUID", "id_uuid");

    // Act + Assert
    accepted(&mock, with_id("107b9558-dd06-4bbd-5fef-9c2c16bb7900.png")).await;
    accepted(
        &mock,
        with_id("images/107b9558-dd06-4bbd-5fef-9c2c16bb7900"),
    )
    .await;
    refused_id(&mock, "107b9558-dd06-4bbd-5fef-9c2c16bb7900", refusal()).await;
    refused_id(&mock, "107B9558-DD06-4BBD-5FEF-9C2C16BB7900", refusal()).await;
}

#[tokio::test]
async fn id_non_image_extension() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || {
        id_refusal(
            "Must not use a non-image file name extension",
            "id_non_image_extension",
        )
    };

    // Act + Assert
    accepted(&mock, with_id("cat.png")).await;
    accepted(&mock, with_id("docs/cat.jpeg")).await;
    accepted(&mock, with_id("no-extension")).await;
    refused_id(&mock, "notes.txt", refusal()).await;
    refused_id(&mock, "docs/REPORT.PDF", refusal()).await;
}

#[tokio::test]
async fn custom_id_rules_apply_whatever_the_order_of_parts() {
    // Arrange: the id part before the file part.
    let mock = MockImages::start().await;
    let form = Form::new()
        .text("id", "notes.txt")
        .part("file", file_part(PNG_1X1, "a.png", "image/png"));

    // Act
    let (status, body) = send(&mock, form).await;

    // Assert
    assert_eq!(status, 400, "{body}");
    assert_error(
        &body,
        5411,
        &id_error("Must not use a non-image file name extension"),
        Some((&mock, "/id")),
    );
}

// ---- creator, metadata, requireSignedURLs -----------------------------------------------------

#[tokio::test]
async fn creator_too_long() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: creator: must be at most 1024 characters",
        pointer: "/creator",
        rule: "creator_too_long",
    };

    // Act + Assert
    let body = accepted(&mock, png_form().text("creator", "c".repeat(1024))).await;
    assert_eq!(body["result"]["creator"], "c".repeat(1024));
    accepted(&mock, png_form().text("creator", "ü".repeat(1024))).await;
    refused(
        &mock,
        png_form().text("creator", "c".repeat(1025)),
        refusal(),
    )
    .await;
    refused(
        &mock,
        png_form().text("creator", "ü".repeat(1025)),
        refusal(),
    )
    .await;
}

#[tokio::test]
async fn metadata_not_object() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: metadata: must be a JSON object",
        pointer: "/metadata",
        rule: "metadata_not_object",
    };

    // Act + Assert
    accepted(&mock, png_form().text("metadata", "{}")).await;
    for metadata in [
        "not json",
        "[1,2]",
        "\"text\"",
        "42",
        "null",
        "{\"unclosed\": 1",
    ] {
        refused(&mock, png_form().text("metadata", metadata), refusal()).await;
    }
}

#[tokio::test]
async fn metadata_too_large() {
    // Arrange: {"k":"…"} is 8 bytes around the value.
    let mock = MockImages::start().await;
    let exactly = format!(r#"{{"k":"{}"}}"#, "v".repeat(1016));
    let over = format!(r#"{{"k":"{}"}}"#, "v".repeat(1017));
    // Spaces do not count: the limit is on compact JSON.
    let spaced = format!("{{ \"k\" :   \"{}\" }}", "v".repeat(1016));
    // Bytes, not characters: 'é' is two bytes.
    let multibyte = format!(r#"{{"k":"{}"}}"#, "é".repeat(509));
    assert_eq!(
        (exactly.len(), over.len(), multibyte.len()),
        (1024, 1025, 1026)
    );
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: metadata: must not exceed 1024 bytes as JSON",
        pointer: "/metadata",
        rule: "metadata_too_large",
    };

    // Act + Assert
    let body = accepted(&mock, png_form().text("metadata", exactly)).await;
    assert_eq!(body["result"]["meta"]["k"], "v".repeat(1016));
    accepted(&mock, png_form().text("metadata", spaced)).await;
    refused(&mock, png_form().text("metadata", over), refusal()).await;
    refused(&mock, png_form().text("metadata", multibyte), refusal()).await;
}

#[tokio::test]
async fn require_signed_urls_not_boolean() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: requireSignedURLs: must be true or false",
        pointer: "/requireSignedURLs",
        rule: "require_signed_urls_not_boolean",
    };

    // Act + Assert
    let body = accepted(&mock, png_form().text("requireSignedURLs", "true")).await;
    assert_eq!(body["result"]["requireSignedURLs"], true);
    let body = accepted(&mock, png_form().text("requireSignedURLs", "false")).await;
    assert_eq!(body["result"]["requireSignedURLs"], false);
    for value in ["yes", "1", ""] {
        refused(
            &mock,
            png_form().text("requireSignedURLs", value),
            refusal(),
        )
        .await;
    }
}

// ---- the file ---------------------------------------------------------------------------------

#[tokio::test]
async fn file_too_large() {
    // Arrange: 10 MiB is the most; one byte more is refused.
    let mock = MockImages::start().await;

    // Act + Assert
    let body = accepted(&mock, file_form(png_of_size(10 * MIB), "ten.png")).await;
    assert_eq!(body["result"]["filename"], "ten.png");
    assert_eq!(
        mock.uploads()[0].file.as_ref().map(|f| f.len()),
        Some(10 * MIB)
    );
    refused(
        &mock,
        file_form(png_of_size(10 * MIB + 1), "ten-and-a-byte.png"),
        Refusal {
            status: 413,
            code: 5413,
            message: "Maximum image size of 10 MB is reached",
            pointer: "/file",
            rule: "file_too_large",
        },
    )
    .await;
}

#[tokio::test]
async fn file_unsupported_type() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 415,
        code: 5455,
        message: UNSUPPORTED,
        pointer: "/file",
        rule: "file_unsupported_type",
    };

    // Act + Assert: the part's Content-Type is not what decides.
    accepted(
        &mock,
        Form::new().part("file", file_part(PNG_1X1, "a.bin", "text/plain")),
    )
    .await;
    accepted(&mock, file_form(svg(4, 3), "a.svg")).await;
    refused(
        &mock,
        Form::new().part("file", file_part(bmp(5, 6), "a.png", "image/png")),
        refusal(),
    )
    .await;
    refused(
        &mock,
        Form::new().part("file", file_part(GARBAGE, "a.png", "image/png")),
        refusal(),
    )
    .await;
    refused(&mock, file_form(Vec::new(), "empty.png"), refusal()).await;
}

#[tokio::test]
async fn file_undecodable() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 9422,
        message: UNDECODABLE,
        pointer: "/file",
        rule: "file_undecodable",
    };

    // Act + Assert
    accepted(&mock, file_form(png(7, 3), "whole.png")).await;
    refused(&mock, file_form(png_truncated_ihdr(), "cut.png"), refusal()).await;
    // A JPEG cut inside its SOF0 segment, before the size.
    refused(
        &mock,
        file_form(jpeg(300, 200)[..9].to_vec(), "cut.jpg"),
        refusal(),
    )
    .await;
}

#[tokio::test]
async fn file_dimension_too_large() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: file: image width and height must be at most 12000 px",
        pointer: "/file",
        rule: "file_dimension_too_large",
    };

    // Act + Assert
    accepted(&mock, file_form(png(12000, 100), "wide.png")).await;
    accepted(&mock, file_form(png(100, 12000), "tall.png")).await;
    accepted(&mock, file_form(gif(12000, 1), "wide.gif")).await;
    refused(&mock, file_form(png(12001, 100), "wider.png"), refusal()).await;
    refused(&mock, file_form(png(100, 12001), "taller.png"), refusal()).await;
    refused(&mock, file_form(jpeg(12001, 1), "wider.jpg"), refusal()).await;
    refused(&mock, file_form(svg(12001, 1), "wider.svg"), refusal()).await;
}

#[tokio::test]
async fn file_avif_dimension_too_large() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: file: AVIF image width and height must be at most 1200 px",
        pointer: "/file",
        rule: "file_avif_dimension_too_large",
    };

    // Act + Assert
    accepted(&mock, file_form(avif(1200, 1200), "square.avif")).await;
    assert_eq!(mock.uploads()[0].format.as_deref(), Some("avif"));
    // 1201 px is fine for the other formats.
    accepted(&mock, file_form(png(1201, 1201), "square.png")).await;
    refused(&mock, file_form(avif(1201, 1), "wide.avif"), refusal()).await;
    refused(&mock, file_form(avif(1, 1201), "tall.avif"), refusal()).await;
}

#[tokio::test]
async fn file_area_too_large() {
    // Arrange
    let mock = MockImages::start().await;
    let refusal = || Refusal {
        status: 400,
        code: 5400,
        message: "Bad request: file: image area must be at most 100000000 pixels",
        pointer: "/file",
        rule: "file_area_too_large",
    };

    // Act + Assert
    accepted(&mock, file_form(png(10000, 10000), "hundred-mp.png")).await;
    refused(&mock, file_form(png(10001, 10001), "over.png"), refusal()).await;
    refused(&mock, file_form(gif(11000, 9500), "over.gif"), refusal()).await;
}

#[tokio::test]
async fn filename_too_long() {
    // Arrange
    let mock = MockImages::start().await;
    let name = |len: usize| format!("{}.png", "n".repeat(len - 4));

    // Act + Assert
    let body = accepted(&mock, file_form(PNG_1X1.to_vec(), &name(255))).await;
    assert_eq!(body["result"]["filename"], name(255));
    refused(
        &mock,
        file_form(PNG_1X1.to_vec(), &name(256)),
        Refusal {
            status: 400,
            code: 5400,
            message: "Bad request: file: filename must be at most 255 characters",
            pointer: "/file",
            rule: "filename_too_long",
        },
    )
    .await;
}

#[tokio::test]
async fn a_file_part_without_filename_is_accepted() {
    // Arrange: a part with no filename parameter (curl -F 'file=<a.png' sends this).
    let mock = MockImages::start().await;
    let form = RawForm::new("XyZ").file("file", None, Some("image/png"), PNG_1X1);

    // Act: `send_form` also checks the answer against the official description, whose
    // `images_image_filename` is a string.
    let (status, body) = send_form(&mock, form).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        mock.uploads()[0].filename,
        None,
        "the journal keeps what was sent"
    );
}

#[tokio::test]
async fn several_broken_rules_are_all_reported_in_schema_order() {
    // Arrange
    let mock = MockImages::start().await;
    let form = png_form()
        .text("creator", "c".repeat(1025))
        .text("requireSignedURLs", "maybe")
        .text("id", "notes.txt");

    // Act
    let (status, body) = send(&mock, form).await;

    // Assert
    assert_eq!(status, 400, "{body}");
    let codes: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_u64().unwrap())
        .collect();
    let rules: Vec<cloudflare_images_mock::Rule> = last_request(&mock)
        .errors
        .into_iter()
        .map(|e| e.rule)
        .collect();
    assert_eq!(
        rules,
        [
            "id_non_image_extension",
            "creator_too_long",
            "require_signed_urls_not_boolean"
        ]
    );
    assert_eq!(codes, [5411, 5400, 5400]);
}
