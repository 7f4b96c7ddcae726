//! Expectations checked at drop: the upload count, unserved routes, strict mode; the report a
//! failing test shows, pinned word for word where it matters.

use cloudflare_images_mock::{MockImages, Script};

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
