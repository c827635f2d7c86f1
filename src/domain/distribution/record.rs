//! A distribution as it is recorded: the aggregate row, its targets, its events, and the moves
//! the engine makes on it. Each move returns the distribution as it is to be recorded and the
//! detail of its state event, or the [`Refusal`] of [`super::aggregate::next`].

use chrono::{DateTime, Utc};

use super::{
    Counts, DistributionId, DistributionRequest, DistributionState, FailurePolicy, PlannedTarget,
    aggregate::{self, Event, Refusal, Transition},
};
use crate::domain::{AccountId, Change, Job, JobEvent, JobId, JobState, Region};

/// A distribution exactly as a store records it: every field, for writing rows and reading them
/// back. Only stores (and their tests) build one.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDistribution {
    /// The distribution's id.
    pub id: DistributionId,
    /// Who created it; every read is scoped to it.
    pub tenant: String,
    /// The accepted request.
    pub request: DistributionRequest,
    /// [`DistributionRequest::fingerprint`], for idempotency checks.
    pub request_hash: String,
    /// Where it stands as a whole.
    pub state: DistributionState,
    /// Targets per job state.
    pub counts: Counts,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When its aggregate state last changed.
    pub updated_at: DateTime<Utc>,
    /// Sequence number of its newest event.
    pub last_sequence: u64,
    /// Incremented on every change of its state; engine moves name the version they were
    /// computed from.
    pub version: i64,
    /// When the engine should next work on it (cancelling or rolling back); `None`: nothing to do.
    pub next_action_at: Option<DateTime<Utc>>,
    /// The engine replica that holds it, if any.
    pub lease_owner: Option<String>,
    /// When that replica's hold runs out.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

/// One accepted distribution and where it stands. Its fields change only through the moves
/// below; a store rebuilds it with [`Distribution::restore`].
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution(StoredDistribution);

/// A move of a distribution: the distribution as it is to be recorded, and the detail of the
/// state event that tells of it.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a change does nothing until it is recorded"]
pub struct DistributionChange {
    distribution: Distribution,
    detail: String,
}

impl DistributionChange {
    /// The distribution as it is to be recorded.
    pub fn distribution(&self) -> &Distribution {
        &self.distribution
    }

    /// The state event's detail, for people.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// One (account, Region) target of a distribution and its current job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The distribution.
    pub distribution_id: DistributionId,
    /// Its place in the request's order, from 0.
    pub position: u32,
    /// The account; `None` for the service's own.
    pub account: Option<AccountId>,
    /// The Region.
    pub region: Region,
    /// The AMI name, the template expanded.
    pub name: String,
    /// The current job (a retry starts a new one).
    pub job_id: JobId,
    /// How many jobs the target has had: 1, then 2 after one retry, ...
    pub generation: u32,
    /// Whether a roll-back deregistered the target's image.
    pub rolled_back: bool,
}

impl Target {
    /// The target for people: `222233334444/eu-west-1`, or the Region alone for the service's
    /// own account.
    pub fn label(&self) -> String {
        label(self.account.as_ref(), &self.region)
    }
}

/// `account/region`, or the Region alone for the service's own account.
pub(crate) fn label(account: Option<&AccountId>, region: &Region) -> String {
    match account {
        Some(account) => format!("{account}/{region}"),
        None => region.to_string(),
    }
}

/// A target with its current job, as GetDistribution and the engine read them.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetJob {
    /// The target.
    pub target: Target,
    /// Its current job.
    pub job: Job,
}

/// A target to record with a new distribution, with its job's first change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget {
    /// The target.
    pub target: Target,
    /// The job [`Job::accept_target`] made for it.
    pub job: Change,
}

/// What accepting a distribution makes: the distribution (RUNNING, every target QUEUED), the
/// detail of its first event, and a target with a queued job per (account, Region).
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The distribution as it is to be recorded.
    pub distribution: Distribution,
    /// The first event's detail.
    pub detail: String,
    /// Its targets, in order.
    pub targets: Vec<NewTarget>,
}

/// A target a retry gives a new job.
#[derive(Debug, Clone, PartialEq)]
pub struct RetriedTarget {
    /// The target as it is to be recorded: the new job, the next generation.
    pub target: Target,
    /// The job it had, and that job's (terminal) state.
    pub replaced: (JobId, JobState),
    /// The new job's first change.
    pub job: Change,
}

