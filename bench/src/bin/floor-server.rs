//! The bench's floor as a standalone server (issue 16, out of process): bare hyper 1 answering
//! the fixed envelope to any request, or with `--parse` the same streaming the body through
//! multer, or with `--keep` the same keeping every part's bytes. Prints `URL <upload URL>`,
//! serves until stdin closes.

use cloudflare_images_mock_bench::{announce_and_wait, BareServer, Floor};

fn main() {
    let has = |flag: &str| std::env::args().any(|a| a == flag);
    let server = if has("--keep") {
        BareServer::spawn(Floor::Keep)
    } else if has("--keep-copy") {
        BareServer::spawn(Floor::KeepCopy)
    } else {
        BareServer::start(has("--parse"))
    };
    announce_and_wait(&server.url);
    drop(server);
}
