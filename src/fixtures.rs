//! Fixtures loaded from a directory ([`MockImagesBuilder::fixtures`](crate::MockImagesBuilder::fixtures)):
//! recorded answers of the real API, in the format of `fixtures/` as
//! `cloudflare-images-mock verify --record DIR` writes them, that the mock sends instead of its
//! own answer to a refusal of the same operation and rule.
//!
//! Only refusals are replaced: a success stays the mock's own answer, whose ids and state a
//! recording cannot know. A file that cannot be read, is no JSON object, or lacks its provenance
//! (`source`, `recorded`, `redacted`), `operation_id`, `rule`, `status` or `body` fails the
//! start: a fixture is never skipped.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::Value;

use crate::Operation;

/// One recorded answer.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Bytes,
}

/// The recorded answers by operation and rule (`"valid"` for a success).
#[derive(Debug, Clone, Default)]
pub(crate) struct Fixtures {
    answers: HashMap<(Operation, String), Recorded>,
}

impl Fixtures {
    /// Loads every `*.json` file of `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Fixtures, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        let mut answers = HashMap::new();
        for path in paths {
            let (key, recorded) =
                read(&path).map_err(|why| format!("{}: {why}", path.display()))?;
            answers.insert(key, recorded);
        }
        Ok(Fixtures { answers })
    }

    /// The recorded answer to a refusal of `operation` by the rule called `rule`.
    pub(crate) fn refusal(&self, operation: Operation, rule: &str) -> Option<&Recorded> {
        self.answers.get(&(operation, rule.to_owned()))
    }
}

fn read(path: &Path) -> Result<((Operation, String), Recorded), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let fixture: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let provenance = &fixture["provenance"];
    for key in ["source", "recorded", "redacted"] {
        if !provenance[key].is_string() {
            return Err(format!("no provenance.{key}"));
        }
    }
    let text = |key: &str| {
        provenance[key]
            .as_str()
            .ok_or_else(|| format!("no provenance.{key}"))
    };
    let operation_id = text("operation_id")?;
    let operation = Operation::ALL
        .into_iter()
        .find(|o| o.operation_id() == operation_id)
        .ok_or_else(|| format!("provenance.operation_id {operation_id:?} is no operation"))?;
    let rule = text("rule")?.to_owned();
    let status = fixture["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
        .ok_or("no status")?;
    // A recorded raw body is a string, sent as it is; any other JSON value is sent as JSON.
    let body = match &fixture["body"] {
        Value::Null => return Err("no body".to_owned()),
        Value::String(raw) => Bytes::from(raw.clone()),
        body => Bytes::from(body.to_string()),
    };
    let content_type = fixture["headers"]["content-type"]
        .as_str()
        .map(str::to_owned);
    Ok((
        (operation, rule),
        Recorded {
            status,
            content_type,
            body,
        },
    ))
}
