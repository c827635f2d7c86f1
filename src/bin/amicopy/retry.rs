//! Calls the server could not take (UNAVAILABLE: down, restarting, shedding load, its database
//! away; RESOURCE_EXHAUSTED: a tenant over its rate) are tried again after a delay: the one the
//! server asked for in a `google.rpc.RetryInfo`, or exponential backoff with jitter.
//!
//! Retrying is safe for every call the CLI makes: reads and watches are, a CopyImage or
//! CreateDistribution always carries a client token, and a cancel repeated is refused harmlessly.

use std::{future::Future, time::Duration};

use rand::Rng;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The first backoff delay.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// No backoff delay is longer, and no RetryInfo delay is honoured beyond it.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// How often and how long to wait before trying a call again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    retries: u32,
}

impl RetryPolicy {
    /// At most `retries` tries after the first.
    pub fn new(retries: u32) -> Self {
        Self { retries }
    }

    /// Runs `call` until it succeeds, fails for a reason a retry cannot help, or the retries
    /// are spent. `on_retry` hears of each retry before its delay.
    pub async fn run<T, F, Fut>(&self, mut call: F, mut on_retry: impl FnMut(&Status, Duration)) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut attempt = 0;
        loop {
            match call().await {
                Err(status) if attempt < self.retries && retryable(&status) => {
                    let delay = delay(&status, attempt);
                    on_retry(&status, delay);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// The delay before retry number `attempt` (from 0) after `status`, for loops that retry on
    /// their own terms (a watch that broke off).
    pub fn delay_after(&self, status: &Status, attempt: u32) -> Option<Duration> {
        (attempt < self.retries.max(1)).then(|| delay(status, attempt))
    }
}

/// Whether a retry can help: the server could not take the call now.
pub fn retryable(status: &Status) -> bool {
    matches!(status.code(), Code::Unavailable | Code::ResourceExhausted)
}

/// The server's RetryInfo delay when it gave one, else exponential backoff with full jitter.
fn delay(status: &Status, attempt: u32) -> Duration {
    if let Some(delay) = status.get_details_retry_info().and_then(|info| info.retry_delay) {
        return delay.min(MAX_DELAY);
    }
    let ceiling = BASE_DELAY.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_DELAY);
    // Half fixed, half random: never hammering, never synchronised with other clients.
    let half = ceiling / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn retry_info_sets_the_delay() {
        let mut details = ErrorDetails::new();
        details.set_retry_info(Some(Duration::from_millis(1700)));
        let status = Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        assert_eq!(delay(&status, 0), Duration::from_millis(1700));
        assert_eq!(delay(&status, 5), Duration::from_millis(1700));
    }

    #[test]
    fn backoff_grows_and_stops_growing() {
        let status = Status::unavailable("down");
        for attempt in 0..20 {
            let ceiling = BASE_DELAY.saturating_mul(2u32.saturating_pow(attempt)).min(MAX_DELAY);
            let delay = delay(&status, attempt);
            assert!(delay >= ceiling / 2 && delay <= ceiling, "{attempt}: {delay:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn only_unavailable_and_exhausted_are_retried_and_only_so_often() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::new(3);
        let result: Result<(), Status> = policy
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(Status::unavailable("down"))
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result.unwrap_err().code(), Code::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 4);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), Status> = policy
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(Status::invalid_argument("bad"))
                },
                |_, _| {},
            )
            .await;
        assert_eq!(result.unwrap_err().code(), Code::InvalidArgument);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
