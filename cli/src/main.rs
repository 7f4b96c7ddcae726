//! The standalone mock, for clients in any language: `cargo run --release` (at the repository
//! root, whose default members make this the one binary) serves it on
//! 127.0.0.1:4010 (the address the official SDKs' test suites expect) and prints its base URL.
//! `cloudflare-images-mock verify` compares a target (the real API) with the mock, case by case.

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use clap::{Parser, Subcommand};
use cloudflare_images_mock::{Clock, Credentials, MockImages};

mod verify;

/// An offline twin of the Cloudflare Images API: uploads, images, lists, variants, signing keys,
/// direct creator uploads and delivery URLs, answered as the real API answers.
///
/// Point a client at the base URL it prints (e.g. the official SDKs' `base_url`/`baseURL`).
/// With no subcommand it serves; the flags below are the server's.
#[derive(Debug, Parser)]
#[command(
    name = "cloudflare-images-mock",
    version,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The address to listen on; loopback unless you mean it.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// The port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 4010, env = "CLOUDFLARE_IMAGES_MOCK_PORT")]
    port: u16,
    /// Require this API token (`Authorization: Bearer <token>`); by default any is accepted.
    #[arg(long, conflicts_with_all = ["email", "key"])]
    token: Option<String>,
    /// Require this email (with --key) as `X-Auth-Email`.
    #[arg(long, requires = "key")]
    email: Option<String>,
    /// Require this global API key (with --email) as `X-Auth-Key`.
    #[arg(long, requires = "email")]
    key: Option<String>,
    /// Accept only this account id (32 lowercase hex digits); by default any.
    #[arg(long)]
    account_id: Option<String>,
    /// The account hash of delivery URLs (default: derived from the account id).
    #[arg(long)]
    account_hash: Option<String>,
    /// What the delivery URLs in `variants` start with (default: https://imagedelivery.net).
    #[arg(long)]
    delivery_host: Option<String>,
    /// The variants configured on the account, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "public")]
    variants: Vec<String>,
    /// Let `url` uploads fetch http:// URLs from hosts other than loopback.
    #[arg(long)]
    allow_network: bool,
    /// Answer refusals with the recorded answers of this directory (as `verify --record DIR`
    /// writes them) where it holds one for the operation and rule.
    #[arg(long, value_name = "DIR")]
    fixtures: Option<std::path::PathBuf>,
    /// The log level: off, error, warn, info (one line per request) or debug.
    #[arg(long, default_value = "info")]
    log_level: tracing::level_filters::LevelFilter,
    /// Generate image ids, draft ids and signing keys from this seed instead of at random:
    /// with --clock, the same requests get the same answers on every run.
    #[arg(long)]
    seed: Option<u64>,
    /// Stop the clock at this RFC 3339 time (e.g. 2024-01-01T00:00:00Z): `uploaded`, the `date`
    /// header and draft expiries read it; by default the system's clock.
    #[arg(long, value_parser = fixed_clock)]
    clock: Option<Clock>,
}

/// A clock fixed at an RFC 3339 time, for `--clock`.
fn fixed_clock(at: &str) -> Result<Clock, String> {
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time such as 2024-01-01T00:00:00Z ({e})"))?;
    Ok(Clock::fixed(at))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare a target (the real API, or another mock) with this mock, case by case.
    Verify(verify::VerifyArgs),
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Verify(verify)) = args.command {
        return verify::run(verify);
    }
    let log = Log::start();
    tracing_subscriber::fmt()
        .with_max_level(args.log_level)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(log.clone())
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cloudflare-images-mock: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(serve(args));
    log.write_out();
    code
}

/// The log's writer: a request's line is appended to a buffer that a thread of its own writes
/// to stderr, at most every [`Log::BATCH`], so the request path does no `write(2)` of its own
/// (issue 16: the unbuffered line per request was ~10% of a small upload's server CPU).
/// Hand-written rather than `tracing-appender`'s non-blocking writer, which sends each line
/// through a channel to a worker that wakes per line: measured by `log_line_cost`, it cost
/// 1.8–2.4 µs of CPU per line over all threads, more than writing each line unbuffered
/// (1.1–1.6 µs), where this buffer costs 0.7 µs (release build, one run of each).
/// Lines therefore reach stderr up to a batch late; [`Log::write_out`] writes the rest at exit.
#[derive(Clone)]
struct Log {
    shared: Arc<LogShared>,
}

struct LogShared {
    buffer: Mutex<Vec<u8>>,
    /// Signalled when the buffer gets its first bytes.
    filled: Condvar,
}

impl Log {
    /// How long the writer thread gathers lines before one write.
    const BATCH: Duration = Duration::from_millis(20);
    /// Past this, a line's writer writes the buffer itself: a stderr nobody reads (a full pipe)
    /// slows requests down as an unbuffered log would, instead of growing memory without end.
    const LIMIT: usize = 1 << 20;

    fn start() -> Log {
        let log = Log {
            shared: Arc::new(LogShared {
                buffer: Mutex::new(Vec::new()),
                filled: Condvar::new(),
            }),
        };
        let writer = log.clone();
        // Without the thread (it could not be started) lines are written by `write_out` at exit
        // or past the limit: still every line, only later.
        let _ = std::thread::Builder::new()
            .name("log".to_owned())
            .spawn(move || writer.write_batches());
        log
    }

