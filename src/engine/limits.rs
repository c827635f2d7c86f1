//! Admission per destination account and Region, as EC2 limits them: the CopyImage request rate
//! (a token bucket) and the cap on copies in progress.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

use super::EngineSettings;
use crate::{
    domain::{AccountId, Job, Region},
    ratelimit::TokenBucket,
};

/// Where copies are made: an account (`None`: the service's own) and a Region. EC2's quotas and
/// rate buckets are per account and Region, and so are the engine's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Place {
    pub(super) account: Option<AccountId>,
    pub(super) region: Region,
}

impl Place {
    /// Where `job` copies into.
    pub(super) fn of(job: &Job) -> Self {
        Self {
            account: job.request().destination_account.clone(),
            region: job.request().destination_region.clone(),
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.account {
            Some(account) => write!(f, "{account}/{}", self.region),
            None => write!(f, "{}", self.region),
        }
    }
}

/// Consecutive failed tracking calls per account and Region, so a Region whose DescribeImages
/// fails (throttling above all) is looked at less and less often instead of every tick.
#[derive(Default)]
pub(super) struct TrackingBackoff {
    failures: Mutex<HashMap<Place, u32>>,
}

impl TrackingBackoff {
    /// Records a failed call in `place`; returns how many have failed in a row.
    pub(super) fn failed(&self, place: &Place) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let count = failures.entry(place.clone()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    /// Records a call in `place` that worked.
    pub(super) fn succeeded(&self, place: &Place) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(place);
    }
}

/// The copy limits of every account and Region this replica has dispatched to.
pub(super) struct RegionLimits {
    burst: u32,
    refill_per_second: f64,
    max_in_progress: u64,
    /// How long to wait before looking again when the Region is at its concurrency cap.
    recheck: Duration,
    buckets: Mutex<HashMap<Place, TokenBucket>>,
}

impl RegionLimits {
    pub(super) fn new(settings: &EngineSettings) -> Self {
        Self {
            burst: settings.copy_burst,
            refill_per_second: settings.copy_refill_per_second,
            max_in_progress: u64::from(settings.max_concurrent_copies),
            recheck: settings.tick,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one more CopyImage call into `place`, which has `in_progress` copies running, or
    /// says how long to wait before trying again.
    pub(super) fn try_admit(&self, place: &Place, in_progress: u64) -> Result<(), Duration> {
        if in_progress >= self.max_in_progress {
            return Err(self.recheck);
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        buckets
            .entry(place.clone())
            .or_insert_with(|| TokenBucket::new(self.burst, self.refill_per_second))
            .try_take(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(account: Option<&str>, region: &str) -> Place {
        Place {
            account: account.map(|a| AccountId::parse(a).unwrap()),
            region: Region::parse(region).unwrap(),
        }
    }

    fn limits(burst: u32, max: u32) -> RegionLimits {
        RegionLimits::new(&EngineSettings {
            copy_burst: burst,
            copy_refill_per_second: 1.0,
            max_concurrent_copies: max,
            ..EngineSettings::fast_for_tests()
        })
    }

    #[tokio::test(start_paused = true)]
    async fn the_burst_is_spent_then_refilled_per_region() {
        let limits = limits(2, 100);
        let east = place(None, "us-east-1");
        let west = place(None, "us-west-2");
        let east_elsewhere = place(Some("222233334444"), "us-east-1");
        assert!(limits.try_admit(&east, 0).is_ok());
        assert!(limits.try_admit(&east, 0).is_ok());
        let wait = limits.try_admit(&east, 0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(limits.try_admit(&west, 0).is_ok());
        assert!(
            limits.try_admit(&east_elsewhere, 0).is_ok(),
            "each account has its own bucket"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limits.try_admit(&east, 0).is_ok());
    }

    #[test]
    fn tracking_failures_count_per_place_until_a_call_works() {
        let backoff = TrackingBackoff::default();
        let west = place(None, "us-west-2");
        let elsewhere = place(Some("222233334444"), "us-west-2");
        assert_eq!(backoff.failed(&west), 1);
        assert_eq!(backoff.failed(&west), 2);
        assert_eq!(backoff.failed(&elsewhere), 1, "each account and Region on its own");
        backoff.succeeded(&west);
        assert_eq!(backoff.failed(&west), 1, "a call that worked starts the count again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_region_at_its_concurrency_cap_admits_nothing() {
        let limits = limits(100, 3);
        let east = place(None, "us-east-1");
        assert!(limits.try_admit(&east, 2).is_ok());
        assert!(limits.try_admit(&east, 3).is_err());
    }
}
