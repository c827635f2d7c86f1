//! The tick's work on distributions themselves: cancelling the targets of a CANCELLING
//! distribution, and rolling back a ROLLING_BACK one (cancel every target that has not ended,
//! deregister every image made with its snapshots, mark each target, then ROLLED_BACK).
//!
//! A distribution is claimed with a lease like a job, so one replica works on it at a time, and
//! every step is safe to repeat after a crash: a job that has ended is not cancelled again, a
//! target marked rolled back is not deregistered again, and an image that is already gone
//! counts as deregistered.

use tracing::{info, warn};

use super::{Engine, EngineError, after, now};
use crate::{
    backend::BackendError,
    domain::{
        Distribution, DistributionState, JobState, codes,
        distribution::{TargetJob, label},
    },
    store::{DistributionClaim, StoreError},
};

/// Distributions one tick works on, at most.
const DISTRIBUTIONS_PER_TICK: u32 = 16;

/// What one pass over a distribution's targets left to wait for.
#[derive(Debug, Default)]
struct Pass {
    /// Targets whose jobs have not ended yet.
    running: usize,
    /// Images a roll-back could not deregister this time.
    undone: usize,
}

impl Engine {
    /// Claims CANCELLING and ROLLING_BACK distributions that are due and moves each as far as
    /// it can go now; those with work left are looked at again after a tick.
    pub(super) async fn wind_down_due(&self) -> Result<(), EngineError> {
        if self.settings.track_page_size == 0 {
            return Ok(());
        }
        let now = now();
        let claimed = self
            .store
            .claim_distributions(&DistributionClaim {
                owner: self.owner.clone(),
                now,
                lease_until: self.lease_until(now),
                limit: DISTRIBUTIONS_PER_TICK,
            })
            .await?;
        for distribution in claimed {
            let id = distribution.id();
            let pass = self.wind_down(&distribution).await?;
            let left = pass.running + pass.undone;
            if left == 0 && self.settle(&distribution).await? {
                continue;
            }
            // Images that would not go are retried at the slower pace of failed calls.
            let wait = if pass.undone > 0 {
                self.settings.retry_max
            } else {
                self.settings.tick
            };
            self.store.defer_distribution(id, &self.owner, after(now, wait)).await?;
        }
        Ok(())
    }

    /// One pass over the targets: cancel the jobs that have not ended; when rolling back,
    /// deregister the images of the ended ones.
    async fn wind_down(&self, distribution: &Distribution) -> Result<Pass, EngineError> {
        let rolling_back = distribution.state() == DistributionState::RollingBack;
        let mut pass = Pass::default();
        for TargetJob { target, job } in self.store.distribution_targets(distribution.id()).await? {
            match job.state() {
                JobState::Queued | JobState::Copying | JobState::Finishing => {
                    pass.running += 1;
                    match self.cancel_job(job).await {
                        Ok(_) | Err(EngineError::AlreadyEnded { .. }) => {}
                        Err(error) => {
                            warn!(distribution_id = %distribution.id(), %error, "cancelling a target failed; will retry")
                        }
                    }
                }
                JobState::Cancelling => pass.running += 1,
                JobState::Available | JobState::Failed if rolling_back && !target.rolled_back => {
                    let Some(image_id) = job.image_id() else { continue };
                    let request = job.request();
                    let place = label(request.destination_account.as_ref(), &request.destination_region);
                    let deregistered = match self.backend_for(request.destination_account.as_ref()) {
                        Ok(backend) => backend
                            .deregister_image_and_snapshots(&request.destination_region, image_id)
                            .await
                            .map(|deletions| {
                                let snapshots: Vec<String> = deletions
                                    .iter()
                                    .map(|d| format!("{} {}", d.snapshot_id, d.return_code))
                                    .collect();
                                format!(
                                    "rolled back: deregistered {image_id} and its snapshots in {place} ({})",
                                    if snapshots.is_empty() {
                                        "none".to_owned()
                                    } else {
                                        snapshots.join(", ")
                                    }
                                )
                            }),
                        Err(error) => Err(error),
                    };
                    let detail = match deregistered {
                        Ok(detail) => detail,
                        Err(error) if is_gone(&error) => {
                            format!("rolled back: {image_id} in {place} was already deregistered")
                        }
                        Err(error) => {
                            warn!(distribution_id = %distribution.id(), %image_id, %place, %error, "rolling back an image failed; will retry");
                            pass.undone += 1;
                            continue;
                        }
                    };
                    if self.store.mark_rolled_back(&target, &detail).await? {
                        info!(distribution_id = %distribution.id(), %image_id, %place, "target rolled back");
                        self.hub.poke_distribution(distribution.id());
                    }
                }
                JobState::Cancelled if rolling_back && !target.rolled_back => {
                    // Its cancel stopped the copy and deregistered the image, if there was one.
                    let Some(image_id) = job.image_id() else { continue };
                    let request = job.request();
                    let place = label(request.destination_account.as_ref(), &request.destination_region);
                    let detail =
                        format!("rolled back: {image_id} in {place} was deregistered when its job was cancelled");
                    if self.store.mark_rolled_back(&target, &detail).await? {
                        self.hub.poke_distribution(distribution.id());
                    }
                }
                JobState::Available | JobState::Failed | JobState::Cancelled => {}
            }
        }
        Ok(pass)
    }

    /// With every target ended (and every image rolled back), ends the distribution: ROLLED_BACK,
    /// or CANCELLED when the last target ended before the cancel was recorded. True when it
    /// needs no more work.
    async fn settle(&self, claimed: &Distribution) -> Result<bool, StoreError> {
        let current = self.store.get_distribution_any_tenant(claimed.id()).await?;
        let change = match current.state() {
            DistributionState::RollingBack => match current.rolled_back(now()) {
                Ok(change) => change,
                // A target moved since the pass: look again next tick.
                Err(_) => return Ok(false),
            },
            DistributionState::Cancelling => match current.settle_cancel(now()) {
                Some(change) => change,
                None => return Ok(false),
            },
            _ => return Ok(true),
        };
        match self.record_distribution(&change).await {
            Ok(recorded) => {
                info!(distribution_id = %recorded.id(), state = %recorded.state(), "distribution ended");
                Ok(true)
            }
            Err(StoreError::DistributionConflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Whether EC2 says the image is not there (any more): deregistering it again is done.
fn is_gone(error: &BackendError) -> bool {
    [codes::INVALID_AMI_ID_NOT_FOUND, codes::INVALID_AMI_ID_UNAVAILABLE].contains(&error.code.as_str())
}
