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
