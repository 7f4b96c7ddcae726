//! Many uploads at once through one mock: all answered, all in the journal.

use std::collections::HashSet;

use cloudflare_images_mock::MockImages;
use tokio::task::JoinSet;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_uploads_are_all_accepted_and_recorded() {
    // Arrange
    let mock = MockImages::start().await;
    let client = client();
    let mut uploads = JoinSet::new();

    // Act
    for i in 0..200 {
        let request = client.post(mock.upload_url()).bearer_auth(TOKEN).multipart(
            png_form()
                .text("id", format!("concurrent/{i}.png"))
                .text("metadata.n", i.to_string()),
        );
        uploads.spawn(async move { (i, post(request).await) });
    }
    let answers = uploads.join_all().await;

    // Assert
    assert_eq!(answers.len(), 200);
    for (i, (status, body)) in &answers {
        assert_eq!(*status, 200, "{i}: {body}");
        assert_eq!(body["result"]["id"], format!("concurrent/{i}.png"));
        assert_eq!(body["result"]["meta"]["n"], i.to_string());
    }
    assert_eq!(mock.requests().len(), 200);
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.status == 200 && r.is_accepted()));
    let ids: HashSet<String> = mock.uploads().into_iter().map(|u| u.id).collect();
    let expected: HashSet<String> = (0..200).map(|i| format!("concurrent/{i}.png")).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        mock.wait_for_uploads(200, std::time::Duration::from_secs(1))
            .await
            .unwrap()
            .len(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_custom_id_sent_concurrently_is_taken_once() {
    // Arrange
    let mock = MockImages::start().await;
    let client = client();
    let mut uploads = JoinSet::new();

    // Act
    for _ in 0..20 {
        let request = client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(png_form().text("id", "contested.png"));
        uploads.spawn(post(request));
    }
    let answers = uploads.join_all().await;

    // Assert
    let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [[200].as_slice(), &[409; 19]].concat());
    for (status, body) in &answers {
        if *status == 409 {
            assert_eq!(body["errors"][0]["code"], 5409, "{body}");
        }
    }
    assert_eq!(mock.uploads().len(), 1);
    assert_eq!(mock.requests().len(), 20);
}

#[tokio::test]
async fn concurrent_uploads_on_a_current_thread_runtime() {
    // Arrange: the test's runtime has one thread; the mock has its own.
    let mock = MockImages::start().await;
    let client = client();
    let mut uploads = JoinSet::new();

    // Act
    for _ in 0..50 {
        let request = client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(png_form());
        uploads.spawn(post(request));
    }
    let answers = uploads.join_all().await;

    // Assert
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert_eq!(mock.uploads().len(), 50);
}
