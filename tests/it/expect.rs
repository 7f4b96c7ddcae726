//! Expectations checked at drop: the upload count, unserved routes, strict mode; the report a
//! failing test shows, pinned word for word where it matters.

use cloudflare_images_mock::{
    Expectation, Matcher, MockImages, Operation, Outcome, Rule, Script, ScriptKind,
};

use crate::helpers::{get_unserved, png_form, send, TOKEN};

#[tokio::test]
async fn an_exact_count_met_passes() {
    let mock = MockImages::start().await;
    mock.expect_uploads(2);

    send(&mock, png_form()).await;
    send(&mock, png_form()).await;

    assert!(mock.verify().is_ok());
}

#[tokio::test]
async fn a_range_met_passes() {
    let mock = MockImages::start().await;
    mock.expect_uploads(1..=3);

    send(&mock, png_form()).await;

    assert!(mock.verify().is_ok());
}

#[tokio::test]
#[should_panic(
    expected = "cloudflare-images-mock: expected exactly 2 upload(s), 1 accepted\n\n\
expected: exactly 2 upload(s)\n\
arrived: 2 request(s), 1 upload(s) accepted\n  \
#1 POST /client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1 -> 200 accepted: \
file \"cat.png\" (image/png, 67 bytes, png 1x1), creator=\"user-42\"\n  \
#2 POST /client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1 -> 400\n       \
refused by rule creator_too_long: 5400 Bad request: creator: must be at most 1024 characters (at /creator)\n"
)]
async fn too_few_uploads_panic_at_drop_with_what_arrived() {
    let mock = MockImages::start().await;
    mock.expect_uploads(2);

    send(&mock, png_form().text("creator", "user-42")).await;
    send(&mock, png_form().text("creator", "x".repeat(1025))).await;
}

#[tokio::test]
#[should_panic(
    expected = "creator=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"... (1000 characters)\n"
)]
async fn long_fields_are_shortened_in_the_report() {
    let mock = MockImages::start().await;
    mock.expect_uploads(0);

    // The report shows the first 60 characters of a field and its length, never the whole value.
    send(&mock, png_form().text("creator", "x".repeat(1000))).await;
}

#[tokio::test]
#[should_panic(expected = "cloudflare-images-mock: expected between 1 and 3 upload(s), 0 accepted")]
async fn a_range_missed_panics() {
    let mock = MockImages::start().await;
    mock.expect_uploads(1..=3);
}

#[tokio::test]
#[should_panic(
    expected = "cloudflare-images-mock: 1 request(s) to a route the mock does not serve (#1): \
check the client's base URL and method, or allow them with \
`MockImagesBuilder::fail_on_unserved_routes(false)`"
)]
async fn an_unserved_route_fails_the_test_by_default() {
    let mock = MockImages::start().await;

    get_unserved(&mock).await;
}

#[tokio::test]
async fn unserved_routes_can_be_allowed() {
    let mock = MockImages::builder()
        .fail_on_unserved_routes(false)
        .start()
        .await;

    get_unserved(&mock).await;

    assert!(mock.verify().is_ok());
}

#[tokio::test]
async fn refusals_pass_by_default() {
    let mock = MockImages::start().await;

    send(&mock, png_form().text("creator", "x".repeat(1025))).await;

    assert!(mock.verify().is_ok());
}

#[tokio::test]
#[should_panic(
    expected = "cloudflare-images-mock: strict mode: 1 refusal(s) the test did not script (#3); \
`MockImagesBuilder::fail_on_refusals(false)` turns strict mode off"
)]
async fn strict_mode_fails_on_refusals_the_test_did_not_script() {
    let mock = MockImages::builder().fail_on_refusals(true).start().await;
    mock.script(Script::internal_error());

    send(&mock, png_form()).await; // scripted: not a failure
    send(&mock, png_form()).await;
    send(&mock, png_form().text("requireSignedURLs", "maybe")).await;
}

