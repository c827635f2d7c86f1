//! Live fan-out of a job's new events to watchers in this process.
//!
//! Each watched job has one `tokio::sync::watch` channel holding the newest event sequence and
//! the job's most recent events. Publishing never blocks and never fails for slow watchers: a
//! watcher that misses values sees the newest ones, takes the events it missed from the recent
//! ones when they are all there, and reads them from `job_events` when they are not (it fell
//! too far behind, or the event was written by another replica and only its sequence arrived).
//! So however many watch a job, an event costs one store read at most, usually none. Channels
//! exist only while someone watches the job.
//!
//! A watched distribution has one channel too, whatever its number of targets: a target's event
//! only wakes its watchers, who read the distribution's new events from the store (one read
//! however many events arrived meanwhile). A watcher of a 600-target distribution is one
//! subscription, not 600.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::watch;

use crate::domain::{DistributionId, JobEvent, JobId};

/// Recent events kept per watched job.
pub(crate) const RECENT_EVENTS: usize = 64;

/// What a watched job's channel holds.
#[derive(Debug, Default)]
struct Feed {
    /// The newest event sequence known to exist.
    newest: u64,
    /// The newest events, in sequence order, at most [`RECENT_EVENTS`]; may have gaps.
    recent: VecDeque<Arc<JobEvent>>,
}

/// What a watched distribution's channel holds: the newest event sequence known to exist, and
/// how many times this process wrote events of it without knowing their sequence. Either
/// rising wakes its watchers.
#[derive(Debug, Default, Clone, Copy)]
struct DistributionFeed {
    newest: u64,
    pokes: u64,
}

/// The registry of watched jobs and distributions.
#[derive(Debug, Default)]
pub struct EventHub {
    jobs: Mutex<HashMap<JobId, watch::Sender<Feed>>>,
    distributions: Mutex<HashMap<DistributionId, watch::Sender<DistributionFeed>>>,
    /// Counts changes of any distribution (created, a target moved, announced by another
    /// replica), for views of many distributions at once such as the web view's list.
    any_distribution: watch::Sender<u64>,
}

