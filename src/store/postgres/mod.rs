//! [`JobStore`] on PostgreSQL: the production store, shared by several replicas. Claims use
//! `FOR UPDATE SKIP LOCKED`; every appended event is announced with `pg_notify` right after its
//! commit (see `announce.rs`), so watchers on other replicas wake at once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::{
    Connection, PgPool,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};
use tracing::{info, warn};

use super::{
    ChangeFeed, Claim, Created, CreatedDistribution, DistributionClaim, DistributionPage, DistributionQuery,
    DistributionStore, InProgressCount, JobPage, JobStore, ListQuery, StateCount, StoreError,
};
use crate::domain::{
    AccountId, Change, Distribution, DistributionId, Job, JobEvent, JobId, JobState,
    distribution::{Accepted, DistributionChange, DistributionEvent, Retry, Target, TargetJob},
};

mod announce;
mod distribution_events;
mod distribution_targets;
mod distributions;
mod group_commit;
mod jobs;

use distribution_events::NewEvent;

use announce::{Announcer, CHANNEL};
use group_commit::GroupCommit;

/// Connections per replica (one more is held by the change feed).
const MAX_CONNECTIONS: u32 = 16;

/// How long a pooled connection may sit idle before it is checked with a round trip on its way
/// out of the pool. sqlx checks every connection on its way back in already (and drops a broken
/// one there); checking again on every acquire, its default, doubled the round trips of a
/// one-query call like GetCopyJob. Only a connection idle this long can have lost its server
/// unnoticed (a restart, an idle-session timeout), so only such a connection is checked.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// The migrations, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Jobs in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    announcer: Announcer,
    /// Where new jobs go to share commits; `None` in the workers that make those commits.
    group_commit: Option<GroupCommit>,
}

