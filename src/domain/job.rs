//! A copy job: one accepted request and where it stands, plus the events that make up its
//! history.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    distribution::DistributionId,
    lifecycle::{JobState, Steps},
    request::CopyRequest,
};

/// A job's id: a random UUID, printed in its hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(Uuid);

impl JobId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The EC2 ClientToken for every CopyImage call made for this job: deterministic, so a
    /// retry after a timeout or a crash returns the same AMI instead of starting another.
    pub fn ec2_client_token(&self) -> String {
        format!("amicopy-{}", self.0.simple())
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for JobId {
    fn from(value: Uuid) -> Self {
        Self(value)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Why a job failed, or why its last attempt did: EC2's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// EC2's error code or StateReason code.
    pub code: String,
    /// EC2's message.
    pub message: String,
}

impl Failure {
    /// Builds a failure from a code and a message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// One accepted copy and where it stands. Its fields change only through the transitions in
/// [`super::lifecycle`]; a store rebuilds it from its record with [`Job::restore`].
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub(super) id: JobId,
    pub(super) tenant: String,
    pub(super) request: CopyRequest,
    pub(super) request_hash: String,
    pub(super) state: JobState,
    pub(super) image_id: Option<String>,
    pub(super) failure: Option<Failure>,
    pub(super) progress_percent: Option<u8>,
    pub(super) attempts: u32,
    pub(super) next_attempt_at: DateTime<Utc>,
    pub(super) lease_owner: Option<String>,
    pub(super) lease_expires_at: Option<DateTime<Utc>>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) version: i64,
    pub(super) last_event_sequence: u64,
    pub(super) snapshot_ids: Vec<String>,
    pub(super) steps_done: Steps,
    pub(super) step_failures: u32,
    pub(super) copying_since: Option<DateTime<Utc>>,
    pub(super) distribution_id: Option<DistributionId>,
}

/// A job exactly as a store records it: every field, for writing rows and reading them back.
/// Only stores (and their tests) build one; everyone else moves a job through its transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredJob {
    /// The job's id.
    pub id: JobId,
    /// Who created the job; every read is scoped to it.
    pub tenant: String,
    /// The accepted request.
    pub request: CopyRequest,
    /// [`CopyRequest::fingerprint`] of the request, for idempotency checks.
    pub request_hash: String,
    /// Where the job stands.
    pub state: JobState,
    /// The new AMI, once EC2 accepted the copy.
    pub image_id: Option<String>,
    /// Why the job failed, or why its last attempt did.
    pub failure: Option<Failure>,
    /// Snapshot copy progress, once known.
    pub progress_percent: Option<u8>,
    /// How many times a copy was started on EC2.
    pub attempts: u32,
    /// When the engine may next work on the job.
    pub next_attempt_at: DateTime<Utc>,
    /// The engine replica that holds the job, if any.
    pub lease_owner: Option<String>,
    /// When that replica's hold runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When the job was accepted.
    pub created_at: DateTime<Utc>,
    /// When the job last changed.
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change; updates name the version they were computed from.
    pub version: i64,
    /// Sequence number of the job's newest event.
    pub last_event_sequence: u64,
    /// Snapshots of the new AMI, once it is available.
    pub snapshot_ids: Vec<String>,
    /// The checks and finishing steps done so far.
    pub steps_done: Steps,
    /// Failed tries of the current finishing step, since the last step that succeeded.
    pub step_failures: u32,
    /// When EC2 accepted the copy (progress is measured from there).
    pub copying_since: Option<DateTime<Utc>>,
    /// The distribution the job is a target of; `None` for a job made by CopyImage.
    pub distribution_id: Option<DistributionId>,
}

impl Job {
    /// Rebuilds a job from its record, as a store read it.
    pub fn restore(stored: StoredJob) -> Self {
        let StoredJob {
            id,
            tenant,
            request,
            request_hash,
            state,
            image_id,
            failure,
            progress_percent,
            attempts,
            next_attempt_at,
            lease_owner,
            lease_expires_at,
            created_at,
            updated_at,
            version,
            last_event_sequence,
            snapshot_ids,
            steps_done,
            step_failures,
            copying_since,
            distribution_id,
        } = stored;
        Self {
            id,
            tenant,
            request,
            request_hash,
            state,
            image_id,
            failure,
            progress_percent,
            attempts,
            next_attempt_at,
            lease_owner,
            lease_expires_at,
            created_at,
            updated_at,
            version,
            last_event_sequence,
            snapshot_ids,
            steps_done,
            step_failures,
            copying_since,
            distribution_id,
        }
    }

