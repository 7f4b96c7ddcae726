//! Scripted answers: recorded error envelopes, delays, resets and cut-off answers, repeated and
//! in sequence, each journalled; and a retrying client getting through.

use std::time::{Duration, Instant};

use cloudflare_images_mock::{
    conformance, Matcher, MockImages, Operation, Outcome, Rule, Script, ScriptKind,
};
use serde_json::Value;

use crate::helpers::{file_part, get_unserved, png_form, GARBAGE, PNG_1X1, TOKEN};

async fn send(mock: &MockImages) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .multipart(png_form())
        .send()
        .await
}

/// Status, headers and body of one upload, the body checked against the official schemas.
async fn send_checked(mock: &MockImages) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = send(mock).await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a whole body");
    if let Err(problems) = conformance::check_response(Operation::Upload, status, &bytes) {
        panic!("the answer breaks the official response schema: {problems:?}");
    }
    (
        status,
        headers,
        serde_json::from_slice(&bytes).expect("JSON"),
    )
}

/// The SDKs' retry rule, as a user's client would write it: retry 408, 409, 429 and 5xx at most
/// `retries` times, waiting what `Retry-After` says.
async fn upload_with_retries(mock: &MockImages, retries: usize) -> (u16, Value, usize) {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let response = send(mock).await.expect("an answer");
        let status = response.status().as_u16();
        let retryable = matches!(status, 408 | 409 | 429 | 500..=599);
        if !retryable || attempts > retries {
            return (status, response.json().await.expect("JSON"), attempts);
        }
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::from_millis(10), Duration::from_secs);
        tokio::time::sleep(wait).await;
    }
}

#[tokio::test]
async fn a_retrying_client_gets_429_twice_then_200() {
    let mock = MockImages::start().await;
    mock.script(Script::rate_limited().times(2));
    mock.expect_uploads(1);

    let started = Instant::now();
    let (status, body, attempts) = upload_with_retries(&mock, 2).await;

    assert_eq!((status, attempts), (200, 3), "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1 was honoured twice"
    );
    let statuses: Vec<u16> = mock.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200]);
    let scripted: Vec<Option<ScriptKind>> =
        mock.requests().into_iter().map(|r| r.scripted).collect();
    let rate_limited = Some(ScriptKind::Error(Rule::RateLimited));
    assert_eq!(scripted, [rate_limited, rate_limited, None]);
    assert_eq!(mock.requests()[0].errors[0].code, 971);
}

#[tokio::test]
async fn rate_limited_is_the_recorded_971_with_retry_after() {
    let mock = MockImages::start().await;
    mock.script(Script::rate_limited());

    let (status, headers, body) = send_checked(&mock).await;

    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        serde_json::json!({"result": null, "success": false, "errors": [{"code": 971,
            "message": "Please wait and consider throttling your request speed"}], "messages": []})
    );
    assert!(mock.requests()[0].errors[0].confirmed);
}

