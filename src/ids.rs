//! Generated values: image ids and signing-key values, shaped like the real ones.
//!
//! By default the bits come from SipHash, keyed at random once per process, of a counter shared
//! by every mock of the process: unique in the process, unpredictable across processes, and
//! without a `getrandom` call per value. A mock built with
//! [`seed`](crate::MockImagesBuilder::seed) draws them from splitmix64 started at the seed
//! instead, so that the same requests in the same order get the same values on every run.

use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

/// The id source of one mock: random (the default) or seeded. Cheap to clone (clones share
/// the sequence).
#[derive(Debug, Clone, Default)]
pub(crate) struct Ids {
    seeded: Option<Arc<Seeded>>,
}

#[derive(Debug)]
struct Seeded {
    seed: u64,
    /// How many 64-bit values were drawn.
    drawn: AtomicU64,
}

/// splitmix64's increment (2^64 / φ) and output function: each state gives a value, and the
/// states `seed + n * GAMMA` give distinct values for 2^64 draws.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Ids {
    /// Values unpredictable across runs.
    pub(crate) fn random() -> Ids {
        Ids { seeded: None }
    }

    /// Values that are a function of `seed` and of how many were drawn before.
    pub(crate) fn seeded(seed: u64) -> Ids {
        Ids {
            seeded: Some(Arc::new(Seeded {
                seed,
                drawn: AtomicU64::new(0),
            })),
        }
    }

    /// 128 bits not generated before by this source.
    fn bits(&self) -> u128 {
        match &self.seeded {
            Some(seeded) => {
                let n = seeded.drawn.fetch_add(2, Ordering::Relaxed);
                let draw = |i: u64| {
                    mix(seeded
                        .seed
                        .wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
                };
                u128::from(draw(n)) << 64 | u128::from(draw(n + 1))
            }
            None => random_bits(),
        }
    }

    /// A generated image id shaped like the real ones: a UUID whose last byte is zero
    /// (`107b9558-dd06-4bbd-5fef-9c2c16bb7900` in the official examples).
    pub(crate) fn image_id(&self) -> String {
        let uuid =
            uuid::Builder::from_random_bytes((self.bits() & !0xff).to_be_bytes()).into_uuid();
        // Into a buffer of the exact size: `to_string` went through the formatting machinery
        // and grew its string.
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        uuid.hyphenated().encode_lower(&mut text).to_owned()
    }

    /// A signing-key value shaped like the official example
    /// (`Oix0bbNaT8Rge9PuyxUBrjI6zrgnsyJ5=`): 32 letters and digits, then `=`.
    pub(crate) fn key_value(&self) -> String {
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut value = String::with_capacity(33);
        for half in [self.bits(), self.bits()] {
            let mut rest = half;
            for _ in 0..16 {
                value.push(char::from(ALPHABET[(rest % 62) as usize]));
                rest /= 62;
            }
        }
        value.push('=');
        value
    }
}

/// 128 bits never generated before in this process.
fn random_bits() -> u128 {
    /// The SipHash keys, and a random offset of the counter.
    static KEYS: LazyLock<(std::hash::RandomState, u64)> = LazyLock::new(|| {
        let keys = std::hash::RandomState::new();
        let offset = keys.hash_one(u64::MAX);
        (keys, offset)
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let (keys, offset) = &*KEYS;
    // One SipHash per value, not one per half: the low half is splitmix64's output function
    // (a bijection) of the offset counter, so no two values share it; the high half, keyed
    // SipHash of the counter, keeps a value from following from those before it.
    let high = keys.hash_one(n);
    let low = mix(n.wrapping_add(*offset));
    u128::from(high) << 64 | u128::from(low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_look_like_the_real_ones() {
        for ids in [Ids::random(), Ids::seeded(7)] {
            let id = ids.image_id();
            assert_eq!(id.len(), 36);
            assert!(id.ends_with("00"), "{id}");
            let parsed = uuid::Uuid::parse_str(&id).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            let all: std::collections::HashSet<String> =
                (0..10_000).map(|_| ids.image_id()).collect();
            assert_eq!(all.len(), 10_000);
        }
    }

    #[test]
    fn key_values_look_like_the_official_example() {
        for ids in [Ids::random(), Ids::seeded(7)] {
            let value = ids.key_value();
            assert_eq!(value.len(), 33);
            assert!(value.ends_with('='));
            assert!(
                value[..32].bytes().all(|b| b.is_ascii_alphanumeric()),
                "{value}"
            );
            assert_ne!(value, ids.key_value());
        }
    }

    #[test]
    fn a_seed_gives_one_sequence_and_another_seed_another() {
        let draw = |ids: &Ids| [ids.image_id(), ids.key_value(), ids.image_id()];
        assert_eq!(draw(&Ids::seeded(1)), draw(&Ids::seeded(1)));
        assert_ne!(draw(&Ids::seeded(1)), draw(&Ids::seeded(2)));
        assert_ne!(draw(&Ids::random()), draw(&Ids::random()));
        // splitmix64's reference sequence from 0 starts 0xe220a8397b1dcdaf: a change of the
        // generator would change every seeded snapshot, so it shows here first.
        assert_eq!(
            Ids::seeded(0).image_id(),
            "e220a839-7b1d-4daf-ae78-9e6aa1b96500"
        );
    }
}
