//! The mock under any harness: a plain `#[test]` with a blocking client, both flavours of
//! `#[tokio::test]`, and an executor that is not tokio (`futures::executor::block_on`). The
//! server runs on one of a few threads the process's mocks share, each with a runtime of its
//! own.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cloudflare_images_mock::MockImages;

use crate::helpers::*;

/// A multipart upload of a 1x1 PNG over a plain `TcpStream`, as a blocking client sends it:
/// the status code of the answer.
fn upload_blocking(address: SocketAddr, account_id: &str) -> u16 {
    let (content_type, body) = RawForm::new("harness-boundary")
        .file("file", Some("cat.png"), Some("image/png"), PNG_1X1)
        .finish();
    let mut stream = std::net::TcpStream::connect(address).expect("the mock accepts");
    let head = format!(
        "POST /client/v4/accounts/{account_id}/images/v1 HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    status.parse().unwrap()
}

#[test]
fn a_plain_test_starts_the_mock_and_waits_for_an_upload_without_tokio() {
    // Arrange
    let mock = MockImages::start_blocking();

    // Act
    let status = upload_blocking(mock.address(), mock.account_id());
    let uploads = mock.wait_for_uploads_blocking(1, Duration::from_secs(5));

    // Assert
    assert_eq!(status, 200);
    let uploads = uploads.expect("the upload was accepted");
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].filename.as_deref(), Some("cat.png"));
}

#[test]
fn a_blocking_wait_wakes_when_an_upload_arrives_later() {
    // Arrange
    let mock = MockImages::builder().start_blocking();
    let (address, account_id) = (mock.address(), mock.account_id().to_owned());
    let client = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        upload_blocking(address, &account_id)
    });

    // Act
    let started = Instant::now();
    let uploads = mock.wait_for_uploads_blocking(1, Duration::from_secs(10));

    // Assert
    assert_eq!(client.join().unwrap(), 200);
    assert_eq!(uploads.expect("woken by the upload").len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "not by the timeout"
    );
}

#[test]
fn a_blocking_wait_times_out_with_the_count_so_far() {
    // Arrange
    let mock = MockImages::start_blocking();
    assert_eq!(upload_blocking(mock.address(), mock.account_id()), 200);

    // Act
    let err = mock
        .wait_for_uploads_blocking(2, Duration::from_millis(20))
        .unwrap_err();

    // Assert
    assert_eq!(
        err.to_string(),
        "expected 2 upload(s) within 20ms, 1 accepted (1 request(s) in all)"
    );
}

#[test]
fn try_start_blocking_reports_a_busy_port() {
    // Arrange
    let first = MockImages::start_blocking();

    // Act
    let error = MockImages::builder()
        .port(first.address().port())
        .try_start_blocking()
        .expect_err("the port is taken");

    // Assert
    assert!(
        error
            .to_string()
            .starts_with("cloudflare-images-mock could not bind 127.0.0.1:"),
        "{error}"
    );
}

#[tokio::test]
async fn start_blocking_and_wait_for_uploads_work_on_a_current_thread_runtime() {
    // Arrange
    let mock = MockImages::start_blocking();

    // Act
    let (status, body) = send(&mock, png_form()).await;
    let uploads = mock.wait_for_uploads(1, Duration::from_secs(5)).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(uploads.expect("accepted").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_blocking_and_wait_for_uploads_work_on_a_multi_thread_runtime() {
    // Arrange
    let mock = MockImages::start_blocking();

    // Act
    let (status, body) = send(&mock, png_form()).await;
    let uploads = mock.wait_for_uploads(1, Duration::from_secs(5)).await;
    let timeout = mock.wait_for_uploads(2, Duration::from_millis(10)).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(uploads.expect("accepted").len(), 1);
    assert_eq!(timeout.unwrap_err().accepted, 1);
}

#[test]
fn the_async_api_works_under_an_executor_that_is_not_tokio() {
    futures::executor::block_on(async {
        // Arrange
        let mock = MockImages::start().await;
        let (address, account_id) = (mock.address(), mock.account_id().to_owned());
        let client = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            upload_blocking(address, &account_id)
        });

        // Act: both the wait that is woken and the one that times out need a timer, which
        // `block_on` does not have.
        let uploads = mock.wait_for_uploads(1, Duration::from_secs(10)).await;
        let timeout = mock.wait_for_uploads(2, Duration::from_millis(20)).await;

        // Assert
        assert_eq!(client.join().unwrap(), 200);
        assert_eq!(uploads.expect("woken by the upload").len(), 1);
        assert_eq!(
            timeout.unwrap_err().to_string(),
            "expected 2 upload(s) within 20ms, 1 accepted (1 request(s) in all)"
        );
    });
}

#[test]
fn try_start_works_under_an_executor_that_is_not_tokio() {
    let mock = futures::executor::block_on(MockImages::builder().try_start()).expect("starts");
    assert_eq!(upload_blocking(mock.address(), mock.account_id()), 200);
}

/// The threads of this process, by `/proc` (Linux only).
#[cfg(target_os = "linux")]
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Run alone in a process of its own by the test below, where no other test starts threads:
/// the mocks share a pool of server threads, bounded and started once, and start or drop none.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "run by dropped_mocks_leave_no_thread_behind, in a process of its own"]
fn alone_dropped_mocks_leave_no_thread_behind() {
    // Arrange: the first mocks start the pool, as many threads as they need up to its cap.
    let before_any = threads();
    drop(
        (0..8)
            .map(|_| MockImages::start_blocking())
            .collect::<Vec<_>>(),
    );
    let pool = threads();
    assert!(pool > before_any, "the mocks have server threads");
    assert!(pool <= before_any + 4, "at most 4 server threads");

    // Act: cycles of many mocks alive at once, from a plain test and from an executor.
    for _ in 0..20 {
        let mocks: Vec<MockImages> = (0..8).map(|_| MockImages::start_blocking()).collect();
        for mock in &mocks {
            assert_eq!(upload_blocking(mock.address(), mock.account_id()), 200);
            mock.wait_for_uploads_blocking(1, Duration::from_secs(5))
                .unwrap();
        }
        assert_eq!(threads(), pool, "no thread per mock");
        drop(mocks);
    }
    let async_mocks = futures::executor::block_on(async {
        let mocks = [MockImages::start().await, MockImages::start().await];
        let _ = mocks[0].wait_for_uploads(1, Duration::from_millis(5)).await;
        mocks
    });
    drop(async_mocks);

    // Assert: not a thread more than the pool, right after the drops (no waiting).
    assert_eq!(threads(), pool);
}

#[cfg(target_os = "linux")]
#[test]
fn dropped_mocks_leave_no_thread_behind() {
    crate::helpers::run_alone("harness::alone_dropped_mocks_leave_no_thread_behind");
}
