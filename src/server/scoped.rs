//! Scoped expectations: [`MockImages::expect_scoped`] and the [`ExpectationGuard`] that checks
//! one when it drops, as wiremock's `mount_as_scoped` does.

use std::fmt::Write as _;

use super::handle::MockImages;
use crate::expect::Expectation;
use crate::journal::RequestRecord;

/// An expectation checked when this guard drops, on the requests received while it lived.
/// Made by [`MockImages::expect_scoped`].
///
/// Dropping it panics with a report if the expectation is not met (unless the thread is
/// already panicking); [`verify`](Self::verify) checks without panicking.
#[must_use = "the expectation is checked when the guard drops: bind it (`let _guard = ...`), \
              `let _ = ...` drops it at once"]
pub struct ExpectationGuard<'a> {
    mock: &'a MockImages,
    expectation: Expectation,
    /// The journal's position when the guard was made.
    from: usize,
    checked: bool,
}

impl MockImages {
    /// Declares an expectation on the requests received from now until the returned guard
    /// drops, checked then: for a test with phases (the first upload, then the retry). It is
    /// not checked again when the mock drops.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use cloudflare_images_mock::{Expectation, MockImages, Operation};
    ///
    /// let mock = MockImages::start().await;
    /// let client = reqwest::Client::new();
    /// {
    ///     let guard = mock.expect_scoped(Expectation::new(Operation::Stats).times(1));
    ///     let stats = format!("{}/stats", mock.upload_url());
    ///     client.get(stats).bearer_auth("t").send().await.unwrap();
    ///     assert_eq!(guard.received_requests().len(), 1);
    /// } // checked here: one successful stats request
    /// # }
    /// ```
    pub fn expect_scoped(&self, expectation: Expectation) -> ExpectationGuard<'_> {
        ExpectationGuard {
            mock: self,
            from: self.shared.journal.position(),
            expectation,
            checked: false,
        }
    }
}

impl ExpectationGuard<'_> {
    /// The requests received since the guard was made that the expectation counts (answered
    /// with success and matching every matcher).
    pub fn received_requests(&self) -> Vec<RequestRecord> {
        self.records()
            .into_iter()
            .filter(|(_, r)| self.expectation.matches(r))
            .map(|(_, r)| r)
            .collect()
    }

    /// Checks the expectation now: `Err` holds the report the drop would panic with. A guard
    /// checked this way does not check again when it drops.
    pub fn verify(mut self) -> Result<(), String> {
        self.checked = true;
        self.report()
    }

    fn records(&self) -> Vec<(usize, RequestRecord)> {
        self.mock.records_since(self.from, true)
    }

    fn report(&self) -> Result<(), String> {
        let records = self.records();
        let Some(problem) = self.expectation.problem(&records) else {
            return Ok(());
        };
        let mut report = format!("cloudflare-images-mock: scoped expectation: {problem}\n");
        let _ = writeln!(
            report,
            "\nreceived while the guard lived: {} request(s)",
            records.len()
        );
        for (number, record) in &records {
            let _ = writeln!(report, "  {}", crate::expect::describe(*number, record));
        }
        report.push_str(
            "hint: `guard.received_requests()` lists the requests it counted; `mock.requests()` \
             holds each request in full\n",
        );
        Err(report)
    }
}

impl Drop for ExpectationGuard<'_> {
    fn drop(&mut self) {
        if self.checked || std::thread::panicking() {
            return;
        }
        if let Err(report) = self.report() {
            panic!("{report}");
        }
    }
}

impl std::fmt::Debug for ExpectationGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExpectationGuard")
            .field("expectation", &self.expectation)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}
