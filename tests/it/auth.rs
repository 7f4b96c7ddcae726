//! Credentials: a bearer token or X-Auth-Email + X-Auth-Key; none is 9106, the wrong ones 10000,
//! an Authorization header that is not `Bearer <token>` 6003 (chaining 6111), in the gateway's
//! recorded bodies.

use cloudflare_images_mock::{Credentials, MockImages};

use crate::helpers::*;

const MISSING: &str = "Missing X-Auth-Key, X-Auth-Email or Authorization headers";
const SDK_EMAIL: &str = "user@example.com";
const SDK_KEY: &str = "144c9defac04969c7bfad8efaa8ea194";

#[tokio::test]
async fn no_credentials_is_9106() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = post(client().post(mock.upload_url()).multipart(png_form())).await;

    // Assert
    assert_eq!(status, 400, "{body}");
    assert_gateway_error(&body, 9106, MISSING);
    assert_last_refused(&mock, 400, "missing_auth");
    assert!(mock.uploads().is_empty());
}

#[tokio::test]
async fn half_a_key_pair_is_no_credentials() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (key_only, key_body) = post(
        client()
            .post(mock.upload_url())
            .header("X-Auth-Key", SDK_KEY)
            .multipart(png_form()),
    )
    .await;
    let (email_only, email_body) = post(
        client()
            .post(mock.upload_url())
            .header("X-Auth-Email", SDK_EMAIL)
            .multipart(png_form()),
    )
    .await;

    // Assert
    assert_eq!((key_only, email_only), (400, 400));
    assert_gateway_error(&key_body, 9106, MISSING);
    assert_gateway_error(&email_body, 9106, MISSING);
    assert_last_refused(&mock, 400, "missing_auth");
}

#[tokio::test]
async fn any_bearer_token_is_accepted_by_default() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = post(
        client()
            .post(mock.upload_url())
            .bearer_auth("whatever")
            .multipart(png_form()),
    )
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_last_accepted(&mock);
    assert_eq!(
        mock.uploads()[0].header("Authorization"),
        Some("Bearer whatever")
    );
}

#[tokio::test]
async fn any_email_and_key_are_accepted_by_default() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = post(
        client()
            .post(mock.upload_url())
            .header("X-Auth-Email", SDK_EMAIL)
            .header("X-Auth-Key", SDK_KEY)
            .multipart(png_form()),
    )
    .await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_last_accepted(&mock);
    let upload = &mock.uploads()[0];
    assert_eq!(upload.header("x-auth-email"), Some(SDK_EMAIL));
    assert_eq!(upload.header("x-auth-key"), Some(SDK_KEY));
}

#[tokio::test]
async fn a_required_token_accepts_only_itself() {
    // Arrange
    let mock = MockImages::builder()
        .credentials(Credentials::token("s3cret"))
        .start()
        .await;

    // Act
    let (right, right_body) = post(
        client()
            .post(mock.upload_url())
            .bearer_auth("s3cret")
            .multipart(png_form()),
    )
    .await;
    let (wrong, wrong_body) = post(
        client()
            .post(mock.upload_url())
            .bearer_auth("s3cret2")
            .multipart(png_form()),
    )
    .await;
    let refused = last_request(&mock);
    let (key, key_body) = post(
        client()
            .post(mock.upload_url())
            .header("X-Auth-Email", SDK_EMAIL)
            .header("X-Auth-Key", "s3cret")
            .multipart(png_form()),
    )
    .await;

    // Assert
    assert_eq!(right, 200, "{right_body}");
    assert_eq!(wrong, 401, "{wrong_body}");
    assert_gateway_error(&wrong_body, 10000, "Authentication error");
    assert_eq!(
        (refused.status, refused.errors[0].rule.as_str()),
        (401, "authentication")
    );
    assert_eq!(key, 401, "{key_body}");
    assert_gateway_error(&key_body, 10000, "Authentication error");
    assert_last_refused(&mock, 401, "authentication");
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn a_required_key_accepts_only_itself() {
    // Arrange
    let mock = MockImages::builder()
        .credentials(Credentials::key(SDK_EMAIL, SDK_KEY))
        .start()
        .await;
    let with_key = |email: &str, key: &str| {
        client()
            .post(mock.upload_url())
            .header("X-Auth-Email", email)
            .header("X-Auth-Key", key)
            .multipart(png_form())
    };

    // Act
    let (right, right_body) = post(with_key(SDK_EMAIL, SDK_KEY)).await;
    let (wrong_key, wrong_key_body) =
        post(with_key(SDK_EMAIL, "144c9defac04969c7bfad8efaa8ea195")).await;
    let (wrong_email, wrong_email_body) = post(with_key("other@example.com", SDK_KEY)).await;
    let (token, token_body) = post(
        client()
            .post(mock.upload_url())
            .bearer_auth(SDK_KEY)
            .multipart(png_form()),
    )
    .await;
    let (none, none_body) = post(client().post(mock.upload_url()).multipart(png_form())).await;

    // Assert
    assert_eq!(right, 200, "{right_body}");
    for (status, body) in [
        (wrong_key, &wrong_key_body),
        (wrong_email, &wrong_email_body),
        (token, &token_body),
    ] {
        assert_eq!(status, 401, "{body}");
        assert_gateway_error(body, 10000, "Authentication error");
    }
    assert_eq!(none, 400, "{none_body}");
    assert_gateway_error(&none_body, 9106, MISSING);
    let statuses: Vec<u16> = mock.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 401, 401, 401, 400]);
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn credentials_are_checked_before_the_body_is_read() {
    // Arrange: the body would be refused too, but the credentials come first.
    let mock = MockImages::builder()
        .credentials(Credentials::token("s3cret"))
        .start()
        .await;

    // Act
    let (status, body) = post(
        client()
            .post(mock.upload_url())
            .bearer_auth("nope")
            .header("Content-Type", "application/json")
            .body("{}"),
    )
    .await;

    // Assert
    assert_eq!(status, 401, "{body}");
    assert_gateway_error(&body, 10000, "Authentication error");
    assert_last_refused(&mock, 401, "authentication");
}

#[tokio::test]
async fn a_malformed_authorization_is_6003_chaining_6111() {
    // Arrange: an Authorization header that is not `Bearer <token>`.
    let mock = MockImages::start().await;

    for authorization in [
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer",
        "Bearer a b",
        "s3cret",
    ] {
        // Act
        let (status, body) = post(
            client()
                .post(mock.upload_url())
                .header("Authorization", authorization)
                .multipart(png_form()),
        )
        .await;

        // Assert: the recorded body, byte for byte.
        assert_eq!(status, 400, "{authorization:?}: {body}");
        assert_eq!(
            body.to_string(),
            r#"{"success":false,"errors":[{"code":6003,"message":"Invalid request headers","error_chain":[{"code":6111,"message":"Invalid format for Authorization header"}]}],"messages":[],"result":null}"#
        );
        assert_last_refused(&mock, 400, "authorization_malformed");
        let record = last_request(&mock);
        assert_eq!(record.errors[0].code, 6003);
        assert_eq!(record.errors[0].error_chain[0].code, 6111);
    }
}

#[tokio::test]
async fn a_well_formed_wrong_token_stays_10000() {
    // Arrange
    let mock = MockImages::builder()
        .credentials(Credentials::token("s3cret"))
        .start()
        .await;

    // Act
    let (status, body) = post(
        client()
            .post(mock.upload_url())
            .bearer_auth("0123456789abcdef")
            .multipart(png_form()),
    )
    .await;

    // Assert
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body.to_string(),
        r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}"#
    );
}
