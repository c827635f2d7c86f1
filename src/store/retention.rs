//! Retention: with `--job-retention-days`, finished jobs and finished distributions (with their
//! events, targets and target jobs) are deleted once their last change is older than that, so
//! the database, and every cost that grows with it, follows the work in flight and not the
//! service's whole past. Only records go: the AMIs the jobs made stay in EC2.
//!
//! A purge deletes in small batches, each its own short transaction, with a pause between them,
//! so it never holds long locks and the engine's own writes keep their turn (on SQLite, where
//! writers take turns, that matters most). Replicas may purge at the same time: PostgreSQL's
//! batches skip rows another transaction holds.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{JobStore, StoreError};
use crate::flags;

/// Finished jobs deleted per transaction.
const JOB_BATCH: u32 = 500;
/// Finished distributions deleted per transaction (each with all its targets' jobs and events:
/// up to 600 targets, a few thousand rows).
const DISTRIBUTION_BATCH: u32 = 5;
/// The pause between two batches, which leaves the database to other writers.
const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// How long finished work is kept.
#[derive(clap::Args, Debug, Clone)]
pub struct RetentionSettings {
    /// Days a finished job (AVAILABLE, FAILED or CANCELLED) or a finished distribution is kept
    /// after its last change, with its events; then its records are deleted (its AMIs stay in
    /// EC2) and reads of it answer NOT_FOUND. Fractions allowed (0.5 is 12 hours). Unset: kept
    /// forever.
    #[arg(value_name = "DAYS", long = "job-retention-days", env = "AMICOPY_JOB_RETENTION_DAYS", value_parser = flags::positive_days, allow_negative_numbers = true)]
    pub job_retention: Option<Duration>,
    /// Seconds between two purges of finished work (with --job-retention-days).
    #[arg(value_name = "SECONDS", long = "retention-interval-seconds", env = "AMICOPY_RETENTION_INTERVAL_SECONDS", default_value = "600", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub retention_interval: Duration,
}

/// What one purge deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Finished jobs of no distribution.
    pub jobs: u64,
    /// Finished distributions, each with its targets' jobs.
    pub distributions: u64,
}

/// Deletes every finished job and distribution that last changed before `before`, batch after
/// batch, until none is left.
pub async fn purge(store: &dyn JobStore, before: DateTime<Utc>) -> Result<Purged, StoreError> {
    Ok(Purged {
        distributions: drain(DISTRIBUTION_BATCH, |limit| {
            store.delete_finished_distributions(before, limit)
        })
        .await?,
        jobs: drain(JOB_BATCH, |limit| store.delete_finished_jobs(before, limit)).await?,
    })
}

/// Runs `delete` with `batch` until it deletes fewer, pausing between batches; the total.
async fn drain<F, D>(batch: u32, mut delete: D) -> Result<u64, StoreError>
where
    D: FnMut(u32) -> F,
    F: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let deleted = delete(batch).await?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
        tokio::time::sleep(BATCH_PAUSE).await;
    }
}

/// Purges what is older than `keep` at once and then every `every`, until `shutdown`. A purge
/// that fails (the database away) is logged and tried again at the next turn.
pub async fn run(store: Arc<dyn JobStore>, keep: Duration, every: Duration, shutdown: CancellationToken) {
    let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    loop {
        let before = Utc::now().checked_sub_signed(keep).unwrap_or(DateTime::<Utc>::MIN_UTC);
        tokio::select! {
            () = shutdown.cancelled() => return,
            purged = purge(&*store, before) => match purged {
                Ok(purged) if purged != Purged::default() => info!(
                    jobs = purged.jobs,
                    distributions = purged.distributions,
                    %before,
                    "retention deleted finished work"
                ),
                Ok(_) => {}
                Err(error) => warn!(%error, "retention could not delete finished work; trying again later"),
            },
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
