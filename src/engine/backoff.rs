//! Retry delays: exponential in the attempt number, capped, with jitter so that jobs that
//! failed together do not retry together.

use std::time::Duration;

use rand::Rng;

/// The delay before retry number `attempt` (1 for the first retry): `base * 2^(attempt-1)`,
/// capped at `max`, then scaled by a random factor in [0.5, 1.0].
pub fn retry_delay(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exponential = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(30)));
    let capped = exponential.min(max);
    capped.mul_f64(rand::rng().random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_stop_at_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(5);
        for attempt in 1..=10 {
            let expected = (base * 2u32.pow(attempt - 1)).min(max);
            for _ in 0..50 {
                let delay = retry_delay(attempt, base, max);
                assert!(
                    delay <= expected && delay >= expected / 2,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
        assert!(retry_delay(u32::MAX, base, max) <= max);
    }
}
