//! The signing keys: list, add (`PUT .../keys/{name}`), delete. Each answers every key, as the
//! official description says.

use serde_json::json;

use super::Outcome;
use crate::envelope;
use crate::schema::{catalogue_error, SIGNING_KEY};
use crate::state::Shared;
use crate::Rule;

/// `GET .../images/v1/keys`.
pub(super) fn list(shared: &Shared) -> Outcome {
    Outcome::ok(envelope::keys(&shared.store.keys.all()))
}

/// `PUT .../images/v1/keys/{signing_key_name}`.
pub(super) fn add(shared: &Shared, name: &str) -> Outcome {
    if let Err(errors) = check_name(name) {
        return Outcome::refused(errors);
    }
    Outcome::ok(envelope::keys(&shared.store.keys.add(name)))
}

/// `DELETE .../images/v1/keys/{signing_key_name}`: deleting the last key generates a new
/// `default`.
pub(super) fn delete(shared: &Shared, name: &str) -> Outcome {
    if let Err(errors) = check_name(name) {
        return Outcome::refused(errors);
    }
    match shared.store.keys.remove(name) {
        (keys, true) => Outcome::ok(envelope::keys(&keys)),
        (_, false) => Outcome::refused(vec![catalogue_error(Rule::SigningKeyNotFound, &[])]),
    }
}

fn check_name(name: &str) -> Result<(), Vec<crate::error::ApiError>> {
    let errors = SIGNING_KEY.validate(&json!({ "name": name }));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
