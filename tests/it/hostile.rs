//! Slow, stuck and hostile clients: each gets an envelope or a clean close, and none slows the
//! others down.

use std::time::Duration;

use cloudflare_images_mock::MockImages;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// Reads everything the mock sends until it closes the connection (within 10 s: a test that
/// waits for a close must fail, not hang, when none comes).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the mock closes the connection within 10 s")
        .expect("the mock closes cleanly");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_body_that_stalls_gets_a_408_envelope() {
    // Arrange
    let mock = MockImages::builder()
        .body_timeout(Duration::from_millis(200))
        .start()
        .await;
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();
    let path = format!("/accounts/{}/images/v1", mock.account_id());
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\n\
         content-type: multipart/form-data; boundary=B\r\ncontent-length: 1000\r\n\r\n\
         --B\r\nContent-Disposition: form-data; name=\"creator\"\r\n\r\nhal"
    );

    // Act: send a third of the body, then nothing.
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);

    // Assert
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // 5408 of the old Images error table (status 408 by its pattern).
    assert!(answer.contains(r#""code": 5408"#), "{answer}");
    assert!(
        answer.contains("Client was sending upload too slowly."),
        "{answer}"
    );
    assert_last_refused(&mock, 408, "body_stalled");
}

#[tokio::test]
async fn a_connection_that_says_nothing_is_closed_after_the_header_timeout() {
    let mock = MockImages::builder()
        .header_timeout(Duration::from_millis(200))
        .start()
        .await;
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();

    let answer = read_to_close(&mut stream).await;

    // hyper closes a connection whose head never comes; nothing reached the journal as a request.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn a_keep_alive_connection_left_idle_after_an_answer_is_closed_after_the_header_timeout() {
    // Arrange
    let timeout = Duration::from_millis(300);
    let mock = MockImages::builder()
        .header_timeout(timeout)
        .fail_on_unserved_routes(false)
        .start()
        .await;
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();

    // Act: one request (no credentials: answered at once), then silence.
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let answered = std::time::Instant::now();
    let answer = read_to_close(&mut stream).await;

    // Assert: the answer came, and the close a header timeout after it, not before.
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    assert!(answered.elapsed() >= timeout, "{:?}", answered.elapsed());
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn an_answer_slower_than_the_header_timeout_still_arrives() {
    // Arrange: a scripted delay three times the header timeout.
    let mock = MockImages::builder()
        .header_timeout(Duration::from_millis(100))
        .start()
        .await;
    mock.script(cloudflare_images_mock::Script::delay(
        Duration::from_millis(300),
    ));

    // Act
    let (status, body) = send(&mock, png_form()).await;

    // Assert
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_body_drained_for_longer_than_the_header_timeout_is_not_cut() {
    // Arrange: an upload without credentials, answered before its body is read; the client
    // goes on sending the body, slowly, for three header timeouts.
    let timeout = Duration::from_millis(100);
    let mock = MockImages::builder().header_timeout(timeout).start().await;
    let path = format!("/accounts/{}/images/v1", mock.account_id());
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();
    let piece = [b'x'; 1000];
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=B\r\n\
         content-length: {}\r\n\r\n",
        6 * piece.len()
    );

    // Act
    stream.write_all(head.as_bytes()).await.unwrap();
    for sent in 0..6 {
        tokio::time::sleep(timeout / 2).await;
        // A connection closed under the client fails its next writes (reset by the peer).
        if let Err(e) = stream.write_all(&piece).await {
            panic!("the connection was cut after {sent} of 6 pieces of the body: {e}");
        }
    }
    let answer = read_to_close(&mut stream).await;

    // Assert: answered once; hyper closes a connection whose answer went out before its body
    // was in, after the body (what the real API does then is not known).
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    assert_last_refused(&mock, 400, "missing_auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_stuck_connections_do_not_delay_a_valid_upload() {
    // Arrange: 25 clients that connect and say nothing, 25 that send half a body and stall.
    let mock = MockImages::start().await;
    let path = format!("/accounts/{}/images/v1", mock.account_id());
    let mut stuck = Vec::new();
    for i in 0..50 {
        let mut stream = TcpStream::connect(mock.address()).await.unwrap();
        if i % 2 == 1 {
            let head = format!(
                "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\n\
                 content-type: multipart/form-data; boundary=B\r\ncontent-length: 100000\r\n\r\n--B\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
        }
        stuck.push(stream);
    }

    // Act
    let (status, body) = send(&mock, png_form()).await;

    // Assert: the upload went through while all fifty still hang.
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.uploads().len(), 1);
    assert_eq!(stuck.len(), 50);
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_body_is_journalled() {
    // Arrange
    let mock = MockImages::start().await;
    let path = format!("/accounts/{}/images/v1", mock.account_id());
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\n\
         content-type: multipart/form-data; boundary=B\r\ncontent-length: 5000\r\n\r\n\
         --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
    );

    // Act: half a body, then the write side closes.
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[0u8; 100]).await.unwrap();
    stream.shutdown().await.unwrap();
    let _ = read_to_close(&mut stream).await;

    // Assert: the refusal is in the journal, with its reason.
    let mut requests = mock.requests();
    for _ in 0..100 {
        if !requests.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        requests = mock.requests();
    }
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].errors[0].rule, "malformed_multipart");
    assert_eq!(requests[0].status, 400);
}

