//! Expectations checked when a [`MockImages`](crate::MockImages) is dropped: how many uploads
//! the test expects, how many requests of an operation (of an image), no request to a route the
//! mock does not serve, and (in strict mode) no refusal the test did not script; and the report
//! a failure panics with.

use std::fmt::{self, Write as _};
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

use crate::api::route::Operation;
use crate::journal::{Journal, RequestRecord, Summary, Upload};
use crate::matcher::{Kind, Matcher};

/// Longest text-field value the report shows whole; longer ones are cut, with their length.
const REPORT_VALUE_CHARS: usize = 60;

/// How many uploads a test expects: an exact count or a range, for
/// [`MockImages::expect_uploads`](crate::MockImages::expect_uploads).
///
/// ```
/// use cloudflare_images_mock::Times;
///
/// assert_eq!(Times::from(2).to_string(), "exactly 2");
/// assert_eq!(Times::from(1..=3).to_string(), "between 1 and 3");
/// assert_eq!(Times::from(1..).to_string(), "at least 1");
/// assert_eq!(Times::from(..3).to_string(), "at most 2");
/// assert!(Times::from(1..3).contains(2) && !Times::from(1..3).contains(3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    min: usize,
    /// Inclusive; `None` for no upper bound.
    max: Option<usize>,
}

impl Times {
    /// Whether `n` is within the expectation.
    pub fn contains(&self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (min, Some(max)) if min == max => write!(f, "exactly {min}"),
            (0, Some(max)) => write!(f, "at most {max}"),
            (min, Some(max)) if min > max => write!(f, "an empty range ({min} to {max})"),
            (min, Some(max)) => write!(f, "between {min} and {max}"),
            (0, None) => f.write_str("any number"),
            (min, None) => write!(f, "at least {min}"),
        }
    }
}

impl From<usize> for Times {
    fn from(n: usize) -> Times {
        Times {
            min: n,
            max: Some(n),
        }
    }
}

impl From<Range<usize>> for Times {
    fn from(range: Range<usize>) -> Times {
        Times {
            min: range.start,
            max: Some(range.end.saturating_sub(1)),
        }
    }
}

impl From<RangeInclusive<usize>> for Times {
    fn from(range: RangeInclusive<usize>) -> Times {
        Times {
            min: *range.start(),
            max: Some(*range.end()),
        }
    }
}

impl From<RangeFrom<usize>> for Times {
    fn from(range: RangeFrom<usize>) -> Times {
        Times {
            min: range.start,
            max: None,
        }
    }
}

impl From<RangeTo<usize>> for Times {
    fn from(range: RangeTo<usize>) -> Times {
        Times {
            min: 0,
            max: Some(range.end.saturating_sub(1)),
        }
    }
}

impl From<RangeToInclusive<usize>> for Times {
    fn from(range: RangeToInclusive<usize>) -> Times {
        Times {
            min: 0,
            max: Some(range.end),
        }
    }
}

impl From<RangeFull> for Times {
    fn from(_: RangeFull) -> Times {
        Times { min: 0, max: None }
    }
}

/// An expectation on the requests of one operation, checked when the mock is dropped (or on
/// [`MockImages::verify`](crate::MockImages::verify)): how many of them the mock answered with
/// success, optionally only those a [`Matcher`] picks (about one image, of one creator, with
/// some metadata, of one file...). Refused requests (a retried 429, say) do not count.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use cloudflare_images_mock::{Expectation, MockImages, NewImage, Operation};
///
/// let mock = MockImages::start().await;
/// mock.insert_image(NewImage::new(r#"<svg width="1" height="1"/>"#).id("cat.svg"));
/// mock.expect(Expectation::new(Operation::Delete).image_id("cat.svg").times(1));
///
/// let url = format!("{}/cat.svg", mock.upload_url());
/// reqwest::Client::new().delete(url).bearer_auth("t").send().await.unwrap();
/// // Dropping `mock` checks: exactly one successful DELETE of cat.svg.
/// # }
/// ```
///
/// When it is not met, the report names the request that came closest (the one passing the most
/// checks, its matchers and a successful answer; the latest of equals) and how it differs, check
/// by check:
///
/// ```text
/// cloudflare-images-mock: expected "avatar" (exactly 1 upload an image (POST /accounts/{account_id}/images/v1) with creator "u-1"), 0 answered with success
///   closest: POST /client/v4/accounts/.../images/v1 (#1): operation ✓, creator: expected "u-1", got "u-2", answer ✓
/// ```
#[derive(Debug, Clone)]
#[must_use = "an Expectation does nothing until passed to `MockImages::expect` or `expect_scoped`"]
pub struct Expectation {
    name: Option<String>,
    operation: Operation,
    matchers: Vec<Matcher>,
    times: Times,
}

