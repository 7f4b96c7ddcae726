//! The command: its flags, the checks that keep a real account safe (`--yes`, `--dry-run`), the
//! run against the target and the in-process mock, and the cleanup, also on Ctrl-C.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cloudflare_images_mock::{Credentials, MockImages, Operation};
use serde_json::Value;

use super::catalogue::{self, Case, Resource};
use super::client::{Answer, Auth, Base, Target};
use super::compare::Seen;
use super::record::Recorder;
use super::report::{Outcome, Progress, Report};

/// Runs the catalogue of labelled cases against a target and an in-process mock and compares
/// the answers; exits 0 only when every case agrees.
///
/// On a real account it touches only what it creates (named `verify-` and 8 random hex digits),
/// deletes it at the end and on Ctrl-C, and keeps within the API's rate limit.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The target's base URL, e.g. `http://127.0.0.1:4010/client/v4` (https is not built in yet).
    #[arg(long)]
    base: String,
    /// The account id to send to (32 lowercase hex digits).
    #[arg(long, value_name = "ID")]
    account: String,
    /// An API token with Images edit rights, sent as `Authorization: Bearer`.
    #[arg(long, env = "CLOUDFLARE_API_TOKEN", hide_env_values = true, required_unless_present = "email", conflicts_with_all = ["email", "key"])]
    token: Option<String>,
    /// The account's email, with --key (`X-Auth-Email`).
    #[arg(long, requires = "key")]
    email: Option<String>,
    /// The global API key, with --email (`X-Auth-Key`).
    #[arg(long, requires = "email", hide_env_values = true)]
    key: Option<String>,
    /// Writes the comparison as JSON on stdout instead of the text report.
    #[arg(long)]
    json: bool,
    /// Prints the requests it would send, and sends none.
    #[arg(long)]
    dry_run: bool,
    /// Writes each answer of the target to this directory as a fixture in the format of
    /// `fixtures/` (provenance, status, content type, raw body), redacted.
    #[arg(long, value_name = "DIR")]
    record: Option<std::path::PathBuf>,
    /// Confirms a target that is not on this machine (a real account): needed for any host but
    /// loopback.
    #[arg(long)]
    yes: bool,
}

/// The exit code for a refused invocation (clap's own).
const USAGE: u8 = 2;

