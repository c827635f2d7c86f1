//! [`JobStore`] on a SQLite file: the embedded default for a single process. WAL mode lets
//! readers run beside the one writer; every write transaction starts with `BEGIN IMMEDIATE` so
//! writers queue on the busy timeout instead of failing when they upgrade a read snapshot.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};
use tracing::info;

use super::{
    ChangeFeed, Claim, Created, CreatedDistribution, DistributionClaim, DistributionPage, DistributionQuery,
    DistributionStore, InProgressCount, JobPage, JobStore, ListQuery, StateCount, StoreError,
};
use crate::domain::{
    AccountId, Change, Distribution, DistributionId, Job, JobEvent, JobId, JobState,
    distribution::{Accepted, DistributionChange, DistributionEvent, Retry, Target, TargetJob},
};

mod distribution_events;
mod distribution_targets;
mod distributions;
mod jobs;

use distribution_events::NewEvent;

/// Connections in the pool; SQLite runs one writer at a time whatever the number.
const MAX_CONNECTIONS: u32 = 8;

/// The migrations, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Jobs in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database `options` names and brings the schema up to
    /// date. `timeout` bounds waiting for a connection and for the write lock.
    pub async fn connect(options: SqliteConnectOptions, timeout: Duration) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(timeout)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(timeout)
            .connect_with(options)
            .await
            .map_err(StoreError::from_sqlx)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::from_migrate)?;
        info!(database = "sqlite", "job store ready");
        Ok(Self { pool })
    }

    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn one(&self, id: JobId, tenant: Option<&str>) -> Result<Job, StoreError> {
        jobs::one(&self.pool, id, tenant)
            .await
            .map_err(StoreError::from_sqlx)?
            .ok_or(StoreError::NotFound(id))
    }

    /// The answer to an insert that found the client token taken: the other insert has
    /// committed (writers are serialised), so its row is visible now.
    async fn earlier(&self, attempted: &Job, token: &str) -> Result<Created, StoreError> {
        let tenant = attempted.tenant();
        let region = &attempted.request().destination_region;
        let existing = jobs::by_token(&self.pool, tenant, region, token)
            .await
            .map_err(StoreError::from_sqlx)?;
        Created::earlier(existing, attempted)
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn create_job(&self, accepted: &Change) -> Result<Created, StoreError> {
        let job = accepted.job();
        let token = job.request().client_token.as_ref().map(ToString::to_string);
        let mut tx = self.write().await?;
        match (jobs::insert(&mut tx, job).await, token) {
            (Ok(Some(stored)), _) => {
                if let Some(detail) = accepted.event() {
                    jobs::insert_event(&mut tx, &JobEvent::of(&stored, detail))
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(Created::New(stored))
            }
            (Ok(None), Some(token)) => {
                drop(tx);
                self.earlier(job, &token).await
            }
            (Err(sqlx::Error::Database(db)), Some(token)) if db.is_unique_violation() => {
                drop(tx);
                self.earlier(job, &token).await
            }
            (Ok(None), None) => Err(StoreError::Internal(
                "insert of a job without token returned no row".into(),
            )),
            (Err(error), _) => Err(StoreError::from_sqlx(error)),
        }
    }

    async fn get_tenant_job(&self, tenant: &str, id: JobId) -> Result<Job, StoreError> {
        self.one(id, Some(tenant)).await
    }

    async fn get_job_any_tenant(&self, id: JobId) -> Result<Job, StoreError> {
        self.one(id, None).await
    }

    async fn list_jobs(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let page_size = query.page_size.max(1);
        let jobs = jobs::list(&self.pool, query, page_size)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(JobPage::from_rows(jobs, page_size))
    }

    async fn update_job(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        let now = Utc::now();
        let mut tx = self.write().await?;
        // A target's job: its state before the change is what its distribution's counts move
        // from (the write transaction is exclusive, so it cannot change meanwhile).
        let previous = match job.distribution_id() {
            Some(_) => match jobs::state_at_version(&mut tx, job)
                .await
                .map_err(StoreError::from_sqlx)?
            {
                Some(state) => Some(state),
                None => {
                    drop(tx);
                    self.one(job.id(), None).await?;
                    return Err(StoreError::Conflict(job.id()));
                }
            },
            None => None,
        };
        let updated = jobs::update(&mut tx, job, detail.is_some(), now)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(stored) = updated else {
            drop(tx);
            self.one(job.id(), None).await?;
            return Err(StoreError::Conflict(job.id()));
        };
        let event = detail.map(|detail| JobEvent::of(&stored, detail));
        if let Some(event) = &event {
            jobs::insert_event(&mut tx, event)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
        if let (Some(id), Some(from)) = (stored.distribution_id(), previous) {
            distributions::follow_target(&mut tx, id, from, &stored, event.as_ref(), now)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(stored)
    }

    async fn claim_jobs(&self, claim: &Claim) -> Result<Vec<Job>, StoreError> {
        if claim.limit == 0 || claim.states.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed = jobs::claim(&self.pool, claim).await.map_err(StoreError::from_sqlx)?;
        // RETURNING promises no order.
        claimed.sort_by_key(|job| (job.next_attempt_at(), job.id()));
        Ok(claimed)
    }

    async fn list_events(&self, id: JobId, after: u64, limit: u32) -> Result<Vec<JobEvent>, StoreError> {
        jobs::events(&self.pool, id, after, limit)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn newest_event_sequences(&self, jobs: &[JobId]) -> Result<Vec<(JobId, u64)>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        jobs::newest_event_sequences(&self.pool, jobs)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn defer_jobs(&self, deferrals: &[(JobId, DateTime<Utc>)], owner: &str) -> Result<u64, StoreError> {
        if deferrals.is_empty() {
            return Ok(0);
        }
        jobs::defer(&self.pool, deferrals, owner)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn count_jobs(
        &self,
        account: Option<&AccountId>,
        destination_region: &str,
        states: &[JobState],
    ) -> Result<u64, StoreError> {
        jobs::count(&self.pool, account, destination_region, states)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, StoreError> {
        jobs::count_by_state(&self.pool).await.map_err(StoreError::from_sqlx)
    }

    async fn count_in_progress(&self) -> Result<Vec<InProgressCount>, StoreError> {
        jobs::count_in_progress(&self.pool).await.map_err(StoreError::from_sqlx)
    }

    async fn delete_finished_jobs(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        jobs::delete_finished(&self.pool, before, limit)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        Ok(None)
    }
}

impl SqliteStore {
    async fn distribution(&self, id: DistributionId, tenant: Option<&str>) -> Result<Distribution, StoreError> {
        distributions::one(&self.pool, id, tenant)
            .await
            .map_err(StoreError::from_sqlx)?
            .ok_or(StoreError::DistributionNotFound(id))
    }

    /// The conflict (or absence) a write that matched no row ran into.
    async fn distribution_conflict(&self, id: DistributionId) -> StoreError {
        match self.distribution(id, None).await {
            Ok(_) => StoreError::DistributionConflict(id),
            Err(error) => error,
        }
    }
}

/// Records new jobs with their first events, one prepared statement per row.
async fn insert_jobs(
    tx: &mut sqlx::SqliteConnection,
    changes: impl Iterator<Item = &Change>,
) -> Result<Vec<JobEvent>, sqlx::Error> {
    let mut events = Vec::new();
    for change in changes {
        let job = change.job();
        jobs::insert(tx, job).await?.ok_or(sqlx::Error::RowNotFound)?;
        let event = JobEvent::of(job, change.event().unwrap_or_default());
        jobs::insert_event(tx, &event).await?;
        events.push(event);
    }
    Ok(events)
}

#[async_trait]
impl DistributionStore for SqliteStore {
    async fn create_distribution(&self, accepted: &Accepted) -> Result<CreatedDistribution, StoreError> {
        let attempted = &accepted.distribution;
        let mut tx = self.write().await?;
        let inserted = match distributions::insert(&mut tx, attempted).await {
            Ok(inserted) => inserted,
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => None,
            Err(error) => return Err(StoreError::from_sqlx(error)),
        };
        let Some(stored) = inserted else {
            drop(tx);
            let token = attempted.request().client_token.as_ref().map(ToString::to_string);
            let Some(token) = token else {
                return Err(StoreError::Internal(
                    "insert of a distribution without token returned no row".into(),
                ));
            };
            let existing = distributions::by_token(&self.pool, attempted.tenant(), &token)
                .await
                .map_err(StoreError::from_sqlx)?;
            return CreatedDistribution::earlier(existing, attempted);
        };
        let targets: Vec<&Target> = accepted.targets.iter().map(|t| &t.target).collect();
        let recorded: Result<(), sqlx::Error> = async {
            let job_events = insert_jobs(&mut tx, accepted.targets.iter().map(|t| &t.job)).await?;
            distribution_targets::upsert_targets(&mut tx, &targets).await?;
            let mut events = vec![NewEvent::State {
                sequence: 1,
                distribution: &stored,
                detail: &accepted.detail,
                at: stored.created_at(),
            }];
            events.extend(
                job_events
                    .iter()
                    .zip(2..)
                    .map(|(event, sequence)| NewEvent::Target { sequence, event }),
            );
            distribution_events::insert_events(&mut tx, stored.id(), &events).await
        }
        .await;
        recorded.map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(CreatedDistribution::New(stored))
    }

    async fn get_tenant_distribution(&self, tenant: &str, id: DistributionId) -> Result<Distribution, StoreError> {
        self.distribution(id, Some(tenant)).await
    }

    async fn get_distribution_any_tenant(&self, id: DistributionId) -> Result<Distribution, StoreError> {
        self.distribution(id, None).await
    }

    async fn distribution_targets(&self, id: DistributionId) -> Result<Vec<TargetJob>, StoreError> {
        distribution_targets::targets(&self.pool, id)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn list_distributions(&self, query: &DistributionQuery) -> Result<DistributionPage, StoreError> {
        let page_size = query.page_size.max(1);
        let rows = distributions::list(&self.pool, query, page_size)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(DistributionPage::from_rows(rows, page_size))
    }

    async fn list_distribution_events(
        &self,
        id: DistributionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<DistributionEvent>, StoreError> {
        distribution_events::events(&self.pool, id, after, limit)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn update_distribution(&self, change: &DistributionChange) -> Result<Distribution, StoreError> {
        let id = change.distribution().id();
        let mut tx = self.write().await?;
        let written = distributions::write_state(&mut tx, change, Some(change.distribution().version()))
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(written) = written else {
            drop(tx);
            return Err(self.distribution_conflict(id).await);
        };
        let event = NewEvent::State {
            sequence: written.last_sequence(),
            distribution: &written,
            detail: change.detail(),
            at: written.updated_at(),
        };
        distribution_events::insert_events(&mut tx, id, &[event])
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(written)
    }

    async fn retry_distribution(&self, retry: &Retry) -> Result<Distribution, StoreError> {
        let change = &retry.change;
        let id = change.distribution().id();
        let (failed, cancelled) = distributions::retried_counts(&retry.retried);
        let mut tx = self.write().await?;
        let written = distributions::write_retry(&mut tx, change, failed, cancelled)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(written) = written else {
            drop(tx);
            return Err(self.distribution_conflict(id).await);
        };
        let targets: Vec<&Target> = retry.retried.iter().map(|r| &r.target).collect();
        let recorded: Result<(), sqlx::Error> = async {
            let job_events = insert_jobs(&mut tx, retry.retried.iter().map(|r| &r.job)).await?;
            distribution_targets::upsert_targets(&mut tx, &targets).await?;
            let first = written.last_sequence() - job_events.len() as u64;
            let mut events = vec![NewEvent::State {
                sequence: first,
                distribution: &written,
                detail: change.detail(),
                at: written.updated_at(),
            }];
            events.extend(
                job_events
                    .iter()
                    .zip(first + 1..)
                    .map(|(event, sequence)| NewEvent::Target { sequence, event }),
            );
            distribution_events::insert_events(&mut tx, id, &events).await
        }
        .await;
        recorded.map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(written)
    }

    async fn mark_rolled_back(&self, target: &Target, detail: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let Some(marked) = distributions::mark_rolled_back(&mut tx, target)
            .await
            .map_err(StoreError::from_sqlx)?
        else {
            return Ok(false);
        };
        let event = NewEvent::State {
            sequence: marked.last_sequence(),
            distribution: &marked,
            detail,
            at: Utc::now(),
        };
        distribution_events::insert_events(&mut tx, marked.id(), &[event])
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(true)
    }

    async fn claim_distributions(&self, claim: &DistributionClaim) -> Result<Vec<Distribution>, StoreError> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let mut claimed = distributions::claim(&self.pool, claim)
            .await
            .map_err(StoreError::from_sqlx)?;
        claimed.sort_by_key(|d| (d.next_action_at(), d.id()));
        Ok(claimed)
    }

    async fn defer_distribution(
        &self,
        id: DistributionId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        distributions::defer(&self.pool, id, owner, until)
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn delete_finished_distributions(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        if limit == 0 {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let ids = distributions::finished(&mut tx, before, limit)
            .await
            .map_err(StoreError::from_sqlx)?;
        distribution_events::delete_of(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        distribution_targets::delete_of(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        jobs::delete_of_distributions(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        let deleted = distributions::delete(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(deleted)
    }
}
