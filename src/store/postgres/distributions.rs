//! The `distributions` table on PostgreSQL: every statement the store runs on it, with its binds,
//! and the reading of its rows. The counts follow the target jobs here ([`follow_target`]): the
//! row is locked by the update that moves them, which orders the distribution's events.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use super::{
    distribution_events::{self, NewEvent},
    distribution_targets,
    jobs::{corrupt, from_json, json, micros, narrow, sequence},
};
use crate::{
    domain::{
        Counts, Distribution, DistributionId, Job, JobEvent, JobState,
        distribution::{DistributionChange, RetriedTarget, StoredDistribution, Target, label},
    },
    store::{DistributionClaim, DistributionQuery},
};

/// Records a new distribution. With a client token that is taken already, inserts nothing and
/// returns `None`.
pub(super) async fn insert(
    tx: &mut PgConnection,
    distribution: &Distribution,
) -> Result<Option<Distribution>, sqlx::Error> {
    let d = distribution.to_stored();
    sqlx::query_as::<_, DistributionRow>(
        "INSERT INTO distributions (
             id, tenant, client_token, request_hash, request, failure_policy, state,
             count_queued, count_copying, count_finishing, count_available, count_failed,
             count_cancelling, count_cancelled, total, created_at, updated_at, last_sequence, version,
             next_action_at, lease_owner, lease_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                 $20, $21, $22)
         ON CONFLICT (tenant, client_token) WHERE client_token IS NOT NULL DO NOTHING
         RETURNING *",
    )
    .bind(d.id.as_uuid())
    .bind(&d.tenant)
    .bind(d.request.client_token.as_ref().map(ToString::to_string))
    .bind(&d.request_hash)
    .bind(json(&d.request)?)
    .bind(d.request.failure_policy.as_str())
    .bind(d.state.as_str())
    .bind(i64::from(d.counts.queued))
    .bind(i64::from(d.counts.copying))
    .bind(i64::from(d.counts.finishing))
    .bind(i64::from(d.counts.available))
    .bind(i64::from(d.counts.failed))
    .bind(i64::from(d.counts.cancelling))
    .bind(i64::from(d.counts.cancelled))
    .bind(i64::from(d.counts.total()))
    .bind(micros(d.created_at))
    .bind(micros(d.updated_at))
    .bind(sequence(d.last_sequence))
    .bind(d.version)
    .bind(d.next_action_at.map(micros))
    .bind(&d.lease_owner)
    .bind(d.lease_expires_at.map(micros))
    .fetch_optional(&mut *tx)
    .await
    .map(|row| row.map(|DistributionRow(d)| d))
}

/// The distribution a client token already belongs to.
pub(super) async fn by_token(pool: &PgPool, tenant: &str, token: &str) -> Result<Distribution, sqlx::Error> {
    sqlx::query_as::<_, DistributionRow>("SELECT * FROM distributions WHERE tenant = $1 AND client_token = $2")
        .bind(tenant)
        .bind(token)
        .fetch_one(pool)
        .await
        .map(|DistributionRow(d)| d)
}

/// One distribution by id, of `tenant` when one is given.
pub(super) async fn one(
    pool: &PgPool,
    id: DistributionId,
    tenant: Option<&str>,
) -> Result<Option<Distribution>, sqlx::Error> {
    sqlx::query_as::<_, DistributionRow>(
        "SELECT * FROM distributions WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)",
    )
    .bind(id.as_uuid())
    .bind(tenant)
    .fetch_optional(pool)
    .await
    .map(|row| row.map(|DistributionRow(d)| d))
}

/// Up to `page_size + 1` distributions of the query, newest first.
pub(super) async fn list(
    pool: &PgPool,
    query: &DistributionQuery,
    page_size: u32,
) -> Result<Vec<Distribution>, sqlx::Error> {
    let states: Vec<&str> = query.states.iter().map(|state| state.as_str()).collect();
    let rows = sqlx::query_as::<_, DistributionRow>(
        "SELECT * FROM distributions
         WHERE tenant = $1
           AND (cardinality($2::text[]) = 0 OR state = ANY($2))
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
         ORDER BY created_at DESC, id DESC
         LIMIT $5",
    )
    .bind(&query.tenant)
    .bind(states)
    .bind(query.page_token.map(|t| t.created_at))
    .bind(query.page_token.map(|t| t.id))
    .bind(i64::from(page_size) + 1)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|DistributionRow(d)| d).collect())
}

