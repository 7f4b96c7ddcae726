//! [`MockImages`], its builder, and the server behind it.
//!
//! The server runs on a thread of its own with a current-thread tokio runtime, as wiremock's
//! does: it works under either flavour of `#[tokio::test]` (and outside tokio), and dropping the
//! handle can stop it synchronously, closing every connection and freeing the port.
//!
//! - `handle`: [`MockImages`], what a test holds: accessors, journal, scripts, expectations,
//!   and the drop that stops the server and checks the expectations.
//! - `builder`: [`MockImagesBuilder`], the settings, and the start (bind, thread, runtime).
//! - `serve`: the accept loop and one hyper connection per client.
//! - `answer`: one request, from its head to its answer and its journal entry.
//! - `state`: what the connections of one mock share.

mod answer;
mod builder;
mod handle;
mod serve;
mod state;

pub use builder::MockImagesBuilder;
pub use handle::MockImages;