#[tokio::test]
async fn internal_and_authentication_errors_are_recorded_envelopes() {
    let mock = MockImages::start().await;
    mock.script(Script::internal_error());
    mock.script(Script::authentication_error());

    let (first, _, first_body) = send_checked(&mock).await;
    let (second, _, second_body) = send_checked(&mock).await;
    let (third, _, _) = send_checked(&mock).await;

    assert_eq!(
        (first, first_body["errors"][0]["code"].as_u64()),
        (500, Some(10001))
    );
    assert_eq!(
        (second, second_body["errors"][0]["code"].as_u64()),
        (401, Some(10000))
    );
    assert_eq!(
        third, 200,
        "the mock answers normally once the scripts are played"
    );
    let records = mock.requests();
    assert_eq!(records[0].errors[0].rule, "internal_error");
    assert!(
        !records[0].errors[0].confirmed,
        "the 5xx envelope is assumed"
    );
    assert_eq!(records[1].errors[0].rule, "authentication");
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn scripts_apply_before_any_other_check_but_only_on_served_operations() {
    let mock = MockImages::builder()
        .fail_on_unserved_routes(false)
        .start()
        .await;
    mock.script(Script::rate_limited());

    // Another route is answered normally and leaves the script in place.
    let other = get_unserved(&mock).await;
    // No credentials and no body: still the scripted answer.
    let upload = reqwest::Client::new()
        .post(mock.upload_url())
        .send()
        .await
        .unwrap();

    assert_eq!(other, 404);
    assert_eq!(upload.status(), 429);
}

#[tokio::test]
async fn a_delay_comes_before_the_normal_answer() {
    let mock = MockImages::start().await;
    mock.script(Script::delay(Duration::from_millis(300)));

    let started = Instant::now();
    let (status, _, _) = send_checked(&mock).await;

    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        mock.requests()[0].scripted,
        Some(ScriptKind::Delay(Duration::from_millis(300)))
    );
    assert_eq!(
        mock.requests()[0].scripted.unwrap().to_string(),
        "delay 300ms"
    );
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_an_answer_then_the_retry_succeeds() {
    let mock = MockImages::start().await;
    mock.script(Script::reset());

    let first = send(&mock).await;
    let (status, _, _) = send_checked(&mock).await;

    let error = first.expect_err("a reset is no answer");
    assert!(error.is_request(), "{error:?}");
    assert_eq!(status, 200);
    let records = mock.requests();
    assert_eq!(records[0].status, 0);
    assert_eq!(records[0].outcome, Outcome::Reset);
    assert_eq!(records[0].scripted, Some(ScriptKind::Reset));
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn a_reset_mid_upload_stops_a_large_body_being_sent() {
    let mock = MockImages::start().await;
    mock.script(Script::reset_mid_upload());
    let big = crate::helpers::png_of_size(4 << 20);
    let form = reqwest::multipart::Form::new().part(
        "file",
        crate::helpers::file_part(big, "big.png", "image/png"),
    );

    let sent = reqwest::Client::new()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await;

    assert!(sent.is_err(), "{sent:?}");
    assert_eq!(mock.requests()[0].status, 0);
    assert_eq!(mock.requests()[0].outcome, Outcome::Reset);
    assert_eq!(
        mock.requests()[0].scripted,
        Some(ScriptKind::ResetMidUpload)
    );
    assert!(mock.uploads().is_empty());
}

#[tokio::test]
async fn a_cut_off_answer_fails_while_reading_the_body() {
    let mock = MockImages::start().await;
    mock.script(Script::cut_off());

    let response = send(&mock).await.expect("the status and headers arrive");
    let status = response.status();
    let body = response.bytes().await;

    assert_eq!(status, 200);
    assert!(body.is_err(), "{body:?}");
    assert_eq!(mock.requests()[0].scripted, Some(ScriptKind::CutOff));
    assert_eq!(mock.requests()[0].outcome, Outcome::CutOff(200));
    assert_eq!(mock.uploads().len(), 1, "the upload itself was accepted");
}

#[cfg(unix)]
#[tokio::test]
async fn a_reset_is_a_tcp_reset_not_a_clean_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Arrange
    let mock = MockImages::start().await;
    mock.script(Script::reset());
    let mut stream = tokio::net::TcpStream::connect(mock.address())
        .await
        .unwrap();
    let request = format!(
        "POST /accounts/{}/images/v1 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer t\r\ncontent-length: 0\r\n\r\n",
        mock.account_id()
    );

    // Act
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer).await;

    // Assert: the peer reset the connection (RST), and nothing was answered.
    let error = read.expect_err("a reset, not an orderly close");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    assert!(answer.is_empty());
}

