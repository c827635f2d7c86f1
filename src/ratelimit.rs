//! The token bucket EC2 meters its API with: a bucket holds up to `burst` tokens, every call
//! takes one, and tokens come back at a steady rate. The engine paces its own CopyImage calls
//! with it and the simulator throttles callers with it, so both see EC2's limits the same way.

use std::time::Duration;

use tokio::time::Instant;

/// One request-rate limit: `burst` calls at once, then `refill_per_second` calls per second.
///
/// Time is read from the caller (`tokio::time::Instant`), so tests drive it with
/// `tokio::time::pause()` and `advance()`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    burst: u32,
    refill_per_second: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` until the first call, so a bucket
    /// starts full however long ago it was made.
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens that regains `refill_per_second` tokens per second. A
    /// rate of zero (or less) never refills.
    pub fn new(burst: u32, refill_per_second: f64) -> Self {
        Self {
            burst,
            refill_per_second: refill_per_second.max(0.0),
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// Takes one token at `now`, or says how long until one is there. A bucket that never
    /// refills answers [`Duration::MAX`] once it is empty.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(last) = self.last {
            let earned = now.saturating_duration_since(last).as_secs_f64() * self.refill_per_second;
            self.tokens = (self.tokens + earned).min(f64::from(self.burst));
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if self.refill_per_second <= 0.0 {
            return Err(Duration::MAX);
        }
        let wait = (1.0 - self.tokens) / self.refill_per_second;
        Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_burst_is_available_at_once_then_calls_wait() {
        let mut bucket = TokenBucket::new(3, 1.0);
        for _ in 0..3 {
            assert_eq!(bucket.try_take(Instant::now()), Ok(()));
        }
        assert_eq!(bucket.try_take(Instant::now()), Err(Duration::from_secs(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_come_back_at_the_refill_rate() {
        let mut bucket = TokenBucket::new(2, 4.0);
        bucket.try_take(Instant::now()).unwrap();
        bucket.try_take(Instant::now()).unwrap();
        let wait = bucket.try_take(Instant::now()).unwrap_err();
        assert_eq!(wait, Duration::from_millis(250));
        tokio::time::advance(Duration::from_millis(250)).await;
        assert_eq!(bucket.try_take(Instant::now()), Ok(()));
        assert!(bucket.try_take(Instant::now()).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_bucket_refills_only_up_to_its_burst() {
        let mut bucket = TokenBucket::new(2, 10.0);
        bucket.try_take(Instant::now()).unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(bucket.try_take(Instant::now()).is_ok());
        assert!(bucket.try_take(Instant::now()).is_ok());
        assert!(bucket.try_take(Instant::now()).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_that_never_refills_says_so() {
        let mut bucket = TokenBucket::new(1, 0.0);
        bucket.try_take(Instant::now()).unwrap();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(bucket.try_take(Instant::now()), Err(Duration::MAX));
        assert_eq!(
            TokenBucket::new(0, 1.0).try_take(Instant::now()),
            Err(Duration::from_secs(1))
        );
    }
}
