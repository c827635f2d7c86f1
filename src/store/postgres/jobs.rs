//! The `jobs` and `job_events` tables on PostgreSQL: every statement the store runs on them,
//! with its binds, and the reading of their rows. Ids are native `uuid`s and times
//! `timestamptz`; state lists are bound as `text[]`.

use chrono::{DateTime, Utc};
use sqlx::{Column as _, ColumnIndex, FromRow, PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{
    domain::{AccountId, CopyRequest, Job, JobEvent, JobId, JobState, Region},
    store::{Claim, InProgressCount, ListQuery, StateCount},
};

mod batch;
mod row;

pub(super) use batch::{insert_events, insert_many, insert_many_returning, update_many};
pub(super) use row::{JobColumns, JobRow, jobs_of, read_rows};

/// Records a new job (its every column from `job`). With a client token that is taken
/// already, inserts nothing and returns `None`.
pub(super) async fn insert(tx: &mut PgConnection, job: &Job) -> Result<Option<Job>, sqlx::Error> {
    let request = job.request();
    let (destination_kind, destination_value) = request.destination.to_parts();
    sqlx::query_as::<_, JobRow>(
        "INSERT INTO jobs (
             client_token, source_image_id, source_region, destination_region, name, description,
             encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
             tag_specifications, snapshot_copy_completion_duration_minutes,
             id, tenant, request_hash, state, attempts, next_attempt_at, lease_owner, lease_expires_at,
             created_at, updated_at, version, last_event_sequence,
             destination_account_id, launch_permissions, snapshot_user_ids, deprecate_at,
             snapshot_ids, steps_done, step_failures, copying_since, distribution_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                 $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,
                 $26, $27, $28, $29, $30, $31, $32, $33, $34)
         ON CONFLICT (tenant, destination_region, client_token) WHERE client_token IS NOT NULL DO NOTHING
         RETURNING *",
    )
    .bind(request.client_token.as_ref().map(ToString::to_string))
    .bind(request.source_image_id.as_str())
    .bind(request.source_region.as_str())
    .bind(request.destination_region.as_str())
    .bind(request.name.as_str())
    .bind(&request.description)
    .bind(request.encrypted)
    .bind(request.kms_key_id.as_ref().map(ToString::to_string))
    .bind(destination_kind)
    .bind(destination_value)
    .bind(request.copy_image_tags)
    .bind(tag_specifications(request)?)
    .bind(request.snapshot_copy_completion_duration_minutes.map(i64::from))
    .bind(job.id().as_uuid())
    .bind(job.tenant())
    .bind(job.request_hash())
    .bind(job.state().as_str())
    .bind(i64::from(job.attempts()))
    .bind(micros(job.next_attempt_at()))
    .bind(job.lease_owner())
    .bind(job.lease_expires_at().map(micros))
    .bind(micros(job.created_at()))
    .bind(micros(job.updated_at()))
    .bind(job.version())
    .bind(sequence(job.last_event_sequence()))
    .bind(request.destination_account.as_ref().map(ToString::to_string))
    .bind(json(&request.launch_permissions)?)
    .bind(json(&request.snapshot_user_ids)?)
    .bind(request.deprecate_at.map(micros))
    .bind(json(job.snapshot_ids())?)
    .bind(i64::from(job.steps_done().bits()))
    .bind(i64::from(job.step_failures()))
    .bind(job.copying_since().map(micros))
    .bind(job.distribution_id().map(|id| id.as_uuid()))
    .fetch_optional(&mut *tx)
    .await
    .map(|row| row.map(|JobRow(job)| job))
}

/// The state of a job still at `job.version()`, its row locked until the transaction ends:
/// what a distribution's counts move from. `None` when the version moved on (or there is no
/// such job).
pub(super) async fn lock_state(tx: &mut PgConnection, job: &Job) -> Result<Option<JobState>, sqlx::Error> {
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1 AND version = $2 FOR UPDATE")
        .bind(job.id().as_uuid())
        .bind(job.version())
        .fetch_optional(&mut *tx)
        .await?;
    state
        .map(|state| state.parse().map_err(|e| corrupt("state", e)))
        .transpose()
}

