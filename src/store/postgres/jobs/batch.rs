//! Many rows of `jobs` and `job_events` in one statement each, bound as one array per column and
//! inserted with `UNNEST`: a distribution's target jobs and their first events (a 600-target
//! distribution costs two round trips, not 1200), and the jobs of concurrent CopyImage calls
//! that share a commit (`group_commit.rs`).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::{jobs_of, json, micros, sequence, tag_specifications};
use crate::domain::{Job, JobEvent};

/// Records many new jobs in one statement, an array per column; the ids of those inserted come
/// back, in no particular order. A job whose client token is taken already (by an earlier job or
/// one before it in `jobs`) is left out.
pub(in crate::store::postgres) async fn insert_many(
    tx: &mut PgConnection,
    jobs: &[&Job],
) -> Result<Vec<Uuid>, sqlx::Error> {
    let rows = insert(tx, jobs, "RETURNING id").await?;
    rows.iter().map(|row| row.try_get("id")).collect()
}

/// [`insert_many`], answering with the jobs inserted as stored.
pub(in crate::store::postgres) async fn insert_many_returning(
    tx: &mut PgConnection,
    jobs: &[&Job],
) -> Result<Vec<Job>, sqlx::Error> {
    jobs_of(&insert(tx, jobs, "RETURNING *").await?)
}

async fn insert(tx: &mut PgConnection, jobs: &[&Job], returning: &str) -> Result<Vec<PgRow>, sqlx::Error> {
    let mut columns = Columns::default();
    for job in jobs {
        columns.push(job)?;
    }
    let Columns {
        client_token,
        lease_owner,
        lease_expires_at,
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
    let sql = format!(
        "INSERT INTO jobs (
             client_token, lease_owner, lease_expires_at, source_image_id, source_region, destination_region, name, description,
             encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
             tag_specifications, snapshot_copy_completion_duration_minutes,
             id, tenant, request_hash, state, attempts, next_attempt_at,
             created_at, updated_at, version, last_event_sequence,
             destination_account_id, launch_permissions, snapshot_user_ids, deprecate_at,
             snapshot_ids, steps_done, step_failures, distribution_id)
         SELECT client_token, lease_owner, lease_expires_at, source_image_id, source_region,
                destination_region, name, description,
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
                     $24::text[], $25::timestamptz[], $26::uuid[], $27::text[], $28::text[],
                     $29::timestamptz[])
              AS new (source_image_id, source_region, destination_region, name, description,
                      encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
                      tag_specifications, copy_minutes, id, tenant, request_hash, state, attempts,
                      next_attempt_at, created_at, version, last_event_sequence,
                      destination_account_id, launch_permissions, snapshot_user_ids, deprecate_at,
                      distribution_id, client_token, lease_owner, lease_expires_at)
         WHERE true -- so that ON CONFLICT is not read as a join's ON
         ON CONFLICT (tenant, destination_region, client_token) WHERE client_token IS NOT NULL DO NOTHING
         {returning}"
    );
    sqlx::query(&sql)
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
        .bind(client_token)
        .bind(lease_owner)
        .bind(lease_expires_at)
        .fetch_all(&mut *tx)
        .await
}