/// What a retry makes: the distribution RUNNING again, and a new job per retried target.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a retry does nothing until it is recorded"]
pub struct Retry {
    /// The distribution's change (its counts are adjusted by the store, per retried target).
    pub change: DistributionChange,
    /// The targets given new jobs.
    pub retried: Vec<RetriedTarget>,
}

/// One event of a distribution's history.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionEvent {
    /// The distribution.
    pub distribution_id: DistributionId,
    /// 1, 2, 3, ... per distribution, without gaps.
    pub sequence: u64,
    /// What happened.
    pub kind: DistributionEventKind,
}

/// What a distribution event tells.
#[derive(Debug, Clone, PartialEq)]
pub enum DistributionEventKind {
    /// An event of one target's job.
    Target {
        /// The target's account; `None` for the service's own.
        account: Option<AccountId>,
        /// The target's Region.
        region: Region,
        /// The job's event.
        event: JobEvent,
    },
    /// A change of the aggregate (its state, or a step of a roll-back).
    State {
        /// The state after the event.
        state: DistributionState,
        /// The counts when it happened.
        counts: Counts,
        /// What happened, for people.
        detail: String,
        /// When it happened.
        created_at: DateTime<Utc>,
    },
}

impl DistributionEventKind {
    /// Whether the event ends a watch: a state event of a terminal state.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::State { state, .. } if state.is_terminal())
    }
}

impl Distribution {
    /// Rebuilds a distribution from its record, as a store read it.
    pub fn restore(stored: StoredDistribution) -> Self {
        Self(stored)
    }

    /// The distribution's record, field for field: what a store writes.
    pub fn to_stored(&self) -> StoredDistribution {
        self.0.clone()
    }

    /// A new distribution of `request` for `tenant`, RUNNING with a QUEUED job per planned
    /// target (no lease: the engine's tick starts them).
    pub fn accept(
        id: DistributionId,
        tenant: impl Into<String>,
        request: DistributionRequest,
        planned: Vec<PlannedTarget>,
        now: DateTime<Utc>,
    ) -> Accepted {
        let tenant = tenant.into();
        let total = u32::try_from(planned.len()).unwrap_or(u32::MAX);
        let accounts = {
            let mut accounts: Vec<Option<&AccountId>> = planned.iter().map(|p| p.account.as_ref()).collect();
            accounts.sort();
            accounts.dedup();
            accounts.len()
        };
        let targets: Vec<NewTarget> = planned
            .into_iter()
            .map(|planned| {
                let job_id = JobId::new();
                NewTarget {
                    target: Target {
                        distribution_id: id,
                        position: planned.position,
                        account: planned.account,
                        region: planned.region,
                        name: planned.copy.name.to_string(),
                        job_id,
                        generation: 1,
                        rolled_back: false,
                    },
                    job: Job::accept_target(job_id, tenant.clone(), planned.copy, id, now),
                }
            })
            .collect();
        let policy = match request.failure_policy {
            FailurePolicy::Continue => "the others continue when one fails",
            FailurePolicy::RollBack => "everything is rolled back when one fails",
        };
        let detail = format!("distribution accepted: {total} target(s) in {accounts} account(s); {policy}");
        let distribution = Self(StoredDistribution {
            id,
            tenant,
            request_hash: request.fingerprint(),
            request,
            state: DistributionState::Running,
            counts: Counts {
                queued: total,
                ..Counts::default()
            },
            created_at: now,
            updated_at: now,
            // The state event, then one target event per job's first event.
            last_sequence: u64::from(total) + 1,
            version: 1,
            next_action_at: None,
            lease_owner: None,
            lease_expires_at: None,
        });
        Accepted {
            distribution,
            detail,
            targets,
        }
    }

    /// What the store asks after it moved one target's counts (the distribution as read back
    /// after that): the state change the move causes, if any. `target` names the target.
    pub fn after_target_moved(&self, to: JobState, target: &str, now: DateTime<Utc>) -> Option<DistributionChange> {
        let event = Event::TargetMoved { to, target };
        // A target event is never refused: the counts always follow the jobs.
        let transition = aggregate::next(self.0.state, self.policy(), &self.0.counts, event).ok()??;
        Some(self.moved(transition, now))
    }