impl Expectation {
    /// Requests of `operation` answered with success: at least one, unless
    /// [`times`](Self::times) says otherwise.
    pub fn new(operation: Operation) -> Expectation {
        Expectation {
            name: None,
            operation,
            matchers: Vec::new(),
            times: Times::from(1..),
        }
    }

    /// Only the requests about this image (the id in the path, percent-decoded, or the id an
    /// upload got): the same as `.and(Matcher::image_id(id))`.
    pub fn image_id(self, id: impl Into<String>) -> Expectation {
        self.and(Matcher::image_id(id))
    }

    /// Only the requests `matcher` matches too; every matcher added must match.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{Expectation, Matcher, MockImages, Operation};
    ///
    /// let mock = MockImages::start().await;
    /// mock.expect(
    ///     Expectation::new(Operation::Upload)
    ///         .and(Matcher::creator("user-42"))
    ///         .and(Matcher::metadata("plan", "pro"))
    ///         .named("the avatar upload")
    ///         .times(1),
    /// );
    /// let report = mock.verify().unwrap_err();
    /// assert!(report.starts_with("cloudflare-images-mock: expected \"the avatar upload\" (exactly 1 \
    ///     upload an image (POST /accounts/{account_id}/images/v1) with creator \"user-42\", \
    ///     metadata.plan = \"pro\"), 0 answered with success"), "{report}");
    /// # mock.reset();
    /// # }
    /// ```
    pub fn and(mut self, matcher: Matcher) -> Expectation {
        self.matchers.push(matcher);
        self
    }

    /// A name for the report, for a test with several expectations.
    pub fn named(mut self, name: impl Into<String>) -> Expectation {
        self.name = Some(name.into());
        self
    }

    /// How many: an exact count (`1`) or a range (`1..=3`, `..2`).
    pub fn times(mut self, times: impl Into<Times>) -> Expectation {
        self.times = times.into();
        self
    }

    /// Whether the cheap summary of a journal entry is enough to count matches: no matcher
    /// looks at more than the operation and the image id.
    fn on_summary(&self) -> bool {
        self.matchers
            .iter()
            .all(|m| matches!(m.0, Kind::ImageId(_) | Kind::Operation(_)))
    }

    /// Whether checking needs the uploaded files' bytes.
    pub(crate) fn needs_bytes(&self) -> bool {
        self.matchers
            .iter()
            .any(|m| matches!(m.0, Kind::FileSha256(_) | Kind::Function(..)))
    }

    fn matches_summary(&self, summary: Summary<'_>) -> bool {
        summary.answered_with_success
            && summary.operation == Some(self.operation)
            && self.matchers.iter().all(|m| match &m.0 {
                Kind::ImageId(id) => summary.image_id == Some(id.as_str()),
                Kind::Operation(operation) => summary.operation == Some(*operation),
                _ => false,
            })
    }

    /// Whether a recorded request counts for this expectation.
    pub fn matches(&self, record: &RequestRecord) -> bool {
        record.is_accepted()
            && record.operation == Some(self.operation)
            && self.matchers.iter().all(|m| m.matches(record))
    }

    /// What is wrong, if the expectation is not met by `records` (numbered as in the report).
    pub(crate) fn problem(&self, records: &[(usize, RequestRecord)]) -> Option<String> {
        let answered: Vec<String> = records
            .iter()
            .filter(|(_, r)| self.matches(r))
            .map(|(n, _)| format!("#{n}"))
            .collect();
        if self.times.contains(answered.len()) {
            return None;
        }
        let list = if answered.is_empty() {
            String::new()
        } else {
            format!(" ({})", answered.join(", "))
        };
        let mut problem = format!(
            "expected {self}, {} answered with success{list}",
            answered.len()
        );
        if answered.len() < self.times.min {
            if let Some(closest) = self.closest(records) {
                let _ = write!(problem, "\n  closest: {closest}");
            }
        }
        Some(problem)
    }

