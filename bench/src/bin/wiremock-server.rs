//! wiremock 0.6 as a small standalone server (issue 16, out of process): a `MockServer` (fresh,
//! not from the pool: the process serves one) with one `Mock` on POST + the upload path
//! answering the bench's fixed envelope. Prints `URL <upload URL>`, serves until stdin closes.

use cloudflare_images_mock_bench::{announce_and_wait, ANSWER, UPLOAD_PATH};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime.block_on(async {
        let server = MockServer::builder().start().await;
        Mock::given(method("POST"))
            .and(path(UPLOAD_PATH))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(ANSWER.as_bytes(), "application/json"),
            )
            .mount(&server)
            .await;
        server
    });
    // wiremock serves on a runtime of its own (a thread it started); this one only mounted.
    announce_and_wait(&format!("{}{UPLOAD_PATH}", server.uri()));
    drop(server);
}