#[tokio::test]
async fn a_script_with_a_matcher_answers_only_the_matching_request_among_concurrent_ones() {
    let mock = MockImages::start().await;
    mock.script(
        Script::rate_limited()
            .on(Operation::Upload)
            .when(Matcher::header("x-tenant", "t-3")),
    );
    let upload = |tenant: String| {
        reqwest::Client::new()
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .header("x-tenant", tenant)
            .multipart(png_form())
            .send()
    };

    let answers = futures_util::future::join_all((0..8).map(|i| upload(format!("t-{i}")))).await;

    let statuses: Vec<u16> = answers
        .iter()
        .map(|a| a.as_ref().unwrap().status().as_u16())
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 200, 200, 200, 200]);
    let scripted: Vec<Option<&str>> = mock
        .requests()
        .iter()
        .filter(|r| r.scripted.is_some())
        .map(|r| r.header("x-tenant").map(|_| "scripted"))
        .collect();
    assert_eq!(scripted.len(), 1);
    let record = mock
        .requests()
        .into_iter()
        .find(|r| r.scripted.is_some())
        .unwrap();
    assert_eq!(record.header("x-tenant"), Some("t-3"));
    assert_eq!(mock.uploads().len(), 7);
}

#[tokio::test]
async fn a_script_on_an_image_id_answers_only_requests_about_that_image() {
    let mock = MockImages::start().await;
    mock.script(
        Script::internal_error()
            .when(Matcher::image_id("a/b.png"))
            .times(2),
    );
    let client = reqwest::Client::new();
    let get = |id: &'static str| {
        client
            .get(format!("{}/{id}", mock.upload_url()))
            .bearer_auth(TOKEN)
            .send()
    };

    let (other, scripted, again) = tokio::join!(get("c.png"), get("a%2Fb.png"), get("a/b.png"));

    assert_eq!(other.unwrap().status(), 404);
    assert_eq!(scripted.unwrap().status(), 500);
    assert_eq!(again.unwrap().status(), 500);
}

#[test]
#[should_panic(
    expected = "cloudflare-images-mock: Script::reset_mid_upload answers before the body is read, \
so it cannot match on creator \"u-2\": use a matcher of the request head (operation, method, \
image id, header), or Script::reset, which a body matcher decides after the body is read"
)]
fn a_reset_mid_upload_refuses_a_matcher_on_the_body() {
    let _ = Script::reset_mid_upload().when(Matcher::creator("u-2"));
}

/// An upload of the 1x1 PNG with `fields` as text parts.
async fn upload_with(mock: &MockImages, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form = png_form();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    reqwest::Client::new()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("an answer")
}

