//! Announcing new events to other replicas with PostgreSQL `NOTIFY`, outside the transactions
//! that write them.
//!
//! PostgreSQL serialises the commits of transactions that notify: a lock on the notification
//! queue is held through commit, fsync included, and shows as `Lock:object` waits in
//! `pg_stat_activity`. Notifying from inside every job transaction made each commit wait for
//! every other. Events are instead handed to one task that announces them in batches, one
//! statement in its own short transaction per batch, right after the events' own commits. A
//! notification lost to a crash in between only delays watchers on other replicas until their
//! next poll of the store.

use sqlx::PgPool;
use tokio::sync::mpsc;
use tracing::warn;

use crate::{
    domain::{DistributionId, JobId},
    store::Announcement,
};

/// The NOTIFY channel; payloads are `<job uuid>:<sequence>` for a job's events and
/// `d:<distribution uuid>:<sequence>` for a distribution's.
pub(super) const CHANNEL: &str = "amicopy_job_events";

/// Most events announced in one statement.
const BATCH: usize = 1000;

/// Hands committed events to the announcing task. Cheap to clone; the task ends when the last
/// clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct Announcer {
    events: mpsc::UnboundedSender<String>,
}

impl Announcer {
    /// Starts the task that announces events through `pool`.
    pub(super) fn start(pool: PgPool) -> Self {
        let (events, pending) = mpsc::unbounded_channel();
        tokio::spawn(announce(pool, pending));
        Self { events }
    }

    /// Announces that the job's events up to `sequence` are committed.
    pub(super) fn announce(&self, job: JobId, sequence: u64) {
        // Fails only when the task has ended, with the runtime: nobody is left to tell.
        let _ = self.events.send(format!("{job}:{sequence}"));
    }

    /// Announces that the distribution's events up to `sequence` are committed.
    pub(super) fn announce_distribution(&self, distribution: DistributionId, sequence: u64) {
        let _ = self
            .events
            .send(format!("{DISTRIBUTION_PREFIX}{distribution}:{sequence}"));
    }
}

async fn announce(pool: PgPool, mut pending: mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::with_capacity(BATCH);
    while pending.recv_many(&mut batch, BATCH).await > 0 {
        let sent = sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
            .bind(CHANNEL)
            .bind(&batch)
            .execute(&pool)
            .await;
        if let Err(error) = sent {
            warn!(%error, events = batch.len(), "could not announce events; watchers on other replicas will see them at their next poll");
        }
        batch.clear();
    }
}

/// What marks a distribution's payload.
const DISTRIBUTION_PREFIX: &str = "d:";

/// Parses a notification payload, `<job uuid>:<sequence>` or `d:<distribution uuid>:<sequence>`.
pub(super) fn parse(payload: &str) -> Option<Announcement> {
    if let Some(rest) = payload.strip_prefix(DISTRIBUTION_PREFIX) {
        let (id, sequence) = rest.split_once(':')?;
        return Some(Announcement::Distribution(id.parse().ok()?, sequence.parse().ok()?));
    }
    let (id, sequence) = payload.split_once(':')?;
    Some(Announcement::Job(id.parse().ok()?, sequence.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_payloads_parse_and_garbage_does_not() {
        let id = JobId::new();
        assert_eq!(parse(&format!("{id}:7")), Some(Announcement::Job(id, 7)));
        let distribution = DistributionId::new();
        assert_eq!(
            parse(&format!("d:{distribution}:12")),
            Some(Announcement::Distribution(distribution, 12))
        );
        for bad in [
            "",
            "x:1",
            &format!("{id}"),
            &format!("{id}:-1"),
            &format!("{id}:1:2"),
            &format!("d:{id}"),
            "d:x:1",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
