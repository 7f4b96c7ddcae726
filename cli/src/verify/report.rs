//! The report of a run: one block per case (agree or differ, both answers side by side), the
//! summary line `N agree, M differ`, the same as JSON for machines, and the progress shown on a
//! terminal while the run goes.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use cloudflare_images_mock::Rule;

use super::catalogue::{Case, Kind};
use super::compare::{Difference, Seen};

/// The comparison of one case.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub(crate) case: String,
    pub(crate) operation: &'static str,
    /// The rule an invalid case breaks, or the error an error case expects.
    pub(crate) rule: Option<&'static str>,
    pub(crate) agree: bool,
    /// For a case of a rule, whether the mock's code and status for it are confirmed from the
    /// real API; a target that differs on an unconfirmed rule (`false`) is evidence against an
    /// assumption, not a bug of the target.
    pub(crate) confirmed: Option<bool>,
    pub(crate) differences: Vec<Difference>,
    pub(crate) target: Seen,
    pub(crate) mock: Seen,
}

impl Outcome {
    pub(crate) fn new(case: &Case, target: Seen, mock: Seen) -> Outcome {
        let differences = target.differences(&mock);
        let rule = match case.kind {
            Kind::Valid => None,
            Kind::Invalid(rule) => Some(rule.rule()),
            Kind::Error(name) => Rule::from_name(name),
        };
        Outcome {
            confirmed: rule.map(Rule::confirmed),
            case: case.name(),
            operation: case.operation.operation_id(),
            rule: match case.kind {
                Kind::Valid => None,
                Kind::Invalid(rule) => Some(rule.name()),
                Kind::Error(name) => Some(name),
            },
            agree: differences.is_empty(),
            differences,
            target,
            mock,
        }
    }
}

/// The whole run, as `--json` writes it.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) target: String,
    pub(crate) agree: usize,
    pub(crate) differ: usize,
    /// Set when the run was interrupted: the cases after it were not sent.
    pub(crate) interrupted: bool,
    /// Resources the run created and could not delete.
    pub(crate) left_behind: Vec<String>,
    pub(crate) cases: Vec<Outcome>,
}

impl Report {
    pub(crate) fn new(target: String, cases: Vec<Outcome>) -> Report {
        let agree = cases.iter().filter(|c| c.agree).count();
        Report {
            target,
            agree,
            differ: cases.len() - agree,
            interrupted: false,
            left_behind: Vec::new(),
            cases,
        }
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> String {
        format!("{} agree, {} differ", self.agree, self.differ)
    }

    /// The text report: a line per agreeing case, a block per differing one.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for case in &self.cases {
            if case.agree {
                out.push_str(&format!("agree   {}: {}\n", case.case, case.target));
            } else {
                let what: Vec<String> = case.differences.iter().map(ToString::to_string).collect();
                out.push_str(&format!("differ  {} ({})\n", case.case, what.join(", ")));
                out.push_str(&format!("          target: {}\n", case.target));
                out.push_str(&format!("          mock:   {}\n", case.mock));
                if case.confirmed == Some(false) {
                    out.push_str(&format!(
                        "          the mock's answer for {} is assumed (confirmed: false): the target's is evidence against it\n",
                        case.rule.unwrap_or_default()
                    ));
                }
            }
        }
        if self.interrupted {
            out.push_str("interrupted: the cases after the last one above were not sent\n");
        }
        for resource in &self.left_behind {
            out.push_str(&format!("left behind (delete it by hand): {resource}\n"));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// The progress line on a terminal (stderr), nothing otherwise.
pub(crate) struct Progress {
    on: bool,
    total: usize,
}

impl Progress {
    pub(crate) fn new(total: usize) -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
            total,
        }
    }

    pub(crate) fn show(&self, done: usize, doing: &str) {
        if self.on {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K[{done}/{}] {doing}", self.total);
            let _ = stderr.flush();
        }
    }

    pub(crate) fn clear(&self) {
        if self.on {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}