impl EventHub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Starts watching `job`. The subscription starts at sequence 0, so the watcher reads the
    /// history first and waits for changes after that.
    pub fn subscribe(self: &Arc<Self>, job: JobId) -> Subscription {
        let receiver = self
            .lock()
            .entry(job)
            .or_insert_with(|| watch::channel(Feed::default()).0)
            .subscribe();
        Subscription {
            hub: Arc::clone(self),
            job,
            receiver: Some(receiver),
        }
    }

    /// Tells watchers of `job` that events up to `sequence` exist (written by another process:
    /// they read them from the store). Cheap when nobody watches.
    pub fn publish(&self, job: JobId, sequence: u64) {
        if let Some(sender) = self.lock().get(&job) {
            sender.send_if_modified(|feed| {
                let newer = sequence > feed.newest;
                if newer {
                    feed.newest = sequence;
                }
                newer
            });
        }
    }

    /// The newest event sequence this process knows of for `job`; `None` when nobody watches it.
    pub fn newest_known(&self, job: JobId) -> Option<u64> {
        self.lock().get(&job).map(|sender| sender.borrow().newest)
    }

    /// Hands watchers of the event's job an event this process just committed. Cheap when
    /// nobody watches.
    pub fn publish_event(&self, event: &JobEvent) {
        if let Some(sender) = self.lock().get(&event.job_id) {
            sender.send_if_modified(|feed| {
                let sequence = event.sequence;
                let at = feed.recent.partition_point(|known| known.sequence < sequence);
                if feed.recent.get(at).is_some_and(|known| known.sequence == sequence) {
                    return false;
                }
                feed.recent.insert(at, Arc::new(event.clone()));
                while feed.recent.len() > RECENT_EVENTS {
                    feed.recent.pop_front();
                }
                // An older event filling a gap wakes nobody: watchers facing the gap read the
                // store.
                let newer = sequence > feed.newest;
                if newer {
                    feed.newest = sequence;
                }
                newer
            });
        }
    }

    /// How many jobs are being watched right now.
    pub fn watched_jobs(&self) -> usize {
        self.lock().len()
    }

    /// The jobs being watched right now.
    pub fn watched_job_ids(&self) -> Vec<JobId> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<JobId, watch::Sender<Feed>>> {
        // The map stays consistent even if a holder panicked: every operation is a single insert,
        // lookup or remove.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching `distribution`: one subscription for all of its targets.
    pub fn subscribe_distribution(self: &Arc<Self>, distribution: DistributionId) -> DistributionSubscription {
        let receiver = self
            .lock_distributions()
            .entry(distribution)
            .or_insert_with(|| watch::channel(DistributionFeed::default()).0)
            .subscribe();
        DistributionSubscription {
            hub: Arc::clone(self),
            distribution,
            receiver: Some(receiver),
        }
    }

    /// Tells watchers of `distribution` that its events up to `sequence` exist (written by
    /// another process). Cheap when nobody watches.
    pub fn publish_distribution(&self, distribution: DistributionId, sequence: u64) {
        self.any_distribution_changed();
        if let Some(sender) = self.lock_distributions().get(&distribution) {
            sender.send_if_modified(|feed| {
                let newer = sequence > feed.newest;
                if newer {
                    feed.newest = sequence;
                }
                newer
            });
        }
    }

    /// Tells watchers of `distribution` that this process just wrote events of it (a target's
    /// job changed): they read the new ones from the store. Cheap when nobody watches.
    pub fn poke_distribution(&self, distribution: DistributionId) {
        self.any_distribution_changed();
        if let Some(sender) = self.lock_distributions().get(&distribution) {
            sender.send_modify(|feed| feed.pokes += 1);
        }
    }

    /// Follows changes of every distribution: the receiver is marked changed whenever any
    /// distribution is created or changes, here or (announced) on another replica. Whose
    /// distribution it was is not said; a viewer re-reads its own.
    pub fn subscribe_any_distribution(&self) -> watch::Receiver<u64> {
        self.any_distribution.subscribe()
    }

    fn any_distribution_changed(&self) {
        self.any_distribution
            .send_modify(|changes| *changes = changes.wrapping_add(1));
    }

    /// How many distributions are being watched right now.
    pub fn watched_distributions(&self) -> usize {
        self.lock_distributions().len()
    }

    fn lock_distributions(&self) -> MutexGuard<'_, HashMap<DistributionId, watch::Sender<DistributionFeed>>> {
        self.distributions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One watcher's interest in one distribution; removes its channel when the last watcher leaves.
#[derive(Debug)]
pub struct DistributionSubscription {
    hub: Arc<EventHub>,
    distribution: DistributionId,
    receiver: Option<watch::Receiver<DistributionFeed>>,
}

impl DistributionSubscription {
    /// Waits until new events of the distribution are announced. Returns at once if some were
    /// since the last call.
    pub async fn changed(&mut self) {
        if let Some(receiver) = self.receiver.as_mut()
            && receiver.changed().await.is_err()
        {
            // The hub holds the sender for as long as this subscription exists.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for DistributionSubscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut distributions = self.hub.lock_distributions();
        if distributions
            .get(&self.distribution)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            distributions.remove(&self.distribution);
        }
    }
}

/// One watcher's interest in one job; removes the job's channel when the last watcher leaves.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<EventHub>,
    job: JobId,
    receiver: Option<watch::Receiver<Feed>>,
}

