//! The durable job store: every accepted copy is a row in `jobs`, every change to it one
//! transaction that also appends to `job_events`. Distributions ([`DistributionStore`]) are rows
//! of `distributions` with their targets and events; their targets are ordinary jobs whose
//! changes move the distribution's counts in the same transaction.
//!
//! [`JobStore`] is the only way the rest of the service touches the database. Two
//! implementations sit beside it on sqlx: [`postgres::PgStore`] (production, several replicas)
//! and [`sqlite::SqliteStore`] (the embedded default); [`connect`] picks one by URL.
//!
//! The two are independent: each keeps every statement it runs, with its binds and the reading
//! of its rows, in one file per table (`postgres/jobs.rs`, `sqlite/jobs.rs`,
//! `*/distributions.rs`, `*/distribution_targets.rs`, `*/distribution_events.rs`), so a column
//! is added in one file per engine plus its migration. What they share is this trait, pure logic
//! that involves no SQL (pages, idempotent creation), and one conformance suite
//! (`tests/it/store/`) that runs every behaviour on both.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::domain::{AccountId, Change, DistributionId, Job, JobEvent, JobId, JobState, Region};

mod connect;
mod distributions;
mod page_token;
pub mod postgres;
pub mod retention;
pub mod sqlite;

pub use connect::{DatabaseKind, connect, redact_url};
pub use distributions::{
    CreatedDistribution, DistributionClaim, DistributionPage, DistributionQuery, DistributionStore,
};

pub use page_token::PageToken;

/// What can go wrong in the store, in terms its callers act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No job with that id (for that tenant).
    #[error("job {0} not found")]
    NotFound(JobId),
    /// The client token was used before, in the same scope, with other parameters.
    #[error("client token {token:?} was already used with different parameters (job {existing})")]
    IdempotentParameterMismatch {
        /// The token.
        token: String,
        /// The job the token belongs to.
        existing: JobId,
    },
    /// The job changed after the caller read it (or another replica holds it).
    #[error("job {0} was changed concurrently")]
    Conflict(JobId),
    /// No distribution with that id (for that tenant).
    #[error("distribution {0} not found")]
    DistributionNotFound(DistributionId),
    /// The distribution's client token was used before with another request.
    #[error("client token {token:?} was already used with a different request (distribution {existing})")]
    DistributionTokenMismatch {
        /// The token.
        token: String,
        /// The distribution the token belongs to.
        existing: DistributionId,
    },
    /// The distribution's state changed after the caller read it.
    #[error("distribution {0} was changed concurrently")]
    DistributionConflict(DistributionId),
    /// A page token that this store did not issue.
    #[error("invalid page token")]
    InvalidPageToken,
    /// The database cannot be reached; retrying later may help.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Anything else: a bug or corrupted data.
    #[error("store error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Sorts a sqlx error into unavailable (connection trouble, a database too busy to answer
    /// in time) or internal. A missing row is internal here: the store's methods turn the cases
    /// where a row may rightly be missing into [`StoreError::NotFound`] themselves.
    pub fn from_sqlx(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(error),
            sqlx::Error::Database(ref db) if is_unavailable(db.as_ref()) => Self::Unavailable(error),
            other => Self::Internal(Box::new(other)),
        }
    }

    /// Sorts a migration failure: a database that cannot be reached is unavailable; anything
    /// else (a failing or changed migration, a schema newer than this build) is internal.
    pub fn from_migrate(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(error) => Self::from_sqlx(error),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// Whether a database error means "cannot serve now" rather than "this statement is wrong".
/// PostgreSQL SQLSTATE classes: 08 connection exception, 57P0x admin/crash shutdown, 53
/// insufficient resources. SQLite primary result codes: 5 SQLITE_BUSY and 6 SQLITE_LOCKED, left
/// when the busy timeout ran out.
fn is_unavailable(error: &dyn sqlx::error::DatabaseError) -> bool {
    let code = error.code();
    let code = code.as_deref();
    if error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return code
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6));
    }
    code.is_some_and(|c| c.starts_with("08") || c.starts_with("57P0") || c.starts_with("53"))
}

