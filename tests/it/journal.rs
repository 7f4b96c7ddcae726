//! The journal: every request, accepted or refused, with what was answered; waiting for uploads.

use std::time::Duration;

use cloudflare_images_mock::{MockImages, Operation};
use reqwest::multipart::Form;

use crate::helpers::*;

#[tokio::test]
async fn every_request_is_recorded_in_order_with_its_answer() {
    // Arrange
    // This test sends requests to routes the mock does not serve on purpose.
    let mock = MockImages::builder()
        .fail_on_unserved_routes(false)
        .start()
        .await;

    // Act
    let (s1, _) = post(client().post(mock.upload_url()).multipart(png_form())).await;
    let (s2, b2) = send(&mock, png_form().text("creator", "me")).await;
    let (s3, _) = send(&mock, png_form().text("id", "notes.txt")).await;
    let (s4, _) = post(
        client()
            .put(format!("{}?page=2", mock.upload_url()))
            .bearer_auth(TOKEN),
    )
    .await;
    let (s5, _) = send_raw(&mock, "application/json", b"{}".to_vec()).await;

    // Assert
    assert_eq!([s1, s2, s3, s4, s5], [400, 200, 400, 405, 415]);
    let requests = mock.requests();
    assert_eq!(requests.len(), 5);
    let summary: Vec<(u16, Option<u32>, Option<&str>)> = requests
        .iter()
        .map(|r| {
            (
                r.status,
                r.errors.first().map(|e| e.code),
                r.errors.first().map(|e| e.rule.as_str()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (400, Some(9106), Some("missing_auth")),
            (200, None, None),
            (400, Some(5411), Some("id_non_image_extension")),
            (405, Some(7001), Some("method_not_allowed")),
            (415, Some(5415), Some("not_multipart")),
        ]
    );
    let accepted: Vec<bool> = requests.iter().map(|r| r.is_accepted()).collect();
    assert_eq!(accepted, [false, true, false, false, false]);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[3].method, "PUT");
    assert_eq!(requests[3].operation, None);
    assert_eq!(requests[1].operation, Some(Operation::Upload));
    assert_eq!(requests[1].image_id.as_deref(), Some(uploads_id(&b2)));
    assert_eq!(requests[3].query.as_deref(), Some("page=2"));
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(requests[2].errors[0].pointer.as_deref(), Some("/id"));
    assert_eq!(requests[2].errors[0].field(), Some("id"));
    assert!(!requests[2].errors[0].confirmed);
    assert!(
        requests[0].errors[0].confirmed,
        "9106 is confirmed in schemas/errors.json"
    );
    assert!(requests.windows(2).all(|w| w[0].received <= w[1].received));

    let uploads = mock.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].result, b2["result"]);
    assert_eq!(
        requests[1].upload.as_ref().map(|u| u.id.as_str()),
        Some(uploads[0].id.as_str())
    );
}

#[tokio::test]
async fn the_journal_errors_are_the_answered_errors() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (_, body) = send(
        &mock,
        png_form()
            .text("creator", "c".repeat(2000))
            .text("requireSignedURLs", "yes"),
    )
    .await;

    // Assert
    let record = last_request(&mock);
    let answered = body["errors"].as_array().unwrap();
    assert_eq!(record.errors.len(), answered.len());
    for (recorded, sent) in record.errors.iter().zip(answered) {
        // Answered as `{code, message}` (as recorded); the journal adds the field and the rule.
        assert_eq!(
            sent,
            &serde_json::json!({"code": recorded.code, "message": recorded.message})
        );
    }
    let pointers: Vec<_> = record.errors.iter().map(|e| e.pointer.as_deref()).collect();
    assert_eq!(pointers, [Some("/creator"), Some("/requireSignedURLs")]);
    let rules: Vec<_> = record.errors.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["creator_too_long", "require_signed_urls_not_boolean"]
    );
}