    /// A caller asks to cancel: RUNNING becomes CANCELLING, and the engine cancels every target
    /// that has not ended. `None` when a cancel (or a roll-back) is already under way; refused
    /// once the distribution has ended.
    pub fn request_cancel(&self, now: DateTime<Utc>) -> Result<Option<DistributionChange>, Refusal> {
        let transition = aggregate::next(self.0.state, self.policy(), &self.0.counts, Event::CancelRequested)?;
        Ok(transition.map(|transition| self.moved(transition, now)))
    }

    /// A caller asks to retry: every FAILED and CANCELLED target of `targets` (all of the
    /// distribution's, with their jobs) gets a new job of the same request; AVAILABLE targets
    /// keep theirs. Only from PARTIALLY_SUCCEEDED, FAILED or CANCELLED.
    pub fn retry(&self, targets: &[TargetJob], now: DateTime<Utc>) -> Result<Retry, Refusal> {
        let transition = aggregate::next(self.0.state, self.policy(), &self.0.counts, Event::RetryRequested)?
            .ok_or_else(|| Refusal {
                state: self.0.state,
                action: "be retried",
                why: "nothing changes".to_owned(),
            })?;
        let retried = targets
            .iter()
            .filter(|TargetJob { job, .. }| matches!(job.state(), JobState::Failed | JobState::Cancelled))
            .map(|TargetJob { target, job }| {
                let job_id = JobId::new();
                RetriedTarget {
                    target: Target {
                        job_id,
                        generation: target.generation + 1,
                        rolled_back: false,
                        ..target.clone()
                    },
                    replaced: (job.id(), job.state()),
                    job: Job::accept_target(job_id, self.0.tenant.clone(), job.request().clone(), self.0.id, now),
                }
            })
            .collect();
        Ok(Retry {
            change: self.moved(transition, now),
            retried,
        })
    }

    /// ROLLING_BACK → ROLLED_BACK: the engine found every target ended and every image made
    /// deregistered.
    pub fn rolled_back(&self, now: DateTime<Utc>) -> Result<DistributionChange, Refusal> {
        let transition =
            aggregate::next(self.0.state, self.policy(), &self.0.counts, Event::RolledBack)?.ok_or_else(|| {
                Refusal {
                    state: self.0.state,
                    action: "end its roll-back",
                    why: "nothing changes".to_owned(),
                }
            })?;
        Ok(self.moved(transition, now))
    }

    /// CANCELLING with every target ended (the last one ended before the cancel was recorded):
    /// CANCELLED. `None` when targets have not ended or the distribution is not cancelling.
    pub fn settle_cancel(&self, now: DateTime<Utc>) -> Option<DistributionChange> {
        if self.0.state != DistributionState::Cancelling || !self.0.counts.all_ended() {
            return None;
        }
        self.after_target_moved(JobState::Cancelled, "", now)
    }

    fn moved(&self, transition: Transition, now: DateTime<Utc>) -> DistributionChange {
        let mut next = self.0.clone();
        next.state = transition.state;
        next.updated_at = now;
        next.next_action_at = transition.state.needs_engine().then_some(now);
        next.lease_owner = None;
        next.lease_expires_at = None;
        DistributionChange {
            distribution: Self(next),
            detail: transition.detail,
        }
    }

    /// The distribution's id.
    pub fn id(&self) -> DistributionId {
        self.0.id
    }

    /// Who created it.
    pub fn tenant(&self) -> &str {
        &self.0.tenant
    }

    /// The accepted request.
    pub fn request(&self) -> &DistributionRequest {
        &self.0.request
    }

    /// [`DistributionRequest::fingerprint`] of the request.
    pub fn request_hash(&self) -> &str {
        &self.0.request_hash
    }

    /// What it does when a target fails.
    pub fn policy(&self) -> FailurePolicy {
        self.0.request.failure_policy
    }

    /// Where it stands as a whole.
    pub fn state(&self) -> DistributionState {
        self.0.state
    }

    /// Targets per job state.
    pub fn counts(&self) -> Counts {
        self.0.counts
    }

    /// When it was accepted.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When its aggregate state last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Sequence number of its newest event.
    pub fn last_sequence(&self) -> u64 {
        self.0.last_sequence
    }

    /// Incremented on every change of its state.
    pub fn version(&self) -> i64 {
        self.0.version
    }

    /// When the engine should next work on it; `None`: nothing to do.
    pub fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_action_at
    }

    /// The engine replica that holds it, if any.
    pub fn lease_owner(&self) -> Option<&str> {
        self.0.lease_owner.as_deref()
    }

    /// When that replica's hold runs out.
    pub fn lease_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.lease_expires_at
    }
}
