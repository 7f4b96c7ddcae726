//! Generated values: image ids and signing-key values, shaped like the real ones.
//!
//! The bits come from SipHash, keyed at random once per process, of a counter: unique in the
//! process, unpredictable across processes, and without a `getrandom` call per value.

use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

/// 128 bits never generated before in this process.
fn bits() -> u128 {
    static KEYS: LazyLock<std::hash::RandomState> = LazyLock::new(std::hash::RandomState::new);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let high = KEYS.hash_one((n, 0u8));
    let low = KEYS.hash_one((n, 1u8));
    u128::from(high) << 64 | u128::from(low)
}

/// A generated image id shaped like the real ones: a UUID whose last byte is zero
/// (`107b9558-dd06-4bbd-5fef-9c2c16bb7900` in the official examples).
pub(crate) fn image_id() -> String {
    uuid::Builder::from_random_bytes((bits() & !0xff).to_be_bytes())
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A signing-key value shaped like the official example (`Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5=`):
/// 32 letters and digits, then `=`.
pub(crate) fn key_value() -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut value = String::with_capacity(33);
    for half in [bits(), bits()] {
        let mut rest = half;
        for _ in 0..16 {
            value.push(char::from(ALPHABET[(rest % 62) as usize]));
            rest /= 62;
        }
    }
    value.push('=');
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_look_like_the_real_ones() {
        let id = image_id();
        assert_eq!(id.len(), 36);
        assert!(id.ends_with("00"), "{id}");
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{id}");
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| image_id()).collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn key_values_look_like_the_official_example() {
        let value = key_value();
        assert_eq!(value.len(), 33);
        assert!(value.ends_with('='));
        assert!(
            value[..32].bytes().all(|b| b.is_ascii_alphanumeric()),
            "{value}"
        );
        assert_ne!(value, key_value());
    }
}