#[tokio::test]
async fn wait_for_uploads_returns_when_they_arrive() {
    // Arrange
    let mock = MockImages::start().await;
    let url = mock.upload_url();
    let uploader = tokio::spawn(async move {
        let client = client();
        for i in 0..3 {
            let form = png_form().text("creator", format!("c{i}"));
            let response = client
                .post(&url)
                .bearer_auth(TOKEN)
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    });

    // Act
    let uploads = mock.wait_for_uploads(3, Duration::from_secs(30)).await;

    // Assert
    let uploads = uploads.expect("three uploads arrive");
    assert_eq!(uploads.len(), 3);
    let creators: Vec<Option<&str>> = uploads.iter().map(|u| u.creator.as_deref()).collect();
    assert_eq!(creators, [Some("c0"), Some("c1"), Some("c2")]);
    uploader.await.unwrap();
}

#[tokio::test]
async fn wait_for_uploads_already_there_returns_at_once() {
    // Arrange
    let mock = MockImages::start().await;
    send(&mock, png_form()).await;

    // Act
    let uploads = mock.wait_for_uploads(1, Duration::from_millis(1)).await;

    // Assert
    assert_eq!(uploads.expect("one upload").len(), 1);
}

#[tokio::test]
async fn wait_for_uploads_times_out_and_says_what_arrived() {
    // Arrange: one accepted and one refused request, but two uploads awaited.
    let mock = MockImages::start().await;
    send(&mock, png_form()).await;
    send(&mock, Form::new().text("creator", "no file")).await;

    // Act
    let error = mock
        .wait_for_uploads(2, Duration::from_millis(20))
        .await
        .unwrap_err();

    // Assert
    assert_eq!(error.expected, 2);
    assert_eq!(error.accepted, 1);
    assert_eq!(error.requests, 2);
    assert_eq!(error.timeout, Duration::from_millis(20));
    assert_eq!(
        error.to_string(),
        "expected 2 upload(s) within 20ms, 1 accepted (2 request(s) in all)"
    );
}

#[tokio::test]
async fn refused_requests_are_not_uploads() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    send(&mock, Form::new().text("creator", "no file")).await;
    send_raw(&mock, "text/plain", b"hello".to_vec()).await;

    // Assert
    assert_eq!(mock.requests().len(), 2);
    assert!(mock.uploads().is_empty());
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.upload.is_none() && !r.errors.is_empty()));
}

#[tokio::test]
async fn past_the_memory_budget_files_are_kept_on_disk_and_read_back_exactly() {
    // Arrange: room in memory for two files of 1 KiB, not three.
    let mock = MockImages::builder().memory_budget(2048).start().await;
    let files = distinct_pngs(3, 1024);

    // Act
    upload_each(&mock, &files).await;

    // Assert: every upload keeps its bytes, the oldest read back from disk.
    let uploads = mock.uploads();
    for (upload, bytes) in uploads.iter().zip(&files) {
        assert_eq!(upload.file.as_deref(), Some(&bytes[..]));
        assert_eq!(upload.file_size, Some(1024));
        assert!(upload.file_matches(bytes));
        assert_eq!(mock.image_bytes(&upload.id).as_deref(), Some(&bytes[..]));
    }
    assert!(
        !uploads[0].file_matches(&files[1]),
        "same size, other bytes"
    );
}

#[tokio::test]
async fn a_deleted_image_keeps_its_size_and_xxh3_128_digest_in_the_journal() {
    let mock = MockImages::start().await;
    assert_eq!(send(&mock, png_form()).await.0, 200);
    let id = mock.uploads()[0].id.clone();
    let url = format!("{}/{}", mock.upload_url(), id);
    let response = reqwest::Client::new()
        .delete(url)
        .bearer_auth("t")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let upload = &mock.uploads()[0];
    assert_eq!(upload.file, None, "the bytes went with the image");
    assert_eq!(upload.file_size, Some(PNG_1X1.len() as u64));
    assert_eq!(upload.file_xxh3, Some(PNG_1X1_XXH3_128));
    assert!(upload.file_matches(PNG_1X1));
}

