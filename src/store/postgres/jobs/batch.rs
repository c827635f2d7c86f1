//! Many rows of `jobs` and `job_events` in one statement each: a distribution's target jobs and
//! their first events, bound as one array per column and inserted with `UNNEST`, so a
//! 600-target distribution costs two round trips, not 1200.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{json, micros, sequence, tag_specifications};
use crate::domain::{Job, JobEvent};

/// Records many new jobs of a distribution (jobs without a client token) in one statement, an
/// array per column: what makes a 600-target distribution one round trip.
pub(in crate::store::postgres) async fn insert_many(tx: &mut PgConnection, jobs: &[&Job]) -> Result<(), sqlx::Error> {
    let mut columns = Columns::default();
    for job in jobs {
        columns.push(job)?;
    }
    let Columns {
        source_image_id,
        source_region,
        destination_region,
        name,
        description,
        encrypted,
        kms_key_id,
        destination_kind,
        destination_value,
        copy_image_tags,
        tag_specifications,
        copy_minutes,
        id,
        tenant,
        request_hash,
        state,
        attempts,
        next_attempt_at,
        created_at,
        version,
        last_event_sequence,
        destination_account_id,
        launch_permissions,
        snapshot_user_ids,
        deprecate_at,
        distribution_id,
    } = columns;
    sqlx::query(
        "INSERT INTO jobs (
             source_image_id, source_region, destination_region, name, description,
             encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
             tag_specifications, snapshot_copy_completion_duration_minutes,
             id, tenant, request_hash, state, attempts, next_attempt_at,
             created_at, updated_at, version, last_event_sequence,
             destination_account_id, launch_permissions, snapshot_user_ids, deprecate_at,
             snapshot_ids, steps_done, step_failures, distribution_id)
         SELECT source_image_id, source_region, destination_region, name, description,
                encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
                tag_specifications, copy_minutes,
                id, tenant, request_hash, state, attempts, next_attempt_at,
                created_at, created_at, version, last_event_sequence,
                destination_account_id, launch_permissions, snapshot_user_ids, deprecate_at,
                '[]', 0, 0, distribution_id
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::text[],
                     $8::text[], $9::text[], $10::boolean[], $11::text[], $12::bigint[], $13::uuid[],
                     $14::text[], $15::text[], $16::text[], $17::bigint[], $18::timestamptz[],
                     $19::timestamptz[], $20::bigint[], $21::bigint[], $22::text[], $23::text[],
                     $24::text[], $25::timestamptz[], $26::uuid[])
              AS new (source_image_id, source_region, destination_region, name, description,
                      encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
                      tag_specifications, copy_minutes, id, tenant, request_hash, state, attempts,
                      next_attempt_at, created_at, version, last_event_sequence,
                      destination_account_id, launch_permissions, snapshot_user_ids, deprecate_at,
                      distribution_id)",
    )
    .bind(source_image_id)
    .bind(source_region)
    .bind(destination_region)
    .bind(name)
    .bind(description)
    .bind(encrypted)
    .bind(kms_key_id)
    .bind(destination_kind)
    .bind(destination_value)
    .bind(copy_image_tags)
    .bind(tag_specifications)
    .bind(copy_minutes)
    .bind(id)
    .bind(tenant)
    .bind(request_hash)
    .bind(state)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(created_at)
    .bind(version)
    .bind(last_event_sequence)
    .bind(destination_account_id)
    .bind(launch_permissions)
    .bind(snapshot_user_ids)
    .bind(deprecate_at)
    .bind(distribution_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The columns of new jobs, an array each, for [`insert_many`]. New jobs have no lease, no
/// image, no failure, no snapshots and no steps done, and were last updated when created.
#[derive(Default)]
struct Columns {
    source_image_id: Vec<String>,
    source_region: Vec<String>,
    destination_region: Vec<String>,
    name: Vec<String>,
    description: Vec<Option<String>>,
    encrypted: Vec<Option<bool>>,
    kms_key_id: Vec<Option<String>>,
    destination_kind: Vec<&'static str>,
    destination_value: Vec<Option<String>>,
    copy_image_tags: Vec<bool>,
    tag_specifications: Vec<String>,
    copy_minutes: Vec<Option<i64>>,
    id: Vec<Uuid>,
    tenant: Vec<String>,
    request_hash: Vec<String>,
    state: Vec<&'static str>,
    attempts: Vec<i64>,
    next_attempt_at: Vec<DateTime<Utc>>,
    created_at: Vec<DateTime<Utc>>,
    version: Vec<i64>,
    last_event_sequence: Vec<i64>,
    destination_account_id: Vec<Option<String>>,
    launch_permissions: Vec<String>,
    snapshot_user_ids: Vec<String>,
    deprecate_at: Vec<Option<DateTime<Utc>>>,
    distribution_id: Vec<Option<Uuid>>,
}

impl Columns {
    fn push(&mut self, job: &Job) -> Result<(), sqlx::Error> {
        let request = job.request();
        let (kind, value) = request.destination.to_parts();
        self.source_image_id.push(request.source_image_id.to_string());
        self.source_region.push(request.source_region.to_string());
        self.destination_region.push(request.destination_region.to_string());
        self.name.push(request.name.to_string());
        self.description.push(request.description.clone());
        self.encrypted.push(request.encrypted);
        self.kms_key_id
            .push(request.kms_key_id.as_ref().map(ToString::to_string));
        self.destination_kind.push(kind);
        self.destination_value.push(value);
        self.copy_image_tags.push(request.copy_image_tags);
        self.tag_specifications.push(tag_specifications(request)?);
        self.copy_minutes
            .push(request.snapshot_copy_completion_duration_minutes.map(i64::from));
        self.id.push(job.id().as_uuid());
        self.tenant.push(job.tenant().to_owned());
        self.request_hash.push(job.request_hash().to_owned());
        self.state.push(job.state().as_str());
        self.attempts.push(i64::from(job.attempts()));
        self.next_attempt_at.push(micros(job.next_attempt_at()));
        self.created_at.push(micros(job.created_at()));
        self.version.push(job.version());
        self.last_event_sequence.push(sequence(job.last_event_sequence()));
        self.destination_account_id
            .push(request.destination_account.as_ref().map(ToString::to_string));
        self.launch_permissions.push(json(&request.launch_permissions)?);
        self.snapshot_user_ids.push(json(&request.snapshot_user_ids)?);
        self.deprecate_at.push(request.deprecate_at.map(micros));
        self.distribution_id.push(job.distribution_id().map(|id| id.as_uuid()));
        Ok(())
    }
}

/// Appends many events in one statement.
pub(in crate::store::postgres) async fn insert_events(
    tx: &mut PgConnection,
    events: &[JobEvent],
) -> Result<(), sqlx::Error> {
    let job_id: Vec<Uuid> = events.iter().map(|e| e.job_id.as_uuid()).collect();
    let sequences: Vec<i64> = events.iter().map(|e| sequence(e.sequence)).collect();
    let state: Vec<&str> = events.iter().map(|e| e.state.as_str()).collect();
    let image_id: Vec<Option<&str>> = events.iter().map(|e| e.image_id.as_deref()).collect();
    let progress: Vec<Option<i64>> = events.iter().map(|e| e.progress_percent.map(i64::from)).collect();
    let failure_code: Vec<Option<&str>> = events.iter().map(|e| e.failure_code.as_deref()).collect();
    let detail: Vec<&str> = events.iter().map(|e| e.detail.as_str()).collect();
    let created_at: Vec<DateTime<Utc>> = events.iter().map(|e| micros(e.created_at)).collect();
    sqlx::query(
        "INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
         SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                              $7::text[], $8::timestamptz[])",
    )
    .bind(job_id)
    .bind(sequences)
    .bind(state)
    .bind(image_id)
    .bind(progress)
    .bind(failure_code)
    .bind(detail)
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