    fn write_batches(&self) {
        loop {
            {
                let buffer = self.lock();
                let _buffer = self
                    .shared
                    .filled
                    .wait_while(buffer, |b| b.is_empty())
                    .unwrap_or_else(PoisonError::into_inner);
            }
            std::thread::sleep(Self::BATCH);
            self.write_out();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.shared
            .buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes what is buffered to stderr now.
    fn write_out(&self) {
        let lines = std::mem::take(&mut *self.lock());
        if !lines.is_empty() {
            // A log that cannot be written is not a reason to stop serving.
            let _ = std::io::stderr().lock().write_all(&lines);
        }
    }
}

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.lock();
        let was_empty = buffer.is_empty();
        buffer.extend_from_slice(bytes);
        if buffer.len() > Self::LIMIT {
            let lines = std::mem::take(&mut *buffer);
            drop(buffer);
            std::io::stderr().lock().write_all(&lines)?;
        } else if was_empty {
            drop(buffer);
            self.shared.filled.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}

async fn serve(args: Args) -> ExitCode {
    // A standalone server has no test to fail: refusals are only logged.
    let mut builder = MockImages::builder()
        .fail_on_unserved_routes(false)
        .host(args.host)
        .port(args.port)
        .variants(args.variants);
    if let Some(token) = args.token {
        builder = builder.credentials(Credentials::token(token));
    }
    if let (Some(email), Some(key)) = (args.email, args.key) {
        builder = builder.credentials(Credentials::key(email, key));
    }
    if let Some(account_id) = args.account_id {
        builder = builder.account_id(account_id);
    }
    if let Some(account_hash) = args.account_hash {
        builder = builder.account_hash(account_hash);
    }
    if let Some(delivery_host) = args.delivery_host {
        builder = builder.delivery_host(delivery_host);
    }
    if let Some(seed) = args.seed {
        builder = builder.seed(seed);
    }
    if let Some(clock) = args.clock {
        builder = builder.clock(clock);
    }
    if let Some(dir) = args.fixtures {
        builder = builder.fixtures(dir);
    }
    let mock = match builder.allow_network(args.allow_network).try_start().await {
        Ok(mock) => mock,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // Listen for signals before saying we are up: a supervisor may stop us right after the line.
    let stop = match stop_signals() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("cloudflare-images-mock: cannot wait for a signal: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", mock.base_url());
    match stop.await {
        Ok(signal) => {
            tracing::info!("{signal}: stopping");
            drop(mock);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cloudflare-images-mock: cannot wait for a signal: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A future that ends on Ctrl-C, or SIGTERM where there is one; on Unix the handlers are
/// installed before it is returned.
#[cfg(unix)]
fn stop_signals(
) -> std::io::Result<impl std::future::Future<Output = std::io::Result<&'static str>>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => Ok("interrupted"),
            _ = term.recv() => Ok("terminated"),
        }
    })
}

/// A future that ends on Ctrl-C.
#[cfg(not(unix))]
fn stop_signals(
) -> std::io::Result<impl std::future::Future<Output = std::io::Result<&'static str>>> {
    Ok(async { tokio::signal::ctrl_c().await.map(|()| "interrupted") })
}

#[cfg(test)]
mod tests {
    use super::Log;

    /// CPU of this process's threads so far (ns): the log thread's included.
    fn cpu_nanos() -> u64 {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(Result::ok)
                    .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                    .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// CPU of this thread so far (ns).
    fn thread_nanos() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    fn log_lines(
        writer: impl for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
        n: usize,
    ) {
        let subscriber = tracing_subscriber::fmt()
            .with_target(false)
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..n {
                tracing::info!(
                    "{} {} {}",
                    "POST",
                    "/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/images/v1",
                    200
                );
            }
        });
    }

    /// The cost of a request's log line, unbuffered (a `write(2)` per line, as before issue 16)
    /// and through [`Log`]: CPU per line of all threads, and of the thread that logs alone (the
    /// request path's share).
    /// Printed, not asserted (timing); run with stderr sent to a file, as a CI job keeps it:
    /// `cargo test -p cloudflare-images-mock-cli --release -- --ignored log_line_cost
    /// --nocapture 2>/tmp/log.txt`
    #[test]
    #[ignore = "timing: prints the cost of a log line"]
    fn log_line_cost() {
        const LINES: usize = 200_000;
        for round in 0..3 {
            let started = cpu_nanos();
            log_lines(std::io::stderr, LINES);
            let unbuffered = (cpu_nanos() - started) as f64 / LINES as f64;
            let log = Log::start();
            let started = cpu_nanos();
            let started_here = thread_nanos();
            log_lines(log.clone(), LINES);
            let here = (thread_nanos() - started_here) as f64 / LINES as f64;
            std::thread::sleep(2 * Log::BATCH);
            log.write_out();
            let buffered = (cpu_nanos() - started) as f64 / LINES as f64;
            println!(
                "round {round}: unbuffered {unbuffered:.0} ns per line; buffered {buffered:.0} ns \
                 per line (all threads), {here:.0} ns of it on the thread that logs (the request \
                 path)"
            );
        }
    }
}
