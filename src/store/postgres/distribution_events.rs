//! The `distribution_events` table on PostgreSQL: a distribution's history. A target event points
//! at its job's event and is read joined with `job_events` (and the job, for its place); a
//! state event carries the aggregate state, the counts and a detail.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use super::jobs::{EventRow, corrupt, json, micros, narrow, opt_parsed, parsed, sequence};
use crate::domain::{
    AccountId, Distribution, DistributionId, DistributionState, JobEvent, Region,
    distribution::{DistributionEvent, DistributionEventKind},
};

/// One distribution event to append.
pub(super) enum NewEvent<'a> {
    /// A target's job event.
    Target {
        /// Its place in the distribution's history.
        sequence: u64,
        /// The job event it tells of.
        event: &'a JobEvent,
    },
    /// A change of the aggregate, with the distribution as it was written (its counts, its state).
    State {
        /// Its place in the distribution's history.
        sequence: u64,
        /// The distribution after the change.
        distribution: &'a Distribution,
        /// What happened.
        detail: &'a str,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Appends distribution events of `distribution`.
pub(super) async fn insert_events(
    tx: &mut PgConnection,
    distribution: DistributionId,
    events: &[NewEvent<'_>],
) -> Result<(), sqlx::Error> {
    let mut sequences = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut job_ids: Vec<Option<Uuid>> = Vec::with_capacity(events.len());
    let mut job_sequences: Vec<Option<i64>> = Vec::with_capacity(events.len());
    let mut states: Vec<Option<&str>> = Vec::with_capacity(events.len());
    let mut counts: Vec<Option<String>> = Vec::with_capacity(events.len());
    let mut details: Vec<Option<&str>> = Vec::with_capacity(events.len());
    let mut created: Vec<DateTime<Utc>> = Vec::with_capacity(events.len());
    for event in events {
        match event {
            NewEvent::Target { sequence: at, event } => {
                sequences.push(sequence(*at));
                kinds.push("target");
                job_ids.push(Some(event.job_id.as_uuid()));
                job_sequences.push(Some(sequence(event.sequence)));
                states.push(None);
                counts.push(None);
                details.push(None);
                created.push(micros(event.created_at));
            }
            NewEvent::State {
                sequence: at,
                distribution,
                detail,
                at: when,
            } => {
                sequences.push(sequence(*at));
                kinds.push("state");
                job_ids.push(None);
                job_sequences.push(None);
                states.push(Some(distribution.state().as_str()));
                counts.push(Some(json(&distribution.counts())?));
                details.push(Some(detail));
                created.push(micros(*when));
            }
        }
    }
    sqlx::query(
        "INSERT INTO distribution_events (distribution_id, sequence, kind, job_id, job_sequence, state, counts, detail, created_at)
         SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::uuid[], $5::bigint[], $6::text[], $7::text[],
                                  $8::text[], $9::timestamptz[])",
    )
    .bind(distribution.as_uuid())
    .bind(sequences)
    .bind(kinds)
    .bind(job_ids)
    .bind(job_sequences)
    .bind(states)
    .bind(counts)
    .bind(details)
    .bind(created)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A distribution's events after `after`, in order, at most `limit`, target events with their
/// job's event.
pub(super) async fn events(
    pool: &PgPool,
    id: DistributionId,
    after: u64,
    limit: u32,
) -> Result<Vec<DistributionEvent>, sqlx::Error> {
    let rows = sqlx::query_as::<_, DistributionEventRow>(
        "SELECT e.distribution_id AS event_distribution_id, e.sequence AS event_sequence, e.kind AS event_kind,
                e.state AS event_state, e.counts AS event_counts, e.detail AS event_detail,
                e.created_at AS event_created_at,
                je.*, j.destination_account_id, j.destination_region
         FROM distribution_events e
         LEFT JOIN job_events je ON je.job_id = e.job_id AND je.sequence = e.job_sequence
         LEFT JOIN jobs j ON j.id = e.job_id
         WHERE e.distribution_id = $1 AND e.sequence > $2
         ORDER BY e.sequence
         LIMIT $3",
    )
    .bind(id.as_uuid())
    .bind(sequence(after))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|DistributionEventRow(event)| event).collect())
}

/// A distribution event, with the job event and the target's place for a target event.
struct DistributionEventRow(DistributionEvent);

impl FromRow<'_, PgRow> for DistributionEventRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        let kind = match row.try_get::<&str, _>("event_kind")? {
            "target" => {
                let EventRow(event) = EventRow::from_row(row)?;
                DistributionEventKind::Target {
                    account: opt_parsed::<AccountId>(row, "destination_account_id")?,
                    region: parsed::<Region>(row, "destination_region")?,
                    event,
                }
            }
            "state" => DistributionEventKind::State {
                state: row
                    .try_get::<String, _>("event_state")?
                    .parse::<DistributionState>()
                    .map_err(|e| corrupt("event_state", e))?,
                counts: serde_json::from_str(row.try_get("event_counts")?).map_err(|e| corrupt("event_counts", e))?,
                detail: row.try_get("event_detail")?,
                created_at: row.try_get("event_created_at")?,
            },
            other => return Err(corrupt("event_kind", format!("{other:?} is not an event kind"))),
        };
        Ok(Self(DistributionEvent {
            distribution_id: row.try_get::<Uuid, _>("event_distribution_id")?.into(),
            sequence: narrow(row, "event_sequence")?,
            kind,
        }))
    }
}

/// Deletes the events of the distributions `ids` (before their jobs' events, which target
/// events point at).
pub(super) async fn delete_of(tx: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM distribution_events WHERE distribution_id = ANY($1)")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}