    /// The job's record, field for field: what a store writes.
    pub fn to_stored(&self) -> StoredJob {
        StoredJob {
            id: self.id,
            tenant: self.tenant.clone(),
            request: self.request.clone(),
            request_hash: self.request_hash.clone(),
            state: self.state,
            image_id: self.image_id.clone(),
            failure: self.failure.clone(),
            progress_percent: self.progress_percent,
            attempts: self.attempts,
            next_attempt_at: self.next_attempt_at,
            lease_owner: self.lease_owner.clone(),
            lease_expires_at: self.lease_expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            version: self.version,
            last_event_sequence: self.last_event_sequence,
            snapshot_ids: self.snapshot_ids.clone(),
            steps_done: self.steps_done,
            step_failures: self.step_failures,
            copying_since: self.copying_since,
            distribution_id: self.distribution_id,
        }
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Who created the job; every read is scoped to it.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The accepted request.
    pub fn request(&self) -> &CopyRequest {
        &self.request
    }

    /// [`CopyRequest::fingerprint`] of the request, for idempotency checks.
    pub fn request_hash(&self) -> &str {
        &self.request_hash
    }

    /// Where the job stands.
    pub fn state(&self) -> JobState {
        self.state
    }

    /// The new AMI, once EC2 accepted the copy.
    pub fn image_id(&self) -> Option<&str> {
        self.image_id.as_deref()
    }

    /// Why the job failed, or why its last attempt did.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// Snapshot copy progress, once known.
    pub fn progress_percent(&self) -> Option<u8> {
        self.progress_percent
    }

    /// How many times a copy was started on EC2.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the engine may next work on the job.
    pub fn next_attempt_at(&self) -> DateTime<Utc> {
        self.next_attempt_at
    }

    /// The engine replica that holds the job, if any.
    pub fn lease_owner(&self) -> Option<&str> {
        self.lease_owner.as_deref()
    }

    /// When that replica's hold runs out.
    pub fn lease_expires_at(&self) -> Option<DateTime<Utc>> {
        self.lease_expires_at
    }

    /// When the job was accepted.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// When the job last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// Incremented on every change; updates name the version they were computed from.
    pub fn version(&self) -> i64 {
        self.version
    }

    /// Sequence number of the job's newest event.
    pub fn last_event_sequence(&self) -> u64 {
        self.last_event_sequence
    }

    /// Snapshots of the new AMI, once it is available.
    pub fn snapshot_ids(&self) -> &[String] {
        &self.snapshot_ids
    }

    /// The checks and finishing steps done so far.
    pub fn steps_done(&self) -> Steps {
        self.steps_done
    }

    /// Failed tries of the current finishing step.
    pub fn step_failures(&self) -> u32 {
        self.step_failures
    }

    /// When EC2 accepted the copy, once it has.
    pub fn copying_since(&self) -> Option<DateTime<Utc>> {
        self.copying_since
    }

    /// The distribution the job is a target of; `None` for a job made by CopyImage.
    pub fn distribution_id(&self) -> Option<DistributionId> {
        self.distribution_id
    }
}

/// One step of a job's history.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// The job.
    pub job_id: JobId,
    /// 1, 2, 3, ... per job, without gaps.
    pub sequence: u64,
    /// The job's state after the event.
    pub state: JobState,
    /// The new AMI, once known.
    pub image_id: Option<String>,
    /// Progress after the event, once known.
    pub progress_percent: Option<u8>,
    /// EC2's code, for failures and retries.
    pub failure_code: Option<String>,
    /// What happened, for people.
    pub detail: String,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl JobEvent {
    /// The event a change to `job` appends, exactly as the store records it: the job's newest
    /// sequence, state, image, progress and failure code, at the job's update time.
    pub fn of(job: &Job, detail: &str) -> Self {
        Self {
            job_id: job.id,
            sequence: job.last_event_sequence,
            state: job.state,
            image_id: job.image_id.clone(),
            progress_percent: job.progress_percent,
            failure_code: job.failure.as_ref().map(|f| f.code.clone()),
            detail: detail.to_owned(),
            created_at: job.updated_at,
        }
    }
}
