//! Reading jobs from rows of `SELECT *`, `RETURNING *` or `j.*` (with other columns beside).
//!
//! A row's columns are found by name once per result set, not once per row: looking each of a
//! job's 38 columns up by name in every row (a hash and a string comparison apiece) was a tenth
//! of amicopyd's time on a ListCopyJobs page (`SCENARIO=list-jobs scripts/profile-accept.sh`).
//! Finding them by name at all, rather than by a fixed position, keeps reading independent of the
//! order migrations left the columns in.

use sqlx::{FromRow, Row, postgres::PgRow};
use uuid::Uuid;

use super::{ColumnRef, corrupt, from_json, narrow, opt_narrow, opt_parsed, parsed};
use crate::domain::{
    AccountId, AmiName, ClientToken, CopyRequest, Destination, DistributionId, Failure, ImageId, Job, KmsKeyId, Region,
    Steps, StoredJob,
};

/// A job read with `SELECT *` or `RETURNING *`, alone: every request field is checked again.
/// Queries that read many jobs use [`jobs_of`], which finds the columns once.
pub(in crate::store::postgres) struct JobRow(pub(in crate::store::postgres) Job);

impl FromRow<'_, PgRow> for JobRow {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        JobColumns::of(row)?.job(row).map(Self)
    }
}

/// The jobs of `rows`, all of one result set, in order.
pub(in crate::store::postgres) fn jobs_of(rows: &[PgRow]) -> Result<Vec<Job>, sqlx::Error> {
    read_rows(rows, |row, columns| columns.job(row))
}

/// `read` of every row of `rows` (all of one result set, holding a job's columns among others),
/// in order, with the job's columns found once.
pub(in crate::store::postgres) fn read_rows<T>(
    rows: &[PgRow],
    read: impl Fn(&PgRow, &JobColumns) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = JobColumns::of(first)?;
    rows.iter().map(|row| read(row, &columns)).collect()
}

/// Where each of a job's columns is in the rows of one result set.
pub(in crate::store::postgres) struct JobColumns {
    id: usize,
    tenant: usize,
    request_hash: usize,
    source_image_id: usize,
    source_region: usize,
    destination_region: usize,
    name: usize,
    description: usize,
    client_token: usize,
    encrypted: usize,
    kms_key_id: usize,
    destination_kind: usize,
    destination_value: usize,
    copy_image_tags: usize,
    tag_specifications: usize,
    snapshot_copy_completion_duration_minutes: usize,
    destination_account_id: usize,
    launch_permissions: usize,
    snapshot_user_ids: usize,
    deprecate_at: usize,
    state: usize,
    image_id: usize,
    failure_code: usize,
    failure_message: usize,
    progress_percent: usize,
    attempts: usize,
    next_attempt_at: usize,
    lease_owner: usize,
    lease_expires_at: usize,
    created_at: usize,
    updated_at: usize,
    version: usize,
    last_event_sequence: usize,
    snapshot_ids: usize,
    steps_done: usize,
    step_failures: usize,
    copying_since: usize,
    distribution_id: usize,
}

impl JobColumns {
    /// The positions of a job's columns in `row` (and every other row of its result set).
    pub(in crate::store::postgres) fn of(row: &PgRow) -> Result<Self, sqlx::Error> {
        let at = |name: &str| row.try_column(name).map(sqlx::Column::ordinal);
        Ok(Self {
            id: at("id")?,
            tenant: at("tenant")?,
            request_hash: at("request_hash")?,
            source_image_id: at("source_image_id")?,
            source_region: at("source_region")?,
            destination_region: at("destination_region")?,
            name: at("name")?,
            description: at("description")?,
            client_token: at("client_token")?,
            encrypted: at("encrypted")?,
            kms_key_id: at("kms_key_id")?,
            destination_kind: at("destination_kind")?,
            destination_value: at("destination_value")?,
            copy_image_tags: at("copy_image_tags")?,
            tag_specifications: at("tag_specifications")?,
            snapshot_copy_completion_duration_minutes: at("snapshot_copy_completion_duration_minutes")?,
            destination_account_id: at("destination_account_id")?,
            launch_permissions: at("launch_permissions")?,
            snapshot_user_ids: at("snapshot_user_ids")?,
            deprecate_at: at("deprecate_at")?,
            state: at("state")?,
            image_id: at("image_id")?,
            failure_code: at("failure_code")?,
            failure_message: at("failure_message")?,
            progress_percent: at("progress_percent")?,
            attempts: at("attempts")?,
            next_attempt_at: at("next_attempt_at")?,
            lease_owner: at("lease_owner")?,
            lease_expires_at: at("lease_expires_at")?,
            created_at: at("created_at")?,
            updated_at: at("updated_at")?,
            version: at("version")?,
            last_event_sequence: at("last_event_sequence")?,
            snapshot_ids: at("snapshot_ids")?,
            steps_done: at("steps_done")?,
            step_failures: at("step_failures")?,
            copying_since: at("copying_since")?,
            distribution_id: at("distribution_id")?,
        })
    }

