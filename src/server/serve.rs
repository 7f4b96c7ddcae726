//! The accept loop, and one hyper connection per client.

use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
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
                let date = httpdate::fmt_http_date(clock.now());
                if let Ok(date) = hyper::header::HeaderValue::from_str(&date) {
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
