//! The life of a copy job, in one place: the states a job can be in and every way it may move.
//!
//! ```text
//!                       accept
//!                         │
//!                         ▼   checked · attempt recorded · attempt failed, retry · wait for limits
//!                      QUEUED ◄──────────────────────────────┐
//!      copy started   │  │ └─────────────────────────────────┘
//!        or adopted   │  └── check failed · attempt failed, give up ──────► FAILED
//!                     ▼
//!                  COPYING ◄── progress
//!                     │  └──── copy failed (EC2 says failed, or the image is lost) ──► FAILED
//!          available  ▼   (nothing to finish: straight to AVAILABLE)
//!                 FINISHING ◄── step done · step failed, retry
//!                     │  └──── step failed for good (the image is kept) ──► FAILED
//!     last step done  ▼
//!                 AVAILABLE
//!
//!   cancel requested:  QUEUED, nothing started ──────────────────────────► CANCELLED
//!                      QUEUED, maybe starting · COPYING · FINISHING
//!                          ──► CANCELLING ── deregistered ──► CANCELLED
//! ```
//!
//! AVAILABLE means everything asked for is done: the copy, then its finishing [`Step`]s (launch
//! permissions, snapshot permissions, deprecation), each recorded as an event.
//!
//! The engine decides *when* a job moves (a tick, EC2's answer, a caller's cancel); the methods
//! on [`Job`] here decide *what* the move is: each returns a [`Change`] (the next job and the
//! event to record) or [`Refused`] when the job's state does not allow the move. Nothing else
//! can change a job.

use std::{fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};

use super::{
    codes,
    distribution::DistributionId,
    job::{Failure, Job, JobId},
    request::CopyRequest,
};

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
    /// The new AMI is available in EC2; its finishing steps are being applied.
    Finishing,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Copying,
        JobState::Finishing,
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
            Self::Finishing => "finishing",
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

/// A move a job's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {job} is {state}: it cannot {transition}")]
pub struct Refused {
    /// The job.
    pub job: JobId,
    /// The state it is in.
    pub state: JobState,
    /// The move that was asked for.
    pub transition: &'static str,
}

/// One move of a job: the job as it is to be recorded, and the event that tells of it (`None`
/// for bookkeeping nobody watches, such as rescheduling).
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a change does nothing until it is recorded"]
pub struct Change {
    job: Job,
    event: Option<String>,
}

impl Change {
    fn new(job: Job, event: impl Into<String>) -> Self {
        Self {
            job,
            event: Some(event.into()),
        }
    }

    fn quiet(job: Job) -> Self {
        Self { job, event: None }
    }

    /// The job as it is to be recorded.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The event's detail, for people; `None` when the change appends no event.
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }
}

/// How an attempt to start a copy failed, as the engine sorted EC2's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFailure {
    /// EC2 has too many copies in progress: wait, without counting it against the job.
    QuotaFull,
    /// EC2 throttled the call: it proves no copy was made and says nothing against the request,
    /// so it never uses up the job's attempts; the backoff grows to its cap instead, however long
    /// EC2 throttles.
    Throttled,
    /// A retry may succeed (throttling, EC2 internal errors, timeouts).
    Transient,
    /// The same call will fail the same way every time.
    Permanent,
}

/// How a job whose attempt failed may be retried: the engine's settings and backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPlan {
    /// Attempts after which a transient failure fails the job.
    pub max_attempts: u32,
    /// The backoff delay before the next attempt.
    pub delay: Duration,
    /// The current time.
    pub now: DateTime<Utc>,
}

/// What EC2 said that ends a running copy without an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyEnd {
    /// The image is `failed`, with EC2's state reason (or none).
    Failed(Option<Failure>),
    /// The image is in another state that cannot become available (`invalid`, `error`).
    Broken {
        /// EC2's state name.
        state: String,
        /// EC2's state reason, if any.
        reason: Option<Failure>,
    },
    /// The image has not been seen for longer than EC2's eventual consistency can explain.
    Missing {
        /// How long it has been missing.
        for_duration: Duration,
    },
    /// The image was deregistered by someone else before the copy completed.
    Deregistered,
}