#[tokio::test]
#[should_panic(
    expected = "cloudflare-images-mock failed: its server panicked: a fault staged by MockImages::stage_server_fault"
)]
async fn a_server_that_dies_is_reported_by_the_next_call_on_the_handle() {
    let mock = MockImages::start().await;
    mock.stage_server_fault();
    // The fault happens on the server's thread; the handle reports it from the next call on.
    for _ in 0..1000 {
        let _ = mock.requests();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[test]
#[should_panic(
    expected = "cloudflare-images-mock failed: its server panicked: a fault staged by MockImages::stage_server_fault"
)]
fn a_server_that_dies_is_reported_when_the_handle_drops() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mock = runtime.block_on(MockImages::start());
    mock.stage_server_fault();
    while !mock_is_dead(&mock) {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(mock);
}

/// Whether the handle already reports a fault (without panicking the test here).
fn mock_is_dead(mock: &MockImages) -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let dead = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.requests())).is_err();
    std::panic::set_hook(hook);
    dead
}

#[tokio::test]
async fn a_part_with_a_1_mib_name_is_answered_on_its_connection() {
    // Arrange: a part whose Content-Disposition names a 1 MiB field, then a valid text part.
    let mock = MockImages::start().await;
    let path = format!("/accounts/{}/images/v1", mock.account_id());
    let mut body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\nv\r\n",
        "n".repeat(1 << 20)
    );
    body.push_str("--B\r\nContent-Disposition: form-data; name=\"creator\"\r\n\r\nme\r\n--B--\r\n");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\nconnection: close\r\n\
         content-type: multipart/form-data; boundary=B\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(mock.address()).await.unwrap();

    // Act
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;

    // Assert: an envelope, not a dropped connection, and the refusal journalled with its rule.
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""code": 5400"#), "{answer}");
    assert!(
        answer.contains("bytes of headers, more than the 8192 bytes"),
        "{answer}"
    );
    assert_last_refused(&mock, 400, "part_headers_too_large");
}

#[tokio::test]
async fn too_many_header_bytes_get_a_431_envelope() {
    // Arrange: 20 headers of 4 KiB, 80 KiB in all.
    let mock = MockImages::start().await;
    let mut request = client().post(mock.upload_url()).bearer_auth(TOKEN);
    for i in 0..20 {
        request = request.header(format!("x-extra-{i}"), "v".repeat(4096));
    }

    // Act
    let (status, body) = post(request.multipart(png_form())).await;

    // Assert
    assert_eq!(status, 431, "{body}");
    assert_eq!(body["errors"][0]["code"], 5400);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Bad request: request header fields too large: 2"),
        "{message}"
    );
    assert!(
        message.ends_with("at most 65536 bytes of headers"),
        "{message}"
    );
    assert_last_refused(&mock, 431, "headers_too_large");
}

#[tokio::test]
async fn more_than_100_headers_get_hypers_bare_431_and_the_mock_lives_on() {
    // Arrange
    let mock = MockImages::start().await;
    let mut request = client().post(mock.upload_url()).bearer_auth(TOKEN);
    for i in 0..110 {
        request = request.header(format!("x-extra-{i}"), "v");
    }

    // Act
    let response = request.multipart(png_form()).send().await.unwrap();

    // Assert: refused by hyper before the mock sees it (documented); the next upload works.
    assert_eq!(response.status(), 431);
    assert!(mock.requests().is_empty());
    assert_eq!(send(&mock, png_form()).await.0, 200);
}

#[tokio::test]
async fn an_id_or_account_that_looks_like_a_path_is_only_a_value() {
    // Arrange
    let mock = MockImages::start().await;

    // Act: a custom id with ../, NUL and CRLF, and an account id with ../
    let id = "../../etc/passwd\u{0}\r\nX-Injected: 1";
    let (status, body) = send(&mock, png_form().text("id", id)).await;
    let (account_status, _) = post(
        client()
            .post(format!(
                "{}/accounts/..%2f..%2fetc/images/v1",
                mock.base_url()
            ))
            .bearer_auth(TOKEN)
            .multipart(png_form()),
    )
    .await;

    // Assert: the id is echoed as data in JSON only; the account id is refused cleanly.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], id);
    assert_eq!(account_status, 400);
    let response = client()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .multipart(png_form().text("id", "x\r\nSet-Cookie: a=b"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("set-cookie").is_none());
    assert!(response
        .headers()
        .keys()
        .all(|k| !k.as_str().starts_with("x-injected")));
}
