//! Row mapping shared by both engines: jobs and events read from rows, and the column values a
//! request or a job change is written with. Only ids and times are stored differently (native
//! `uuid`/`timestamptz` on PostgreSQL, text and integer microseconds on SQLite); [`EngineRow`]
//! hides that, and the engines bind those two kinds of values themselves.

use chrono::{DateTime, Utc};
use sqlx::{
    ColumnIndex, Database, Decode, Encode, FromRow, Row, Type, postgres::PgRow, query::QueryAs, sqlite::SqliteRow,
};
use uuid::Uuid;

use super::{Created, JobPage, NewJob, PageToken, StoreError};
use crate::domain::{
    AmiName, ClientToken, CopyRequest, Destination, Failure, ImageId, Job, JobEvent, JobState, KmsKeyId, OutpostArn,
    Region, TagSpecification,
};

/// Plain columns, read the same way on every engine.
pub(super) trait Columns {
    fn text(&self, column: &'static str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &'static str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, sqlx::Error>;
    fn flag(&self, column: &'static str) -> Result<bool, sqlx::Error>;
    fn opt_flag(&self, column: &'static str) -> Result<Option<bool>, sqlx::Error>;
}

impl<R> Columns for R
where
    R: Row,
    &'static str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &'static str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_text(&self, column: &'static str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn int(&self, column: &'static str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_int(&self, column: &'static str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
    fn flag(&self, column: &'static str) -> Result<bool, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_flag(&self, column: &'static str) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(column)
    }
}

/// The columns each engine stores its own way.
pub(super) trait EngineRow: Row + Columns {
    fn uuid(&self, column: &'static str) -> Result<Uuid, sqlx::Error>;
    fn opt_time(&self, column: &'static str) -> Result<Option<DateTime<Utc>>, sqlx::Error>;

    fn time(&self, column: &'static str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.opt_time(column)?.ok_or_else(|| corrupt(column, "is NULL"))
    }
}

impl EngineRow for PgRow {
    fn uuid(&self, column: &'static str) -> Result<Uuid, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_time(&self, column: &'static str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(column)
    }
}

impl EngineRow for SqliteRow {
    fn uuid(&self, column: &'static str) -> Result<Uuid, sqlx::Error> {
        Uuid::parse_str(&self.text(column)?).map_err(|e| corrupt(column, e))
    }
    fn opt_time(&self, column: &'static str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.opt_int(column)?
            .map(|micros| DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(column, "is out of range")))
            .transpose()
    }
}

/// A time as SQLite stores it: microseconds since the Unix epoch.
pub(super) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// `time` cut to the store's precision, so what is returned equals what a later read returns.
pub(super) fn truncate(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap_or(time)
}

/// The current time at the store's precision.
pub(super) fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

fn corrupt(column: &'static str, why: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("stored value {why}").into(),
    }
}

fn parsed<T: TryFrom<String, Error = String>>(row: &impl Columns, column: &'static str) -> Result<T, sqlx::Error> {
    T::try_from(row.text(column)?).map_err(|e| corrupt(column, e))
}

fn opt_parsed<T: TryFrom<String, Error = String>>(
    row: &impl Columns,
    column: &'static str,
) -> Result<Option<T>, sqlx::Error> {
    row.opt_text(column)?
        .map(|text| T::try_from(text).map_err(|e| corrupt(column, e)))
        .transpose()
}

fn narrow<T: TryFrom<i64>>(column: &'static str, value: i64) -> Result<T, sqlx::Error> {
    T::try_from(value).map_err(|_| corrupt(column, format!("{value} is out of range")))
}

fn state(row: &impl Columns) -> Result<JobState, sqlx::Error> {
    row.text("state")?.parse().map_err(|e| corrupt("state", e))
}

fn progress(row: &impl Columns) -> Result<Option<u8>, sqlx::Error> {
    row.opt_int("progress_percent")?
        .map(|p| narrow("progress_percent", p))
        .transpose()
}

/// A job read with `SELECT *` or `RETURNING *`.
pub(super) struct JobRecord(pub(super) Job);

impl<'r, R: EngineRow> FromRow<'r, R> for JobRecord {
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let failure = match row.opt_text("failure_code")? {
            Some(code) => Some(Failure::new(code, row.opt_text("failure_message")?.unwrap_or_default())),
            None => None,
        };
        Ok(Self(Job {
            id: row.uuid("id")?.into(),
            tenant: row.text("tenant")?,
            request: read_request(row)?,
            request_hash: row.text("request_hash")?,
            state: state(row)?,
            image_id: row.opt_text("image_id")?,
            failure,
            progress_percent: progress(row)?,
            attempts: narrow("attempts", row.int("attempts")?)?,
            next_attempt_at: row.time("next_attempt_at")?,
            lease_owner: row.opt_text("lease_owner")?,
            lease_expires_at: row.opt_time("lease_expires_at")?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            version: row.int("version")?,
            last_event_sequence: narrow("last_event_sequence", row.int("last_event_sequence")?)?,
        }))
    }
}

/// An event read with `SELECT *`.
pub(super) struct EventRecord(pub(super) JobEvent);

impl<'r, R: EngineRow> FromRow<'r, R> for EventRecord {
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self(JobEvent {
            job_id: row.uuid("job_id")?.into(),
            sequence: narrow("sequence", row.int("sequence")?)?,
            state: state(row)?,
            image_id: row.opt_text("image_id")?,
            progress_percent: progress(row)?,
            failure_code: row.opt_text("failure_code")?,
            detail: row.text("detail")?,
            created_at: row.time("created_at")?,
        }))
    }
}