impl Subscription {
    /// Waits until an event newer than the last one seen is published. Returns at once if one was
    /// published since the last call.
    pub async fn changed(&mut self) {
        if let Some(receiver) = self.receiver.as_mut() {
            // The hub holds the sender for as long as this subscription exists, so this only
            // returns when a value was published.
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Every event after `after` up to the newest known, from the recent events: `None` when
    /// some of them are not there, and the store must be read instead.
    pub fn events_after(&self, after: u64) -> Option<Vec<JobEvent>> {
        let feed = self.receiver.as_ref()?.borrow();
        let start = feed.recent.partition_point(|event| event.sequence <= after);
        let events: Vec<JobEvent> = feed.recent.range(start..).map(|event| JobEvent::clone(event)).collect();
        let contiguous = events
            .iter()
            .zip(after + 1..)
            .all(|(event, expected)| event.sequence == expected);
        let complete = after + events.len() as u64 >= feed.newest;
        (contiguous && complete).then_some(events)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut jobs = self.hub.lock();
        if jobs.get(&self.job).is_some_and(|sender| sender.receiver_count() == 0) {
            jobs.remove(&self.job);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn publish_wakes_every_watcher_of_the_job_only() {
        let hub = EventHub::new();
        let job = JobId::new();
        let mut first = hub.subscribe(job);
        let mut second = hub.subscribe(job);
        let mut other = hub.subscribe(JobId::new());
        hub.publish(job, 3);
        tokio::time::timeout(Duration::from_secs(5), first.changed())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), second.changed())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), other.changed())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn old_sequences_do_not_wake_watchers() {
        let hub = EventHub::new();
        let job = JobId::new();
        let mut watcher = hub.subscribe(job);
        hub.publish(job, 5);
        watcher.changed().await;
        hub.publish(job, 4);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), watcher.changed())
                .await
                .is_err()
        );
    }

    fn event(job: JobId, sequence: u64) -> JobEvent {
        JobEvent {
            job_id: job,
            sequence,
            state: crate::domain::JobState::Copying,
            image_id: None,
            progress_percent: Some(u8::try_from(sequence).unwrap()),
            failure_code: None,
            detail: format!("event {sequence}"),
            created_at: chrono::Utc::now(),
        }
    }

    fn sequences(events: Option<Vec<JobEvent>>) -> Option<Vec<u64>> {
        events.map(|events| events.iter().map(|e| e.sequence).collect())
    }

    #[tokio::test]
    async fn watchers_take_published_events_from_memory() {
        let hub = EventHub::new();
        let job = JobId::new();
        let mut watcher = hub.subscribe(job);
        for sequence in 2..=4 {
            hub.publish_event(&event(job, sequence));
        }
        watcher.changed().await;
        assert_eq!(sequences(watcher.events_after(1)), Some(vec![2, 3, 4]));
        assert_eq!(sequences(watcher.events_after(3)), Some(vec![4]));
        assert_eq!(sequences(watcher.events_after(4)), Some(vec![]));
        assert_eq!(
            watcher.events_after(0),
            None,
            "event 1 was never published: read the store"
        );
    }

    #[tokio::test]
    async fn a_gap_or_a_sequence_without_its_event_sends_watchers_to_the_store() {
        let hub = EventHub::new();
        let job = JobId::new();
        let watcher = hub.subscribe(job);
        hub.publish_event(&event(job, 1));
        hub.publish_event(&event(job, 3));
        assert_eq!(watcher.events_after(0), None, "2 is missing");
        hub.publish_event(&event(job, 2));
        assert_eq!(
            sequences(watcher.events_after(0)),
            Some(vec![1, 2, 3]),
            "out of order, then complete"
        );
        hub.publish(job, 4);
        assert_eq!(watcher.events_after(3), None, "4 came from another replica");
    }

    #[tokio::test]
    async fn only_the_most_recent_events_are_kept() {
        let hub = EventHub::new();
        let job = JobId::new();
        let watcher = hub.subscribe(job);
        let last = RECENT_EVENTS as u64 + 10;
        for sequence in 1..=last {
            hub.publish_event(&event(job, sequence));
        }
        assert_eq!(watcher.events_after(5), None, "fell too far behind: read the store");
        let caught_up = sequences(watcher.events_after(last - 3)).unwrap();
        assert_eq!(caught_up, vec![last - 2, last - 1, last]);
    }

    #[tokio::test]
    async fn a_distribution_is_one_subscription_woken_by_pokes_and_newer_sequences() {
        let hub = EventHub::new();
        let distribution = DistributionId::new();
        let mut watcher = hub.subscribe_distribution(distribution);
        let mut other = hub.subscribe_distribution(DistributionId::new());
        hub.poke_distribution(distribution);
        tokio::time::timeout(Duration::from_secs(5), watcher.changed())
            .await
            .unwrap();
        hub.publish_distribution(distribution, 7);
        tokio::time::timeout(Duration::from_secs(5), watcher.changed())
            .await
            .unwrap();
        hub.publish_distribution(distribution, 5);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), watcher.changed())
                .await
                .is_err(),
            "an older sequence wakes nobody"
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), other.changed())
                .await
                .is_err()
        );
        assert_eq!(hub.watched_distributions(), 2);
        drop((watcher, other));
        assert_eq!(hub.watched_distributions(), 0);
    }

    #[tokio::test]
    async fn any_distribution_changing_wakes_followers_of_all() {
        let hub = EventHub::new();
        let mut all = hub.subscribe_any_distribution();
        hub.poke_distribution(DistributionId::new());
        tokio::time::timeout(Duration::from_secs(5), all.changed())
            .await
            .unwrap()
            .unwrap();
        hub.publish_distribution(DistributionId::new(), 3);
        tokio::time::timeout(Duration::from_secs(5), all.changed())
            .await
            .unwrap()
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), all.changed())
                .await
                .is_err(),
            "nothing changed since"
        );
        assert_eq!(hub.watched_distributions(), 0, "no per-distribution channel is made");
    }

    #[test]
    fn channels_are_removed_with_their_last_watcher() {
        let hub = EventHub::new();
        let job = JobId::new();
        let first = hub.subscribe(job);
        let second = hub.subscribe(job);
        assert_eq!(hub.watched_jobs(), 1);
        drop(first);
        assert_eq!(hub.watched_jobs(), 1);
        drop(second);
        assert_eq!(hub.watched_jobs(), 0);
        hub.publish(job, 1);
    }
}