#[tokio::test]
async fn the_digest_of_a_file_is_right_while_stored_and_after_delete_in_memory_or_spilled() {
    // Arrange: a small file (copied into the store's shared block) and a large one, in a mock
    // that keeps them in memory and in one that spills every file to disk.
    let small = distinct_pngs(1, 1024).remove(0);
    let large = distinct_pngs(2, 3 << 19).remove(1);
    let files = [&small, &large, &small, &large];
    let digest = |bytes: &[u8]| Some(xxhash_rust::xxh3::xxh3_128(bytes));
    for budget in [None, Some(0)] {
        let mock = match budget {
            Some(budget) => MockImages::builder().memory_budget(budget).start().await,
            None => MockImages::start().await,
        };
        let upload = |round: usize| {
            let form = Form::new()
                .part(
                    "file",
                    file_part(files[round].clone(), "a.png", "image/png"),
                )
                .text("id", format!("f{round}"));
            send(&mock, form)
        };

        // Act: each file uploaded twice, once read while stored, once not (its digest is then
        // computed as it is deleted), then every image deleted.
        assert_eq!(upload(0).await.0, 200);
        assert_eq!(upload(1).await.0, 200);
        let stored = mock.uploads();
        assert_eq!(upload(2).await.0, 200);
        assert_eq!(upload(3).await.0, 200);
        let spilled = mock.storage().on_disk;
        for round in 0..4 {
            let url = format!("{}/f{round}", mock.upload_url());
            let response = client()
                .delete(url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }

        // Assert
        assert_eq!(
            spilled > 0,
            budget.is_some(),
            "{budget:?}: {spilled} on disk"
        );
        for (upload, bytes) in stored.iter().zip(files) {
            assert_eq!(upload.file.as_deref(), Some(&bytes[..]), "{budget:?}");
            assert_eq!(upload.file_xxh3, digest(bytes), "{budget:?}, {}", upload.id);
        }
        let uploads = mock.uploads();
        assert_eq!(uploads.len(), 4);
        for (upload, bytes) in uploads.iter().zip(files) {
            assert_eq!(
                upload.file, None,
                "{budget:?}: the bytes went with the image"
            );
            assert_eq!(upload.file_xxh3, digest(bytes), "{budget:?}, {}", upload.id);
            assert!(upload.file_matches(bytes), "{budget:?}, {}", upload.id);
            let mut other = bytes.clone();
            *other.last_mut().unwrap() ^= 1;
            assert!(!upload.file_matches(&other), "{budget:?}, {}", upload.id);
        }
        assert_eq!(mock.storage().on_disk, 0);
    }
}

#[tokio::test]
async fn a_file_received_in_many_chunks_keeps_its_bytes_and_digest() {
    // Arrange: a 3 MiB file, which arrives in many socket reads.
    let mock = MockImages::start().await;
    let mut bytes = png(64, 64);
    bytes.extend((0..3 << 20).map(|i: u32| (i % 251) as u8));
    let form = Form::new().part("file", file_part(bytes.clone(), "big.png", "image/png"));

    // Act
    assert_eq!(send(&mock, form).await.0, 200);

    // Assert: joined in order, twice the same, digest of the whole.
    let uploads = mock.uploads();
    assert_eq!(uploads[0].file.as_deref(), Some(&bytes[..]));
    assert_eq!(mock.uploads()[0].file.as_deref(), Some(&bytes[..]));
    assert_eq!(uploads[0].file_size, Some(bytes.len() as u64));
    assert_eq!(uploads[0].dimensions, Some((64, 64)));
    assert_eq!(
        uploads[0].file_xxh3,
        Some(xxhash_rust::xxh3::xxh3_128(&bytes))
    );
}

/// XXH3-128 of [`PNG_1X1`], computed outside this crate (Python `xxhash` 3.x,
/// `xxh3_128_intdigest`).
const PNG_1X1_XXH3_128: u128 = 0x9c37_44a6_a56a_b887_acde_934e_2c30_4116;

#[tokio::test]
async fn by_default_every_upload_keeps_its_bytes() {
    // Arrange: two files of 9 MiB, under the API's 10 MiB limit.
    let mock = MockImages::start().await;
    let files = distinct_pngs(2, 9 << 20);

    // Act
    upload_each(&mock, &files).await;

    // Assert
    let uploads = mock.uploads();
    assert_eq!(uploads[0].file.as_deref(), Some(&files[0][..]));
    assert_eq!(uploads[1].file.as_deref(), Some(&files[1][..]));
}

/// `count` PNGs of `size` bytes each, of different widths and padding bytes.
fn distinct_pngs(count: u8, size: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let mut bytes = png(1 + u32::from(i), 1);
            bytes.resize(size, i);
            bytes
        })
        .collect()
}

/// Uploads each file in turn, each accepted.
async fn upload_each(mock: &MockImages, files: &[Vec<u8>]) {
    for bytes in files {
        let form = Form::new().part("file", file_part(bytes.clone(), "a.png", "image/png"));
        assert_eq!(send(mock, form).await.0, 200);
    }
}

fn uploads_id(body: &serde_json::Value) -> &str {
    body["result"]["id"].as_str().unwrap()
}
