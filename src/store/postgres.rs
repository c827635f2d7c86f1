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

use super::{
    ChangeFeed, Claim, Created, JobPage, JobStore, ListQuery, NewJob, StateCount, StoreError,
    announce::{Announcer, CHANNEL},
    rows::{self, ChangeColumns, EventRecord, JobRecord, RequestColumns},
    sql,
};
use crate::domain::{Job, JobEvent, JobId, JobState};

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
        info!(engine = "postgres", "job store ready");
        let announcer = Announcer::start(pool.clone());
        Ok(Self { pool, announcer })
    }

    async fn one(&self, query: &'static str, id: JobId, tenant: Option<&str>) -> Result<Job, StoreError> {
        let mut select = sqlx::query_as::<_, JobRecord>(query).bind(id.as_uuid());
        if let Some(tenant) = tenant {
            select = select.bind(tenant);
        }
        match select.fetch_optional(&self.pool).await {
            Ok(Some(JobRecord(job))) => Ok(job),
            Ok(None) => Err(StoreError::NotFound(id)),
            Err(error) => Err(StoreError::from_sqlx(error)),
        }
    }

    async fn by_token(&self, new: &NewJob, token: &str) -> Result<Job, StoreError> {
        sqlx::query_as::<_, JobRecord>(sql::SELECT_BY_TOKEN)
            .bind(&new.tenant)
            .bind(new.request.destination_region.as_str())
            .bind(token)
            .fetch_one(&self.pool)
            .await
            .map(|JobRecord(job)| job)
            .map_err(StoreError::from_sqlx)
    }
}

fn state_names(states: &[JobState]) -> Vec<&'static str> {
    states.iter().map(|state| state.as_str()).collect()
}

