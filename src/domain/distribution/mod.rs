//! Distributions: one AMI published to many (account, Region) targets as one operation.
//!
//! Every target is an ordinary copy job; a distribution adds the request the targets were
//! expanded from ([`DistributionRequest`], built only by [`DistributionRequest::parse_at`]), the
//! target list, an aggregate state ([`DistributionState`]) kept with counts of targets per job
//! state ([`Counts`]), and an event log of its own.
//!
//! ```text
//!                       accept
//!                         │
//!          cancel         ▼        a target FAILED under ROLL_BACK
//!   CANCELLING ◄──────── RUNNING ──────────────────────────► ROLLING_BACK
//!       │                 │  ▲                                     │ every target ended,
//!       │ every target    │  │ retry (new jobs for the FAILED      │ every image made
//!       │ ended           │  │ and CANCELLED targets)              │ deregistered
//!       ▼                 ▼  │                                     ▼
//!   CANCELLED ──retry──►  SUCCEEDED │ PARTIALLY_SUCCEEDED │ FAILED   ROLLED_BACK
//! ```
//!
//! As for jobs, the engine decides *when* a distribution moves and [`aggregate`] decides *what*
//! the move is; the store asks the same function inside the transaction that moves a target,
//! so the aggregate follows its targets in O(1) per event.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::lifecycle::JobState;

pub mod aggregate;
mod paths;
mod record;
mod request;
mod template;
#[cfg(test)]
mod tests;
mod validate;

pub use aggregate::{Event, Refusal, Transition};
pub(crate) use record::label;
pub use record::{
    Accepted, Distribution, DistributionChange, DistributionEvent, DistributionEventKind, NewTarget, RetriedTarget,
    Retry, StoredDistribution, Target, TargetJob,
};
pub use request::{
    DistributionInput, DistributionRequest, FailurePolicyInput, MAX_TARGETS, PlannedTarget, TargetInput, TargetSpec,
};
pub use template::{NamePlaceholders, expand_name};

/// A distribution's id: a random UUID, printed in its hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DistributionId(Uuid);

impl DistributionId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for DistributionId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for DistributionId {
    fn from(value: Uuid) -> Self {
        Self(value)
    }
}

impl fmt::Display for DistributionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for DistributionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// Where a distribution stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistributionState {
    /// At least one target has not ended.
    Running,
    /// Every target is AVAILABLE. Terminal.
    Succeeded,
    /// Every target has ended, some AVAILABLE and some FAILED or CANCELLED. Terminal.
    PartiallySucceeded,
    /// Every target has ended and none is AVAILABLE. Terminal.
    Failed,
    /// A cancel was asked; the targets that have not ended are being cancelled.
    Cancelling,
    /// A cancel was asked and every target has ended. Terminal.
    Cancelled,
    /// A target failed under [`FailurePolicy::RollBack`]: the rest are being cancelled and
    /// every image made deregistered with its snapshots.
    RollingBack,
    /// Rolled back: no image of the distribution is left. Terminal.
    RolledBack,
}

impl DistributionState {
    /// Every state.
    pub const ALL: [DistributionState; 8] = [
        Self::Running,
        Self::Succeeded,
        Self::PartiallySucceeded,
        Self::Failed,
        Self::Cancelling,
        Self::Cancelled,
        Self::RollingBack,
        Self::RolledBack,
    ];

    /// Whether the distribution has ended (a retry may still make some of these RUNNING again).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::PartiallySucceeded | Self::Failed | Self::Cancelled | Self::RolledBack
        )
    }

    /// Whether the engine has work to do on the distribution itself (cancelling its targets,
    /// rolling them back), beyond what the targets' jobs do.
    pub fn needs_engine(self) -> bool {
        matches!(self, Self::Cancelling | Self::RollingBack)
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::PartiallySucceeded => "partially_succeeded",
            Self::Failed => "failed",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::RollingBack => "rolling_back",
            Self::RolledBack => "rolled_back",
        }
    }
}

impl fmt::Display for DistributionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DistributionState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown distribution state {s:?}"))
    }
}

/// What a distribution does when one of its targets fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Finish every target that can (the default).
    #[default]
    Continue,
    /// Cancel the rest and deregister every image made, with its snapshots.
    RollBack,
}

impl FailurePolicy {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Continue => "continue",
            Self::RollBack => "roll_back",
        }
    }
}

impl FromStr for FailurePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Continue, Self::RollBack]
            .into_iter()
            .find(|policy| policy.as_str() == s)
            .ok_or_else(|| format!("unknown failure policy {s:?}"))
    }
}

/// How many targets are in each job state. The sum is the number of targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counts {
    /// QUEUED targets.
    pub queued: u32,
    /// COPYING targets.
    pub copying: u32,
    /// FINISHING targets.
    pub finishing: u32,
    /// AVAILABLE targets.
    pub available: u32,
    /// FAILED targets.
    pub failed: u32,
    /// CANCELLING targets.
    pub cancelling: u32,
    /// CANCELLED targets.
    pub cancelled: u32,
}

impl Counts {
    /// How many targets are in `state`.
    pub fn of(&self, state: JobState) -> u32 {
        match state {
            JobState::Queued => self.queued,
            JobState::Copying => self.copying,
            JobState::Finishing => self.finishing,
            JobState::Available => self.available,
            JobState::Failed => self.failed,
            JobState::Cancelling => self.cancelling,
            JobState::Cancelled => self.cancelled,
        }
    }

    fn slot(&mut self, state: JobState) -> &mut u32 {
        match state {
            JobState::Queued => &mut self.queued,
            JobState::Copying => &mut self.copying,
            JobState::Finishing => &mut self.finishing,
            JobState::Available => &mut self.available,
            JobState::Failed => &mut self.failed,
            JobState::Cancelling => &mut self.cancelling,
            JobState::Cancelled => &mut self.cancelled,
        }
    }

    /// The counts after one target moved from `from` to `to` (the same state: unchanged).
    pub fn moved(mut self, from: JobState, to: JobState) -> Self {
        if from != to {
            let old = self.slot(from);
            *old = old.saturating_sub(1);
            *self.slot(to) += 1;
        }
        self
    }

    /// Every target.
    pub fn total(&self) -> u32 {
        JobState::ALL.into_iter().map(|state| self.of(state)).sum()
    }

    /// Targets whose job has ended (AVAILABLE, FAILED or CANCELLED).
    pub fn ended(&self) -> u32 {
        self.available + self.failed + self.cancelled
    }

    /// Whether every target's job has ended.
    pub fn all_ended(&self) -> bool {
        self.ended() == self.total()
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = JobState::ALL
            .into_iter()
            .filter(|state| self.of(*state) > 0)
            .map(|state| format!("{} {}", self.of(state), state.as_str().to_uppercase()))
            .collect();
        if parts.is_empty() {
            f.write_str("no targets")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}