/// How a cancelled copy was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The pending image was deregistered.
    Deregistered(String),
    /// The finished image was deregistered and its snapshots deleted.
    DeregisteredWithSnapshots(String),
    /// The image could not be deregistered, for good; there is nothing left to stop.
    Undeletable {
        /// The image.
        image_id: String,
        /// EC2's error.
        error: String,
    },
    /// No copy had been made.
    NothingMade,
}

/// What is done to a copy around the CopyImage call: the checks before it, and the finishing
/// steps after the new AMI is available, in the order they are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Before the first attempt: the source is shared with the destination account when that
    /// is configured, the source is visible there, and the KMS key is usable there.
    Checks,
    /// Grant the request's launch permissions on the new AMI (ModifyImageAttribute).
    LaunchPermissions,
    /// Grant createVolumePermission on each snapshot of the new AMI (ModifySnapshotAttribute).
    SnapshotPermissions,
    /// Deprecate the new AMI at the requested time (EnableImageDeprecation).
    Deprecation,
}

impl Step {
    /// The finishing steps, in the order they are done.
    pub const FINISHING: [Step; 3] = [Step::LaunchPermissions, Step::SnapshotPermissions, Step::Deprecation];

    /// What the step does, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Checks => "checking the source and the KMS key",
            Self::LaunchPermissions => "granting launch permissions",
            Self::SnapshotPermissions => "sharing the snapshots",
            Self::Deprecation => "setting the deprecation time",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Checks => 1,
            Self::LaunchPermissions => 2,
            Self::SnapshotPermissions => 4,
            Self::Deprecation => 8,
        }
    }
}

/// The [`Step`]s done so far, as a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Steps(u8);

impl Steps {
    /// Whether `step` is done.
    pub fn contains(self, step: Step) -> bool {
        self.0 & step.bit() != 0
    }

    /// The set with `step` added.
    pub fn with(self, step: Step) -> Self {
        Self(self.0 | step.bit())
    }

    /// The set as a store keeps it: a bit per step.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Rebuilds a set from [`Steps::bits`]; unknown bits are dropped.
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 0x0f)
    }
}

/// The detail of every job's first event.
pub const ACCEPTED: &str = "job accepted";

/// The detail of the first event of a distribution's target job.
pub const TARGET_ACCEPTED: &str = "job accepted as a target of its distribution";

impl Job {
    /// A new job for `request`, QUEUED and due at once, optionally leased to the replica that
    /// accepted it so it can start the copy without another replica racing it.
    pub fn accept(
        id: JobId,
        tenant: impl Into<String>,
        request: CopyRequest,
        now: DateTime<Utc>,
        lease: Option<(String, DateTime<Utc>)>,
    ) -> Change {
        let (lease_owner, lease_expires_at) = lease.unzip();
        let job = Job {
            id,
            tenant: tenant.into(),
            request_hash: request.fingerprint(),
            request,
            state: JobState::Queued,
            image_id: None,
            failure: None,
            progress_percent: None,
            attempts: 0,
            next_attempt_at: now,
            lease_owner,
            lease_expires_at,
            created_at: now,
            updated_at: now,
            version: 1,
            last_event_sequence: 1,
            snapshot_ids: Vec::new(),
            steps_done: Steps::default(),
            step_failures: 0,
            copying_since: None,
            distribution_id: None,
        };
        Change::new(job, ACCEPTED)
    }

    /// A new job whose Region admitted its copy at once: QUEUED, its first attempt recorded
    /// and leased to `lease` (the replica's inline owner), all in the one commit that creates
    /// it, so the copy can be started as soon as that commit is done. After a crash before
    /// EC2's answer is recorded, the job is known to have a copy whose outcome is unknown.
    pub fn accept_starting(
        id: JobId,
        tenant: impl Into<String>,
        request: CopyRequest,
        now: DateTime<Utc>,
        lease: (String, DateTime<Utc>),
    ) -> Change {
        let mut change = Self::accept(id, tenant, request, now, Some(lease));
        change.job.attempts = 1;
        change.event = Some(format!("{ACCEPTED}; starting copy (attempt 1)"));
        change
    }

