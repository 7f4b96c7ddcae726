//! The standalone binary: the line it prints, a request it answers, a clean stop on SIGTERM,
//! and a clear error on a port in use.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_cloudflare-images-mock");

#[test]
fn it_prints_its_base_url_answers_and_stops_cleanly_on_sigterm() {
    // Arrange
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--log-level", "info"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();

    // Act: one request, then SIGTERM.
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!(
                "{base_url}/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1"
            ))
            .send()
            .await
            .unwrap()
            .status()
    });
    #[cfg(unix)]
    {
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(killed.unwrap().success());
    }
    #[cfg(not(unix))]
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();

    // Assert
    assert!(base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/client/v4"));
    assert_eq!(status, 400);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("POST /client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1 400 errors [9106] (missing_auth)"),
        "{log}"
    );
    #[cfg(unix)]
    {
        assert!(output.status.success(), "{:?}\n{log}", output.status);
        assert!(log.contains("terminated: stopping"), "{log}");
    }
}

#[test]
fn a_port_in_use_is_a_clear_error_and_a_failing_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();

    let output = Command::new(BINARY)
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cloudflare-images-mock could not bind 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing is printed as listening");
}

/// Starts the binary with `args` on a free port and returns it with its base URL.
fn start(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(BINARY)
        .args(["--port", "0", "--log-level", "off"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base_url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, base_url)
}

#[test]
fn the_same_seed_and_clock_answer_an_upload_with_the_same_bytes() {
    let args = ["--seed", "42", "--clock", "2024-05-06T07:08:09Z"];
    let (mut first, first_url) = start(&args);
    let (mut second, second_url) = start(&args);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let upload = |base_url: String| async move {
        // A form by hand: the dev-dependency reqwest has no multipart.
        let body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.svg\"\r\n\
            Content-Type: image/svg+xml\r\n\r\n\
            <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"3\"/>\r\n--b--\r\n";
        let response = reqwest::Client::new()
            .post(format!(
                "{base_url}/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1"
            ))
            .bearer_auth("t")
            .header("content-type", "multipart/form-data; boundary=b")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.bytes().await.unwrap())
    };

    let (first_answer, second_answer) =
        runtime.block_on(async { tokio::join!(upload(first_url), upload(second_url)) });
    first.kill().unwrap();
    second.kill().unwrap();
    let _ = (first.wait(), second.wait());

    assert_eq!(first_answer.0, 200, "{:?}", first_answer.1);
    assert_eq!(first_answer, second_answer);
    let body = String::from_utf8_lossy(&first_answer.1);
    assert!(
        body.contains(r#""uploaded": "2024-05-06T07:08:09.000Z""#),
        "{body}"
    );
}

#[test]
fn a_clock_that_is_not_rfc_3339_is_a_clear_error() {
    let output = Command::new(BINARY)
        .args(["--port", "0", "--clock", "yesterday"])
        .output()
        .unwrap();

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not an RFC 3339 time such as 2024-01-01T00:00:00Z"),
        "{stderr}"
    );
}
