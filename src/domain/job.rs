//! A copy job: one accepted request and where it stands, plus the events that make up its
//! history.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::request::CopyRequest;

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

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Recorded, waiting for the destination's limits or for a retry.
    Queued,
    /// EC2 accepted the copy; the new AMI is pending.
    Copying,
    /// The new AMI is available. Terminal.
    Available,
    /// The copy failed. Terminal.
    Failed,
    /// A cancel was asked while copying; the pending AMI is being deregistered.
    Cancelling,
    /// Cancelled. Terminal.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Copying,
        JobState::Available,
        JobState::Failed,
        JobState::Cancelling,
        JobState::Cancelled,
    ];

    /// Whether the job has ended and will never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Available | Self::Failed | Self::Cancelled)
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Copying => "copying",
            Self::Available => "available",
            Self::Failed => "failed",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown job state {s:?}"))
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

/// One accepted copy, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
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
