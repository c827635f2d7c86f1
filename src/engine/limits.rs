//! Admission per destination account and Region, as EC2 limits them: the CopyImage request rate
//! (a token bucket) and the cap on copies in progress.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

use super::EngineSettings;
use crate::{
    domain::{AccountId, CopyRequest, Job, Region},
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
        Self::of_request(job.request())
    }

    /// Where `request` copies into.
    pub(super) fn of_request(request: &CopyRequest) -> Self {
        Self {
            account: request.destination_account.clone(),
            region: request.destination_region.clone(),
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

/// The copy limits of every account and Region this replica has dispatched to: EC2's CopyImage
/// rate (a token bucket per place) and its cap on copies in progress, counted in memory.
///
/// The count of a place is the store's count of its copies in progress (COPYING or CANCELLING)
/// at the last [`refresh`](Self::refreshed), which every tick makes, plus the copies this
/// replica admitted since: admitting a copy costs no query. Within a replica admission is
/// atomic, so one replica never exceeds the cap. Across replicas the count is as fresh as the
/// last tick: replica B does not see the copies replica A admitted since B's last refresh
/// until A records them as COPYING and B refreshes again. The cap can therefore be overshot by
/// what the other replicas admit within one tick interval, and never by more than
/// (replicas − 1) × the headroom each saw. EC2 keeps the real quota: a CopyImage beyond it is
/// refused with `ResourceLimitExceeded`, which waits and retries without using up the job's
/// attempts (`AttemptFailure::QuotaFull`), so an overshoot costs a refused call, never a job.
pub(super) struct RegionLimits {
    burst: u32,
    refill_per_second: f64,
    max_in_progress: u64,
    /// How long to wait before looking again when the Region is at its concurrency cap.
    recheck: Duration,
    places: Arc<Mutex<HashMap<Place, PlaceLimits>>>,
}

/// One place's rate bucket and copy count.
struct PlaceLimits {
    bucket: TokenBucket,
    /// Copies in progress at the last refresh (none for a place it did not name).
    stored: u64,
    /// Copies admitted since the last refresh's snapshot (and those still in their CopyImage
    /// call when it was taken): in progress for all this replica knows.
    admitted_since: u64,
    /// Every copy ever admitted here, to tell which came after a refresh's mark.
    admitted_total: u64,
    /// Admitted copies whose CopyImage answer is not recorded yet.
    in_call: u64,
}

/// One admitted copy. Dropping it says its CopyImage answer is recorded, or that it was never
/// made: it is counted as in progress until the next refresh either way.
pub(super) struct Admission {
    places: Arc<Mutex<HashMap<Place, PlaceLimits>>>,
    place: Place,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut places = self.places.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(limits) = places.get_mut(&self.place) {
            limits.in_call = limits.in_call.saturating_sub(1);
        }
    }
}

/// Where every place's admissions stood when a refresh's count was asked for.
pub(super) struct RefreshMark(HashMap<Place, (u64, u64)>);

impl RegionLimits {
    pub(super) fn new(settings: &EngineSettings) -> Self {
        Self {
            burst: settings.copy_burst,
            refill_per_second: settings.copy_refill_per_second,
            max_in_progress: u64::from(settings.max_concurrent_copies),
            recheck: settings.tick,
            places: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Place, PlaceLimits>> {
        self.places.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn place_mut<'a>(&self, places: &'a mut HashMap<Place, PlaceLimits>, place: &Place) -> &'a mut PlaceLimits {
        places.entry(place.clone()).or_insert_with(|| PlaceLimits {
            bucket: TokenBucket::new(self.burst, self.refill_per_second),
            stored: 0,
            admitted_since: 0,
            admitted_total: 0,
            in_call: 0,
        })
    }

    /// Copies in progress in `place` for all this replica knows; `None` for a place it has not
    /// seen.
    #[cfg(test)]
    pub(super) fn in_progress(&self, place: &Place) -> Option<u64> {
        let places = self.lock();
        let limits = places.get(place)?;
        Some(limits.stored + limits.admitted_since)
    }

    /// Admits one more CopyImage call into `place`, or says how long to wait before trying
    /// again. Counts are as of the last refresh: before the first, every place counts as empty.
    pub(super) fn try_admit(&self, place: &Place) -> Result<Admission, Duration> {
        let mut places = self.lock();
        let limits = self.place_mut(&mut places, place);
        if limits.stored + limits.admitted_since >= self.max_in_progress {
            return Err(self.recheck);
        }
        limits.bucket.try_take(Instant::now())?;
        limits.admitted_since += 1;
        limits.admitted_total += 1;
        limits.in_call += 1;
        Ok(Admission {
            places: Arc::clone(&self.places),
            place: place.clone(),
        })
    }

    /// Marks where admissions stand, just before the store is asked for the counts.
    pub(super) fn mark(&self) -> RefreshMark {
        RefreshMark(
            self.lock()
                .iter()
                .map(|(place, limits)| (place.clone(), (limits.admitted_total, limits.in_call)))
                .collect(),
        )
    }

    /// Takes the store's counts of copies in progress (places left out have none), asked for
    /// after `mark`. Copies admitted after the mark, and those still in their CopyImage call at
    /// it, may not be in the counts, so they stay counted on top: a copy may be counted twice
    /// until the next refresh, never missed.
    pub(super) fn refreshed(&self, mark: RefreshMark, stored: &HashMap<Place, u64>) {
        let mut places = self.lock();
        for place in stored.keys() {
            self.place_mut(&mut places, place);
        }
        for (place, limits) in places.iter_mut() {
            let (total_at_mark, in_call_at_mark) = mark.0.get(place).copied().unwrap_or((0, 0));
            limits.stored = stored.get(place).copied().unwrap_or(0);
            limits.admitted_since = limits.admitted_total.saturating_sub(total_at_mark) + in_call_at_mark;
        }
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
        let _first = limits.try_admit(&east).unwrap();
        let _second = limits.try_admit(&east).unwrap();
        let wait = limits.try_admit(&east).err().unwrap();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        assert!(limits.try_admit(&west).is_ok());
        assert!(
            limits.try_admit(&east_elsewhere).is_ok(),
            "each account has its own bucket"
        );
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limits.try_admit(&east).is_ok());
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
    async fn a_region_at_its_concurrency_cap_admits_nothing_until_a_refresh_frees_room() {
        let limits = limits(100, 3);
        let east = place(None, "us-east-1");
        assert_eq!(limits.in_progress(&east), None);
        limits.refreshed(limits.mark(), &HashMap::from([(east.clone(), 1)]));
        assert_eq!(limits.in_progress(&east), Some(1));
        let admitted: Vec<_> = (0..2).map(|_| limits.try_admit(&east).unwrap()).collect();
        assert_eq!(limits.in_progress(&east), Some(3));
        assert!(limits.try_admit(&east).is_err(), "1 stored + 2 admitted is the cap");
        drop(admitted);
        assert!(
            limits.try_admit(&east).is_err(),
            "answered copies count as in progress until the store says otherwise"
        );

        let mark = limits.mark();
        limits.refreshed(mark, &HashMap::from([(east.clone(), 1)]));
        assert_eq!(limits.in_progress(&east), Some(1), "the two copies ended");
        assert!(limits.try_admit(&east).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn copies_admitted_during_a_refresh_or_still_in_their_call_stay_counted() {
        let limits = limits(100, 10);
        let east = place(None, "us-east-1");
        let west = place(None, "us-west-2");
        limits.refreshed(limits.mark(), &HashMap::from([(east.clone(), 0)]));
        let answered = limits.try_admit(&east).unwrap();
        let in_call = limits.try_admit(&east).unwrap();
        drop(answered);
        let mark = limits.mark();
        let during = limits.try_admit(&east).unwrap();
        let new_place = limits.try_admit(&west).unwrap();
        // The store saw the answered copy as COPYING; not the other two.
        limits.refreshed(mark, &HashMap::from([(east.clone(), 1)]));
        assert_eq!(
            limits.in_progress(&east),
            Some(3),
            "1 stored + 1 still in its call at the mark + 1 admitted after it"
        );
        assert_eq!(limits.in_progress(&west), Some(1), "a place first seen after the mark");
        drop((in_call, during, new_place));

        let mark = limits.mark();
        limits.refreshed(mark, &HashMap::new());
        assert_eq!(
            limits.in_progress(&east),
            Some(0),
            "a place the store left out has none"
        );
        assert_eq!(limits.in_progress(&west), Some(0));
    }
}
