//! The servers the benchmark measures besides the mock, shared by `benches/throughput.rs` (in
//! process) and the standalone servers of `src/bin/` (out of process, issue 16): the floors
//! (bare hyper 1, with and without multer) and wiremock's answer.

use std::convert::Infallible;
use std::io::{BufRead, Write};
use std::net::TcpListener as StdListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// The account id `MockImages::start()` hands out; the other servers serve the same path.
pub const ACCOUNT_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";
pub const UPLOAD_PATH: &str = "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1";
/// The fixed answer of the floors and of wiremock: a success envelope the size of the mock's.
pub const ANSWER: &str = concat!(
    r#"{"result":{"id":"107b9558-dd06-4bbd-5fef-9c2c16bb7900","filename":"bench.png","#,
    r#""meta":{},"uploaded":"2026-01-01T00:00:00.000Z","requireSignedURLs":false,"#,
    r#""variants":["https://imagedelivery.net/Vi7wi5KSItxGFsWRG2Us6Q/"#,
    r#"107b9558-dd06-4bbd-5fef-9c2c16bb7900/public"]},"#,
    r#""success":true,"errors":[],"messages":[]}"#
);

/// The floors: bare hyper 1, http1, on a thread of its own with a current-thread runtime.
pub struct BareServer {
    pub url: String,
    pub connections: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What a floor does with a request.
#[derive(Debug, Clone, Copy)]
pub enum Floor {
    /// Counts the body, does this many iterations of [`busy`] work, answers [`ANSWER`].
    Count(u64),
    /// Streams the body through multer, answers [`ANSWER`].
    Parse,
    /// As [`Floor::Parse`], and keeps every part's bytes for the life of the server, as multer
    /// hands them over (no copy).
    Keep,
    /// As [`Floor::Parse`], and keeps every part's bytes for the life of the server, copied into
    /// a `Vec` per part (as wiremock keeps a body).
    KeepCopy,
    /// Counts the body, answers these bytes: an answer the mock gave, fetched once ((g), (h)).
    Fixed(&'static [u8]),
}

impl BareServer {
    pub fn start(parse: bool) -> BareServer {
        BareServer::with_work(parse, 0)
    }

    /// A floor that also does `work` iterations of busy work per request (see [`busy`]): how
    /// req/s falls with per-request work.
    pub fn with_work(parse: bool, work: u64) -> BareServer {
        BareServer::spawn(if parse {
            Floor::Parse
        } else {
            Floor::Count(work)
        })
    }

    pub fn spawn(mode: Floor) -> BareServer {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("local address");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let connections = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&connections);
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("floor {address}"))
            .spawn(move || runtime.block_on(serve_bare(listener, mode, counter, stopped)))
            .expect("a thread");
        BareServer {
            url: format!("http://{address}{UPLOAD_PATH}"),
            connections,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve_bare(
    listener: StdListener,
    mode: Floor,
    connections: Arc<AtomicU64>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                connections.fetch_add(1, Ordering::Relaxed);
                let service = hyper::service::service_fn(move |request| async move {
                    Ok::<_, Infallible>(match mode {
                        Floor::Parse => parse_floor(request, None).await,
                        Floor::Keep => parse_floor(request, Some(Keep::Chunks)).await,
                        Floor::KeepCopy => parse_floor(request, Some(Keep::Copy)).await,
                        Floor::Count(work) => floor(request, work, ANSWER.as_bytes()).await,
                        Floor::Fixed(body) => floor(request, 0, body).await,
                    })
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn answer(status: StatusCode, body: &'static [u8]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Counts the body, answers `body` (the fixed envelope, or an answer of the mock).
async fn floor(
    request: Request<Incoming>,
    work: u64,
    answer_body: &'static [u8],
) -> Response<Full<Bytes>> {
    let mut body = request.into_body();
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => read += frame.data_ref().map_or(0, Bytes::len),
            Err(_) => return answer(StatusCode::BAD_REQUEST, b"{}"),
        }
    }
    std::hint::black_box(read);
    busy(work);
    answer(StatusCode::OK, answer_body)
}

/// `iterations` rounds of arithmetic the optimiser cannot remove: CPU work that, unlike a
/// spin on the clock, does not shrink when the thread is preempted in the middle of it.
pub fn busy(iterations: u64) {
    let mut x = 0u64;
    for i in 0..iterations {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
}

/// Iterations of [`busy`] per µs on this CPU: the best of a few timed runs.
pub fn busy_per_micro() -> f64 {
    const ITERATIONS: u64 = 2_000_000;
    (0..5)
        .map(|_| {
            let started = Instant::now();
            busy(ITERATIONS);
            ITERATIONS as f64 / (started.elapsed().as_secs_f64() * 1e6)
        })
        .fold(0.0, f64::max)
}

/// What [`Floor::Keep`] and [`Floor::KeepCopy`] keep: every part, of every server in the process.
static KEPT: std::sync::Mutex<Vec<Bytes>> = std::sync::Mutex::new(Vec::new());

/// How a keeping floor keeps a part.
#[derive(Debug, Clone, Copy)]
enum Keep {
    Chunks,
    Copy,
}

/// Streams the body through multer, reading every field to its end, keeping each chunk in
/// `keep` if given; answers the fixed envelope.
async fn parse_floor(request: Request<Incoming>, keep: Option<Keep>) -> Response<Full<Bytes>> {
    let boundary = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let Some(boundary) = boundary else {
        return answer(StatusCode::UNSUPPORTED_MEDIA_TYPE, b"{}");
    };
    let stream = BodyStream::new(request.into_body())
        .try_filter_map(|frame| futures_util::future::ready(Ok(frame.into_data().ok())));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut read = 0usize;
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) => {
                read += field.name().map_or(0, str::len);
                let mut copy = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            read += chunk.len();
                            match keep {
                                Some(Keep::Chunks) => {
                                    KEPT.lock().unwrap_or_else(|p| p.into_inner()).push(chunk)
                                }
                                Some(Keep::Copy) => copy.extend_from_slice(&chunk),
                                None => {}
                            }
                        }
                        Ok(None) => {
                            if matches!(keep, Some(Keep::Copy)) {
                                let copy = Bytes::from(std::mem::take(&mut copy));
                                KEPT.lock().unwrap_or_else(|p| p.into_inner()).push(copy);
                            }
                            break;
                        }
                        Err(_) => return answer(StatusCode::BAD_REQUEST, b"{}"),
                    }
                }
            }
            Ok(None) => break,
            Err(_) => return answer(StatusCode::BAD_REQUEST, b"{}"),
        }
    }
    std::hint::black_box(read);
    answer(StatusCode::OK, ANSWER.as_bytes())
}

/// A standalone server's protocol with the bench: print `URL <upload URL>` on stdout, then
/// serve until stdin closes (the bench reads the server's CPU and memory from `/proc/<pid>`).
pub fn announce_and_wait(upload_url: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "URL {upload_url}").expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
}
