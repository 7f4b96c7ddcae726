//! [`MockImages`], its builder, and the server behind it.
//!
//! The server runs on one of a few threads the process's mocks share (`pool`), each with a
//! current-thread tokio runtime: it works under either flavour of `#[tokio::test]` (and outside
//! tokio), a start or drop neither builds a runtime nor starts or joins a thread, and dropping
//! the handle still stops it synchronously, closing every connection and freeing the port.
//!
//! - `handle`: [`MockImages`], what a test holds: accessors, journal, scripts, expectations,
//!   and the drop that stops the server and checks the expectations.
//! - `scoped`: [`ExpectationGuard`], an expectation checked when it drops.
//! - `builder`: [`MockImagesBuilder`], the settings, and the start (bind, state, a place on a
//!   pool thread).
//! - `pool`: the shared server threads.
//! - `serve`: a mock's life on its pool thread: the accept loop, one hyper connection per
//!   client, and the stop.
//! - `dispatch`: one request, from its head to its answer (by `api`) and its journal entry;
//!   scripts and the panic guard.

mod builder;
mod dispatch;
mod handle;
mod pool;
mod scoped;
mod serve;

pub use builder::MockImagesBuilder;
pub use handle::{MockImages, NewImage};
pub use scoped::ExpectationGuard;