    /// A new job whose Region is at its copy limits: QUEUED without a lease, due at `until`,
    /// for whichever replica's tick comes first.
    pub fn accept_waiting(
        id: JobId,
        tenant: impl Into<String>,
        request: CopyRequest,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Change {
        let mut change = Self::accept(id, tenant, request, now, None);
        change.job.next_attempt_at = until;
        change.event = Some(format!(
            "{ACCEPTED}; waiting: {} is at its copy limits",
            change.job.request.destination_region
        ));
        change
    }

    /// A new job for one target of `distribution`: QUEUED, due at once and without a lease, so
    /// the engine's next tick starts it (a distribution never starts its copies inside the
    /// call). It carries no client token of its own: the distribution's makes retries safe.
    pub fn accept_target(
        id: JobId,
        tenant: impl Into<String>,
        request: CopyRequest,
        distribution: DistributionId,
        now: DateTime<Utc>,
    ) -> Change {
        let request = CopyRequest {
            client_token: None,
            ..request
        };
        let mut change = Self::accept(id, tenant, request, now, None);
        change.job.distribution_id = Some(distribution);
        change.event = Some(TARGET_ACCEPTED.to_owned());
        change
    }

    /// Whether a queued job may have a CopyImage call in flight or an image whose creation was
    /// never confirmed, so that cancelling it must look for an image to deregister.
    pub fn may_be_starting(&self, now: DateTime<Utc>) -> bool {
        let leased = self.lease_expires_at.is_some_and(|until| until > now);
        leased || self.attempts > 0
    }

    /// Whether an earlier CopyImage call of this job may have made an image nobody recorded:
    /// the process died during the call (no failure recorded) or the call failed in a way that
    /// does not prove EC2 did nothing. Throttling and quota refusals prove it.
    pub fn earlier_outcome_unknown(&self) -> bool {
        self.attempts > 0
            && match &self.failure {
                None => true,
                Some(failure) => !matches!(
                    failure.code.as_str(),
                    codes::REQUEST_LIMIT_EXCEEDED | codes::RESOURCE_LIMIT_EXCEEDED
                ),
            }
    }

    /// When a CopyImage call of an earlier attempt that nobody saw end (its replica died or lost
    /// its lease during the call) can no longer reach EC2: one more lease after the lease that
    /// attempt took ran out. Before then, looking for its image may find nothing although the
    /// call is still on its way. `None` when no such call can be in flight.
    ///
    /// The attempt was the job's last change (claims and deferrals leave `updated_at` alone),
    /// so the attempt's time stays known however often the job is taken over.
    pub fn earlier_call_settles_at(&self, lease: Duration) -> Option<DateTime<Utc>> {
        (self.attempts > 0 && self.failure.is_none()).then(|| after(after(self.updated_at, lease), lease))
    }

    /// QUEUED → QUEUED: an attempt to start the copy is about to be made. Recorded before the
    /// call, so that after a crash during it the job is known to have a copy whose outcome is
    /// unknown. Renews the lease until `lease_until`.
    pub fn record_attempt(&self, lease_until: DateTime<Utc>) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "record an attempt")?;
        let mut next = self.clone();
        next.attempts += 1;
        next.failure = None;
        next.lease_expires_at = Some(lease_until);
        let detail = format!("starting copy (attempt {})", next.attempts);
        Ok(Change::new(next, detail))
    }

    /// QUEUED → COPYING: EC2 accepted the copy at `now` and answered with `image_id`; the
    /// engine looks at it first at `first_look`.
    pub fn copy_started(
        &self,
        image_id: &str,
        now: DateTime<Utc>,
        first_look: DateTime<Utc>,
    ) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "start copying")?;
        Ok(self.copying(image_id, now, first_look, format!("copy started: {image_id}")))
    }

    /// QUEUED → COPYING: an image an earlier attempt made (whose answer was lost) was found by
    /// its name and taken as this job's copy.
    pub fn copy_adopted(
        &self,
        image_id: &str,
        now: DateTime<Utc>,
        first_look: DateTime<Utc>,
    ) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "adopt a copy")?;
        let detail = format!("adopted {image_id}, found by name after an attempt whose outcome was unknown");
        Ok(self.copying(image_id, now, first_look, detail))
    }

    fn copying(&self, image_id: &str, now: DateTime<Utc>, first_look: DateTime<Utc>, detail: String) -> Change {
        let mut next = self.released();
        next.state = JobState::Copying;
        next.image_id = Some(image_id.to_owned());
        next.failure = None;
        next.progress_percent = None;
        next.copying_since = Some(now);
        next.next_attempt_at = first_look;
        Change::new(next, detail)
    }

    /// QUEUED → QUEUED or FAILED: an attempt to start the copy failed. A full quota and
    /// throttling wait without giving up; a transient failure is retried after `plan.delay` until
    /// `plan.max_attempts`; a permanent one fails the job at once.
    pub fn attempt_failed(&self, failure: Failure, kind: AttemptFailure, plan: RetryPlan) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "record a failed attempt")?;
        let mut next = self.released();
        let error = format!("{}: {}", failure.code, failure.message);
        next.failure = Some(failure);
        let retry_at = after(plan.now, plan.delay);
        let detail = match kind {
            AttemptFailure::QuotaFull => {
                next.next_attempt_at = retry_at;
                format!(
                    "waiting: EC2 has too many copies in progress in {} ({error})",
                    next.request.destination_region
                )
            }
            AttemptFailure::Throttled => {
                next.next_attempt_at = retry_at;
                format!(
                    "attempt {} throttled: {error}; retrying in {:.1}s",
                    next.attempts,
                    plan.delay.as_secs_f64()
                )
            }
            AttemptFailure::Permanent => {
                next.state = JobState::Failed;
                format!("copy refused: {error}")
            }
            AttemptFailure::Transient if next.attempts >= plan.max_attempts => {
                next.state = JobState::Failed;
                format!("gave up after {} attempts: {error}", next.attempts)
            }
            AttemptFailure::Transient => {
                next.next_attempt_at = retry_at;
                format!(
                    "attempt {} failed: {error}; retrying in {:.1}s",
                    next.attempts,
                    plan.delay.as_secs_f64()
                )
            }
        };
        Ok(Change::new(next, detail))
    }

    /// QUEUED → QUEUED: the destination Region is at its copy limits; try again at `until`.
    pub fn wait_for_limits(&self, until: DateTime<Utc>) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "wait for the Region's limits")?;
        let mut next = self.released();
        next.next_attempt_at = until;
        let detail = format!("waiting: {} is at its copy limits", next.request.destination_region);
        Ok(Change::new(next, detail))
    }

    /// QUEUED → QUEUED, without an event: put off until `until` and let any replica take it.
    pub fn postpone(&self, until: DateTime<Utc>) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "be postponed")?;
        let mut next = self.released();
        next.next_attempt_at = until;
        Ok(Change::quiet(next))
    }

    /// COPYING → COPYING: the snapshots are `percent` copied (capped at 99 until the image is
    /// available). `None` when that is no news; the next look is due at `next_look`.
    pub fn progressed(&self, percent: u8, next_look: DateTime<Utc>) -> Result<Option<Change>, Refused> {
        self.expect(&[JobState::Copying], "record progress")?;
        let percent = percent.min(99);
        if self.progress_percent.is_some_and(|known| known >= percent) {
            return Ok(None);
        }
        let mut next = self.released();
        next.progress_percent = Some(percent);
        next.next_attempt_at = next_look;
        Ok(Some(Change::new(next, format!("copying: {percent}%"))))
    }

    /// COPYING → FINISHING (or straight to AVAILABLE when nothing is asked after the copy): EC2
    /// says the new image is available, with these snapshots.
    pub fn copy_available(&self, snapshot_ids: Vec<String>, now: DateTime<Utc>) -> Result<Change, Refused> {
        self.expect(&[JobState::Copying], "become available")?;
        let mut next = self.released();
        next.progress_percent = Some(100);
        next.failure = None;
        next.snapshot_ids = snapshot_ids;
        next.next_attempt_at = now;
        let image_id = next.image_id.as_deref().unwrap_or_default().to_owned();
        let steps: Vec<&str> = Step::FINISHING
            .into_iter()
            .filter(|step| next.wants(*step))
            .map(Step::describe)
            .collect();
        if steps.is_empty() {
            next.state = JobState::Available;
            return Ok(Change::new(next, format!("{image_id} is available")));
        }
        next.state = JobState::Finishing;
        let detail = format!("{image_id} is available in EC2; finishing: {}", steps.join(", "));
        Ok(Change::new(next, detail))
    }

    /// Whether the request asks for `step`.
    pub fn wants(&self, step: Step) -> bool {
        let request = &self.request;
        match step {
            Step::Checks => true,
            Step::LaunchPermissions => !request.launch_permissions.is_empty(),
            Step::SnapshotPermissions => !request.snapshot_user_ids.is_empty(),
            Step::Deprecation => request.deprecate_at.is_some(),
        }
    }

    /// The finishing step to do next: the first one asked for and not done; `None` outside
    /// FINISHING.
    pub fn next_step(&self) -> Option<Step> {
        if self.state != JobState::Finishing {
            return None;
        }
        Step::FINISHING
            .into_iter()
            .find(|step| self.wants(*step) && !self.steps_done.contains(*step))
    }

    /// QUEUED → QUEUED: the checks before the first attempt passed; `detail` says what was
    /// checked (and shared).
    pub fn checked(&self, detail: impl Into<String>) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "be checked")?;
        let mut next = self.clone();
        next.steps_done = next.steps_done.with(Step::Checks);
        Ok(Change::new(next, detail))
    }

    /// QUEUED → FAILED: a check before the copy found it cannot succeed (the source is not
    /// visible to the destination account, the KMS key is missing or disabled there, ...).
    pub fn check_failed(&self, failure: Failure) -> Result<Change, Refused> {
        self.expect(&[JobState::Queued], "fail its checks")?;
        let mut next = self.released();
        next.state = JobState::Failed;
        let detail = format!("refused before copying: {}: {}", failure.code, failure.message);
        next.failure = Some(failure);
        Ok(Change::new(next, detail))
    }

    /// FINISHING → FINISHING, or AVAILABLE after the last step: `step` was done; `detail` says
    /// what EC2 now has.
    pub fn step_done(&self, step: Step, detail: &str, now: DateTime<Utc>) -> Result<Change, Refused> {
        self.expect(&[JobState::Finishing], "finish a step")?;
        let mut next = self.released();
        next.steps_done = next.steps_done.with(step);
        next.step_failures = 0;
        next.failure = None;
        next.next_attempt_at = now;
        if next.next_step().is_none() {
            next.state = JobState::Available;
            let image_id = next.image_id.as_deref().unwrap_or_default();
            return Ok(Change::new(next.clone(), format!("{detail}; {image_id} is available")));
        }
        Ok(Change::new(next, detail))
    }

    /// FINISHING → FINISHING (retry at `plan.now + plan.delay`, without an event) or FAILED: a
    /// finishing step failed. EC2's eventual consistency right after `available` and throttling
    /// are transient; the job fails (keeping its image id) on a permanent error or after
    /// `plan.max_attempts` tries of the step.
    pub fn step_failed(
        &self,
        step: Step,
        failure: Failure,
        kind: AttemptFailure,
        plan: RetryPlan,
    ) -> Result<Change, Refused> {
        self.expect(&[JobState::Finishing], "fail a step")?;
        let mut next = self.released();
        next.step_failures += 1;
        let error = format!("{}: {}", failure.code, failure.message);
        next.failure = Some(failure);
        let gave_up = next.step_failures >= plan.max_attempts;
        if kind != AttemptFailure::Permanent && !gave_up {
            next.next_attempt_at = after(plan.now, plan.delay);
            return Ok(Change::quiet(next));
        }
        next.state = JobState::Failed;
        let detail = if gave_up && kind != AttemptFailure::Permanent {
            format!(
                "{} failed {} times; giving up: {error}",
                step.describe(),
                next.step_failures
            )
        } else {
            format!("{} failed: {error}", step.describe())
        };
        Ok(Change::new(next, detail))
    }

    /// COPYING → FAILED: EC2 says the copy failed, or its image is gone.
    pub fn copy_failed(&self, end: CopyEnd) -> Result<Change, Refused> {
        self.expect(&[JobState::Copying], "fail its copy")?;
        let mut next = self.released();
        let image_id = next.image_id.clone().unwrap_or_default();
        let (failure, detail) = match end {
            CopyEnd::Failed(reason) => {
                let reason = reason.unwrap_or_else(|| {
                    Failure::new(
                        "Server.InternalError",
                        "EC2 reported the image as failed without a reason",
                    )
                });
                let detail = format!("copy failed: {}: {}", reason.code, reason.message);
                (reason, detail)
            }
            CopyEnd::Broken { state, reason } => {
                let reason = reason.unwrap_or_else(|| {
                    Failure::new("Server.InternalError", format!("EC2 reported the image as {state}"))
                });
                (reason, format!("copy failed: image is {state}"))
            }
            CopyEnd::Missing { for_duration } => (
                Failure::new(
                    codes::INVALID_AMI_ID_NOT_FOUND,
                    format!(
                        "{image_id} was not found in {} for {}s",
                        next.request.destination_region,
                        for_duration.as_secs()
                    ),
                ),
                format!("copy lost: {image_id} is not in the destination Region"),
            ),
            CopyEnd::Deregistered => (
                Failure::new(
                    "ImageDeregistered",
                    format!("{image_id} was deregistered outside amicopy before the copy completed"),
                ),
                format!("copy lost: {image_id} was deregistered"),
            ),
        };
        next.state = JobState::Failed;
        next.failure = Some(failure);
        Ok(Change::new(next, detail))
    }

    /// A caller asks to cancel. A queued job that cannot have started anything is CANCELLED at
    /// once; a job that may have an image (queued with an attempt or a lease, or copying)
    /// moves to CANCELLING so the engine deregisters it. `None` when a cancel is already under
    /// way; refused once the job has ended.
    pub fn request_cancel(&self, now: DateTime<Utc>) -> Result<Option<Change>, Refused> {
        self.expect(
            &[
                JobState::Queued,
                JobState::Copying,
                JobState::Finishing,
                JobState::Cancelling,
            ],
            "be cancelled",
        )?;
        if self.state == JobState::Cancelling {
            return Ok(None);
        }
        if self.state == JobState::Queued && !self.may_be_starting(now) {
            let mut next = self.released();
            next.state = JobState::Cancelled;
            return Ok(Some(Change::new(next, "cancelled before the copy started")));
        }
        let mut next = self.clone();
        next.state = JobState::Cancelling;
        next.next_attempt_at = now;
        Ok(Some(Change::new(
            next,
            "cancel requested: the pending image will be deregistered",
        )))
    }

    /// CANCELLING → CANCELLING: the copy that was being started when the cancel arrived turned
    /// out to exist as `image_id`; it is the image to deregister.
    pub fn hand_image_to_cancel(&self, image_id: &str, now: DateTime<Utc>) -> Result<Change, Refused> {
        self.expect(&[JobState::Cancelling], "take an image to deregister")?;
        if self.image_id.is_some() {
            return Err(self.refuse("take a second image to deregister"));
        }
        let mut next = self.clone();
        next.image_id = Some(image_id.to_owned());
        next.next_attempt_at = now;
        Ok(Change::new(
            next,
            format!("copy had started as {image_id}; deregistering it"),
        ))
    }

    /// CANCELLING → CANCELLED: the copy was stopped (its image deregistered), or there was
    /// nothing to stop.
    pub fn stopped(&self, how: Stop) -> Result<Change, Refused> {
        self.expect(&[JobState::Cancelling], "be stopped")?;
        let mut next = self.released();
        next.state = JobState::Cancelled;
        let detail = match how {
            Stop::Deregistered(image_id) => format!("deregistered {image_id}; copy stopped"),
            Stop::DeregisteredWithSnapshots(image_id) => {
                format!("deregistered {image_id} and deleted its snapshots")
            }
            Stop::Undeletable { image_id, error } => {
                format!("{image_id} could not be deregistered ({error}); nothing left to stop")
            }
            Stop::NothingMade => "cancelled before any copy was made".to_owned(),
        };
        Ok(Change::new(next, detail))
    }

    fn expect(&self, allowed: &[JobState], transition: &'static str) -> Result<(), Refused> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(self.refuse(transition))
        }
    }

    fn refuse(&self, transition: &'static str) -> Refused {
        Refused {
            job: self.id,
            state: self.state,
            transition,
        }
    }

    /// A copy without a lease, so any replica may work on it when it is next due.
    fn released(&self) -> Job {
        let mut next = self.clone();
        next.lease_owner = None;
        next.lease_expires_at = None;
        next
    }
}

/// `time + duration`, saturating.
pub(super) fn after(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| time.checked_add_signed(d))
        .unwrap_or(time)
}

#[cfg(test)]
mod tests;
