//! Load: many uploads through one mock, many mocks in one process, and nothing leaked after.

use std::sync::Arc;

use cloudflare_images_mock::MockImages;
use reqwest::multipart::Form;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_uploads_of_64_kib_all_succeed_and_are_journalled() {
    // Arrange
    let mock = Arc::new(MockImages::start().await);
    let image = png_of_size(64 * 1024);
    assert_eq!(image.len(), 64 * 1024);

    // Act
    let tasks: Vec<_> = (0..500)
        .map(|i| {
            let mock = Arc::clone(&mock);
            let image = image.clone();
            tokio::spawn(async move {
                let form = Form::new()
                    .part("file", file_part(image, "big.png", "image/png"))
                    .text("creator", format!("client-{i}"));
                send(&mock, form).await.0
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }

    // Assert
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let uploads = mock.uploads();
    assert_eq!(uploads.len(), 500);
    // 32 MiB in all: the older half keep their size and digest, the recent half their bytes.
    assert!(uploads
        .iter()
        .all(|u| u.file_size == Some(64 * 1024) && u.file_matches(&image)));
    assert!(uploads.last().unwrap().file.is_some());
    let mut creators: Vec<_> = uploads.iter().filter_map(|u| u.creator.clone()).collect();
    creators.sort();
    creators.dedup();
    assert_eq!(creators.len(), 500, "every upload is in the journal once");
}

/// The file descriptors this process holds (Linux); `None` elsewhere.
fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|dir| dir.count())
}

/// Set in the child process that runs [`two_hundred_mocks_in_a_process_of_their_own`]'s body.
const ISOLATED: &str = "CF_IMAGES_MOCK_LOAD_ISOLATED";

#[test]
fn two_hundred_mocks_at_once_all_work_and_release_their_ports_and_descriptors() {
    // Counting descriptors and rebinding ports only means something in a process where no
    // other test opens either: run the body in a child process of this test binary.
    if std::env::var_os(ISOLATED).is_some() {
        return;
    }
    crate::helpers::run_in_child(
        &[
            "--exact",
            "load::two_hundred_mocks_in_a_process_of_their_own",
            "--nocapture",
        ],
        &[(ISOLATED, "1")],
    );
}

#[test]
fn two_hundred_mocks_in_a_process_of_their_own() {
    if std::env::var_os(ISOLATED).is_none() {
        return; // run by the test above, in a child process
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The pool's server threads hold a few descriptors each (their runtimes') for as long as the
    // process lives: start them all before counting, so that only the mocks' are compared.
    drop(
        (0..8)
            .map(|_| MockImages::start_blocking())
            .collect::<Vec<_>>(),
    );
    let before = open_fds();
    let ports = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        // Start 200 mocks, upload to each, then drop them all.
        let mut mocks = Vec::new();
        for _ in 0..200 {
            mocks.push(MockImages::start().await);
        }
        let ports: Vec<u16> = mocks.iter().map(|m| m.address().port()).collect();
        for mock in &mocks {
            let response = client
                .post(mock.upload_url())
                .bearer_auth(TOKEN)
                .multipart(png_form())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(mock.uploads().len(), 1);
        }
        ports
    });
    drop(runtime);

    // Every port can be bound again, and the descriptors are back where they were.
    for port in ports {
        std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("port {port} still held after the mock was dropped: {e}"));
    }
    if let (Some(before), Some(after)) = (before, open_fds()) {
        assert!(
            after <= before,
            "{before} descriptors before, {after} after"
        );
    }
}
