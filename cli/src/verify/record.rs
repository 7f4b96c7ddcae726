//! `--record DIR`: each answer of the target written as a fixture in the format of `fixtures/`
//! (provenance, status, headers, the raw body), with what identifies the account redacted: the
//! account id, account hashes, generated ids, the run's prefix, signing key values and the
//! credentials. The body stays the raw text, so the envelope's key order is kept as recorded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::catalogue::Case;
use super::client::{Answer, Auth};

/// What replaces a generated UUID-like id (the recordings' anonymised style).
const ZERO_ID: &str = "00000000-0000-0000-0000-000000000000";
/// What replaces an account hash (the recordings' anonymised style, 22 characters).
const ZERO_HASH: &str = "2222222222222222222222";
/// What replaces the run's prefix, so that recordings of two runs compare.
const ZERO_PREFIX: &str = "verify-00000000";

/// One recorded answer, kept until the run ends: account hashes are learnt from every answer
/// before any is written.
pub(crate) struct Recording {
    name: String,
    operation: String,
    operation_id: &'static str,
    /// The rule the case breaks, or `valid`: with `operation_id`, what the mock keys a loaded
    /// fixture by.
    rule: &'static str,
    case: String,
    status: u16,
    content_type: Option<String>,
    body: String,
}

/// The recorder of a run.
pub(crate) struct Recorder {
    dir: PathBuf,
    target: String,
    recordings: Vec<Recording>,
}

impl Recorder {
    pub(crate) fn new(dir: &Path, target: &str) -> Recorder {
        Recorder {
            dir: dir.to_owned(),
            target: target.to_owned(),
            recordings: Vec::new(),
        }
    }

    /// Keeps the target's answer to the `index`-th case (none is kept for no answer).
    pub(crate) fn keep(&mut self, index: usize, case: &Case, answer: &Answer) {
        let Answer::Got {
            status,
            content_type,
            body,
        } = answer
        else {
            return;
        };
        let label = case.label();
        self.recordings.push(Recording {
            name: format!(
                "{index:03}-{}-{}.json",
                case.operation.operation_id(),
                label.replace(['_', ' '], "-").replace(['(', ')'], "")
            ),
            operation: format!(
                "{} ({} {})",
                case.operation.summary(),
                case.request.method,
                case.operation.endpoint().1
            ),
            operation_id: case.operation.operation_id(),
            rule: case.rule_name(),
            case: case.name(),
            status: *status,
            content_type: content_type.clone(),
            body: String::from_utf8_lossy(body).into_owned(),
        });
    }

    /// Writes every recording, redacted; returns how many.
    pub(crate) fn write(self, account: &str, prefix: &str, auth: &Auth) -> std::io::Result<usize> {
        std::fs::create_dir_all(&self.dir)?;
        let hashes: BTreeSet<String> = self
            .recordings
            .iter()
            .flat_map(|r| account_hashes(&r.body))
            .collect();
        let mut secrets: Vec<(String, &str)> = vec![
            (account.to_owned(), "00000000000000000000000000000000"),
            (prefix.to_owned(), ZERO_PREFIX),
        ];
        match auth {
            Auth::Token(token) => secrets.push((token.clone(), "REDACTED")),
            Auth::Key { email, key } => {
                secrets.push((key.clone(), "REDACTED"));
                secrets.push((email.clone(), "redacted@example.com"));
            }
        }
        secrets.extend(hashes.into_iter().map(|hash| (hash, ZERO_HASH)));
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        for recording in &self.recordings {
            let mut body = recording.body.clone();
            for (secret, placeholder) in &secrets {
                // A credential shorter than this is no real one (API tokens are 40 characters,
                // keys 37), and replacing it would garble the text around it.
                if secret.len() >= 8 {
                    body = body.replace(secret.as_str(), placeholder);
                }
            }
            let body = key_values(&uuids(&body));
            let text = fixture(recording, &self.target, &date, &body);
            std::fs::write(self.dir.join(&recording.name), text)?;
        }
        Ok(self.recordings.len())
    }
}

/// The fixture's text, keys in the order of `fixtures/`.
fn fixture(recording: &Recording, target: &str, date: &str, body: &str) -> String {
    let s = |text: &str| serde_json::Value::from(text).to_string();
    let headers = recording
        .content_type
        .as_deref()
        .map_or_else(String::new, |c| {
            format!("\n    \"content-type\": {}\n  ", s(c))
        });
    format!(
        r#"{{
  "provenance": {{
    "source": {},
    "operation": {},
    "operation_id": {},
    "rule": {},
    "case": {},
    "recorded": {},
    "templated": "nothing",
    "redacted": "the account id (zeros), account hashes (2222...), generated ids (zeros), the run's prefix (verify-00000000), signing key values and the credentials (REDACTED)",
    "confirmed": false,
    "unconfirmed": "recorded by a run of verify: review it before a catalogue entry cites it"
  }},
  "status": {},
  "headers": {{{headers}}},
  "body": {}
}}
"#,
        s(&format!("cloudflare-images-mock verify against {target}")),
        s(&recording.operation),
        s(recording.operation_id),
        s(recording.rule),
        s(&recording.case),
        s(date),
        recording.status,
        s(body),
    )
}

/// The account hashes of the delivery and upload URLs in `body`: the segment after
/// `imagedelivery.net/`.
fn account_hashes(body: &str) -> Vec<String> {
    body.match_indices("imagedelivery.net/")
        .filter_map(|(at, marker)| {
            let rest = &body[at + marker.len()..];
            let hash: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            (hash.len() >= 16 && rest[hash.len()..].starts_with('/')).then_some(hash)
        })
        .collect()
}

/// `body` with every UUID-shaped id (8-4-4-4-12 hex digits) zeroed.
fn uuids(body: &str) -> String {
    let bytes = body.as_bytes();
    let is_uuid = |at: usize| {
        bytes.len() >= at + 36
            && bytes[at..at + 36].iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let mut out = String::with_capacity(body.len());
    let mut at = 0;
    while at < body.len() {
        if is_uuid(at) {
            out.push_str(ZERO_ID);
            at += 36;
        } else {
            let c = body[at..].chars().next().unwrap_or('\u{0}');
            out.push(c);
            at += c.len_utf8();
        }
    }
    out
}

/// `body` with every signing key's `"value":"..."` replaced.
fn key_values(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("\"value\":") {
        let after = at + "\"value\":".len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let trimmed = rest.trim_start();
        out.push_str(&rest[..rest.len() - trimmed.len()]);
        rest = trimmed;
        if let Some(string) = rest.strip_prefix('"') {
            if let Some(end) = string.find('"') {
                out.push_str("\"REDACTED\"");
                rest = &string[end + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_hashes_and_key_values_are_redacted() {
        let body = r#"{"result":{"id":"e73d3dcf-ec7f-4476-09e2-b361188ca000","variants":["https://imagedelivery.net/nCX0WluV4kb4MYRWgWWi4A/e73d3dcf-ec7f-4476-09e2-b361188ca000/public"],"keys":[{"name":"default","value": "Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5="}]}}"#;
        assert_eq!(account_hashes(body), ["nCX0WluV4kb4MYRWgWWi4A"]);
        let redacted = key_values(&uuids(body));
        assert!(
            !redacted.contains("e73d3dcf") && !redacted.contains("Oix0"),
            "{redacted}"
        );
        assert!(redacted.contains(r#""value": "REDACTED""#), "{redacted}");
    }
}
