//! The account's signing keys: what signed delivery URLs are checked against.
//!
//! A new account has one key, `default`; adding a key answers every key, and removing the last
//! one generates a new `default`, as the official description says.

use std::sync::Mutex;

use crate::ids::Ids;

/// One signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// The signing keys of one mock, in the order they were added.
#[derive(Debug)]
pub(crate) struct Keys {
    keys: Mutex<Vec<Key>>,
    /// Where new values come from.
    ids: Ids,
}

/// The name of the key a new account has, and of the one generated when the last is removed.
const DEFAULT: &str = "default";

impl Keys {
    /// An account's keys: `default` alone, its value and later ones drawn from `ids`.
    pub(crate) fn new(ids: Ids) -> Keys {
        Keys {
            keys: Mutex::new(vec![default_key(&ids)]),
            ids,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Key>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key.
    pub(crate) fn all(&self) -> Vec<Key> {
        self.lock().clone()
    }

    /// Adds a key called `name` with a new value (a key of that name gets a new value: assumed,
    /// the real API's answer to an existing name is not recorded); every key after.
    pub(crate) fn add(&self, name: &str) -> Vec<Key> {
        let mut keys = self.lock();
        let key = Key {
            name: name.to_owned(),
            value: self.ids.key_value(),
        };
        match keys.iter_mut().find(|k| k.name == name) {
            Some(existing) => *existing = key,
            None => keys.push(key),
        }
        keys.clone()
    }

    /// Removes the key called `name`, if there is one; when none is left, a new `default` is
    /// generated. Every key after, and whether one was removed.
    pub(crate) fn remove(&self, name: &str) -> (Vec<Key>, bool) {
        let mut keys = self.lock();
        let before = keys.len();
        keys.retain(|k| k.name != name);
        let removed = keys.len() < before;
        if keys.is_empty() {
            keys.push(default_key(&self.ids));
        }
        (keys.clone(), removed)
    }
}

fn default_key(ids: &Ids) -> Key {
    Key {
        name: DEFAULT.to_owned(),
        value: ids.key_value(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_account_has_a_default_key_and_removing_the_last_makes_a_new_one() {
        let keys = Keys::new(Ids::random());
        let first = keys.all();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "default");
        let added = keys.add("mine");
        assert_eq!(
            added.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
            ["default", "mine"]
        );
        let again = keys.add("mine");
        assert_ne!(
            again[1].value, added[1].value,
            "a key added again gets a new value"
        );
        assert_eq!(again.len(), 2);
        let (left, removed) = keys.remove("default");
        assert!(removed);
        assert_eq!(left.len(), 1);
        let (_, removed) = keys.remove("nope");
        assert!(!removed);
        let (left, removed) = keys.remove("mine");
        assert!(removed);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "default");
        assert_ne!(
            left[0].value, first[0].value,
            "a new default, not the old one"
        );
    }
}