pub(crate) fn run(args: VerifyArgs) -> ExitCode {
    let base = match Base::parse(&args.base) {
        Ok(base) => base,
        Err(e) => {
            eprintln!("cloudflare-images-mock verify: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let prefix = catalogue::random_prefix();
    let cases = catalogue::catalogue(&prefix);
    if args.dry_run {
        print_dry_run(&base, &args.account, &cases);
        return ExitCode::SUCCESS;
    }
    if !base.is_loopback() && !args.yes {
        eprintln!(
            "cloudflare-images-mock verify: {} is not on this machine; if it is an account you \
             mean to test, add --yes (it sends {} cases, creates resources named {prefix}-*, and \
             deletes them at the end)",
            args.base,
            cases.len()
        );
        return ExitCode::from(USAGE);
    }
    let auth = match (args.token, args.email, args.key) {
        (Some(token), _, _) => Auth::Token(token),
        (None, Some(email), Some(key)) => Auth::Key { email, key },
        _ => {
            eprintln!("cloudflare-images-mock verify: give --token, or --email and --key");
            return ExitCode::from(USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cloudflare-images-mock verify: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut recorder = args
        .record
        .as_deref()
        .map(|dir| Recorder::new(dir, &args.base));
    let report = runtime.block_on(verify(
        base,
        args.account.clone(),
        auth.clone(),
        cases,
        &args.base,
        recorder.as_mut(),
    ));
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            eprintln!("cloudflare-images-mock verify: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(recorder), Some(dir)) = (recorder, &args.record) {
        match recorder.write(&args.account, &prefix, &auth) {
            Ok(n) => eprintln!("recorded {n} answers in {}", dir.display()),
            Err(e) => {
                eprintln!(
                    "cloudflare-images-mock verify: cannot record in {}: {e}",
                    dir.display()
                );
                return ExitCode::FAILURE;
            }
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("cloudflare-images-mock verify: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.text());
    }
    if report.differ == 0 && !report.interrupted && report.left_behind.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn print_dry_run(base: &Base, account: &str, cases: &[Case]) {
    for case in cases {
        let request = &case.request;
        let body = match &request.content_type {
            Some(content_type) => format!(" ({content_type}, {} bytes)", request.body.len()),
            None => String::new(),
        };
        let anonymous = if request.authenticated {
            ""
        } else {
            " without credentials"
        };
        println!(
            "{}: {} {}{body}{anonymous}",
            case.name(),
            request.method,
            base.url(account, request)
        );
    }
    println!("dry run: {} requests, none sent", cases.len());
}

/// The run: every case to the target and to the in-process mock, then the cleanup.
async fn verify(
    base: Base,
    account: String,
    auth: Auth,
    cases: Vec<Case>,
    shown: &str,
    mut recorder: Option<&mut Recorder>,
) -> Result<Report, String> {
    // The in-process mock is set up as the target is expected to be: this account, these
    // credentials only.
    let credentials = match &auth {
        Auth::Token(token) => Credentials::token(token.clone()),
        Auth::Key { email, key } => Credentials::key(email.clone(), key.clone()),
    };
    let mock = MockImages::builder()
        .account_id(account.clone())
        .credentials(credentials)
        .fail_on_unserved_routes(false)
        .fail_on_refusals(false)
        .try_start()
        .await
        .map_err(|e| format!("cannot start the in-process mock: {e}"))?;
    let mock_base =
        Base::parse(&mock.base_url()).map_err(|e| format!("the in-process mock's URL: {e}"))?;
    let mut reference = Target::new(mock_base, account.clone(), auth.clone(), false);
    let mut target = Target::new(base, account, auth, true);

    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });

    let progress = Progress::new(cases.len());
    let mut created: Vec<Resource> = Vec::new();
    let mut outcomes = Vec::new();
    for (done, case) in cases.iter().enumerate() {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        progress.show(done, &case.name());
        let answer = target.send(&case.request).await;
        // A target that does not answer the first case is not there: 86 lines saying so would
        // bury the reason. Nothing was created, so there is nothing to clean up.
        if let (0, Answer::Failed(why)) = (done, &answer) {
            progress.clear();
            return Err(format!("{shown} does not answer: {why}"));
        }
        track(case, &answer, &mut created);
        if let Some(recorder) = recorder.as_deref_mut() {
            recorder.keep(done, case, &answer);
        }
        let theirs = Seen::of(&answer);
        let ours = Seen::of(&reference.send(&case.request).await);
        outcomes.push(Outcome::new(case, theirs, ours));
    }
    progress.show(cases.len(), "cleaning up");
    let mut left_behind = Vec::new();
    for resource in created {
        let answer = target.send(&resource.deletion()).await;
        // A draft never uploaded to may be gone already: 404 is as good as deleted.
        if !matches!(answer, Answer::Got { status, .. } if (200..300).contains(&status) || status == 404)
        {
            left_behind.push(format!("{resource:?}"));
        }
    }
    progress.clear();
    let mut report = Report::new(shown.to_owned(), outcomes);
    report.interrupted = interrupted.load(Ordering::SeqCst);
    report.left_behind = left_behind;
    Ok(report)
}

/// Notes what the target's answer to `case` created, and forgets what it deleted. Created
/// resources are read from the answer, so that even a request the API was expected to refuse
/// but accepted is cleaned up.
fn track(case: &Case, answer: &Answer, created: &mut Vec<Resource>) {
    let Answer::Got { status, body, .. } = answer else {
        return;
    };
    if !(200..300).contains(status) {
        return;
    }
    if let Some(removed) = &case.removes {
        created.retain(|resource| resource != removed);
        return;
    }
    let result = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("result").cloned())
        .unwrap_or(Value::Null);
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let resource = match case.operation {
        Operation::Upload | Operation::DirectUploadV1 | Operation::DirectUploadV2 => {
            text(result.get("id")).map(Resource::Image)
        }
        Operation::CreateVariant => {
            text(result.get("variant").and_then(|v| v.get("id"))).map(Resource::Variant)
        }
        Operation::AddKey => case
            .request
            .path
            .rsplit('/')
            .next()
            .map(|name| Resource::Key(name.to_owned())),
        _ => None,
    };
    if let Some(resource) = resource {
        if !created.contains(&resource) {
            created.push(resource);
        }
    }
}