/// The columns of new jobs, an array each, for [`insert_many`]. New jobs have no image, no
/// failure, no snapshots and no steps done, and were last updated when created.
#[derive(Default)]
struct Columns {
    client_token: Vec<Option<String>>,
    lease_owner: Vec<Option<String>>,
    lease_expires_at: Vec<Option<DateTime<Utc>>>,
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
        self.client_token
            .push(request.client_token.as_ref().map(ToString::to_string));
        self.lease_owner.push(job.lease_owner().map(ToOwned::to_owned));
        self.lease_expires_at.push(job.lease_expires_at().map(micros));
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

/// Writes the mutable columns of many jobs in one statement, each only if its stored version is
/// still the job's (as [`super::update`] does for one); `with_event` makes room for one more
/// event. The jobs written come back as stored, in no particular order; a job left out was
/// changed by another writer first (or does not exist). `changes` must not name a job twice.
pub(in crate::store::postgres) async fn update_many(
    tx: &mut PgConnection,
    changes: &[(&Job, bool)],
    now: DateTime<Utc>,
) -> Result<Vec<Job>, sqlx::Error> {
    let mut id = Vec::with_capacity(changes.len());
    let mut version = Vec::with_capacity(changes.len());
    let mut state = Vec::with_capacity(changes.len());
    let mut image_id = Vec::with_capacity(changes.len());
    let mut failure_code = Vec::with_capacity(changes.len());
    let mut failure_message = Vec::with_capacity(changes.len());
    let mut progress = Vec::with_capacity(changes.len());
    let mut attempts = Vec::with_capacity(changes.len());
    let mut next_attempt_at = Vec::with_capacity(changes.len());
    let mut lease_owner = Vec::with_capacity(changes.len());
    let mut lease_expires_at = Vec::with_capacity(changes.len());
    let mut new_events = Vec::with_capacity(changes.len());
    let mut snapshot_ids = Vec::with_capacity(changes.len());
    let mut steps_done = Vec::with_capacity(changes.len());
    let mut step_failures = Vec::with_capacity(changes.len());
    let mut copying_since = Vec::with_capacity(changes.len());
    for &(job, with_event) in changes {
        let failure = job.failure();
        id.push(job.id().as_uuid());
        version.push(job.version());
        state.push(job.state().as_str());
        image_id.push(job.image_id());
        failure_code.push(failure.map(|f| f.code.as_str()));
        failure_message.push(failure.map(|f| f.message.as_str()));
        progress.push(job.progress_percent().map(i64::from));
        attempts.push(i64::from(job.attempts()));
        next_attempt_at.push(micros(job.next_attempt_at()));
        lease_owner.push(job.lease_owner());
        lease_expires_at.push(job.lease_expires_at().map(micros));
        new_events.push(i64::from(with_event));
        snapshot_ids.push(json(job.snapshot_ids())?);
        steps_done.push(i64::from(job.steps_done().bits()));
        step_failures.push(i64::from(job.step_failures()));
        copying_since.push(job.copying_since().map(micros));
    }
    let rows = sqlx::query(
        "UPDATE jobs SET
             state = new.state, image_id = new.image_id, failure_code = new.failure_code,
             failure_message = new.failure_message, progress_percent = new.progress_percent,
             attempts = new.attempts, next_attempt_at = new.next_attempt_at,
             lease_owner = new.lease_owner, lease_expires_at = new.lease_expires_at,
             updated_at = $17, version = jobs.version + 1,
             last_event_sequence = jobs.last_event_sequence + new.new_events,
             snapshot_ids = new.snapshot_ids, steps_done = new.steps_done,
             step_failures = new.step_failures, copying_since = new.copying_since
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::bigint[], $8::bigint[], $9::timestamptz[], $10::text[], $11::timestamptz[],
                     $12::bigint[], $13::text[], $14::bigint[], $15::bigint[], $16::timestamptz[])
              AS new (id, version, state, image_id, failure_code, failure_message, progress_percent,
                      attempts, next_attempt_at, lease_owner, lease_expires_at, new_events,
                      snapshot_ids, steps_done, step_failures, copying_since)
         WHERE jobs.id = new.id AND jobs.version = new.version
         RETURNING jobs.*",
    )
    .bind(id)
    .bind(version)
    .bind(state)
    .bind(image_id)
    .bind(failure_code)
    .bind(failure_message)
    .bind(progress)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(lease_owner)
    .bind(lease_expires_at)
    .bind(new_events)
    .bind(snapshot_ids)
    .bind(steps_done)
    .bind(step_failures)
    .bind(copying_since)
    .bind(micros(now))
    .fetch_all(&mut *tx)
    .await?;
    jobs_of(&rows)
}
