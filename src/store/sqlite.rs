//! [`JobStore`] on a SQLite file: the embedded default for a single process. WAL mode lets
//! readers run beside the one writer; every write transaction starts with `BEGIN IMMEDIATE` so
//! writers queue on the busy timeout instead of failing when they upgrade a read snapshot.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{
    SqliteConnection, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};
use tracing::info;

use super::{
    ChangeFeed, Claim, Created, JobPage, JobStore, ListQuery, NewJob, StateCount, StoreError,
    rows::{self, ChangeColumns, EventRecord, JobRecord, RequestColumns, micros},
    sql,
};
use crate::domain::{Job, JobEvent, JobId, JobState};

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
        info!(engine = "sqlite", "job store ready");
        Ok(Self { pool })
    }

    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::from_sqlx)
    }

    async fn one(&self, query: &'static str, id: JobId, tenant: Option<&str>) -> Result<Job, StoreError> {
        let mut select = sqlx::query_as::<_, JobRecord>(query).bind(id.to_string());
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

/// States as a JSON array, read in SQL with `json_each`.
fn state_names(states: &[JobState]) -> String {
    let names: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
    serde_json::Value::from(names).to_string()
}

async fn insert_event(tx: &mut SqliteConnection, event: &JobEvent) -> Result<(), StoreError> {
    sqlx::query(sql::INSERT_EVENT)
        .bind(event.job_id.to_string())
        .bind(event.sequence as i64)
        .bind(event.state.as_str())
        .bind(&event.image_id)
        .bind(event.progress_percent.map(i64::from))
        .bind(&event.failure_code)
        .bind(&event.detail)
        .bind(micros(event.created_at))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn create_job(&self, new: NewJob) -> Result<Created, StoreError> {
        let (lease_owner, lease_expires_at) = new.lease.clone().unzip();
        let mut tx = self.write().await?;
        let inserted = RequestColumns::of(&new.request)?
            .bind(sqlx::query_as::<_, JobRecord>(sql::INSERT_JOB))
            .bind(new.id.to_string())
            .bind(&new.tenant)
            .bind(new.request.fingerprint())
            .bind(micros(new.now))
            .bind(lease_owner)
            .bind(lease_expires_at.map(micros))
            .fetch_optional(&mut *tx)
            .await;
        let token = new.request.client_token.as_ref().map(|t| t.as_str().to_owned());
        match (inserted, token) {
            (Ok(Some(JobRecord(job))), _) => {
                insert_event(&mut tx, &rows::first_event(&job)).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(Created::New(job))
            }
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
               AND (json_array_length($2) = 0 OR state IN (SELECT value FROM json_each($2)))
               AND ($3 IS NULL OR source_region = $3)
               AND ($4 IS NULL OR destination_region = $4)
               AND ($5 IS NULL OR (created_at, id) < ($5, $6))
             ORDER BY created_at DESC, id DESC
             LIMIT $7",
        )
        .bind(&query.tenant)
        .bind(state_names(&query.states))
        .bind(&query.source_region)
        .bind(&query.destination_region)
        .bind(query.page_token.map(|t| micros(t.created_at)))
        .bind(query.page_token.map(|t| t.id.to_string()))
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
        let mut tx = self.write().await?;
        let updated = ChangeColumns::of(job, detail)
            .bind(
                sqlx::query_as::<_, JobRecord>(sql::UPDATE_JOB)
                    .bind(job.id.to_string())
                    .bind(job.version)
                    .bind(micros(job.next_attempt_at))
                    .bind(job.lease_expires_at.map(micros))
                    .bind(micros(rows::now())),
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
        Ok(stored)
    }

    async fn claim_jobs(&self, claim: &Claim) -> Result<Vec<Job>, StoreError> {
        if claim.limit == 0 || claim.states.is_empty() {
            return Ok(Vec::new());
        }
        // One statement: SQLite takes the write lock before it reads, so two claimants are
        // serialised and the second never sees the first one's jobs as free.
        let claimed = sqlx::query_as::<_, JobRecord>(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, version = version + 1
             WHERE id IN (
                 SELECT id FROM jobs
                 WHERE state IN (SELECT value FROM json_each($3)) AND next_attempt_at <= $4
                   AND (lease_owner IS NULL OR lease_expires_at IS NULL
                        OR lease_expires_at <= $4 OR lease_owner = $1)
                 ORDER BY next_attempt_at, id
                 LIMIT $5)
             RETURNING *",
        )
        .bind(&claim.owner)
        .bind(micros(claim.lease_until))
        .bind(state_names(&claim.states))
        .bind(micros(claim.now))
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
            .bind(id.to_string())
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
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let done = sqlx::query(
            "UPDATE jobs SET next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL,
                 version = version + 1
             WHERE id IN (SELECT value FROM json_each($1)) AND lease_owner = $2",
        )
        .bind(serde_json::Value::from(ids).to_string())
        .bind(owner)
        .bind(micros(until))
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn count_jobs(&self, destination_region: &str, states: &[JobState]) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs
             WHERE destination_region = $1 AND state IN (SELECT value FROM json_each($2))",
        )
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
        Ok(None)
    }
}