#[tokio::test]
#[should_panic(expected = "fail_on_unserved_routes(false)`
cloudflare-images-mock: strict mode: 1 refusal(s) the test did not script (#2);")]
async fn strict_mode_reports_an_unserved_route_once_as_unserved() {
    let mock = MockImages::builder().fail_on_refusals(true).start().await;

    get_unserved(&mock).await;
    send(&mock, png_form().text("requireSignedURLs", "maybe")).await;
}

#[test]
fn no_panic_at_drop_while_the_thread_is_already_panicking() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcome = std::panic::catch_unwind(|| {
        let mock = runtime.block_on(MockImages::start());
        mock.expect_uploads(5);
        panic!("the test's own failure");
    });
    let panic = outcome.expect_err("the test's own panic");
    // A second panic in drop would abort the process; the test's own message stays.
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"the test's own failure")
    );
}

#[tokio::test]
async fn unplayed_scripts_are_noted_in_the_report() {
    let mock = MockImages::start().await;
    mock.script(Script::reset().times(2));
    mock.expect_uploads(1);

    let report = mock.verify().unwrap_err();

    assert!(
        report.contains("\nnote: 2 scripted answer(s) were never played\nhint: "),
        "{report}"
    );
    mock.expect_uploads(0);
}

#[tokio::test]
#[should_panic(expected = "1 request(s) to a route the mock does not serve (#1)")]
async fn an_unserved_route_counts_even_without_credentials() {
    let mock = MockImages::start().await;

    // Refused with 9106 (no credentials) first, but the route is wrong all the same.
    let _ = reqwest::Client::new()
        .get(mock.base_url())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_report_shows_scripted_answers_and_closed_connections() {
    let mock = MockImages::start().await;
    mock.script(Script::rate_limited());
    mock.script(Script::reset());
    mock.expect_uploads(1);

    // One request for each script.
    for _ in 0..2 {
        let _ = crate::helpers::client()
            .post(mock.upload_url())
            .bearer_auth(TOKEN)
            .multipart(png_form())
            .send()
            .await;
    }
    let report = mock.verify().unwrap_err();

    let path = format!("/client/v4/accounts/{}/images/v1", mock.account_id());
    assert!(
        report.contains(&format!(
            "  #1 POST {path} -> 429 [scripted: rate_limited]\n       \
             refused by rule rate_limited: 971 Please wait and consider throttling your request speed\n  \
             #2 POST {path} -> no answer (connection closed) [scripted: reset]\n"
        )),
        "{report}"
    );
    mock.expect_uploads(0);
}

/// One accepted upload of the 1x1 PNG by `creator`, with metadata `{"owner": owner}`, and a
/// header `x-tenant: creator`.
async fn upload_as(mock: &MockImages, creator: &str, owner: &str) {
    let form = png_form()
        .text("creator", creator.to_owned())
        .text("metadata", format!(r#"{{"owner":"{owner}"}}"#));
    let response = crate::helpers::client()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .header("x-tenant", creator.to_owned())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn each_matcher_matches_its_request_and_not_another() {
    let mock = MockImages::start().await;
    upload_as(&mock, "u-1", "42").await;
    let record = &mock.requests()[0];
    let id = record.image_id.clone().expect("the upload's id");
    let digest = sha256_hex(crate::helpers::PNG_1X1);
    let pairs = [
        (
            Matcher::operation(Operation::Upload),
            Matcher::operation(Operation::Delete),
        ),
        (Matcher::method("post"), Matcher::method("GET")),
        (Matcher::image_id(id.as_str()), Matcher::image_id("other")),
        (
            Matcher::header("X-Tenant", "u-1"),
            Matcher::header("x-tenant", "u-2"),
        ),
        (Matcher::creator("u-1"), Matcher::creator("u-2")),
        (
            Matcher::metadata("owner", "42"),
            Matcher::metadata("owner", 42),
        ),
        (
            Matcher::metadata_key("owner"),
            Matcher::metadata_key("plan"),
        ),
        (Matcher::file_size(67), Matcher::file_size(68)),
        (
            Matcher::file_sha256(digest.to_uppercase()),
            Matcher::file_sha256("00".repeat(32)),
        ),
        (
            Matcher::function("a PNG", |r| {
                r.upload
                    .as_ref()
                    .is_some_and(|u| u.format.as_deref() == Some("png"))
            }),
            Matcher::function("an SVG", |r| {
                r.upload
                    .as_ref()
                    .is_some_and(|u| u.format.as_deref() == Some("svg"))
            }),
        ),
    ];

    for (matching, other) in pairs {
        assert!(matching.matches(record), "{matching} should match");
        assert!(!other.matches(record), "{other} should not match");
        // The same, as expectations checked against the journal.
        mock.expect(Expectation::new(Operation::Upload).and(matching).times(1));
        mock.expect(
            Expectation::new(Operation::Upload)
                .and(other.clone())
                .times(0),
        );
        assert!(mock.verify().is_ok(), "{:?}", mock.verify());
        mock.expect(
            Expectation::new(Operation::Upload)
                .and(other.clone())
                .times(1),
        );
        let report = mock.verify().unwrap_err();
        assert!(
            report.contains(", 0 answered with success\n  closest: "),
            "{report}"
        );
        mock.reset_expectations();
    }
}

#[tokio::test]
async fn a_refused_request_does_not_count_even_when_every_matcher_matches() {
    let mock = MockImages::start().await;
    mock.expect(Expectation::new(Operation::Upload).and(Matcher::header("x-tenant", "u-1")));

    let _ = crate::helpers::client()
        .post(mock.upload_url())
        .bearer_auth(TOKEN)
        .header("x-tenant", "u-1")
        .multipart(png_form().text("creator", "x".repeat(1025)))
        .send()
        .await
        .unwrap();

    let report = mock.verify().unwrap_err();
    assert!(
        report.contains(&format!(
            "  closest: POST /client/v4/accounts/{}/images/v1 (#1): operation ✓, header x-tenant ✓, \
             answer: expected success, got 400 (creator_too_long)\n",
            mock.account_id()
        )),
        "{report}"
    );
    mock.reset();
}

#[tokio::test]
async fn the_report_names_the_closest_request_and_how_it_differs_field_by_field() {
    let mock = MockImages::start().await;
    mock.expect(
        Expectation::new(Operation::Upload)
            .and(Matcher::creator("u-1"))
            .and(Matcher::metadata("owner", "42"))
            .and(Matcher::metadata_key("plan"))
            .and(Matcher::file_size(67))
            .named("the avatar")
            .times(1),
    );

    upload_as(&mock, "u-3", "7").await; // #1: creator and owner differ
    upload_as(&mock, "u-2", "42").await; // #2: only the creator differs (and plan)
    upload_as(&mock, "u-4", "42").await; // #3: as close as #2, and later: the closest
    let report = mock.verify().unwrap_err();

    let path = format!("/client/v4/accounts/{}/images/v1", mock.account_id());
    assert!(
        report.starts_with(&format!(
            "cloudflare-images-mock: expected \"the avatar\" (exactly 1 upload an image (POST \
             /accounts/{{account_id}}/images/v1) with creator \"u-1\", metadata.owner = \"42\", \
             metadata.plan present, file size 67), 0 answered with success\n  \
             closest: POST {path} (#3): operation ✓, creator: expected \"u-1\", got \"u-4\", \
             metadata.owner ✓, metadata.plan: missing, file size ✓, answer ✓\n"
        )),
        "{report}"
    );
    mock.reset();
}

#[tokio::test]
async fn a_met_scoped_expectation_passes_at_drop_and_counts_only_its_own_requests() {
    let mock = MockImages::start().await;
    upload_as(&mock, "u-1", "1").await; // before the guard: not counted

    {
        let guard = mock.expect_scoped(
            Expectation::new(Operation::Upload)
                .and(Matcher::creator("u-1"))
                .times(1),
        );
        upload_as(&mock, "u-1", "2").await;
        upload_as(&mock, "u-2", "3").await;

        let counted = guard.received_requests();
        assert_eq!(counted.len(), 1);
        assert_eq!(
            counted[0].upload.as_ref().unwrap().meta.as_ref().unwrap()["owner"],
            "2"
        );
    } // checked here: met

    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
#[should_panic(
    expected = "cloudflare-images-mock: scoped expectation: expected exactly 1 upload an image \
(POST /accounts/{account_id}/images/v1) with creator \"u-1\", 0 answered with success\n  \
closest: POST /client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1 (#2): operation ✓, \
creator: expected \"u-1\", got \"u-2\", answer ✓\n\n\
received while the guard lived: 1 request(s)\n  \
#2 POST /client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1 -> 200 accepted"
)]
async fn an_unmet_scoped_expectation_panics_when_its_guard_drops() {
    let mock = MockImages::start().await;
    upload_as(&mock, "u-1", "1").await; // before the guard

    let _guard = mock.expect_scoped(
        Expectation::new(Operation::Upload)
            .and(Matcher::creator("u-1"))
            .times(1),
    );
    upload_as(&mock, "u-2", "1").await;
}

#[tokio::test]
async fn a_scoped_guard_verifies_without_panicking_and_stays_quiet_while_panicking() {
    let mock = MockImages::start().await;
    let guard = mock.expect_scoped(Expectation::new(Operation::Stats));
    let report = guard.verify().unwrap_err();
    assert!(
        report.starts_with("cloudflare-images-mock: scoped expectation: expected at least 1 images usage statistics"),
        "{report}"
    );

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = mock.expect_scoped(Expectation::new(Operation::Stats));
        panic!("the test's own failure");
    }));
    let panic = outcome.expect_err("the test's own panic");
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"the test's own failure")
    );
}