/// The job a client token already belongs to.
pub(super) async fn by_token(pool: &PgPool, tenant: &str, region: &Region, token: &str) -> Result<Job, sqlx::Error> {
    sqlx::query_as::<_, JobRow>(
        "SELECT * FROM jobs WHERE tenant = $1 AND destination_region = $2 AND client_token = $3",
    )
    .bind(tenant)
    .bind(region.as_str())
    .bind(token)
    .fetch_one(pool)
    .await
    .map(|JobRow(job)| job)
}

/// One job by id, of `tenant` when one is given.
pub(super) async fn one(pool: &PgPool, id: JobId, tenant: Option<&str>) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)")
        .bind(id.as_uuid())
        .bind(tenant)
        .fetch_optional(pool)
        .await
        .map(|row| row.map(|JobRow(job)| job))
}

/// The jobs of `ids` that exist, in no particular order.
pub(super) async fn many(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<Job>, sqlx::Error> {
    let rows = sqlx::query("SELECT * FROM jobs WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(pool)
        .await?;
    jobs_of(&rows)
}

/// Up to `page_size + 1` jobs of the query, newest first.
pub(super) async fn list(pool: &PgPool, query: &ListQuery, page_size: u32) -> Result<Vec<Job>, sqlx::Error> {
    let rows = sqlx::query(
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
    .bind(query.page_token.map(|t| t.id))
    .bind(i64::from(page_size) + 1)
    .fetch_all(pool)
    .await?;
    jobs_of(&rows)
}

/// Writes `job`'s mutable columns if the stored version is still `job.version()`; `None` when it
/// is not (or there is no such job). `with_event` makes room for one more event.
pub(super) async fn update(
    tx: &mut PgConnection,
    job: &Job,
    with_event: bool,
    now: DateTime<Utc>,
) -> Result<Option<Job>, sqlx::Error> {
    let failure = job.failure();
    sqlx::query_as::<_, JobRow>(
        "UPDATE jobs SET
             state = $3, image_id = $4, failure_code = $5, failure_message = $6, progress_percent = $7,
             attempts = $8, next_attempt_at = $9, lease_owner = $10, lease_expires_at = $11,
             updated_at = $12, version = version + 1, last_event_sequence = last_event_sequence + $13,
             snapshot_ids = $14, steps_done = $15, step_failures = $16, copying_since = $17
         WHERE id = $1 AND version = $2
         RETURNING *",
    )
    .bind(job.id().as_uuid())
    .bind(job.version())
    .bind(job.state().as_str())
    .bind(job.image_id())
    .bind(failure.map(|f| f.code.as_str()))
    .bind(failure.map(|f| f.message.as_str()))
    .bind(job.progress_percent().map(i64::from))
    .bind(i64::from(job.attempts()))
    .bind(micros(job.next_attempt_at()))
    .bind(job.lease_owner())
    .bind(job.lease_expires_at().map(micros))
    .bind(micros(now))
    .bind(i64::from(with_event))
    .bind(json(job.snapshot_ids())?)
    .bind(i64::from(job.steps_done().bits()))
    .bind(i64::from(job.step_failures()))
    .bind(job.copying_since().map(micros))
    .fetch_optional(&mut *tx)
    .await
    .map(|row| row.map(|JobRow(job)| job))
}

/// Leases up to `claim.limit` due, free jobs (rows other replicas hold locked are skipped).
pub(super) async fn claim(pool: &PgPool, claim: &Claim) -> Result<Vec<Job>, sqlx::Error> {
    let rows = sqlx::query(
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
    .bind(micros(claim.lease_until))
    .bind(state_names(&claim.states))
    .bind(micros(claim.now))
    .bind(i64::from(claim.limit))
    .fetch_all(pool)
    .await?;
    jobs_of(&rows)
}

/// Puts off each job `owner` holds until its own time and releases them.
pub(super) async fn defer(
    pool: &PgPool,
    deferrals: &[(JobId, DateTime<Utc>)],
    owner: &str,
) -> Result<u64, sqlx::Error> {
    let ids: Vec<Uuid> = deferrals.iter().map(|(id, _)| id.as_uuid()).collect();
    let times: Vec<DateTime<Utc>> = deferrals.iter().map(|(_, until)| micros(*until)).collect();
    let done = sqlx::query(
        "UPDATE jobs SET next_attempt_at = deferral.until, lease_owner = NULL, lease_expires_at = NULL,
             version = version + 1
         FROM unnest($1::uuid[], $2::timestamptz[]) AS deferral (id, until)
         WHERE jobs.id = deferral.id AND jobs.lease_owner = $3",
    )
    .bind(ids)
    .bind(times)
    .bind(owner)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` finished jobs of no distribution that last changed before `before`,
/// oldest first (their events go with them: `ON DELETE CASCADE`). Rows another transaction
/// holds are skipped, so a replica running the same purge never waits on this one. The states
/// are written out as in the partial index `jobs_finished_updated`, so the planner can use it.
pub(super) async fn delete_finished(pool: &PgPool, before: DateTime<Utc>, limit: u32) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs
             WHERE distribution_id IS NULL AND state IN ('available', 'failed', 'cancelled') AND updated_at < $1
             ORDER BY updated_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED)",
    )
    .bind(micros(before))
    .bind(i64::from(limit))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes the jobs of the distributions `ids`, with their events (part of deleting the
/// distributions: see `distributions::delete_finished`).
pub(super) async fn delete_of_distributions(tx: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM jobs WHERE distribution_id = ANY($1)")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}

/// Jobs into `destination_region` of `account` (`None`: the service's own) in one of `states`.
pub(super) async fn count(
    pool: &PgPool,
    account: Option<&AccountId>,
    destination_region: &str,
    states: &[JobState],
) -> Result<u64, sqlx::Error> {
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs
         WHERE destination_account_id IS NOT DISTINCT FROM $3 AND destination_region = $1 AND state = ANY($2)",
    )
    .bind(destination_region)
    .bind(state_names(states))
    .bind(account.map(AccountId::as_str))
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(count).unwrap_or_default())
}

/// Copies in progress per destination account and Region (the state literals match
/// `jobs_state_due`'s leading column, so only active rows are read).
pub(super) async fn count_in_progress(pool: &PgPool) -> Result<Vec<InProgressCount>, sqlx::Error> {
    let rows: Vec<(Option<String>, String, i64)> = sqlx::query_as(
        "SELECT destination_account_id, destination_region, count(*) FROM jobs
         WHERE state IN ('copying', 'cancelling')
         GROUP BY destination_account_id, destination_region",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(account, destination_region, count)| {
            Ok(InProgressCount {
                account: account
                    .map(AccountId::try_from)
                    .transpose()
                    .map_err(|e| corrupt("destination_account_id", e))?,
                destination_region: Region::try_from(destination_region)
                    .map_err(|e| corrupt("destination_region", e))?,
                count: u64::try_from(count).unwrap_or_default(),
            })
        })
        .collect()
}

/// Jobs per state and destination Region.
pub(super) async fn count_by_state(pool: &PgPool) -> Result<Vec<StateCount>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT state, destination_region, count(*) FROM jobs GROUP BY state, destination_region")
            .fetch_all(pool)
            .await?;
    rows.into_iter()
        .map(|(state, destination_region, count)| {
            Ok(StateCount {
                state: state.parse().map_err(|e| corrupt("state", e))?,
                destination_region,
                count: u64::try_from(count).unwrap_or_default(),
            })
        })
        .collect()
}

/// Appends an event.
pub(super) async fn insert_event(tx: &mut PgConnection, event: &JobEvent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(event.job_id.as_uuid())
    .bind(sequence(event.sequence))
    .bind(event.state.as_str())
    .bind(&event.image_id)
    .bind(event.progress_percent.map(i64::from))
    .bind(&event.failure_code)
    .bind(&event.detail)
    .bind(micros(event.created_at))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A job's events after sequence `after`, in order, at most `limit`.
pub(super) async fn events(pool: &PgPool, id: JobId, after: u64, limit: u32) -> Result<Vec<JobEvent>, sqlx::Error> {
    let rows = sqlx::query_as::<_, EventRow>(
        "SELECT * FROM job_events WHERE job_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
    )
    .bind(id.as_uuid())
    .bind(sequence(after))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|EventRow(event)| event).collect())
}

/// The newest event sequence of each named job that has events: one backward probe of
/// `job_events`' key per job.
pub(super) async fn newest_event_sequences(pool: &PgPool, jobs: &[JobId]) -> Result<Vec<(JobId, u64)>, sqlx::Error> {
    let ids: Vec<Uuid> = jobs.iter().map(JobId::as_uuid).collect();
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT watched.id, newest.sequence
         FROM unnest($1::uuid[]) AS watched (id)
         CROSS JOIN LATERAL (SELECT sequence FROM job_events
                             WHERE job_id = watched.id ORDER BY sequence DESC LIMIT 1) AS newest",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, sequence)| (JobId::from(id), u64::try_from(sequence).unwrap_or_default()))
        .collect())
}

/// `time` cut to the microseconds PostgreSQL keeps (it would round them), so what is written
/// equals what is read back.
pub(super) fn micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

fn state_names(states: &[JobState]) -> Vec<&'static str> {
    states.iter().map(|state| state.as_str()).collect()
}

pub(super) fn sequence(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn tag_specifications(request: &CopyRequest) -> Result<String, sqlx::Error> {
    json(&request.tag_specifications)
}

/// A value stored as JSON text.
pub(super) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// A column of a row, by name or by position, that can name itself when its value is corrupt.
pub(super) trait ColumnRef: ColumnIndex<PgRow> + Copy {
    /// The column's name in `row`.
    fn label(self, row: &PgRow) -> String;
}

impl ColumnRef for &str {
    fn label(self, _: &PgRow) -> String {
        self.to_owned()
    }
}

impl ColumnRef for usize {
    fn label(self, row: &PgRow) -> String {
        row.columns()
            .get(self)
            .map_or_else(|| format!("column {self}"), |column| column.name().to_owned())
    }
}

/// A value read back from JSON text.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(row: &PgRow, column: impl ColumnRef) -> Result<T, sqlx::Error> {
    serde_json::from_str(row.try_get(column)?).map_err(|e| corrupt(&column.label(row), e))
}

pub(super) fn corrupt(column: &str, why: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("stored value {why}").into(),
    }
}

/// A text column turned into the domain type that checks it.
pub(super) fn parsed<T: TryFrom<String, Error = String>>(
    row: &PgRow,
    column: impl ColumnRef,
) -> Result<T, sqlx::Error> {
    T::try_from(row.try_get::<String, _>(column)?).map_err(|e| corrupt(&column.label(row), e))
}

/// An optional text column turned into the domain type that checks it.
pub(super) fn opt_parsed<T: TryFrom<String, Error = String>>(
    row: &PgRow,
    column: impl ColumnRef,
) -> Result<Option<T>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)?
        .map(T::try_from)
        .transpose()
        .map_err(|e| corrupt(&column.label(row), e))
}

pub(super) fn narrow<T: TryFrom<i64>>(row: &PgRow, column: impl ColumnRef) -> Result<T, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    T::try_from(value).map_err(|_| corrupt(&column.label(row), format!("{value} is out of range")))
}

pub(super) fn opt_narrow<T: TryFrom<i64>>(row: &PgRow, column: impl ColumnRef) -> Result<Option<T>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|value| T::try_from(value).map_err(|_| corrupt(&column.label(row), format!("{value} is out of range"))))
        .transpose()
}

/// An event read with `SELECT *`.
pub(super) struct EventRow(pub(super) JobEvent);

impl FromRow<'_, PgRow> for EventRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self(JobEvent {
            job_id: row.try_get::<Uuid, _>("job_id")?.into(),
            sequence: narrow(row, "sequence")?,
            state: row
                .try_get::<String, _>("state")?
                .parse()
                .map_err(|e| corrupt("state", e))?,
            image_id: row.try_get("image_id")?,
            progress_percent: opt_narrow(row, "progress_percent")?,
            failure_code: row.try_get("failure_code")?,
            detail: row.try_get("detail")?,
            created_at: row.try_get("created_at")?,
        }))
    }
}
