//! The standalone mock: `cargo run --release` serves it on 127.0.0.1:4010, the address the
//! official SDKs' test suites expect, and prints its base URL.

use std::process::ExitCode;

use cloudflare_images_mock::MockImages;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let port = match std::env::var("CLOUDFLARE_IMAGES_MOCK_PORT") {
        Ok(port) => match port.parse() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("CLOUDFLARE_IMAGES_MOCK_PORT={port:?} is not a port number");
                return ExitCode::from(2);
            }
        },
        Err(_) => 4010,
    };
    let mock = match MockImages::builder().port(port).try_start().await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", mock.base_url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("cannot wait for Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
