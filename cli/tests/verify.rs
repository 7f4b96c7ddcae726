//! `cloudflare-images-mock verify`, without the network: against a mock (every case agrees),
//! against a mock set up differently (the differing cases are named), its JSON, its dry run, its
//! refusals, and the cleanup it owes a real account, at the end and on Ctrl-C.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cloudflare_images_mock::{Credentials, MockImages, MockImagesBuilder, Operation, Script};

const BINARY: &str = env!("CARGO_BIN_EXE_cloudflare-images-mock");
const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn target(builder: MockImagesBuilder) -> MockImages {
    // The target is sent invalid cases on purpose: its refusals are no test failure.
    builder
        .fail_on_refusals(false)
        .fail_on_unserved_routes(false)
        .start_blocking()
}

fn verify(mock: &MockImages, extra: &[&str]) -> Output {
    Command::new(BINARY)
        .args(["verify", "--base", &mock.base_url(), "--account", ACCOUNT])
        .args(extra)
        .env_remove("CLOUDFLARE_API_TOKEN")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the target still holds that a run created: images, variants and keys named `verify-`.
fn leftovers(mock: &MockImages) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut left: Vec<String> = mock
        .images()
        .into_iter()
        .map(|image| image.id)
        .filter(|id| id.starts_with("verify-"))
        .collect();
    for path in ["images/v1/variants", "images/v1/keys"] {
        let body = runtime.block_on(async {
            reqwest::Client::new()
                .get(format!("{}/accounts/{ACCOUNT}/{path}", mock.base_url()))
                .bearer_auth("t")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        if body.contains("\"verify-") {
            left.push(format!("{path}: {body}"));
        }
    }
    left
}

#[test]
fn against_a_mock_every_case_agrees_and_nothing_is_left_behind() {
    let mock = target(MockImages::builder());

    let output = verify(&mock, &["--token", "t"]);

    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let summary = stdout.lines().last().unwrap();
    let agree: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(summary, format!("{agree} agree, 0 differ"));
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("agree ")).count(),
        agree
    );
    assert!(agree > 80, "{agree} cases");
    assert!(
        stdout.contains("agree   upload an image: id_uuid: 400 [5411]"),
        "{stdout}"
    );
    assert_eq!(leftovers(&mock), Vec::<String>::new());
    // Something was created and deleted on the target.
    let methods: Vec<String> = mock.requests().iter().map(|r| r.method.clone()).collect();
    assert!(
        methods.iter().filter(|m| *m == "DELETE").count() >= 3,
        "{methods:?}"
    );
}

