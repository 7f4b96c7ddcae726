//! The mock under both flavours of `#[tokio::test]`, and its lifetime: dropping the handle
//! stops the server and frees the port.

use cloudflare_images_mock::MockImages;

use crate::helpers::*;

#[tokio::test]
async fn works_on_the_default_current_thread_runtime() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = send(&mock, png_form()).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_on_a_multi_thread_runtime() {
    // Arrange
    let mock = MockImages::start().await;

    // Act
    let (status, body) = send(&mock, png_form()).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.uploads().len(), 1);
}

#[tokio::test]
async fn dropping_the_handle_frees_the_port() {
    // Arrange
    let mock = MockImages::start().await;
    let (status, _) = send(&mock, png_form()).await;
    assert_eq!(status, 200);
    let address = mock.address();

    // Act
    drop(mock);

    // Assert: the port can be bound again, by anyone and by a new mock on that fixed port.
    let listener = std::net::TcpListener::bind(address).expect("the port is free again");
    drop(listener);
    let again = MockImages::builder().port(address.port()).start().await;
    assert_eq!(again.address(), address);
    let (status, body) = send(&again, png_form()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        again.requests().len(),
        1,
        "a new mock starts with an empty journal"
    );
}

#[tokio::test]
async fn a_dropped_mock_no_longer_answers() {
    // Arrange
    let mock = MockImages::start().await;
    let url = mock.upload_url();

    // Act
    drop(mock);

    // Assert
    let result = client()
        .post(url)
        .bearer_auth(TOKEN)
        .multipart(png_form())
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_on_a_multi_thread_runtime_frees_the_port_too() {
    // Arrange
    let mock = MockImages::start().await;
    send(&mock, png_form()).await;
    let address = mock.address();

    // Act
    drop(mock);

    // Assert
    std::net::TcpListener::bind(address).expect("the port is free again");
}

#[tokio::test]
async fn a_busy_port_is_an_error_not_a_panic() {
    // Arrange
    let first = MockImages::start().await;

    // Act
    let result = MockImages::builder()
        .port(first.address().port())
        .try_start()
        .await;

    // Assert
    let error = result.expect_err("the port is taken");
    assert!(
        error
            .to_string()
            .starts_with("cloudflare-images-mock could not bind 127.0.0.1:"),
        "{error}"
    );
    let (status, _) = send(&first, png_form()).await;
    assert_eq!(status, 200, "the first mock is unharmed");
}

#[tokio::test]
async fn mocks_in_one_test_are_independent() {
    // Arrange
    let first = MockImages::start().await;
    let second = MockImages::start().await;

    // Act
    send(&first, png_form()).await;

    // Assert
    assert_ne!(first.address(), second.address());
    assert_eq!(first.uploads().len(), 1);
    assert!(second.requests().is_empty());
}

#[test]
fn works_from_a_runtime_built_by_hand() {
    // Arrange
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Act
    let status = runtime.block_on(async {
        let mock = MockImages::start().await;
        send(&mock, png_form()).await.0
    });

    // Assert
    assert_eq!(status, 200);
}

#[test]
fn the_handle_can_be_shared_between_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<MockImages>();
    shareable::<std::sync::Arc<MockImages>>();
}
