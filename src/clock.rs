//! [`Clock`]: the time a mock goes by.
//!
//! Everything the mock dates or checks against "now" reads its clock: `uploaded`, the journal's
//! [`received`](crate::RequestRecord::received), the `date` header, the expiry of drafts of direct
//! creator uploads (default and window), and the `exp` of signed delivery URLs. Timers about
//! transport (header and body timeouts, a `url` upload's fetch timeout, a scripted
//! [`delay`](crate::Script::delay), draining a body) stay on real time: a test that moves its
//! mock's clock does not make connections time out.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The time a mock goes by: the system's time (the default) or a fixed time that only moves
/// when the test moves it.
///
/// A `Clock` is a handle: clones share one time, so a test can keep one, give a clone to
/// [`MockImagesBuilder::clock`](crate::MockImagesBuilder::clock), and move both; or move the
/// mock's own through [`MockImages::clock`](crate::MockImages::clock).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::{Duration, UNIX_EPOCH};
/// use cloudflare_images_mock::{Clock, MockImages, NewImage};
///
/// let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
/// let mock = MockImages::builder().clock(Clock::fixed(start)).start().await;
/// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"/>"#;
/// assert_eq!(mock.insert_image(NewImage::new(svg)).uploaded, start);
/// mock.clock().advance(Duration::from_secs(60));
/// assert_eq!(mock.insert_image(NewImage::new(svg)).uploaded, start + Duration::from_secs(60));
/// # }
/// ```
#[derive(Clone)]
pub struct Clock {
    source: Arc<Source>,
}

enum Source {
    /// The system's time, shifted by this many nanoseconds (what `advance` and `set` did).
    System {
        shift: AtomicI64,
    },
    Fixed {
        at: Mutex<SystemTime>,
    },
}

impl Clock {
    /// The system's time: what a mock goes by unless told otherwise.
    /// [`advance`](Self::advance) and [`set`](Self::set) move it, and it keeps running from
    /// there.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use cloudflare_images_mock::Clock;
    ///
    /// let clock = Clock::system();
    /// clock.advance(Duration::from_secs(3600));
    /// assert!(clock.now() > SystemTime::now() + Duration::from_secs(3599));
    /// ```
    pub fn system() -> Clock {
        Clock {
            source: Arc::new(Source::System {
                shift: AtomicI64::new(0),
            }),
        }
    }

    /// A clock that stays at `at` (a [`SystemTime`], or a `time::OffsetDateTime`) until
    /// [`advance`](Self::advance) or [`set`](Self::set) moves it: for snapshots of answers and
    /// journals, and for tests of expiry that must not wait.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use cloudflare_images_mock::Clock;
    ///
    /// let clock = Clock::fixed(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// assert_eq!(clock.now(), clock.now());
    /// ```
    pub fn fixed(at: impl Into<SystemTime>) -> Clock {
        Clock {
            source: Arc::new(Source::Fixed {
                at: Mutex::new(at.into()),
            }),
        }
    }

    /// The time now, by this clock.
    pub fn now(&self) -> SystemTime {
        match &*self.source {
            Source::System { shift } => shifted(SystemTime::now(), shift.load(Ordering::Relaxed)),
            Source::Fixed { at } => *at.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Moves the clock `by` forward: drafts whose expiry it passes are gone, signed URLs whose
    /// `exp` it passes are refused.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use cloudflare_images_mock::Clock;
    ///
    /// let clock = Clock::fixed(UNIX_EPOCH);
    /// clock.advance(Duration::from_secs(90));
    /// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(90));
    /// ```
    pub fn advance(&self, by: Duration) {
        match &*self.source {
            Source::System { shift } => {
                let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
                let _ = shift.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    Some(old.saturating_add(by))
                });
            }
            Source::Fixed { at } => {
                let mut at = at.lock().unwrap_or_else(|p| p.into_inner());
                *at = at.checked_add(by).unwrap_or(*at);
            }
        }
    }

    /// Sets the clock to `at`, forward or back: a fixed clock stays there, the system clock
    /// runs on from there.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use cloudflare_images_mock::Clock;
    ///
    /// let clock = Clock::fixed(UNIX_EPOCH + Duration::from_secs(60));
    /// clock.set(UNIX_EPOCH);
    /// assert_eq!(clock.now(), UNIX_EPOCH);
    /// ```
    pub fn set(&self, at: impl Into<SystemTime>) {
        let at = at.into();
        match &*self.source {
            Source::System { shift } => {
                shift.store(nanos_between(SystemTime::now(), at), Ordering::Relaxed)
            }
            Source::Fixed { at: fixed } => *fixed.lock().unwrap_or_else(|p| p.into_inner()) = at,
        }
    }

    /// The time now in whole seconds since the Unix epoch (0 before it): what signed delivery
    /// URLs' `exp` is compared with.
    pub(crate) fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }
}

impl Default for Clock {
    /// [`Clock::system`].
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &*self.source {
            Source::System { .. } => "system",
            Source::Fixed { .. } => "fixed",
        };
        f.debug_struct("Clock")
            .field("kind", &kind)
            .field("now", &self.now())
            .finish()
    }
}

/// `at` moved by `nanos` (saturating at the ends of what `SystemTime` holds).
fn shifted(at: SystemTime, nanos: i64) -> SystemTime {
    let by = Duration::from_nanos(nanos.unsigned_abs());
    let moved = if nanos >= 0 {
        at.checked_add(by)
    } else {
        at.checked_sub(by)
    };
    moved.unwrap_or(at)
}

/// How many nanoseconds `to` is after `from` (negative before), saturating at `i64`'s ends
/// (about 292 years).
fn nanos_between(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told_and_clones_share_it() {
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let clock = Clock::fixed(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), start + Duration::from_millis(1500));
        clock.set(start - Duration::from_secs(10));
        assert_eq!(other.now(), start - Duration::from_secs(10));
        let at = time::OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
        clock.set(at);
        assert_eq!(clock.now(), SystemTime::from(at));
    }

    /// The design's rule: a mock's time comes from its clock and its generated values from its
    /// id source, so a fixed clock and a seed cover everything. Library code (tests aside)
    /// reads the system's time here only, plus the fallback of `x-seconds-from-now` for a
    /// schema validated without a clock; randomness is keyed in `ids.rs` only.
    #[test]
    fn only_the_clock_reads_the_system_time_and_only_ids_draw_random_values() {
        let allowed: &[(&str, &str)] = &[
            ("clock.rs", "SystemTime::now"),
            ("schema.rs", "SystemTime::now"),
            ("ids.rs", "RandomState"),
        ];
        let needles = [
            "SystemTime::now",
            "now_utc",
            "RandomState",
            "getrandom",
            "rand::",
        ];
        let mut found = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                // The standalone binary is a shell around a mock, with its own log times.
                if !name.ends_with(".rs") || path.ends_with("src/main.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
                for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                    for needle in needles {
                        if line.contains(needle) && !allowed.contains(&(name.as_str(), needle)) {
                            found.push(format!("{}: {}", path.display(), line.trim()));
                        }
                    }
                }
            }
        }
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn the_system_clock_runs_and_can_be_moved_both_ways() {
        let clock = Clock::system();
        let before = SystemTime::now();
        assert!(clock.now() >= before);
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() >= before + Duration::from_secs(3600));
        clock.set(UNIX_EPOCH + Duration::from_secs(10));
        let now = clock.now();
        assert!(now >= UNIX_EPOCH + Duration::from_secs(10));
        assert!(now < UNIX_EPOCH + Duration::from_secs(70), "{now:?}");
        assert_eq!(clock.unix_seconds() / 60, 0);
    }
}