/// What [`JobStore::create_job`] did.
#[derive(Debug, Clone)]
pub enum Created {
    /// A new job was recorded, with its first event.
    New(Job),
    /// An earlier call with the same client token and parameters recorded this job.
    Existing(Job),
}

impl Created {
    /// The job, new or existing.
    pub fn job(&self) -> &Job {
        match self {
            Self::New(job) | Self::Existing(job) => job,
        }
    }

    /// The job, new or existing.
    pub fn into_job(self) -> Job {
        match self {
            Self::New(job) | Self::Existing(job) => job,
        }
    }

    /// What an insert that found `existing` holding the client token of `attempted` answers:
    /// that job when the parameters match, [`StoreError::IdempotentParameterMismatch`] when not.
    pub(crate) fn earlier(existing: Job, attempted: &Job) -> Result<Self, StoreError> {
        if existing.request_hash() == attempted.request_hash() {
            return Ok(Self::Existing(existing));
        }
        Err(StoreError::IdempotentParameterMismatch {
            token: attempted
                .request()
                .client_token
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            existing: existing.id(),
        })
    }
}

/// Which jobs to list, and where to resume.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only this tenant's jobs.
    pub tenant: String,
    /// Only jobs in these states; empty means any.
    pub states: Vec<JobState>,
    /// Only jobs from this source Region.
    pub source_region: Option<String>,
    /// Only jobs into this destination Region.
    pub destination_region: Option<String>,
    /// Jobs per page, at least 1.
    pub page_size: u32,
    /// Resume after the page this token ended.
    pub page_token: Option<PageToken>,
}

/// One page of jobs, newest first.
#[derive(Debug, Clone)]
pub struct JobPage {
    /// The jobs.
    pub jobs: Vec<Job>,
    /// Where the next page starts; `None` on the last page.
    pub next_page_token: Option<PageToken>,
}

impl JobPage {
    /// A page of at most `page_size` jobs from up to `page_size + 1` rows, newest first; the
    /// extra row only tells that there is a next page.
    pub(crate) fn from_rows(mut jobs: Vec<Job>, page_size: u32) -> Self {
        let page_size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let next_page_token = if jobs.len() > page_size {
            jobs.truncate(page_size);
            jobs.last().map(|last| PageToken {
                created_at: last.created_at(),
                id: last.id().as_uuid(),
            })
        } else {
            None
        };
        Self { jobs, next_page_token }
    }
}

/// Which jobs an engine replica wants to work on now.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The replica claiming; jobs it already holds are claimed again (renewing the lease).
    pub owner: String,
    /// Only jobs in these states.
    pub states: Vec<JobState>,
    /// Only jobs whose `next_attempt_at` is at or before this time, and whose leases have run
    /// out by then.
    pub now: DateTime<Utc>,
    /// The lease runs until this time.
    pub lease_until: DateTime<Utc>,
    /// At most this many jobs.
    pub limit: u32,
}

/// The number of jobs in one state with one destination Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    /// The state.
    pub state: JobState,
    /// The destination Region.
    pub destination_region: String,
    /// How many jobs.
    pub count: u64,
}

/// The number of copies in progress (COPYING or CANCELLING) into one account and Region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgressCount {
    /// The destination account (`None`: the service's own).
    pub account: Option<AccountId>,
    /// The destination Region.
    pub destination_region: Region,
    /// How many copies.
    pub count: u64,
}

/// What another process announced: new events up to a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    /// A job's events up to this sequence are committed.
    Job(JobId, u64),
    /// A distribution's events up to this sequence are committed.
    Distribution(DistributionId, u64),
}

/// Change notifications from other processes.
pub type ChangeFeed = BoxStream<'static, Result<Announcement, StoreError>>;

/// The job store. Every method is one transaction; nothing acknowledged is ever lost. Every job
/// store keeps distributions too ([`DistributionStore`]): `update_job` moves their counts.
#[async_trait]
pub trait JobStore: DistributionStore {
    /// Records a job [`Job::accept`] made, with its first event. With a client token, an earlier
    /// job with the same tenant, destination Region and token is returned instead when its
    /// request has the same fingerprint, and [`StoreError::IdempotentParameterMismatch`] when
    /// not. Holds under concurrent calls from any number of processes (enforced by a unique
    /// index).
    async fn create_job(&self, accepted: &Change) -> Result<Created, StoreError>;

