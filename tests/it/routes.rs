//! Routes: the upload under `/client/v4` and at the root; anything else gets a Cloudflare
//! envelope with the right status.

use cloudflare_images_mock::MockImages;
use reqwest::Method;

use crate::helpers::*;

const OTHER_ACCOUNT: &str = "123e105f4ecef8ad9ca31a8372d0c353";

fn not_routable(account_id: &str) -> String {
    format!(
        "Could not route to /client/v4/accounts/{account_id}/images/v1, perhaps your object identifier is invalid?"
    )
}

#[tokio::test]
async fn the_upload_is_served_under_client_v4_and_at_the_root() {
    // Arrange
    let mock = MockImages::start().await;
    let prefixed = format!(
        "{}/client/v4/accounts/{}/images/v1",
        mock.uri(),
        mock.account_id()
    );
    let root = format!("{}/accounts/{}/images/v1", mock.uri(), mock.account_id());

    // Act
    let (prefixed_status, prefixed_body) = post(
        client()
            .post(&prefixed)
            .bearer_auth(TOKEN)
            .multipart(png_form()),
    )
    .await;
    let (root_status, root_body) = post(
        client()
            .post(&root)
            .bearer_auth(TOKEN)
            .multipart(png_form()),
    )
    .await;

    // Assert
    assert_eq!(prefixed_status, 200, "{prefixed_body}");
    assert_eq!(root_status, 200, "{root_body}");
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            format!("/client/v4/accounts/{}/images/v1", mock.account_id()),
            format!("/accounts/{}/images/v1", mock.account_id())
        ]
    );
    assert_eq!(mock.uploads().len(), 2);
}

#[tokio::test]
async fn any_well_formed_account_is_accepted_when_none_is_pinned() {
    // Arrange
    let mock = MockImages::start().await;
    let url = format!("{}/accounts/{OTHER_ACCOUNT}/images/v1", mock.base_url());

    // Act
    let (status, body) = post(client().post(url).bearer_auth(TOKEN).multipart(png_form())).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.uploads()[0].account_id, OTHER_ACCOUNT);
}

#[tokio::test]
async fn an_unknown_route_is_7000_in_an_envelope() {
    // Arrange
    // This test sends requests to routes the mock does not serve on purpose.
    let mock = MockImages::builder()
        .fail_on_unserved_routes(false)
        .start()
        .await;
    let urls = [
        format!(
            "{}/accounts/{}/images/v3",
            mock.base_url(),
            mock.account_id()
        ),
        format!(
            "{}/accounts/{}/images/v2/extra",
            mock.base_url(),
            mock.account_id()
        ),
        format!("{}/zones", mock.base_url()),
        format!("{}/", mock.uri()),
    ];

    for url in urls {
        // Act
        let (status, body) =
            post(client().post(&url).bearer_auth(TOKEN).multipart(png_form())).await;

        // Assert
        assert_eq!(status, 404, "{url}: {body}");
        assert_error(&body, 7000, "No route for that URI", None);
        assert_last_refused(&mock, 404, "no_route");
    }
    assert!(mock.uploads().is_empty());
}

#[tokio::test]
async fn a_wrong_method_is_7001_with_405() {
    // Arrange
    // This test sends requests to routes the mock does not serve on purpose.
    let mock = MockImages::builder()
        .fail_on_unserved_routes(false)
        .start()
        .await;

    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        // Act
        let (status, body) = post(
            client()
                .request(method.clone(), mock.upload_url())
                .bearer_auth(TOKEN),
        )
        .await;

        // Assert
        assert_eq!(status, 405, "{method}: {body}");
        assert_error(
            &body,
            7001,
            &format!("Method {method} not available for that URI."),
            None,
        );
        assert_last_refused(&mock, 405, "method_not_allowed");
        assert_eq!(last_request(&mock).method, method.as_str());
    }
}

#[tokio::test]
async fn a_malformed_account_id_is_7003_with_the_id_in_the_message() {
    // Arrange
    let mock = MockImages::start().await;
    let ids = [
        "not-an-account",
        "023E105F4ECEF8AD9CA31A8372D0C353",  // upper case
        "023e105f4ecef8ad9ca31a8372d0c35",   // 31 digits
        "023e105f4ecef8ad9ca31a8372d0c3533", // 33 digits
    ];

    for id in ids {
        // Act
        let url = format!("{}/accounts/{id}/images/v1", mock.base_url());
        let (status, body) =
            post(client().post(url).bearer_auth(TOKEN).multipart(png_form())).await;

        // Assert
        assert_eq!(status, 400, "{id}: {body}");
        assert_error(&body, 7003, &not_routable(id), None);
        assert_eq!(
            body["errors"][1]["code"], 7000,
            "7003 comes with 7000: {body}"
        );
        assert_eq!(body["errors"][1]["message"], "No route for that URI");
        // The gateway's recorded body: result first, compact, two entries of code and message.
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["result", "success", "errors", "messages"], "{body}");
        assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
        assert_last_refused(&mock, 400, "account_not_routable");
    }
    assert!(mock.uploads().is_empty());
}

#[tokio::test]
async fn a_pinned_account_refuses_the_others_with_7003() {
    // Arrange
    let mock = MockImages::builder()
        .account_id(OTHER_ACCOUNT)
        .start()
        .await;
    let other = "023e105f4ecef8ad9ca31a8372d0c353";

    // Act
    let (pinned, pinned_body) = send(&mock, png_form()).await;
    let url = format!("{}/accounts/{other}/images/v1", mock.base_url());
    let (status, body) = post(client().post(url).bearer_auth(TOKEN).multipart(png_form())).await;

    // Assert
    assert_eq!(mock.account_id(), OTHER_ACCOUNT);
    assert_eq!(pinned, 200, "{pinned_body}");
    assert_eq!(status, 400, "{body}");
    assert_error(&body, 7003, &not_routable(other), None);
    assert_last_refused(&mock, 400, "account_not_routable");
    assert_eq!(mock.uploads().len(), 1);
    assert_eq!(mock.uploads()[0].account_id, OTHER_ACCOUNT);
}

#[tokio::test]
async fn a_malformed_pinned_account_is_a_setup_error() {
    // Act
    let result = MockImages::builder().account_id("ABC").try_start().await;

    // Assert
    let error = result.expect_err("an account id that is no account id");
    assert!(error.to_string().contains("\"ABC\""), "{error}");
}

#[tokio::test]
async fn the_query_string_does_not_change_the_route() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let url = format!("{}?trace=1", mock.upload_url());
    let (status, body) = post(client().post(url).bearer_auth(TOKEN).multipart(png_form())).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let record = last_request(&mock);
    assert_eq!(record.query.as_deref(), Some("trace=1"));
    assert_eq!(
        record.path,
        format!("/client/v4/accounts/{}/images/v1", mock.account_id())
    );
}
