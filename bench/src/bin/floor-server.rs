//! The bench's floor as a standalone server (issue 16, out of process): bare hyper 1 answering
//! the fixed envelope to any request, or with `--parse` the same streaming the body through
//! multer. Prints `URL <upload URL>`, serves until stdin closes.

use cloudflare_images_mock_bench::{announce_and_wait, BareServer};

fn main() {
    let parse = std::env::args().any(|a| a == "--parse");
    let server = BareServer::start(parse);
    announce_and_wait(&server.url);
    drop(server);
}