#[tokio::test]
async fn a_body_script_answers_only_the_upload_of_its_creator_among_concurrent_ones() {
    let mock = MockImages::start().await;
    mock.script(Script::rate_limited().when(Matcher::creator("u-3")));

    let answers = futures_util::future::join_all((0..8).map(|i| {
        let mock = &mock;
        async move {
            let creator = format!("u-{i}");
            let response = upload_with(mock, &[("creator", &creator)]).await;
            let status = response.status().as_u16();
            let retry_after = response.headers().get("retry-after").cloned();
            let body: Value = response.json().await.expect("JSON");
            (creator, status, retry_after, body)
        }
    }))
    .await;

    for (creator, status, retry_after, body) in &answers {
        if creator == "u-3" {
            assert_eq!(*status, 429, "{body}");
            assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
            assert_eq!(
                *body,
                serde_json::json!({"result": null, "success": false, "errors": [{"code": 971,
                    "message": "Please wait and consider throttling your request speed"}],
                    "messages": []})
            );
        } else {
            assert_eq!(*status, 200, "{creator}: {body}");
            assert_eq!(body["result"]["creator"], creator.as_str());
        }
    }
    let mut stored: Vec<String> = mock
        .uploads()
        .into_iter()
        .filter_map(|u| u.creator)
        .collect();
    stored.sort();
    assert_eq!(stored, ["u-0", "u-1", "u-2", "u-4", "u-5", "u-6", "u-7"]);
    let images = reqwest::Client::new()
        .get(format!("{}?per_page=100", mock.upload_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let listed = images["result"]["images"].as_array().unwrap();
    assert_eq!(listed.len(), 7, "the scripted upload is not stored");
    assert!(listed.iter().all(|image| image["creator"] != "u-3"));
    // Played: nothing left for the drop check to report.
    mock.verify().unwrap();
}

#[tokio::test]
async fn the_journal_records_a_body_scripted_upload_with_what_it_sent() {
    let mock = MockImages::start().await;
    mock.script(Script::internal_error().when(Matcher::creator("u-9")));

    let response = upload_with(&mock, &[("creator", "u-9"), ("id", "custom/9")]).await;
    assert_eq!(response.status(), 500);

    let record = &mock.requests()[0];
    assert_eq!(
        record.scripted,
        Some(ScriptKind::Error(Rule::InternalError))
    );
    assert_eq!(record.status, 500);
    assert!(!record.is_accepted());
    assert_eq!(record.image_id.as_deref(), Some("custom/9"));
    let upload = record.upload.as_ref().expect("what was sent");
    assert_eq!(upload.creator.as_deref(), Some("u-9"));
    assert_eq!(upload.id, "custom/9");
    assert_eq!(upload.file_size, Some(PNG_1X1.len() as u64));
    assert!(upload.file.is_none(), "not stored");
    let digest = xxhash_rust::xxh3::xxh3_128(PNG_1X1);
    assert_eq!(
        upload.file_xxh3,
        Some(digest),
        "kept as the bytes were dropped"
    );
    assert!(upload.file_matches(PNG_1X1));
    assert!(upload.result.is_null());
    assert!(upload
        .fields
        .contains(&("creator".to_owned(), "u-9".to_owned())));
    assert!(mock.uploads().is_empty());
    // The image id is free: the same upload without the script is stored.
    let response = upload_with(&mock, &[("creator", "u-9"), ("id", "custom/9")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn a_metadata_script_answers_the_upload_with_that_metadata() {
    let mock = MockImages::start().await;
    mock.script(
        Script::error(Rule::DuplicateId)
            .on(Operation::Upload)
            .when(Matcher::metadata("tenant", "b")),
    );

    let a = upload_with(&mock, &[("metadata", r#"{"tenant": "a"}"#)]).await;
    let b = upload_with(&mock, &[("metadata", r#"{"tenant": "b"}"#)]).await;
    let again = upload_with(&mock, &[("metadata", r#"{"tenant": "b"}"#)]).await;

    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 409);
    assert_eq!(again.status(), 200, "played once");
    let record = &mock.requests()[1];
    assert_eq!(record.errors[0].code, 5409);
    let meta = record.upload.as_ref().and_then(|u| u.meta.clone()).unwrap();
    assert_eq!(meta["tenant"], "b");
    assert_eq!(mock.uploads().len(), 2);
}

#[tokio::test]
async fn a_body_script_leaves_a_refused_body_its_real_refusal_and_waits_for_a_valid_one() {
    let mock = MockImages::start().await;
    mock.script(Script::rate_limited().when(Matcher::creator("u-1")));

    // A file that is no image, then the same creator in a valid upload: the script waits for
    // a body the rules accept.
    let invalid = reqwest::Client::new()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .multipart(
            reqwest::multipart::Form::new()
                .text("creator", "u-1")
                .part("file", file_part(GARBAGE, "cat.png", "image/png")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        invalid.status(),
        415,
        "the real refusal of a file that is no image"
    );
    assert_eq!(mock.requests()[0].scripted, None);
    assert!(mock.requests()[0].upload.is_none());

    let valid = upload_with(&mock, &[("creator", "u-1")]).await;
    assert_eq!(valid.status(), 429);
    assert_eq!(
        mock.requests()[1].scripted,
        Some(ScriptKind::Error(Rule::RateLimited))
    );
}

#[tokio::test]
async fn a_body_script_plays_times_n_and_then_lets_uploads_through() {
    let mock = MockImages::start().await;
    mock.script(
        Script::rate_limited()
            .times(2)
            .when(Matcher::creator("u-1")),
    );

    let mut statuses = Vec::new();
    for creator in ["u-1", "u-2", "u-1", "u-1"] {
        statuses.push(
            upload_with(&mock, &[("creator", creator)])
                .await
                .status()
                .as_u16(),
        );
    }

    assert_eq!(statuses, [429, 200, 429, 200]);
    assert_eq!(mock.uploads().len(), 2);
}

#[tokio::test]
async fn a_body_script_of_times_1_is_claimed_by_exactly_one_of_concurrent_matching_uploads() {
    for _ in 0..20 {
        let mock = MockImages::start().await;
        mock.script(Script::rate_limited().when(Matcher::creator("same")));

        let (a, b) = tokio::join!(
            upload_with(&mock, &[("creator", "same")]),
            upload_with(&mock, &[("creator", "same")]),
        );

        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 429]);
        assert_eq!(mock.uploads().len(), 1);
    }
}

#[tokio::test]
async fn a_body_script_can_reset_delay_or_cut_off_after_the_body_is_read() {
    let mock = MockImages::start().await;
    mock.script(Script::reset().when(Matcher::creator("reset")));
    mock.script(Script::delay(Duration::from_millis(300)).when(Matcher::creator("slow")));
    mock.script(Script::cut_off().when(Matcher::file_size(PNG_1X1.len() as u64)));

    let reset = reqwest::Client::new()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .multipart(png_form().text("creator", "reset"))
        .send()
        .await;
    assert!(reset.is_err(), "no answer");
    let started = Instant::now();
    let slow = upload_with(&mock, &[("creator", "slow")]).await;
    assert_eq!(slow.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let cut = upload_with(&mock, &[("creator", "cut")]).await;
    assert_eq!(cut.status(), 200);
    assert!(cut.bytes().await.is_err(), "the body stops half-way");

    let records = mock.requests();
    let outcomes: Vec<Outcome> = records.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Reset, Outcome::Answered(200), Outcome::CutOff(200)]
    );
    assert_eq!(
        records[0].upload.as_ref().unwrap().creator.as_deref(),
        Some("reset")
    );
    // A reset stores nothing; a delayed or cut-off answer is the normal one, stored.
    let stored: Vec<Option<String>> = mock.uploads().into_iter().map(|u| u.creator).collect();
    assert_eq!(stored, [Some("slow".to_owned()), Some("cut".to_owned())]);
}

#[tokio::test]
async fn a_function_and_a_header_matcher_are_decided_together_after_the_body() {
    let mock = MockImages::start().await;
    mock.script(
        Script::internal_error()
            .when(Matcher::header("x-tenant", "b"))
            .when(Matcher::function("a custom id", |r| {
                // The function sees the upload whole, its file's digest included.
                let digest = xxhash_rust::xxh3::xxh3_128(PNG_1X1);
                r.upload
                    .as_ref()
                    .is_some_and(|u| !u.id.is_empty() && u.file_xxh3 == Some(digest))
            })),
    );
    let send = |tenant: &'static str, id: Option<&'static str>| {
        let mut form = png_form();
        if let Some(id) = id {
            form = form.text("id", id);
        }
        reqwest::Client::new()
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .header("x-tenant", tenant)
            .multipart(form)
            .send()
    };

    assert_eq!(send("b", None).await.unwrap().status(), 200);
    assert_eq!(send("a", Some("x")).await.unwrap().status(), 200);
    assert_eq!(send("b", Some("y")).await.unwrap().status(), 500);
}

#[tokio::test]
async fn an_image_id_next_to_a_body_matcher_matches_the_custom_id_sent() {
    let mock = MockImages::start().await;
    mock.script(
        Script::rate_limited()
            .when(Matcher::image_id("cat-7"))
            .when(Matcher::metadata_key("tenant")),
    );

    let other = upload_with(&mock, &[("id", "cat-6"), ("metadata", r#"{"tenant": 1}"#)]).await;
    let matching = upload_with(&mock, &[("id", "cat-7"), ("metadata", r#"{"tenant": 1}"#)]).await;
    let again = upload_with(&mock, &[("id", "cat-7"), ("metadata", r#"{"tenant": 1}"#)]).await;

    assert_eq!(other.status(), 200);
    assert_eq!(matching.status(), 429);
    assert_eq!(
        again.status(),
        200,
        "cat-7 was not taken by the scripted upload"
    );
}

#[tokio::test]
async fn the_drop_report_counts_a_body_scripted_upload_as_sent_not_accepted() {
    let mock = MockImages::start().await;
    mock.script(Script::internal_error().when(Matcher::creator("u-1")));
    mock.expect_uploads(1);

    assert_eq!(
        upload_with(&mock, &[("creator", "u-1")]).await.status(),
        500
    );

    let report = mock.verify().unwrap_err();
    mock.reset();
    assert!(
        report.contains("expected exactly 1 upload(s), 0 accepted"),
        "{report}"
    );
    assert!(
        report.contains("[scripted: internal_error] sent (not stored): "),
        "{report}"
    );
}

/// Status, content type and body of a request, as bytes.
async fn answer_of(request: reqwest::RequestBuilder) -> (u16, String, bytes::Bytes) {
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.bytes().await.unwrap())
}

#[tokio::test]
async fn script_error_answers_what_the_real_refusal_of_the_rule_answers() {
    let mock = MockImages::start().await;
    let client = reqwest::Client::new();
    let upload = |form: reqwest::multipart::Form| {
        client
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(form)
    };
    let missing = format!("{}/missing.png", mock.upload_url());
    let taken = || upload(png_form().text("id", "taken.png"));
    assert_eq!(taken().send().await.unwrap().status(), 200);
    let cases: Vec<(Rule, Box<dyn Fn() -> reqwest::RequestBuilder + '_>)> = vec![
        (
            Rule::CreatorTooLong,
            Box::new(|| upload(png_form().text("creator", "x".repeat(1025)))),
        ),
        (
            Rule::FileOrUrlRequired,
            Box::new(|| upload(reqwest::multipart::Form::new().text("creator", "me"))),
        ),
        (Rule::DuplicateId, Box::new(taken)),
        (
            Rule::MissingAuth,
            Box::new(|| client.post(mock.upload_url()).multipart(png_form())),
        ),
        (
            Rule::ImageNotFound,
            Box::new(|| client.get(&missing).bearer_auth(TOKEN)),
        ),
        (
            Rule::NotMultipart,
            Box::new(|| {
                client
                    .post(mock.upload_url())
                    .bearer_auth(TOKEN)
                    .body("raw")
            }),
        ),
    ];

    for (rule, request) in cases {
        let real = answer_of(request()).await;
        let real_record = mock.requests().pop().unwrap();
        mock.script(Script::error(rule));
        let scripted = answer_of(request()).await;
        let scripted_record = mock.requests().pop().unwrap();

        assert_eq!(scripted, real, "{rule}");
        assert_eq!(
            (scripted.0, real_record.errors[0].rule),
            (rule.status(), rule),
            "{rule}"
        );
        assert_eq!(scripted_record.scripted, Some(ScriptKind::Error(rule)));
        // The same error in the journal; only the field pointer, which a script cannot know, differs.
        let error = |record: &cloudflare_images_mock::RequestRecord| {
            let e = &record.errors[0];
            (
                e.code,
                e.status,
                e.message.clone(),
                e.rule,
                e.confirmed,
                e.error_chain.clone(),
            )
        };
        assert_eq!(error(&scripted_record), error(&real_record), "{rule}");
    }
}

#[tokio::test]
async fn script_error_fills_run_time_placeholders_and_names_are_parsed_with_a_clear_error() {
    let mock = MockImages::start().await;
    mock.script(Script::error("fetch_failed".parse().unwrap()));

    let (status, _, body) = answer_of(
        reqwest::Client::new()
            .post(mock.upload_url())
            .bearer_auth(TOKEN),
    )
    .await;

    assert_eq!(status, 400);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["code"], 5454);
    assert_eq!(
        body["errors"][0]["message"],
        "Failed to fetch image from url: scripted"
    );
    let unknown = "fetch_failled".parse::<Rule>().unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "no rule of cloudflare-images-mock is called \"fetch_failled\""
    );
}