#[test]
fn against_a_mock_with_other_credentials_the_differing_cases_are_named() {
    let mock = target(MockImages::builder().credentials(Credentials::token("another token")));

    let output = verify(&mock, &["--token", "t"]);

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // Every authenticated case is refused by the target (10000), accepted or refused otherwise
    // by the in-process mock set up with the run's token...
    assert!(
        stdout.contains("differ  upload an image: valid (status, codes, messages, shape)\n          target: 401 [10000]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("differ  upload an image: id_uuid (status, codes, messages, shape)"),
        "{stdout}"
    );
    // ...but a request without credentials is refused alike (9106).
    assert!(
        stdout.contains("agree   upload an image: missing_auth: 400 [9106]"),
        "{stdout}"
    );
    let summary = stdout.lines().last().unwrap();
    assert!(summary.starts_with("1 agree, "), "{summary}");
}

#[test]
fn json_output_parses_and_counts_the_cases() {
    let mock = target(MockImages::builder());

    let output = verify(&mock, &["--token", "t", "--json"]);

    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(report["agree"].as_u64(), Some(cases.len() as u64));
    assert_eq!(report["differ"].as_u64(), Some(0));
    let upload = cases
        .iter()
        .find(|c| c["rule"] == "id_uuid")
        .expect("an id_uuid case");
    assert_eq!(
        upload["operation"],
        "cloudflare-images-upload-an-image-via-url"
    );
    assert_eq!(upload["target"]["status"], 400);
    assert_eq!(upload["target"]["codes"], serde_json::json!([5411]));
    assert_eq!(upload["target"], upload["mock"]);
    assert_eq!(
        upload["confirmed"], false,
        "the schema assumes id_uuid's status"
    );
}

#[test]
fn a_dry_run_sends_nothing() {
    let mock = target(MockImages::builder());

    let output = verify(&mock, &["--token", "t", "--dry-run"]);

    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(&format!(
        "upload an image: valid: POST {}/accounts/{ACCOUNT}/images/v1 (multipart/form-data",
        mock.base_url()
    )));
    assert!(
        stdout.trim_end().ends_with("requests, none sent"),
        "{stdout}"
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn a_host_that_is_not_loopback_needs_yes_and_https_is_not_built_in() {
    let start = Instant::now();
    let output = Command::new(BINARY)
        .args([
            "verify",
            "--base",
            "http://192.0.2.1/client/v4",
            "--account",
            ACCOUNT,
        ])
        .args(["--token", "t"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("is not on this machine") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "nothing was sent"
    );

    let output = Command::new(BINARY)
        .args(["verify", "--base", "https://api.cloudflare.com/client/v4"])
        .args(["--account", ACCOUNT, "--token", "t", "--yes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no TLS built in yet"),
        "{}",
        text(&output.stderr)
    );
}

#[cfg(unix)]
#[test]
fn on_ctrl_c_it_stops_and_deletes_what_it_created() {
    let mock = target(MockImages::builder());
    let child = Command::new(BINARY)
        .args(["verify", "--base", &mock.base_url(), "--account", ACCOUNT])
        .args(["--token", "t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the image, the variant and the key exist on the target, interrupt.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mock.requests().iter().any(|r| r.method == "PUT") {
        assert!(Instant::now() < deadline, "the run never added its key");
        std::thread::sleep(Duration::from_millis(5));
    }
    let signalled = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let output = child.wait_with_output().unwrap();

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("interrupted: "), "{stdout}");
    assert_eq!(leftovers(&mock), Vec::<String>::new());
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let mock = target(MockImages::builder());
    // Twice `429` with `Retry-After: 1` on the statistics, then the normal answer.
    mock.script(Script::rate_limited().on(Operation::Stats).times(2));
    let start = Instant::now();

    let output = verify(&mock, &["--token", "t"]);

    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("agree   images usage statistics: valid: 200 []"),
        "{stdout}"
    );
    let stats: Vec<u16> = mock
        .requests()
        .iter()
        .filter(|r| r.operation == Some(Operation::Stats))
        .map(|r| r.status)
        .collect();
    assert_eq!(stats, [429, 429, 200]);
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn against_a_mock_pinned_to_another_account_the_differing_cases_are_named() {
    let mock = target(MockImages::builder().account_id("ffffffffffffffffffffffffffffffff"));

    let output = verify(&mock, &["--token", "t"]);

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // Every case sent with credentials is answered `7003` by the target.
    assert!(
        stdout.contains("differ  upload an image: valid (status, codes, messages, shape)\n          target: 400 [7003, 7000]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("differ  upload an image: id_uuid (codes, messages)\n          target: 400 [7003, 7000]"),
        "{stdout}"
    );
    let agree: Vec<&str> = stdout.lines().filter(|l| l.starts_with("agree ")).collect();
    assert!(agree.len() <= 1, "{agree:?}");
}

#[test]
fn against_a_mock_that_fails_one_operation_exactly_that_case_differs() {
    let mock = target(MockImages::builder());
    mock.script(Script::internal_error().on(Operation::Blob));

    let output = verify(&mock, &["--token", "t"]);

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let differ: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("differ "))
        .collect();
    assert_eq!(
        differ,
        ["differ  download image: valid (status, codes, messages, shape)"]
    );
    let summary = stdout.lines().last().unwrap();
    assert!(summary.ends_with(" agree, 1 differ"), "{summary}");
}

/// A server that answers as the real API was recorded answering (RECORDED.md): the success
/// envelope `result, success, errors, messages` for everything it is sent, a generated UUID-like
/// id for every upload, the plain text `ERROR 5404: Image not found` for a missing image, and
/// the gateway's `9106` with `messages` and `result` for a request without credentials. It
/// refuses nothing else, as no real server would: the invalid cases must come out as differing.
struct Fake {
    base_url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Fake {
    fn start() -> Fake {
        use std::io::{BufRead, BufReader, Read, Write};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/client/v4", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut words = line.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let path = target.split('?').next().unwrap_or("").to_owned();
                let (mut length, mut authenticated) = (0usize, false);
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                    let lower = header.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    authenticated |=
                        lower.starts_with("authorization:") || lower.starts_with("x-auth-key:");
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                log.lock().unwrap().push(format!("{method} {path}"));

                let envelope = |result: &str| {
                    format!(r#"{{"result":{result},"success":true,"errors":[],"messages":[]}}"#)
                };
                let (status, content_type, body): (u16, &str, Vec<u8>) = if !authenticated {
                    (400, "application/json", br#"{"success":false,"errors":[{"code":9106,"message":"Missing X-Auth-Key, X-Auth-Email or Authorization headers"}],"messages":[],"result":null}"#.to_vec())
                } else if path.ends_with("-none") {
                    (404, "text/plain", b"ERROR 5404: Image not found\n".to_vec())
                } else if path.ends_with("/blob") {
                    (200, "image/png", b"\x89PNG\r\n\x1a\n".to_vec())
                } else if method == "POST" && path.ends_with("/images/v1") {
                    let id = format!("e73d3dcf-ec7f-4476-09e2-{n:012x}");
                    let result = format!(
                        r#"{{"id":"{id}","filename":"verify.png","uploaded":"2026-11-30T07:00:00.000Z","requireSignedURLs":false,"variants":["https://imagedelivery.net/nCX0WluV4kb4MYRWgWWi4A/{id}/public"]}}"#
                    );
                    (200, "application/json", envelope(&result).into_bytes())
                } else {
                    (200, "application/json", envelope("{}").into_bytes())
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Fake { base_url, seen }
    }
}

#[test]
fn against_a_fake_in_the_real_shapes_the_differences_are_named_and_what_it_accepted_is_deleted() {
    let fake = Fake::start();

    let output = Command::new(BINARY)
        .args([
            "verify",
            "--base",
            &fake.base_url,
            "--account",
            ACCOUNT,
            "--token",
            "t",
        ])
        .output()
        .unwrap();

    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // The valid cases in the recorded shapes agree; so does the recorded text of a missing image.
    assert!(stdout.contains("agree   upload an image: valid: 200 [] [] {result:object,success:boolean,errors:array,messages:array}"), "{stdout}");
    assert!(stdout.contains("agree   image details: image_not_found: 404 [5404] [\"Image not found\"] bytes text/plain"), "{stdout}");
    // The fake accepts what the mock refuses, and answers 9106 in its other recorded shape.
    assert!(stdout.contains("differ  upload an image: id_uuid (status, codes, messages, shape)\n          target: 200 []"), "{stdout}");
    assert!(
        stdout.contains(
            "differ  upload an image: missing_auth (shape)\n          target: 400 [9106]"
        ),
        "{stdout}"
    );
    // The mock's answer to a custom id that is a UUID is assumed: the report says so.
    assert!(
        stdout.contains("the mock's answer for id_uuid is assumed (confirmed: false)"),
        "{stdout}"
    );
    // Every image the fake said it created is deleted at the end.
    let seen = fake.seen.lock().unwrap().clone();
    let uploads = seen
        .iter()
        .filter(|r| r.starts_with("POST ") && r.ends_with("/images/v1"))
        .count();
    let deleted = seen
        .iter()
        .filter(|r| r.starts_with("DELETE ") && r.contains("e73d3dcf-"))
        .count();
    assert_eq!(deleted + 1, uploads, "{seen:#?}");
}

#[test]
fn record_writes_each_answer_as_a_redacted_fixture() {
    let mock = target(MockImages::builder());
    let dir = std::env::temp_dir().join(format!("cim-verify-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let output = verify(
        &mock,
        &[
            "--token",
            "secret-token-1234",
            "--json",
            "--record",
            dir.to_str().unwrap(),
        ],
    );

    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let cases = report["cases"].as_array().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), cases.len());
    for (file, case) in files.iter().zip(cases) {
        let raw = std::fs::read_to_string(file).unwrap();
        let fixture: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            fixture["status"],
            case["target"]["status"],
            "{}",
            file.display()
        );
        assert_eq!(fixture["provenance"]["case"], case["case"]);
        for key in ["source", "recorded", "templated", "redacted"] {
            assert!(
                fixture["provenance"][key].is_string(),
                "{}: {key}",
                file.display()
            );
        }
        assert_eq!(fixture["provenance"]["confirmed"], false);
        assert!(fixture["body"].is_string());
        for secret in [ACCOUNT, mock.account_hash(), "secret-token-1234"] {
            assert!(!raw.contains(secret), "{} holds {secret}", file.display());
        }
        let prefixes = raw.matches("verify-").count();
        assert_eq!(
            raw.matches("verify-00000000").count(),
            prefixes,
            "{}",
            file.display()
        );
    }
    let upload = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        upload.contains(r#"\"id\": \"verify-00000000-image\""#),
        "{upload}"
    );
    assert!(
        upload.contains("imagedelivery.net/2222222222222222222222/"),
        "{upload}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_target_that_does_not_answer_is_one_clear_error() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/client/v4");

    let output = Command::new(BINARY)
        .args([
            "verify",
            "--base",
            &base,
            "--account",
            ACCOUNT,
            "--token",
            "t",
        ])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("{base} does not answer: ")),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}

/// Each case's name and whether it agreed, from a `--json` run.
fn verdicts(output: &Output) -> Vec<(String, bool)> {
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&output.stderr)));
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["case"].as_str().unwrap().to_owned(),
                c["agree"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn record_then_load_then_verify_finds_what_the_recorded_target_showed() {
    let fake = Fake::start();
    let dir = std::env::temp_dir().join(format!("cim-verify-roundtrip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let recorded = Command::new(BINARY)
        .args([
            "verify",
            "--base",
            &fake.base_url,
            "--account",
            ACCOUNT,
            "--token",
            "t",
        ])
        .args(["--json", "--record", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(recorded.status.code(), Some(1));

    // A mock loaded with the recording answers its refusals as the fake did.
    let mock = target(MockImages::builder().fixtures(&dir));
    let replayed = verify(&mock, &["--token", "t", "--json"]);

    assert_eq!(
        verdicts(&replayed),
        verdicts(&recorded),
        "{}",
        text(&replayed.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
    let id_uuid = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["rule"] == "id_uuid")
        .unwrap();
    assert_eq!(id_uuid["target"]["status"], 200, "the fake accepted it");
    // The journal still names the mock's own rule.
    assert!(mock
        .requests()
        .iter()
        .any(|r| r.errors.first().is_some_and(|e| e.rule == "id_uuid")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_server_loads_fixtures_and_a_bad_directory_fails_its_start() {
    let output = Command::new(BINARY)
        .args(["--port", "0", "--fixtures", "/no/such/dir"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("fixtures /no/such/dir: "), "{stderr}");
}
