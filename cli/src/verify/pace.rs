//! Pacing: a token bucket that keeps a run within Cloudflare's documented rate limit of the API,
//! 1,200 requests per 5 minutes, and the wait a `429`'s `Retry-After` asks for.

use std::time::{Duration, Instant};

/// The documented limit: this many requests...
pub(crate) const LIMIT: u32 = 1_200;
/// ...per this window.
pub(crate) const WINDOW: Duration = Duration::from_secs(300);

/// A token bucket of half the limit, refilled at half the limit per window: a full bucket spent
/// at once plus a window's refill is exactly the limit, so no window of 5 minutes ever holds
/// more than 1,200 requests (a bucket of the whole limit would allow twice that). Sustained, it
/// sends 2 requests a second; a run of the catalogue (under a hundred) never waits.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    capacity: f64,
    /// Tokens per second.
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    pub(crate) fn new(now: Instant) -> Bucket {
        let capacity = f64::from(LIMIT / 2);
        Bucket {
            capacity,
            rate: capacity / WINDOW.as_secs_f64(),
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token for a request at `now`: how long to wait before sending it (zero when a
    /// token is there). The token is spent either way, so calls in a row queue up.
    pub(crate) fn take(&mut self, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }
}

/// The wait a `Retry-After` header asks for: seconds (the API's form) or an HTTP date; capped
/// at one window, so that a wrong header cannot stall a run for hours.
pub(crate) fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(WINDOW))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_half_the_limit_through_then_paces_at_the_limit_over_a_window() {
        let start = Instant::now();
        let mut bucket = Bucket::new(start);
        for _ in 0..LIMIT / 2 {
            assert_eq!(bucket.take(start), Duration::ZERO);
        }
        // The next one waits for one token: 300 s / 600.
        let wait = bucket.take(start);
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");

        // Sent at the pace the bucket asks for, a window holds at most the limit.
        let mut bucket = Bucket::new(start);
        let mut now = start;
        let mut sent = Vec::new();
        for _ in 0..3 * LIMIT {
            now += bucket.take(now);
            sent.push(now);
        }
        for (i, &at) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|&&t| t < at + WINDOW).count();
            assert!(
                in_window <= LIMIT as usize,
                "{in_window} requests within 5 minutes"
            );
        }
        // Past the first 600, it sends 2 a second (half the limit's sustained rate: the price
        // of never bursting over it); a run's hundred requests never wait.
        let took = (now - start).as_secs_f64();
        assert!((took - 1_500.0).abs() < 1.0, "{took}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("86400", now), Some(WINDOW));
        assert_eq!(retry_after("soon", now), None);
    }
}
