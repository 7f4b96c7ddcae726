//! The server threads every mock of the process shares: a few threads, each running a
//! current-thread tokio runtime for as long as the process lives.
//!
//! A start binds its listener and spawns the mock's serve future on the least-loaded thread; a
//! drop stops that future and waits for it to end. So neither builds a runtime nor starts or
//! joins a thread, which were most of their cost. Each runtime stays current-thread (no work
//! stealing): a request costs what it did on a thread of its own.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// At most this many threads, however many cores: a test process's mocks are mostly idle, and
/// each thread holds a stack and a runtime for as long as the process lives.
const MAX_THREADS: usize = 4;

thread_local! {
    /// Set on the pool's threads: a drop there must not wait for a serve future that only this
    /// thread can run.
    static ON_POOL: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is one of the pool's.
pub(super) fn on_pool_thread() -> bool {
    ON_POOL.with(Cell::get)
}

/// One thread of the pool: its runtime, and how many mocks it serves now.
struct Worker {
    handle: tokio::runtime::Handle,
    mocks: Arc<AtomicUsize>,
}

/// The threads started so far; more are started, up to the cap, when every one is busy.
static WORKERS: OnceLock<Mutex<Vec<Worker>>> = OnceLock::new();

/// A place on a pool thread, taken by one mock until it is released (when its serve future
/// ends, on that thread).
pub(super) struct Place {
    pub(super) handle: tokio::runtime::Handle,
    mocks: Arc<AtomicUsize>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.mocks.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A place on the thread serving the fewest mocks, starting a thread when each one serves a
/// mock and the cap (the cores, at most [`MAX_THREADS`]) is not reached.
pub(super) fn place() -> std::io::Result<Place> {
    let mut workers = WORKERS
        .get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let least = (0..workers.len()).min_by_key(|&i| workers[i].mocks.load(Ordering::Relaxed));
    let index = match least {
        Some(i) if workers[i].mocks.load(Ordering::Relaxed) == 0 || workers.len() >= cap() => i,
        _ => {
            let worker = spawn(workers.len())?;
            workers.push(worker);
            workers.len() - 1
        }
    };
    let worker = &workers[index];
    worker.mocks.fetch_add(1, Ordering::Relaxed);
    Ok(Place {
        handle: worker.handle.clone(),
        mocks: Arc::clone(&worker.mocks),
    })
}

/// How many threads the pool may have: the cores (asked once: the question reads cgroup files,
/// which costs more than the rest of a start), at most [`MAX_THREADS`].
fn cap() -> usize {
    static CAP: OnceLock<usize> = OnceLock::new();
    *CAP.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .clamp(1, MAX_THREADS)
    })
}

/// Starts pool thread `index`: its runtime runs until the process ends.
fn spawn(index: usize) -> std::io::Result<Worker> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name(format!("cloudflare-images-mock pool {index}"))
        .spawn(move || {
            ON_POOL.with(|on| on.set(true));
            // Serve futures catch their own panics, and tokio catches those of other tasks:
            // nothing ends this but the process.
            runtime.block_on(std::future::pending::<()>());
        })?;
    Ok(Worker {
        handle,
        mocks: Arc::new(AtomicUsize::new(0)),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::MockImages;

    #[test]
    fn a_mock_dropped_on_its_own_pool_thread_does_not_wait_for_itself() {
        // Arrange: the worst case, a handle moved into a task on the thread serving it.
        let mock = MockImages::start_blocking();
        let address = mock.address();
        let server = mock.server.clone();
        let (done, finished) = std::sync::mpsc::channel();

        // Act
        server.spawn(async move {
            drop(mock);
            let _ = done.send(());
        });

        // Assert: the drop returned, and the server stopped all the same.
        finished
            .recv_timeout(Duration::from_secs(10))
            .expect("the drop returned");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(address).is_ok() {
            assert!(Instant::now() < deadline, "the listener is closed");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
