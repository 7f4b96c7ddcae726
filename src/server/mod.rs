//! [`MockImages`], its builder, and the server behind it.
//!
//! The server runs on a thread of its own with a current-thread tokio runtime, as wiremock's
//! does: it works under either flavour of `#[tokio::test]` (and outside tokio), and dropping the
//! handle can stop it synchronously, closing every connection and freeing the port.
//!
//! - `handle`: [`MockImages`], what a test holds: accessors, journal, scripts, expectations,
//!   and the drop that stops the server and checks the expectations.
//! - `scoped`: [`ExpectationGuard`], an expectation checked when it drops.
//! - `builder`: [`MockImagesBuilder`], the settings, and the start (bind, thread, runtime).
//! - `serve`: the accept loop and one hyper connection per client.
//! - `dispatch`: one request, from its head to its answer (by `api`) and its journal entry;
//!   scripts and the panic guard.

mod builder;
mod dispatch;
mod handle;
mod scoped;
mod serve;

pub use builder::MockImagesBuilder;
pub use handle::{MockImages, NewImage};
pub use scoped::ExpectationGuard;