/// Rebuilds the request from its columns, checking every field again as it is read.
fn read_request(row: &impl Columns) -> Result<CopyRequest, sqlx::Error> {
    let destination_value = row.opt_text("destination_value")?;
    let destination = match (row.text("destination_kind")?.as_str(), destination_value) {
        ("region", None) => Destination::Region,
        ("outpost", Some(arn)) => {
            Destination::Outpost(OutpostArn::try_from(arn).map_err(|e| corrupt("destination_value", e))?)
        }
        ("availability_zone", Some(zone)) => Destination::AvailabilityZone(zone),
        ("availability_zone_id", Some(zone_id)) => Destination::AvailabilityZoneId(zone_id),
        (kind, value) => {
            return Err(corrupt(
                "destination_kind",
                format!("{kind:?} does not fit value {value:?}"),
            ));
        }
    };
    let tag_specifications: Vec<TagSpecification> =
        serde_json::from_str(&row.text("tag_specifications")?).map_err(|e| corrupt("tag_specifications", e))?;
    let duration = row.opt_int("snapshot_copy_completion_duration_minutes")?;
    Ok(CopyRequest {
        source_image_id: parsed::<ImageId>(row, "source_image_id")?,
        source_region: parsed::<Region>(row, "source_region")?,
        destination_region: parsed::<Region>(row, "destination_region")?,
        name: parsed::<AmiName>(row, "name")?,
        description: row.opt_text("description")?,
        client_token: opt_parsed::<ClientToken>(row, "client_token")?,
        encrypted: row.opt_flag("encrypted")?,
        kms_key_id: opt_parsed::<KmsKeyId>(row, "kms_key_id")?,
        destination,
        copy_image_tags: row.flag("copy_image_tags")?,
        tag_specifications,
        snapshot_copy_completion_duration_minutes: duration
            .map(|minutes| narrow("snapshot_copy_completion_duration_minutes", minutes))
            .transpose()?,
        dry_run: false,
    })
}

/// The request's columns, in the order of [`super::sql::INSERT_JOB`]'s parameters `$1`…`$13`.
pub(super) struct RequestColumns {
    pub(super) client_token: Option<String>,
    pub(super) source_image_id: String,
    pub(super) source_region: String,
    pub(super) destination_region: String,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) encrypted: Option<bool>,
    pub(super) kms_key_id: Option<String>,
    pub(super) destination_kind: String,
    pub(super) destination_value: Option<String>,
    pub(super) copy_image_tags: bool,
    pub(super) tag_specifications: String,
    pub(super) snapshot_copy_completion_duration_minutes: Option<i64>,
}

impl RequestColumns {
    /// The columns of `request`.
    pub(super) fn of(request: &CopyRequest) -> Result<Self, StoreError> {
        let (kind, value) = match &request.destination {
            Destination::Region => ("region", None),
            Destination::Outpost(arn) => ("outpost", Some(arn.to_string())),
            Destination::AvailabilityZone(zone) => ("availability_zone", Some(zone.clone())),
            Destination::AvailabilityZoneId(zone_id) => ("availability_zone_id", Some(zone_id.clone())),
        };
        Ok(Self {
            client_token: request.client_token.as_ref().map(ToString::to_string),
            source_image_id: request.source_image_id.to_string(),
            source_region: request.source_region.to_string(),
            destination_region: request.destination_region.to_string(),
            name: request.name.to_string(),
            description: request.description.clone(),
            encrypted: request.encrypted,
            kms_key_id: request.kms_key_id.as_ref().map(ToString::to_string),
            destination_kind: kind.to_owned(),
            destination_value: value,
            copy_image_tags: request.copy_image_tags,
            tag_specifications: serde_json::to_string(&request.tag_specifications)
                .map_err(|e| StoreError::Internal(Box::new(e)))?,
            snapshot_copy_completion_duration_minutes: request.snapshot_copy_completion_duration_minutes.map(i64::from),
        })
    }
}