    /// The job in `row`, every request field checked again.
    pub(in crate::store::postgres) fn job(&self, row: &PgRow) -> Result<Job, sqlx::Error> {
        let destination = Destination::from_parts(
            row.try_get(self.destination_kind)?,
            row.try_get(self.destination_value)?,
        )
        .map_err(|e| corrupt("destination_kind", e))?;
        let request = CopyRequest {
            source_image_id: parsed::<ImageId>(row, self.source_image_id)?,
            source_region: parsed::<Region>(row, self.source_region)?,
            destination_region: parsed::<Region>(row, self.destination_region)?,
            name: parsed::<AmiName>(row, self.name)?,
            description: row.try_get(self.description)?,
            client_token: opt_parsed::<ClientToken>(row, self.client_token)?,
            encrypted: row.try_get(self.encrypted)?,
            kms_key_id: opt_parsed::<KmsKeyId>(row, self.kms_key_id)?,
            destination,
            copy_image_tags: row.try_get(self.copy_image_tags)?,
            tag_specifications: from_json(row, self.tag_specifications)?,
            snapshot_copy_completion_duration_minutes: opt_narrow(row, self.snapshot_copy_completion_duration_minutes)?,
            dry_run: false,
            destination_account: opt_parsed::<AccountId>(row, self.destination_account_id)?,
            launch_permissions: from_json(row, self.launch_permissions)?,
            snapshot_user_ids: from_json(row, self.snapshot_user_ids)?,
            deprecate_at: row.try_get(self.deprecate_at)?,
        };
        let failure = row
            .try_get::<Option<String>, _>(self.failure_code)?
            .map(|code| -> Result<Failure, sqlx::Error> {
                let message: Option<String> = row.try_get(self.failure_message)?;
                Ok(Failure::new(code, message.unwrap_or_default()))
            })
            .transpose()?;
        Ok(Job::restore(StoredJob {
            id: row.try_get::<Uuid, _>(self.id)?.into(),
            tenant: row.try_get(self.tenant)?,
            request,
            request_hash: row.try_get(self.request_hash)?,
            state: row
                .try_get::<String, _>(self.state)?
                .parse()
                .map_err(|e| corrupt(&self.state.label(row), e))?,
            image_id: row.try_get(self.image_id)?,
            failure,
            progress_percent: opt_narrow(row, self.progress_percent)?,
            attempts: narrow(row, self.attempts)?,
            next_attempt_at: row.try_get(self.next_attempt_at)?,
            lease_owner: row.try_get(self.lease_owner)?,
            lease_expires_at: row.try_get(self.lease_expires_at)?,
            created_at: row.try_get(self.created_at)?,
            updated_at: row.try_get(self.updated_at)?,
            version: row.try_get(self.version)?,
            last_event_sequence: narrow(row, self.last_event_sequence)?,
            snapshot_ids: from_json(row, self.snapshot_ids)?,
            steps_done: Steps::from_bits(narrow(row, self.steps_done)?),
            step_failures: narrow(row, self.step_failures)?,
            copying_since: row.try_get(self.copying_since)?,
            distribution_id: row
                .try_get::<Option<Uuid>, _>(self.distribution_id)?
                .map(DistributionId::from),
        }))
    }
}