/// Follows one target's job from `from` to `job.state()` in its distribution: moves the
/// counts, appends a target event when the job appended one, and when the aggregate state
/// changes, writes it with a state event. Returns the distribution's newest sequence when
/// events were appended. The distribution's row stays locked until the transaction ends.
pub(super) async fn follow_target(
    tx: &mut PgConnection,
    id: DistributionId,
    from: JobState,
    job: &Job,
    event: Option<&JobEvent>,
    now: DateTime<Utc>,
) -> Result<Option<u64>, sqlx::Error> {
    let to = job.state();
    if from == to && event.is_none() {
        return Ok(None);
    }
    let Some(moved) = sqlx::query_as::<_, DistributionRow>(
        "UPDATE distributions SET
             count_queued = count_queued + (CASE WHEN $3 = 'queued' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'queued' THEN 1 ELSE 0 END),
             count_copying = count_copying + (CASE WHEN $3 = 'copying' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'copying' THEN 1 ELSE 0 END),
             count_finishing = count_finishing + (CASE WHEN $3 = 'finishing' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'finishing' THEN 1 ELSE 0 END),
             count_available = count_available + (CASE WHEN $3 = 'available' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'available' THEN 1 ELSE 0 END),
             count_failed = count_failed + (CASE WHEN $3 = 'failed' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'failed' THEN 1 ELSE 0 END),
             count_cancelling = count_cancelling + (CASE WHEN $3 = 'cancelling' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'cancelling' THEN 1 ELSE 0 END),
             count_cancelled = count_cancelled + (CASE WHEN $3 = 'cancelled' THEN 1 ELSE 0 END)
                 - (CASE WHEN $2 = 'cancelled' THEN 1 ELSE 0 END),
             last_sequence = last_sequence + $4
         WHERE id = $1
         RETURNING *",
    )
    .bind(id.as_uuid())
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(i64::from(event.is_some()))
    .fetch_optional(&mut *tx)
    .await?
    .map(|DistributionRow(d)| d) else {
        return Ok(None);
    };
    let mut events = Vec::new();
    if let Some(event) = event {
        events.push(NewEvent::Target {
            sequence: moved.last_sequence(),
            event,
        });
    }
    let target = label(
        job.request().destination_account.as_ref(),
        &job.request().destination_region,
    );
    let change = (from != to)
        .then(|| moved.after_target_moved(to, &target, now))
        .flatten();
    let written = match &change {
        Some(change) => Some(write_state(tx, change, None).await?.ok_or(sqlx::Error::RowNotFound)?),
        None => None,
    };
    if let (Some(change), Some(written)) = (&change, &written) {
        events.push(NewEvent::State {
            sequence: written.last_sequence(),
            distribution: written,
            detail: change.detail(),
            at: now,
        });
    }
    if !events.is_empty() {
        distribution_events::insert_events(tx, id, &events).await?;
    }
    Ok(Some(written.as_ref().unwrap_or(&moved).last_sequence()))
}

/// Writes a change of the aggregate state, making room for its state event (which the caller
/// appends with the returned distribution's `last_sequence`). With `expected_version`, only if
/// the stored version is still that; `None` when it is not.
pub(super) async fn write_state(
    tx: &mut PgConnection,
    change: &DistributionChange,
    expected_version: Option<i64>,
) -> Result<Option<Distribution>, sqlx::Error> {
    let d = change.distribution();
    sqlx::query_as::<_, DistributionRow>(
        "UPDATE distributions SET
             state = $3, updated_at = $4, next_action_at = $5, lease_owner = NULL, lease_expires_at = NULL,
             version = version + 1, last_sequence = last_sequence + 1
         WHERE id = $1 AND ($2::bigint IS NULL OR version = $2)
         RETURNING *",
    )
    .bind(d.id().as_uuid())
    .bind(expected_version)
    .bind(d.state().as_str())
    .bind(micros(d.updated_at()))
    .bind(d.next_action_at().map(micros))
    .fetch_optional(&mut *tx)
    .await
    .map(|row| row.map(|DistributionRow(d)| d))
}

/// Writes a retry's state change if the version is still the one it was computed from, moving
/// `failed` FAILED and `cancelled` CANCELLED targets to QUEUED and making room for its events:
/// the state event, then one target event per retried target.
pub(super) async fn write_retry(
    tx: &mut PgConnection,
    change: &DistributionChange,
    failed: u32,
    cancelled: u32,
) -> Result<Option<Distribution>, sqlx::Error> {
    let d = change.distribution();
    sqlx::query_as::<_, DistributionRow>(
        "UPDATE distributions SET
             state = $3, updated_at = $4, next_action_at = $5, lease_owner = NULL, lease_expires_at = NULL,
             version = version + 1,
             count_failed = count_failed - $6, count_cancelled = count_cancelled - $7,
             count_queued = count_queued + $6 + $7,
             last_sequence = last_sequence + 1 + $6 + $7
         WHERE id = $1 AND version = $2
         RETURNING *",
    )
    .bind(d.id().as_uuid())
    .bind(d.version())
    .bind(d.state().as_str())
    .bind(micros(d.updated_at()))
    .bind(d.next_action_at().map(micros))
    .bind(i64::from(failed))
    .bind(i64::from(cancelled))
    .fetch_optional(&mut *tx)
    .await
    .map(|row| row.map(|DistributionRow(d)| d))
}

