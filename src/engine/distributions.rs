//! Distributions as callers move them: creating one (a job per target, recorded in one
//! transaction and left to the tick), cancelling one, retrying what failed. What each move is,
//! the domain decides ([`crate::domain::Distribution`]); here it is recorded, and the engine and
//! the distribution's watchers are woken.

use tracing::info;

use super::{Engine, EngineError, now};
use crate::{
    domain::{
        Distribution, DistributionId, DistributionRequest,
        distribution::{DistributionChange, PlannedTarget, TargetJob},
    },
    store::{CreatedDistribution, StoreError},
};

impl Engine {
    /// Records a distribution of `tenant`: the distribution, a QUEUED job per planned target and
    /// their first events, in one transaction; then wakes the tick, which starts the jobs as the
    /// Regions' limits allow (no copy is started inside the call). With a client token used
    /// before for the same request, the earlier distribution is returned. Answers with the
    /// distribution's targets and their jobs too.
    pub async fn create_distribution(
        &self,
        tenant: &str,
        request: DistributionRequest,
        planned: Vec<PlannedTarget>,
    ) -> Result<(CreatedDistribution, Vec<TargetJob>), EngineError> {
        let accepted = Distribution::accept(DistributionId::new(), tenant, request, planned, now());
        let created = self.store.create_distribution(&accepted).await?;
        let targets = match &created {
            CreatedDistribution::New(distribution) => {
                info!(
                    distribution_id = %distribution.id(),
                    targets = distribution.counts().total(),
                    "distribution accepted"
                );
                self.wake.notify_one();
                self.hub.poke_distribution(distribution.id());
                accepted
                    .targets
                    .into_iter()
                    .map(|new| TargetJob {
                        target: new.target,
                        job: new.job.job().clone(),
                    })
                    .collect()
            }
            CreatedDistribution::Existing(distribution) => self.store.distribution_targets(distribution.id()).await?,
        };
        Ok((created, targets))
    }

    /// Cancels a distribution of `tenant`: RUNNING becomes CANCELLING and the tick cancels every
    /// target that has not ended. A cancel or roll-back under way is answered as it stands; an
    /// ended distribution is [`EngineError::DistributionRefused`].
    pub async fn cancel_distribution(&self, tenant: &str, id: DistributionId) -> Result<Distribution, EngineError> {
        loop {
            let distribution = self.store.get_tenant_distribution(tenant, id).await?;
            let change = match distribution.request_cancel(now()) {
                Ok(Some(change)) => change,
                Ok(None) => return Ok(distribution),
                Err(refusal) => return Err(EngineError::DistributionRefused { id, refusal }),
            };
            match self.record_distribution(&change).await {
                Ok(distribution) => {
                    info!(distribution_id = %id, "distribution cancel requested");
                    self.wake.notify_one();
                    return Ok(distribution);
                }
                Err(StoreError::DistributionConflict(_)) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Retries a distribution of `tenant`: a new job for every FAILED and CANCELLED target, the
    /// AVAILABLE ones kept, the distribution RUNNING again; one transaction. Refused unless it
    /// is PARTIALLY_SUCCEEDED, FAILED or CANCELLED.
    pub async fn retry_distribution(&self, tenant: &str, id: DistributionId) -> Result<Distribution, EngineError> {
        loop {
            let distribution = self.store.get_tenant_distribution(tenant, id).await?;
            let targets = self.store.distribution_targets(id).await?;
            let retry = distribution
                .retry(&targets, now())
                .map_err(|refusal| EngineError::DistributionRefused { id, refusal })?;
            match self.store.retry_distribution(&retry).await {
                Ok(distribution) => {
                    info!(distribution_id = %id, retried = retry.retried.len(), "distribution retried");
                    self.hub.poke_distribution(id);
                    self.wake.notify_one();
                    return Ok(distribution);
                }
                Err(StoreError::DistributionConflict(_)) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Records a change of a distribution's state and wakes its watchers.
    pub(super) async fn record_distribution(&self, change: &DistributionChange) -> Result<Distribution, StoreError> {
        let recorded = self.store.update_distribution(change).await?;
        self.hub.poke_distribution(recorded.id());
        Ok(recorded)
    }
}