async fn insert_event(tx: &mut sqlx::PgConnection, event: &JobEvent) -> Result<(), StoreError> {
    sqlx::query(sql::INSERT_EVENT)
        .bind(event.job_id.as_uuid())
        .bind(event.sequence as i64)
        .bind(event.state.as_str())
        .bind(&event.image_id)
        .bind(event.progress_percent.map(i64::from))
        .bind(&event.failure_code)
        .bind(&event.detail)
        .bind(event.created_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    Ok(())
}

#[async_trait]
impl JobStore for PgStore {
    async fn create_job(&self, new: NewJob) -> Result<Created, StoreError> {
        let (lease_owner, lease_expires_at) = new.lease.clone().unzip();
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        let inserted = RequestColumns::of(&new.request)?
            .bind(sqlx::query_as::<_, JobRecord>(sql::INSERT_JOB))
            .bind(new.id.as_uuid())
            .bind(&new.tenant)
            .bind(new.request.fingerprint())
            .bind(rows::truncate(new.now))
            .bind(lease_owner)
            .bind(lease_expires_at.map(rows::truncate))
            .fetch_optional(&mut *tx)
            .await;
        let token = new.request.client_token.as_ref().map(|t| t.as_str().to_owned());
        match (inserted, token) {
            (Ok(Some(JobRecord(job))), _) => {
                insert_event(&mut tx, &rows::first_event(&job)).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                self.announcer.announce(job.id, job.last_event_sequence);
                Ok(Created::New(job))
            }
            // ON CONFLICT waited for the other insert to commit, so its row is visible now.
            (Ok(None), Some(token)) => {
                drop(tx);
                rows::existing_or_mismatch(self.by_token(&new, &token).await?, &new)
            }
            (Err(sqlx::Error::Database(db)), Some(token)) if db.is_unique_violation() => {
                drop(tx);
                rows::existing_or_mismatch(self.by_token(&new, &token).await?, &new)
            }
            (Ok(None), None) => Err(StoreError::Internal(
                "insert of a job without token returned no row".into(),
            )),
            (Err(error), _) => Err(StoreError::from_sqlx(error)),
        }
    }

    async fn get_job(&self, tenant: &str, id: JobId) -> Result<Job, StoreError> {
        self.one(sql::SELECT_TENANT_JOB, id, Some(tenant)).await
    }

    async fn load_job(&self, id: JobId) -> Result<Job, StoreError> {
        self.one(sql::SELECT_JOB, id, None).await
    }

    async fn list_jobs(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        let page_size = query.page_size.max(1);
        let jobs = sqlx::query_as::<_, JobRecord>(
            "SELECT * FROM jobs
             WHERE tenant = $1
               AND (cardinality($2::text[]) = 0 OR state = ANY($2))
               AND ($3::text IS NULL OR source_region = $3)
               AND ($4::text IS NULL OR destination_region = $4)
               AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid))
             ORDER BY created_at DESC, id DESC
             LIMIT $7",
        )
        .bind(&query.tenant)
        .bind(state_names(&query.states))
        .bind(&query.source_region)
        .bind(&query.destination_region)
        .bind(query.page_token.map(|t| t.created_at))
        .bind(query.page_token.map(|t| t.id.as_uuid()))
        .bind(i64::from(page_size) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(rows::page(
            jobs.into_iter().map(|JobRecord(job)| job).collect(),
            page_size,
        ))
    }

    async fn update_job(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        let updated = ChangeColumns::of(job, detail)
            .bind(
                sqlx::query_as::<_, JobRecord>(sql::UPDATE_JOB)
                    .bind(job.id.as_uuid())
                    .bind(job.version)
                    .bind(rows::truncate(job.next_attempt_at))
                    .bind(job.lease_expires_at.map(rows::truncate))
                    .bind(rows::now()),
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?;
        let Some(JobRecord(stored)) = updated else {
            drop(tx);
            self.load_job(job.id).await?;
            return Err(StoreError::Conflict(job.id));
        };
        if let Some(detail) = detail {
            insert_event(&mut tx, &JobEvent::of(&stored, detail)).await?;
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        if detail.is_some() {
            self.announcer.announce(stored.id, stored.last_event_sequence);
        }
        Ok(stored)
    }

    async fn claim_jobs(&self, claim: &Claim) -> Result<Vec<Job>, StoreError> {
        if claim.limit == 0 || claim.states.is_empty() {
            return Ok(Vec::new());
        }
        let claimed = sqlx::query_as::<_, JobRecord>(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, version = version + 1
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE state = ANY($3) AND next_attempt_at <= $4
                   AND (lease_owner IS NULL OR lease_expires_at IS NULL
                        OR lease_expires_at <= $4 OR lease_owner = $1)
                 ORDER BY next_attempt_at, id
                 LIMIT $5
                 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(&claim.owner)
        .bind(rows::truncate(claim.lease_until))
        .bind(state_names(&claim.states))
        .bind(claim.now)
        .bind(i64::from(claim.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut jobs: Vec<Job> = claimed.into_iter().map(|JobRecord(job)| job).collect();
        rows::oldest_due_first(&mut jobs);
        Ok(jobs)
    }

    async fn list_events(&self, id: JobId, after: u64, limit: u32) -> Result<Vec<JobEvent>, StoreError> {
        let events = sqlx::query_as::<_, EventRecord>(sql::SELECT_EVENTS)
            .bind(id.as_uuid())
            .bind(i64::try_from(after).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(events.into_iter().map(|EventRecord(event)| event).collect())
    }

    async fn defer_jobs(&self, ids: &[JobId], owner: &str, until: DateTime<Utc>) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<uuid::Uuid> = ids.iter().map(JobId::as_uuid).collect();
        let done = sqlx::query(
            "UPDATE jobs SET next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL,
                 version = version + 1
             WHERE id = ANY($1) AND lease_owner = $2",
        )
        .bind(ids)
        .bind(owner)
        .bind(rows::truncate(until))
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn count_jobs(&self, destination_region: &str, states: &[JobState]) -> Result<u64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM jobs WHERE destination_region = $1 AND state = ANY($2)")
                .bind(destination_region)
                .bind(state_names(states))
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(sql::COUNT_BY_STATE)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        sql::state_counts(rows)
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
                    let parsed = rows::parse_notification(notification.payload());
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