    /// One job of one tenant: [`StoreError::NotFound`] for another tenant's job. What every
    /// caller-facing read uses.
    async fn get_tenant_job(&self, tenant: &str, id: JobId) -> Result<Job, StoreError>;

    /// One job by id whatever its tenant: for the engine, which works for every tenant.
    async fn get_job_any_tenant(&self, id: JobId) -> Result<Job, StoreError>;

    /// A page of a tenant's jobs, newest first, stable under concurrent inserts.
    async fn list_jobs(&self, query: &ListQuery) -> Result<JobPage, StoreError>;

    /// Writes `job`'s mutable fields (state, image id, failure, progress, attempts,
    /// next attempt, lease) if the stored version is still `job.version()`, and appends an event
    /// with `detail` when one is given; one transaction. Returns the stored job (version
    /// incremented, `updated_at` now, the event's sequence in `last_event_sequence`).
    /// [`StoreError::Conflict`] when the version moved on, [`StoreError::NotFound`] when there is
    /// no such job. For a distribution's target job, the same transaction follows the move in
    /// the distribution (see [`DistributionStore`]).
    async fn update_job(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError>;

    /// Takes a lease on up to `claim.limit` jobs that are due and free (or already the
    /// claimant's), oldest due first, and returns them with their versions incremented (a claim
    /// is not a change users see: `updated_at` stays). A limit of 0 claims nothing.
    /// On PostgreSQL rows are locked with `FOR UPDATE SKIP LOCKED` so replicas never wait on
    /// each other or claim the same job.
    async fn claim_jobs(&self, claim: &Claim) -> Result<Vec<Job>, StoreError>;

    /// Events of a job with a sequence greater than `after`, in order, at most `limit`; none for
    /// a job that does not exist.
    async fn list_events(&self, id: JobId, after: u64, limit: u32) -> Result<Vec<JobEvent>, StoreError>;

    /// The newest event sequence of each of `jobs` that exists, in one query however many are
    /// named: how a replica looks for events its watchers may have missed.
    async fn newest_event_sequences(&self, jobs: &[JobId]) -> Result<Vec<(JobId, u64)>, StoreError>;

    /// Puts off each job `owner` holds until its own time and releases their leases, in one
    /// statement: how the tracker moves past copies it has just looked at (each due again when
    /// its pace says), so the next page of due jobs (and the next tick) gets the rest. Jobs no
    /// longer leased to `owner` are left alone. Appends no event. Returns how many jobs were put
    /// off.
    async fn defer_jobs(&self, deferrals: &[(JobId, DateTime<Utc>)], owner: &str) -> Result<u64, StoreError>;

    /// How many jobs into `destination_region` of `account` (`None`: the service's own) are in one
    /// of `states` (for concurrency caps, which EC2 keeps per account and Region).
    async fn count_jobs(
        &self,
        account: Option<&AccountId>,
        destination_region: &str,
        states: &[JobState],
    ) -> Result<u64, StoreError>;

    /// How many jobs there are per state and destination Region (groups with no jobs are left
    /// out): what the metrics' job, queue-depth and in-flight gauges are refreshed from.
    async fn count_by_state(&self) -> Result<Vec<StateCount>, StoreError>;

    /// Copies in progress (COPYING or CANCELLING) per destination account and Region, places
    /// with none left out: what each replica's in-memory admission counts are refreshed from
    /// every tick. Costs what the active copies cost, whatever the history.
    async fn count_in_progress(&self) -> Result<Vec<InProgressCount>, StoreError>;

    /// Deletes up to `limit` finished jobs (AVAILABLE, FAILED, CANCELLED) that belong to no
    /// distribution and last changed before `before`, oldest first, with their events, in one
    /// short transaction; returns how many. A distribution's jobs go with their distribution
    /// ([`DistributionStore::delete_finished_distributions`]). What `--job-retention-days` runs,
    /// batch after batch ([`retention`]).
    async fn delete_finished_jobs(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Notifications of new events committed by any process sharing the database, where the
    /// engine supports it (PostgreSQL LISTEN/NOTIFY); `None` for a single-process store.
    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError>;
}