impl RequestColumns {
    /// Binds the columns as the next 13 parameters.
    pub(super) fn bind<'q, DB, O>(
        self,
        query: QueryAs<'q, DB, O, DB::Arguments<'q>>,
    ) -> QueryAs<'q, DB, O, DB::Arguments<'q>>
    where
        DB: Database,
        String: Encode<'q, DB> + Type<DB>,
        Option<String>: Encode<'q, DB> + Type<DB>,
        bool: Encode<'q, DB> + Type<DB>,
        Option<bool>: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
    {
        query
            .bind(self.client_token)
            .bind(self.source_image_id)
            .bind(self.source_region)
            .bind(self.destination_region)
            .bind(self.name)
            .bind(self.description)
            .bind(self.encrypted)
            .bind(self.kms_key_id)
            .bind(self.destination_kind)
            .bind(self.destination_value)
            .bind(self.copy_image_tags)
            .bind(self.tag_specifications)
            .bind(self.snapshot_copy_completion_duration_minutes)
    }
}

/// The mutable, engine-neutral columns of a job change, in the order of
/// [`super::sql::UPDATE_JOB`]'s parameters `$6`…`$13`.
pub(super) struct ChangeColumns {
    pub(super) state: &'static str,
    pub(super) image_id: Option<String>,
    pub(super) failure_code: Option<String>,
    pub(super) failure_message: Option<String>,
    pub(super) progress_percent: Option<i64>,
    pub(super) attempts: i64,
    pub(super) lease_owner: Option<String>,
    /// 1 when the change appends an event, else 0.
    pub(super) new_events: i64,
}

impl ChangeColumns {
    /// The columns `job` is written with.
    pub(super) fn of(job: &Job, detail: Option<&str>) -> Self {
        Self {
            state: job.state.as_str(),
            image_id: job.image_id.clone(),
            failure_code: job.failure.as_ref().map(|f| f.code.clone()),
            failure_message: job.failure.as_ref().map(|f| f.message.clone()),
            progress_percent: job.progress_percent.map(i64::from),
            attempts: i64::from(job.attempts),
            lease_owner: job.lease_owner.clone(),
            new_events: i64::from(detail.is_some()),
        }
    }
}

impl ChangeColumns {
    /// Binds the columns as the next 8 parameters.
    pub(super) fn bind<'q, DB, O>(
        self,
        query: QueryAs<'q, DB, O, DB::Arguments<'q>>,
    ) -> QueryAs<'q, DB, O, DB::Arguments<'q>>
    where
        DB: Database,
        &'static str: Encode<'q, DB> + Type<DB>,
        Option<String>: Encode<'q, DB> + Type<DB>,
        i64: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
    {
        query
            .bind(self.state)
            .bind(self.image_id)
            .bind(self.failure_code)
            .bind(self.failure_message)
            .bind(self.progress_percent)
            .bind(self.attempts)
            .bind(self.lease_owner)
            .bind(self.new_events)
    }
}

/// The first event of every job.
pub(super) fn first_event(job: &Job) -> JobEvent {
    JobEvent::of(job, "job accepted")
}

/// What a client-token insert that found an earlier job answers: that job when the parameters
/// match, a mismatch when not.
pub(super) fn existing_or_mismatch(existing: Job, new: &NewJob) -> Result<Created, StoreError> {
    if existing.request_hash == new.request.fingerprint() {
        Ok(Created::Existing(existing))
    } else {
        Err(StoreError::IdempotentParameterMismatch {
            token: new
                .request
                .client_token
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            existing: existing.id,
        })
    }
}

/// A page of at most `page_size` jobs from up to `page_size + 1` rows, newest first; the extra
/// row only tells that there is a next page.
pub(super) fn page(mut jobs: Vec<Job>, page_size: u32) -> JobPage {
    let page_size = usize::try_from(page_size).unwrap_or(usize::MAX);
    let next_page_token = if jobs.len() > page_size {
        jobs.truncate(page_size);
        jobs.last().map(|last| PageToken {
            created_at: last.created_at,
            id: last.id,
        })
    } else {
        None
    };
    JobPage { jobs, next_page_token }
}

/// Sorts claimed jobs oldest due first (`RETURNING` promises no order).
pub(super) fn oldest_due_first(jobs: &mut [Job]) {
    jobs.sort_by_key(|job| (job.next_attempt_at, job.id));
}

/// Parses a change notification payload, `<job uuid>:<sequence>`.
pub(super) fn parse_notification(payload: &str) -> Option<(crate::domain::JobId, u64)> {
    let (id, sequence) = payload.split_once(':')?;
    Some((id.parse().ok()?, sequence.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_payloads_parse_and_garbage_does_not() {
        let id = crate::domain::JobId::new();
        assert_eq!(parse_notification(&format!("{id}:7")), Some((id, 7)));
        for bad in ["", "x:1", &format!("{id}"), &format!("{id}:-1"), &format!("{id}:1:2")] {
            assert_eq!(parse_notification(bad), None, "{bad}");
        }
    }
}