/// Marks `target` rolled back if it is not yet, making room for one state event; `None` when
/// it was marked already. The distribution's row is locked first, as every writer does.
pub(super) async fn mark_rolled_back(
    tx: &mut PgConnection,
    target: &Target,
) -> Result<Option<Distribution>, sqlx::Error> {
    let marked = sqlx::query_as::<_, DistributionRow>(
        "UPDATE distributions SET last_sequence = last_sequence + 1
         WHERE id = $1 AND EXISTS (
             SELECT 1 FROM distribution_targets
             WHERE distribution_id = $1 AND position = $2 AND NOT rolled_back)
         RETURNING *",
    )
    .bind(target.distribution_id.as_uuid())
    .bind(i64::from(target.position))
    .fetch_optional(&mut *tx)
    .await?
    .map(|DistributionRow(d)| d);
    if marked.is_some() {
        distribution_targets::set_rolled_back(tx, target).await?;
    }
    Ok(marked)
}

/// Leases up to `claim.limit` due distributions (rows other replicas hold locked are skipped).
pub(super) async fn claim(pool: &PgPool, claim: &DistributionClaim) -> Result<Vec<Distribution>, sqlx::Error> {
    let rows = sqlx::query_as::<_, DistributionRow>(
        "UPDATE distributions SET lease_owner = $1, lease_expires_at = $2
         WHERE id IN (
             SELECT id FROM distributions
             WHERE next_action_at <= $3
               AND (lease_owner IS NULL OR lease_expires_at IS NULL
                    OR lease_expires_at <= $3 OR lease_owner = $1)
             ORDER BY next_action_at, id
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING *",
    )
    .bind(&claim.owner)
    .bind(micros(claim.lease_until))
    .bind(micros(claim.now))
    .bind(i64::from(claim.limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|DistributionRow(d)| d).collect())
}

/// Puts a distribution `owner` holds off until `until` and releases it.
pub(super) async fn defer(
    pool: &PgPool,
    id: DistributionId,
    owner: &str,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE distributions SET next_action_at = $3, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND lease_owner = $2 AND next_action_at IS NOT NULL",
    )
    .bind(id.as_uuid())
    .bind(owner)
    .bind(micros(until))
    .execute(pool)
    .await?;
    Ok(())
}

/// How many FAILED and CANCELLED targets a retry moves back to QUEUED.
pub(super) fn retried_counts(retried: &[RetriedTarget]) -> (u32, u32) {
    let count = |state| u32::try_from(retried.iter().filter(|r| r.replaced.1 == state).count()).unwrap_or(u32::MAX);
    (count(JobState::Failed), count(JobState::Cancelled))
}

/// A distribution read with `SELECT *` or `RETURNING *`; its request is checked again.
struct DistributionRow(Distribution);

impl FromRow<'_, PgRow> for DistributionRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let counts = Counts {
            queued: narrow(row, "count_queued")?,
            copying: narrow(row, "count_copying")?,
            finishing: narrow(row, "count_finishing")?,
            available: narrow(row, "count_available")?,
            failed: narrow(row, "count_failed")?,
            cancelling: narrow(row, "count_cancelling")?,
            cancelled: narrow(row, "count_cancelled")?,
        };
        Ok(Self(Distribution::restore(StoredDistribution {
            id: row.try_get::<Uuid, _>("id")?.into(),
            tenant: row.try_get("tenant")?,
            request: from_json(row, "request")?,
            request_hash: row.try_get("request_hash")?,
            state: row
                .try_get::<String, _>("state")?
                .parse()
                .map_err(|e| corrupt("state", e))?,
            counts,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            last_sequence: narrow(row, "last_sequence")?,
            version: row.try_get("version")?,
            next_action_at: row.try_get("next_action_at")?,
            lease_owner: row.try_get("lease_owner")?,
            lease_expires_at: row.try_get("lease_expires_at")?,
        })))
    }
}

/// Locks up to `limit` finished distributions that last changed before `before`, oldest first:
/// those with nothing left for the engine to do and no job still running. Rows another
/// transaction holds (a retry, a rollback asked for now) are skipped. The states are written out
/// as in the partial index `distributions_finished_updated`, so the planner can use it.
pub(super) async fn lock_finished(
    tx: &mut PgConnection,
    before: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM distributions d
         WHERE state IN ('succeeded', 'partially_succeeded', 'failed', 'cancelled', 'rolled_back')
           AND updated_at < $1 AND next_action_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.distribution_id = d.id
                             AND jobs.state NOT IN ('available', 'failed', 'cancelled'))
         ORDER BY updated_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED",
    )
    .bind(micros(before))
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
}

/// Deletes the distributions `ids` (after their events, targets and jobs).
pub(super) async fn delete(tx: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM distributions WHERE id = ANY($1)")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}
