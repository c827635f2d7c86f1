//! The aggregate state machine: what a distribution's state becomes when something happens to
//! it, from its state, its failure policy and its counts alone. Pure: the store calls it inside
//! the transaction that moves a target, the engine before it records a cancel, a retry or the
//! end of a roll-back.

use super::{Counts, DistributionState, FailurePolicy};
use crate::domain::JobState;

/// Something that happened to a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// One target's job moved to `to`; the counts given with the event already include the
    /// move. `target` names the target for people ("222233334444/eu-west-1").
    TargetMoved {
        /// The job's new state.
        to: JobState,
        /// The target, for people.
        target: &'a str,
    },
    /// A caller asked to cancel.
    CancelRequested,
    /// A caller asked to retry the FAILED and CANCELLED targets.
    RetryRequested,
    /// The engine found every target ended and every image made deregistered.
    RolledBack,
}

/// A change of the aggregate state, with what happened for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub state: DistributionState,
    /// What happened.
    pub detail: String,
}

/// An event the distribution's state does not allow, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the distribution is {state}: it cannot {action}; {why}")]
pub struct Refusal {
    /// The state it is in.
    pub state: DistributionState,
    /// What was asked ("be cancelled", "be retried").
    pub action: &'static str,
    /// Why not, and what to do instead.
    pub why: String,
}

/// What `event` does to a distribution in `state` under `policy` with `counts`: a transition,
/// nothing (`None`: the counts changed, the state stays), or a refusal.
pub fn next(
    state: DistributionState,
    policy: FailurePolicy,
    counts: &Counts,
    event: Event<'_>,
) -> Result<Option<Transition>, Refusal> {
    use DistributionState::*;
    match event {
        Event::TargetMoved { to, target } => Ok(match state {
            Running if to == JobState::Failed && policy == FailurePolicy::RollBack => Some(Transition {
                state: RollingBack,
                detail: format!(
                    "target {target} failed under the roll-back policy: cancelling every target and \
                     deregistering every image made"
                ),
            }),
            Running if counts.all_ended() => Some(ended(counts)),
            Cancelling if counts.all_ended() => Some(Transition {
                state: Cancelled,
                detail: format!("every target has ended after the cancel: {counts}"),
            }),
            // Counts only: a target ended while the others run, or a roll-back cancels them.
            _ => None,
        }),
        Event::CancelRequested => match state {
            Running => Ok(Some(Transition {
                state: Cancelling,
                detail: format!(
                    "cancel requested: cancelling the {} target(s) that have not ended ({counts})",
                    counts.total() - counts.ended()
                ),
            })),
            // Already cancelling every target that has not ended.
            Cancelling | RollingBack => Ok(None),
            Succeeded | PartiallySucceeded | Failed | Cancelled | RolledBack => Err(Refusal {
                state,
                action: "be cancelled",
                why: "it has already ended".to_owned(),
            }),
        },
        Event::RetryRequested => match state {
            PartiallySucceeded | Failed | Cancelled => {
                let retried = counts.failed + counts.cancelled;
                if retried == 0 {
                    return Err(Refusal {
                        state,
                        action: "be retried",
                        why: "no target is FAILED or CANCELLED: every one is AVAILABLE".to_owned(),
                    });
                }
                Ok(Some(Transition {
                    state: Running,
                    detail: format!(
                        "retrying {retried} target(s) with new jobs ({} FAILED, {} CANCELLED); {} AVAILABLE kept",
                        counts.failed, counts.cancelled, counts.available
                    ),
                }))
            }
            Running | Cancelling | RollingBack => Err(Refusal {
                state,
                action: "be retried",
                why: "it has not ended; wait until it has (or cancel it), then retry".to_owned(),
            }),
            Succeeded => Err(Refusal {
                state,
                action: "be retried",
                why: "every target is AVAILABLE: there is nothing to retry".to_owned(),
            }),
            RolledBack => Err(Refusal {
                state,
                action: "be retried",
                why: "it was rolled back and its images deregistered; create a new distribution instead".to_owned(),
            }),
        },
        Event::RolledBack => match state {
            RollingBack if counts.all_ended() => Ok(Some(Transition {
                state: RolledBack,
                detail: format!(
                    "rolled back: every target has ended ({counts}) and every image made was deregistered \
                     (each finished one with its snapshots)"
                ),
            })),
            RollingBack => Err(Refusal {
                state,
                action: "end its roll-back",
                why: format!("some targets have not ended ({counts})"),
            }),
            _ => Err(Refusal {
                state,
                action: "end a roll-back",
                why: "it is not rolling back".to_owned(),
            }),
        },
    }
}

/// Where a running distribution ends when its last target has.
fn ended(counts: &Counts) -> Transition {
    let (state, detail) = if counts.available == counts.total() {
        (
            DistributionState::Succeeded,
            format!("every target is AVAILABLE ({} of {})", counts.available, counts.total()),
        )
    } else if counts.available == 0 {
        (
            DistributionState::Failed,
            format!("every target has ended and none is AVAILABLE: {counts}"),
        )
    } else {
        (
            DistributionState::PartiallySucceeded,
            format!("every target has ended: {counts}"),
        )
    };
    Transition { state, detail }
}
