//! Live fan-out of "job X has new events" to watchers in this process.
//!
//! Each watched job has one `tokio::sync::watch` channel holding the newest event sequence.
//! Publishing never blocks and never fails for slow watchers: a watcher that misses values simply
//! sees the newest one and reads what it missed from `job_events`. Channels exist only while
//! someone watches the job.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::watch;

use crate::domain::JobId;

/// The registry of watched jobs.
#[derive(Debug, Default)]
pub struct EventHub {
    jobs: Mutex<HashMap<JobId, watch::Sender<u64>>>,
}

impl EventHub {
    /// An empty hub.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Starts watching `job`. The subscription's value starts at 0, so the watcher reads the
    /// history first and waits for changes after that.
    pub fn subscribe(self: &Arc<Self>, job: JobId) -> Subscription {
        let receiver = self
            .lock()
            .entry(job)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Subscription {
            hub: Arc::clone(self),
            job,
            receiver: Some(receiver),
        }
    }

    /// Tells watchers of `job` that events up to `sequence` exist. Cheap when nobody watches.
    pub fn publish(&self, job: JobId, sequence: u64) {
        if let Some(sender) = self.lock().get(&job) {
            sender.send_if_modified(|newest| {
                let newer = sequence > *newest;
                if newer {
                    *newest = sequence;
                }
                newer
            });
        }
    }

    /// How many jobs are being watched right now.
    pub fn watched_jobs(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<JobId, watch::Sender<u64>>> {
        // The map stays consistent even if a holder panicked: every operation is a single insert,
        // lookup or remove.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One watcher's interest in one job; removes the job's channel when the last watcher leaves.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<EventHub>,
    job: JobId,
    receiver: Option<watch::Receiver<u64>>,
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