#[tokio::test]
async fn reset_forgets_expectations_scripts_and_the_journal_but_keeps_the_store() {
    let mock = MockImages::start().await;
    upload_as(&mock, "u-1", "1").await;
    mock.expect_uploads(5);
    mock.expect(Expectation::new(Operation::Delete));
    mock.script(Script::internal_error());

    mock.reset();

    assert!(mock.requests().is_empty() && mock.uploads().is_empty());
    assert!(mock.verify().is_ok());
    assert_eq!(mock.images().len(), 1, "the store is kept");
    upload_as(&mock, "u-2", "2").await; // no script left: accepted
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(
        mock.wait_for_uploads(1, std::time::Duration::from_secs(1))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn records_are_typed_rule_outcome_and_script() {
    let mock = MockImages::start().await;
    mock.script(Script::error(Rule::CreatorTooLong));

    send(&mock, png_form()).await;
    send(&mock, png_form().text("creator", "x".repeat(1025))).await;

    let records = mock.requests();
    assert_eq!(
        records[0].scripted,
        Some(ScriptKind::Error(Rule::CreatorTooLong))
    );
    assert_eq!(records[0].outcome, Outcome::Answered(400));
    assert_eq!(records[1].scripted, None);
    assert_eq!(records[1].errors[0].rule, Rule::CreatorTooLong);
    assert_eq!(records[1].errors[0].rule, "creator_too_long");
    assert_eq!(records[1].errors[0].rule.code(), records[1].errors[0].code);
}

#[tokio::test]
async fn a_file_digest_is_unknown_once_the_image_is_deleted_and_the_report_says_so() {
    let mock = MockImages::start().await;
    upload_as(&mock, "u-1", "1").await;
    let id = mock.uploads()[0].id.clone();
    let digest = sha256_hex(crate::helpers::PNG_1X1);
    let sha = Expectation::new(Operation::Upload).and(Matcher::file_sha256(digest.as_str()));
    mock.expect(sha);
    assert!(mock.verify().is_ok());

    let url = format!("{}/{id}", mock.upload_url());
    let deleted = crate::helpers::client()
        .delete(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);

    let report = mock.verify().unwrap_err();
    assert!(
        report.contains(&format!(
            "(#1): operation ✓, file sha256: expected {digest}, got unknown (the image was deleted), answer ✓\n"
        )),
        "{report}"
    );
    mock.reset();
}
