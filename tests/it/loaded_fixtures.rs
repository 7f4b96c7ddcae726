//! `MockImagesBuilder::fixtures(dir)`: recorded refusals (as `verify --record` writes them)
//! replace the mock's own answer to the same operation and rule; successes stay the mock's; a
//! fixture without provenance fails the start.

use cloudflare_images_mock::{Error, MockImages};

const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

fn fixture(rule: &str, operation_id: &str, provenance: bool) -> String {
    let provenance = if provenance {
        r#""source": "a test", "recorded": "2026-11-30", "redacted": "nothing","#
    } else {
        ""
    };
    format!(
        r#"{{
  "provenance": {{ {provenance} "operation_id": "{operation_id}", "rule": "{rule}" }},
  "status": 422,
  "headers": {{ "content-type": "text/plain" }},
  "body": "ERROR 5400: recorded\n"
}}"#
    )
}

#[tokio::test]
async fn a_recorded_refusal_replaces_the_mocks_own_and_successes_stay() {
    let dir = tempfile::tempdir().unwrap();
    let list_v1 = "cloudflare-images-list-images";
    std::fs::write(
        dir.path().join("page.json"),
        fixture("list_v1_page_invalid", list_v1, true),
    )
    .unwrap();
    let mock = MockImages::builder()
        .fixtures(dir.path())
        .fail_on_refusals(false)
        .start()
        .await;
    let url = format!("{}/accounts/{ACCOUNT}/images/v1", mock.base_url());
    let get = |query: &'static str| {
        let url = url.clone();
        async move {
            let response = reqwest::Client::new()
                .get(format!("{url}{query}"))
                .bearer_auth("t")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (status, content_type, response.text().await.unwrap())
        }
    };

    let refused = get("?page=0").await;
    let other_rule = get("?per_page=1").await;
    let accepted = get("").await;

    assert_eq!(
        refused,
        (
            422,
            "text/plain".to_owned(),
            "ERROR 5400: recorded\n".to_owned()
        )
    );
    assert_eq!(
        other_rule.0, 400,
        "no recording of list_v1_per_page_invalid"
    );
    assert_eq!(accepted.0, 200);
    let journal = mock.requests();
    assert_eq!(journal[0].status, 422);
    assert_eq!(journal[0].errors[0].rule, "list_v1_page_invalid");
}

#[test]
fn a_fixture_without_provenance_fails_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bare.json"),
        fixture(
            "list_v1_page_invalid",
            "cloudflare-images-list-images",
            false,
        ),
    )
    .unwrap();

    let err = MockImages::builder()
        .fixtures(dir.path())
        .try_start_blocking()
        .unwrap_err();

    assert!(matches!(err, Error::Config(_)));
    let message = err.to_string();
    assert!(
        message.contains("bare.json: no provenance.source"),
        "{message}"
    );
}
