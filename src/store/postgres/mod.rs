//! [`JobStore`] on PostgreSQL: the production store, shared by several replicas. Claims use
//! `FOR UPDATE SKIP LOCKED`; every appended event is announced with `pg_notify` right after its
//! commit (see `announce.rs`), so watchers on other replicas wake at once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};
use tracing::{info, warn};

use super::{ChangeFeed, Claim, Created, JobPage, JobStore, ListQuery, StateCount, StoreError};
use crate::domain::{AccountId, Change, Job, JobEvent, JobId, JobState};

mod announce;
mod jobs;

use announce::{Announcer, CHANNEL};

/// Connections per replica (one more is held by the change feed).
const MAX_CONNECTIONS: u32 = 16;

/// The migrations, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Jobs in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    announcer: Announcer,
}

impl PgStore {
    /// Connects (failing within `timeout` when the server cannot be reached) and brings the
    /// schema up to date. The migrator holds an advisory lock, so replicas starting together
    /// migrate one after the other.
    pub async fn connect(options: PgConnectOptions, timeout: Duration) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(timeout)
            .connect_with(options.application_name("amicopyd"))
            .await
            .map_err(StoreError::from_sqlx)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::from_migrate)?;
        info!(database = "postgres", "job store ready");
        let announcer = Announcer::start(pool.clone());
        Ok(Self { pool, announcer })
    }

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
}

#[async_trait]
impl JobStore for PgStore {
    async fn create_job(&self, accepted: &Change) -> Result<Created, StoreError> {
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
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        let updated = jobs::update(&mut tx, job, detail.is_some(), Utc::now())
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(stored) = updated else {
            drop(tx);
            self.one(job.id(), None).await?;
            return Err(StoreError::Conflict(job.id()));
        };
        if let Some(detail) = detail {
            jobs::insert_event(&mut tx, &JobEvent::of(&stored, detail))
                .await
                .map_err(StoreError::from_sqlx)?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        if detail.is_some() {
            self.announcer.announce(stored.id(), stored.last_event_sequence());
        }
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
