//! The accept loop, and one hyper connection per client.

use std::cell::RefCell;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use hyper::header::HeaderValue;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::dispatch::answer_guarded;
use super::pool::Place;
use crate::script::Reset;
use crate::state::{cause, fail, Shared};

/// A mock's whole life on its pool thread: serves until stopped, then closes the listener and
/// every connection and lets go of the shared state, and only then drops `ended`, which is what
/// the handle's drop waits for. A panic here (a bug, or a staged fault) lands in `failure` and
/// ends this mock alone: the thread goes on serving the others.
pub(super) async fn run(
    listener: StdListener,
    shared: Arc<Shared>,
    stop: oneshot::Receiver<()>,
    ended: watch::Sender<()>,
    place: Place,
) {
    // The connections are owned here, not detached, so that none outlives the mock.
    let mut connections = JoinSet::new();
    let serving = std::panic::AssertUnwindSafe(serve(listener, &shared, stop, &mut connections));
    if let Err(panic) = serving.catch_unwind().await {
        fail(&shared, format!("its server panicked: {}", cause(&*panic)));
    }
    // Aborts every connection and waits until each one's future is dropped: its socket closed,
    // its `Arc<Shared>` released.
    connections.shutdown().await;
    drop(shared);
    drop(place);
    drop(ended);
}

async fn serve(
    listener: StdListener,
    shared: &Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    connections: &mut JoinSet<()>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            fail(shared, format!("could not listen: {e}"));
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = shared.crash.notified() => panic!("a fault staged by MockImages::stage_server_fault"),
            // Finished connections are reaped as they end. A panic outside a request handler
            // (those are caught by `answer_guarded`) ends its connection alone.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(stream, Arc::clone(shared)));
                }
                // Out of file descriptors and the like: wait for some to free up.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

pub(super) async fn connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let header_timeout = shared.config.header_timeout;
    // A second handle on the socket, so that a scripted reset can make the close a real reset
    // (SO_LINGER 0: RST, not FIN) while hyper owns the stream.
    #[cfg(unix)]
    let socket = std::os::fd::AsFd::as_fd(&stream)
        .try_clone_to_owned()
        .ok()
        .map(Arc::new);
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        #[cfg(unix)]
        let socket = socket.clone();
        async move {
            let clock = shared.clock.clone();
            let mut answer = answer_guarded(shared, request).await;
            if let Ok(response) = &mut answer {
                // The date by the mock's clock (hyper's own is turned off below), so that a
                // fixed clock gives the same headers on every run.
                if let Some(date) = date_header(clock.now()) {
                    response.headers_mut().insert(hyper::header::DATE, date);
                }
            }
            #[cfg(unix)]
            if let (Err(Reset), Some(socket)) = (&answer, &socket) {
                let _ = socket2::SockRef::from(socket.as_ref()).set_linger(Some(Duration::ZERO));
            }
            answer
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .auto_date_header(false)
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// The `date` header of an answer at `at`. It has whole seconds, so the value made for a second
/// is kept (per thread) and shared by the answers in that second, whatever clock they go by:
/// formatting it anew cost two allocations and about 1% of an upload.
fn date_header(at: SystemTime) -> Option<HeaderValue> {
    thread_local! {
        static LAST: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
    }
    let Ok(since) = at.duration_since(UNIX_EPOCH) else {
        return HeaderValue::from_str(&httpdate::fmt_http_date(at)).ok();
    };
    let second = since.as_secs();
    LAST.with_borrow_mut(|last| match last {
        Some((cached, value)) if *cached == second => Some(value.clone()),
        _ => {
            let value = HeaderValue::from_str(&httpdate::fmt_http_date(at)).ok()?;
            *last = Some((second, value.clone()));
            Some(value)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_date_header_is_the_http_date_of_its_second() {
        let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for at in [
            base,
            base + Duration::from_millis(999),
            base + Duration::from_secs(1),
            base - Duration::from_secs(86_400),
            base + Duration::from_millis(1500),
        ] {
            let expected = httpdate::fmt_http_date(at);
            assert_eq!(date_header(at).unwrap().to_str().unwrap(), expected);
        }
        assert_eq!(date_header(base).unwrap(), "Tue, 14 Nov 2023 22:13:20 GMT");
    }
}