impl PgStore {
    /// Connects (failing within `timeout` when the server cannot be reached) and brings the
    /// schema up to date. The migrator holds an advisory lock, so replicas starting together
    /// migrate one after the other.
    pub async fn connect(options: PgConnectOptions, timeout: Duration) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(timeout)
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options.application_name("amicopyd"))
            .await
            .map_err(StoreError::from_sqlx)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::from_migrate)?;
        info!(database = "postgres", "job store ready");
        let announcer = Announcer::start(pool.clone());
        let mut store = Self {
            pool,
            announcer,
            group_commit: None,
        };
        store.group_commit = Some(GroupCommit::start(&store));
        Ok(store)
    }

    /// The same store writing each new job in its own commit: what the group commit's workers
    /// write through.
    fn without_group_commit(&self) -> Self {
        Self {
            group_commit: None,
            ..self.clone()
        }
    }

    /// The job `id` (of `tenant`, when one is given), in a query shared with concurrent reads.
    async fn read(&self, id: JobId, tenant: Option<&str>) -> Result<Job, StoreError> {
        match &self.group_commit {
            Some(group_commit) => group_commit.get(id, tenant).await,
            None => self.one(id, tenant).await,
        }
    }

    /// The job `id` (of `tenant`, when one is given), in a query of its own.
    async fn one(&self, id: JobId, tenant: Option<&str>) -> Result<Job, StoreError> {
        jobs::one(&self.pool, id, tenant)
            .await
            .map_err(StoreError::from_sqlx)?
            .ok_or(StoreError::NotFound(id))
    }

    /// The answer to an insert that found the client token taken: the other insert has
    /// committed (ON CONFLICT waited for it), so its row is visible now.
    async fn earlier(&self, attempted: &Job, token: &str) -> Result<Created, StoreError> {
        let tenant = attempted.tenant();
        let region = &attempted.request().destination_region;
        let existing = jobs::by_token(&self.pool, tenant, region, token)
            .await
            .map_err(StoreError::from_sqlx)?;
        Created::earlier(existing, attempted)
    }

    /// Writes one change of a job, with its event and its distribution's counts, in a
    /// transaction of its own.
    async fn update_one(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        // A target's job: its state before the change, its row locked, is what its
        // distribution's counts move from.
        let previous = match job.distribution_id() {
            Some(_) => match jobs::lock_state(&mut tx, job).await.map_err(StoreError::from_sqlx)? {
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
        let distribution = match (stored.distribution_id(), previous) {
            (Some(id), Some(from)) => distributions::follow_target(&mut tx, id, from, &stored, event.as_ref(), now)
                .await
                .map_err(StoreError::from_sqlx)?
                .map(|sequence| (id, sequence)),
            _ => None,
        };
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        if detail.is_some() {
            self.announcer.announce(stored.id(), stored.last_event_sequence());
        }
        if let Some((id, sequence)) = distribution {
            self.announcer.announce_distribution(id, sequence);
        }
        Ok(stored)
    }

    /// Records one new job and its first event in a transaction of their own.
    async fn create_one(&self, accepted: &Change) -> Result<Created, StoreError> {
        let job = accepted.job();
        let token = job.request().client_token.as_ref().map(ToString::to_string);
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        match (jobs::insert(&mut tx, job).await, token) {
            (Ok(Some(stored)), _) => {
                if let Some(detail) = accepted.event() {
                    jobs::insert_event(&mut tx, &JobEvent::of(&stored, detail))
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                self.announcer.announce(stored.id(), stored.last_event_sequence());
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
}

#[async_trait]
impl JobStore for PgStore {
    async fn create_job(&self, accepted: &Change) -> Result<Created, StoreError> {
        match &self.group_commit {
            Some(group_commit) => group_commit.create(accepted).await,
            None => self.create_one(accepted).await,
        }
    }

    async fn get_tenant_job(&self, tenant: &str, id: JobId) -> Result<Job, StoreError> {
        self.read(id, Some(tenant)).await
    }

    async fn get_job_any_tenant(&self, id: JobId) -> Result<Job, StoreError> {
        self.read(id, None).await
    }

    async fn list_jobs(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let page_size = query.page_size.max(1);
        let jobs = jobs::list(&self.pool, query, page_size)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(JobPage::from_rows(jobs, page_size))
    }

    async fn update_job(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        match (&self.group_commit, job.distribution_id()) {
            (Some(group_commit), None) => group_commit.update(job, detail).await,
            _ => self.update_one(job, detail).await,
        }
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
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        listener.listen(CHANNEL).await.map_err(StoreError::from_sqlx)?;
        let feed = listener.into_stream().filter_map(|notification| async move {
            match notification {
                Ok(notification) => {
                    let parsed = announce::parse(notification.payload());
                    if parsed.is_none() {
                        warn!(
                            payload = notification.payload(),
                            "ignoring a malformed change notification"
                        );
                    }
                    parsed.map(Ok)
                }
                Err(error) => Some(Err(StoreError::from_sqlx(error))),
            }
        });
        Ok(Some(feed.boxed()))
    }
}

impl PgStore {
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

#[async_trait]
impl DistributionStore for PgStore {
    async fn create_distribution(&self, accepted: &Accepted) -> Result<CreatedDistribution, StoreError> {
        let attempted = &accepted.distribution;
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
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
        let jobs: Vec<&Job> = accepted.targets.iter().map(|t| t.job.job()).collect();
        let job_events: Vec<JobEvent> = accepted
            .targets
            .iter()
            .map(|t| JobEvent::of(t.job.job(), t.job.event().unwrap_or_default()))
            .collect();
        let targets: Vec<&Target> = accepted.targets.iter().map(|t| &t.target).collect();
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
        let written: Result<(), sqlx::Error> = async {
            jobs::insert_many(&mut tx, &jobs).await?;
            jobs::insert_events(&mut tx, &job_events).await?;
            distribution_targets::upsert_targets(&mut tx, &targets).await?;
            distribution_events::insert_events(&mut tx, stored.id(), &events).await
        }
        .await;
        written.map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        self.announcer
            .announce_distribution(stored.id(), stored.last_sequence());
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
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
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
        self.announcer.announce_distribution(id, written.last_sequence());
        Ok(written)
    }

    async fn retry_distribution(&self, retry: &Retry) -> Result<Distribution, StoreError> {
        let change = &retry.change;
        let id = change.distribution().id();
        let (failed, cancelled) = distributions::retried_counts(&retry.retried);
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        let written = distributions::write_retry(&mut tx, change, failed, cancelled)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(written) = written else {
            drop(tx);
            return Err(self.distribution_conflict(id).await);
        };
        let jobs: Vec<&Job> = retry.retried.iter().map(|r| r.job.job()).collect();
        let job_events: Vec<JobEvent> = retry
            .retried
            .iter()
            .map(|r| JobEvent::of(r.job.job(), r.job.event().unwrap_or_default()))
            .collect();
        let targets: Vec<&Target> = retry.retried.iter().map(|r| &r.target).collect();
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
        let recorded: Result<(), sqlx::Error> = async {
            jobs::insert_many(&mut tx, &jobs).await?;
            jobs::insert_events(&mut tx, &job_events).await?;
            distribution_targets::upsert_targets(&mut tx, &targets).await?;
            distribution_events::insert_events(&mut tx, id, &events).await
        }
        .await;
        recorded.map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        self.announcer.announce_distribution(id, written.last_sequence());
        Ok(written)
    }

    async fn mark_rolled_back(&self, target: &Target, detail: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
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
        self.announcer
            .announce_distribution(marked.id(), marked.last_sequence());
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
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        let ids = distributions::lock_finished(&mut tx, before, limit)
            .await
            .map_err(StoreError::from_sqlx)?;
        if ids.is_empty() {
            return Ok(0);
        }
        distribution_events::delete_of(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        distribution_targets::delete_of(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        jobs::delete_of_distributions(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        distributions::delete(&mut tx, &ids)
            .await
            .map_err(StoreError::from_sqlx)?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(u64::try_from(ids.len()).unwrap_or(u64::MAX))
    }
}