    /// The request matching the most of this expectation's checks (the latest of equals), and
    /// how each check fared on it.
    fn closest(&self, records: &[(usize, RequestRecord)]) -> Option<String> {
        let operation = Matcher::operation(self.operation);
        let mut best: Option<(usize, &(usize, RequestRecord), Vec<String>)> = None;
        for entry in records {
            let record = &entry.1;
            let mut checks = vec![operation.check(record)];
            checks.extend(self.matchers.iter().map(|m| m.check(record)));
            let passed =
                checks.iter().filter(|c| c.passed).count() + usize::from(record.is_accepted());
            let mut texts: Vec<String> = checks.into_iter().map(|c| c.text).collect();
            texts.push(answer_check(record));
            if best.as_ref().is_none_or(|(score, _, _)| passed >= *score) {
                best = Some((passed, entry, texts));
            }
        }
        let (_, (number, record), texts) = best?;
        Some(format!(
            "{} {} (#{number}): {}",
            record.method,
            record.path,
            texts.join(", ")
        ))
    }
}

/// Whether a request was answered with success, as the closest-request report words it.
fn answer_check(record: &RequestRecord) -> String {
    if record.is_accepted() {
        return "answer ✓".to_owned();
    }
    let rules: Vec<&str> = record.errors.iter().map(|e| e.rule.name()).collect();
    if rules.is_empty() {
        format!("answer: expected success, got {}", record.outcome)
    } else {
        format!(
            "answer: expected success, got {} ({})",
            record.outcome,
            rules.join(", ")
        )
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = &self.name {
            write!(f, "{name:?} (")?;
        }
        write!(f, "{} {}", self.times, self.operation)?;
        for matcher in &self.matchers {
            if let Kind::ImageId(id) = &matcher.0 {
                write!(f, " of image {id:?}")?;
            }
        }
        let others: Vec<String> = self
            .matchers
            .iter()
            .filter(|m| !matches!(m.0, Kind::ImageId(_)))
            .map(ToString::to_string)
            .collect();
        if !others.is_empty() {
            write!(f, " with {}", others.join(", "))?;
        }
        if self.name.is_some() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// What one mock checks at drop.
#[derive(Debug, Clone)]
pub(crate) struct Expectations {
    pub(crate) uploads: Option<Times>,
    pub(crate) operations: Vec<Expectation>,
    pub(crate) unserved_routes: bool,
    pub(crate) refusals: bool,
}

/// Whether the expectations hold, counted in the journal without copying it out (for the
/// report) unless they do not.
pub(crate) fn holds(expectations: &Expectations, journal: &Journal) -> bool {
    expectations
        .uploads
        .is_none_or(|t| t.contains(journal.count(|s| s.upload)))
        && expectations.operations.iter().all(|e| {
            // Matchers on the body need the records themselves: `verify` counts those.
            e.on_summary() && e.times.contains(journal.count(|s| e.matches_summary(s)))
        })
        && (!expectations.unserved_routes || journal.count(|s| s.unserved()) == 0)
        && (!expectations.refusals || journal.count(|s| s.unscripted_refusal()) == 0)
}

/// The operation of a request to a real endpoint the mock does not serve yet.
fn not_mocked(record: &RequestRecord) -> Option<Operation> {
    record.operation.filter(|operation| !operation.is_served())
}

fn unserved(record: &RequestRecord) -> bool {
    record.summary().unserved()
}

fn refused(record: &RequestRecord) -> bool {
    record.summary().unscripted_refusal()
}

/// Checks the expectations against the journal; `Err` is the report to panic with.
pub(crate) fn verify(
    expectations: &Expectations,
    records: &[RequestRecord],
    unplayed_scripts: usize,
) -> Result<(), String> {
    // Stored uploads: not those a script answered after reading their body.
    let accepted = records
        .iter()
        .filter(|r| r.upload.is_some() && r.is_accepted())
        .count();
    let numbers = |keep: &dyn Fn(&RequestRecord) -> bool| -> Vec<String> {
        records
            .iter()
            .enumerate()
            .filter(|(_, r)| keep(r))
            .map(|(i, _)| format!("#{}", i + 1))
            .collect()
    };
    let mut problems = Vec::new();
    if let Some(times) = expectations.uploads {
        if !times.contains(accepted) {
            problems.push(format!("expected {times} upload(s), {accepted} accepted"));
        }
    }
    let numbered: Vec<(usize, RequestRecord)> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r.clone()))
        .collect();
    problems.extend(
        expectations
            .operations
            .iter()
            .filter_map(|e| e.problem(&numbered)),
    );
    if expectations.unserved_routes {
        let mut operations: Vec<Operation> = Vec::new();
        for operation in records.iter().filter_map(not_mocked) {
            if !operations.contains(&operation) {
                operations.push(operation);
            }
        }
        for operation in operations {
            let requests = numbers(&|r: &RequestRecord| r.operation == Some(operation));
            problems.push(format!(
                "the mock does not serve {operation} yet ({}): the real API does; allow such \
                 requests with `MockImagesBuilder::fail_on_unserved_routes(false)`",
                requests.join(", ")
            ));
        }
        let unserved = numbers(&|r: &RequestRecord| unserved(r) && not_mocked(r).is_none());
        if !unserved.is_empty() {
            problems.push(format!(
                "{} request(s) to a route the mock does not serve ({}): check the client's base \
                 URL and method, or allow them with `MockImagesBuilder::fail_on_unserved_routes(false)`",
                unserved.len(),
                unserved.join(", ")
            ));
        }
    }
    if expectations.refusals {
        // A request to an unserved route is a refusal too; reported above, it is not repeated.
        let refusals = numbers(&|r: &RequestRecord| {
            refused(r) && !(expectations.unserved_routes && unserved(r))
        });
        if !refusals.is_empty() {
            problems.push(format!(
                "strict mode: {} refusal(s) the test did not script ({}); \
                 `MockImagesBuilder::fail_on_refusals(false)` turns strict mode off",
                refusals.len(),
                refusals.join(", ")
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut report = format!("cloudflare-images-mock: {}\n", problems[0]);
    for problem in &problems[1..] {
        let _ = writeln!(report, "cloudflare-images-mock: {problem}");
    }
    let expected = expectations
        .uploads
        .map_or_else(|| "any number of".to_owned(), |t| t.to_string());
    let _ = writeln!(report, "\nexpected: {expected} upload(s)");
    let _ = writeln!(
        report,
        "arrived: {} request(s), {accepted} upload(s) accepted",
        records.len()
    );
    for (i, record) in records.iter().enumerate() {
        let _ = writeln!(report, "  {}", describe(i + 1, record));
    }
    if unplayed_scripts > 0 {
        let _ = writeln!(
            report,
            "note: {unplayed_scripts} scripted answer(s) were never played"
        );
    }
    report.push_str(
        "hint: `mock.requests()` holds each request in full (headers, fields, errors); \
         `mock.verify()` runs these checks without waiting for the drop\n",
    );
    Err(report)
}

/// One request of the report: number, method, path, status, then the upload's fields and file
/// size, or each refusal with its rule. Never file bytes.
pub(crate) fn describe(number: usize, record: &RequestRecord) -> String {
    let mut line = format!("#{number} {} {}", record.method, record.path);
    let _ = write!(line, " -> {}", record.outcome);
    if let Some(script) = &record.scripted {
        let _ = write!(line, " [scripted: {script}]");
    }
    if let Some(upload) = &record.upload {
        let how = match record.is_accepted() {
            true => "accepted",
            false => "sent (not stored)",
        };
        let _ = write!(line, " {how}: {}", describe_upload(upload));
    }
    for error in &record.errors {
        let _ = write!(
            line,
            "\n       refused by rule {}: {} {}",
            error.rule, error.code, error.message
        );
        if let Some(pointer) = &error.pointer {
            let _ = write!(line, " (at {pointer})");
        }
    }
    line
}

fn describe_upload(upload: &Upload) -> String {
    let mut parts = Vec::new();
    let size = upload
        .file_size
        .map_or_else(String::new, |size| format!("{size} bytes"));
    let image = match (&upload.format, upload.dimensions) {
        (Some(format), Some((w, h))) => format!("{format} {w}x{h}"),
        (Some(format), None) => format.clone(),
        _ => String::new(),
    };
    let details: Vec<&str> = [upload.content_type.as_deref().unwrap_or(""), &size, &image]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let name = upload.filename.as_deref().unwrap_or("(no filename)");
    if upload.url.is_some() {
        parts.push(format!("url file {name:?} ({})", details.join(", ")));
    } else {
        parts.push(format!("file {name:?} ({})", details.join(", ")));
    }
    for (name, value) in &upload.fields {
        parts.push(format!("{name}={}", shorten(value)));
    }
    parts.join(", ")
}

fn shorten(value: &str) -> String {
    let count = value.chars().count();
    if count <= REPORT_VALUE_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(REPORT_VALUE_CHARS).collect();
        format!("{head:?}... ({count} characters)")
    }
}
