//! [`MeteredStore`]: a [`JobStore`] around another one that times every call, by method.

use std::{future::Future, sync::Arc, time::Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Metrics, OperationLabels};
use crate::{
    domain::{
        AccountId, Change, Distribution, DistributionId, Job, JobEvent, JobId, JobState,
        distribution::{Accepted, DistributionChange, DistributionEvent, Retry, Target, TargetJob},
    },
    store::{
        ChangeFeed, Claim, Created, CreatedDistribution, DistributionClaim, DistributionPage, DistributionQuery,
        DistributionStore, InProgressCount, JobPage, JobStore, ListQuery, StateCount, StoreError,
    },
};

/// Records how long each call to `inner` takes in [`Metrics::store_duration`].
pub struct MeteredStore {
    inner: Arc<dyn JobStore>,
    metrics: Metrics,
}

impl MeteredStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn JobStore>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(&self, operation: &str, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        let labels = OperationLabels {
            operation: operation.to_owned(),
        };
        self.metrics
            .store_duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl JobStore for MeteredStore {
    async fn create_job(&self, accepted: &Change) -> Result<Created, StoreError> {
        self.timed("create_job", self.inner.create_job(accepted)).await
    }

    async fn get_tenant_job(&self, tenant: &str, id: JobId) -> Result<Job, StoreError> {
        self.timed("get_tenant_job", self.inner.get_tenant_job(tenant, id))
            .await
    }

    async fn get_job_any_tenant(&self, id: JobId) -> Result<Job, StoreError> {
        self.timed("get_job_any_tenant", self.inner.get_job_any_tenant(id))
            .await
    }

    async fn list_jobs(&self, query: &ListQuery) -> Result<JobPage, StoreError> {
        self.timed("list_jobs", self.inner.list_jobs(query)).await
    }

    async fn update_job(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        self.timed("update_job", self.inner.update_job(job, detail)).await
    }

    async fn claim_jobs(&self, claim: &Claim) -> Result<Vec<Job>, StoreError> {
        self.timed("claim_jobs", self.inner.claim_jobs(claim)).await
    }

    async fn list_events(&self, id: JobId, after: u64, limit: u32) -> Result<Vec<JobEvent>, StoreError> {
        self.timed("list_events", self.inner.list_events(id, after, limit))
            .await
    }

    async fn newest_event_sequences(&self, jobs: &[JobId]) -> Result<Vec<(JobId, u64)>, StoreError> {
        self.timed("newest_event_sequences", self.inner.newest_event_sequences(jobs))
            .await
    }

    async fn defer_jobs(&self, deferrals: &[(JobId, DateTime<Utc>)], owner: &str) -> Result<u64, StoreError> {
        self.timed("defer_jobs", self.inner.defer_jobs(deferrals, owner)).await
    }

    async fn count_jobs(
        &self,
        account: Option<&AccountId>,
        destination_region: &str,
        states: &[JobState],
    ) -> Result<u64, StoreError> {
        self.timed("count_jobs", self.inner.count_jobs(account, destination_region, states))
            .await
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, StoreError> {
        self.timed("count_by_state", self.inner.count_by_state()).await
    }

    async fn count_in_progress(&self) -> Result<Vec<InProgressCount>, StoreError> {
        self.timed("count_in_progress", self.inner.count_in_progress()).await
    }

    async fn delete_finished_jobs(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.timed("delete_finished_jobs", self.inner.delete_finished_jobs(before, limit))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        self.inner.change_feed().await
    }
}

#[async_trait]
impl DistributionStore for MeteredStore {
    async fn create_distribution(&self, accepted: &Accepted) -> Result<CreatedDistribution, StoreError> {
        self.timed("create_distribution", self.inner.create_distribution(accepted))
            .await
    }

    async fn get_tenant_distribution(&self, tenant: &str, id: DistributionId) -> Result<Distribution, StoreError> {
        self.timed(
            "get_tenant_distribution",
            self.inner.get_tenant_distribution(tenant, id),
        )
        .await
    }

    async fn get_distribution_any_tenant(&self, id: DistributionId) -> Result<Distribution, StoreError> {
        self.timed(
            "get_distribution_any_tenant",
            self.inner.get_distribution_any_tenant(id),
        )
        .await
    }

    async fn distribution_targets(&self, id: DistributionId) -> Result<Vec<TargetJob>, StoreError> {
        self.timed("distribution_targets", self.inner.distribution_targets(id))
            .await
    }

    async fn list_distributions(&self, query: &DistributionQuery) -> Result<DistributionPage, StoreError> {
        self.timed("list_distributions", self.inner.list_distributions(query))
            .await
    }

    async fn list_distribution_events(
        &self,
        id: DistributionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<DistributionEvent>, StoreError> {
        self.timed(
            "list_distribution_events",
            self.inner.list_distribution_events(id, after, limit),
        )
        .await
    }

    async fn update_distribution(&self, change: &DistributionChange) -> Result<Distribution, StoreError> {
        self.timed("update_distribution", self.inner.update_distribution(change))
            .await
    }

    async fn retry_distribution(&self, retry: &Retry) -> Result<Distribution, StoreError> {
        self.timed("retry_distribution", self.inner.retry_distribution(retry))
            .await
    }

    async fn mark_rolled_back(&self, target: &Target, detail: &str) -> Result<bool, StoreError> {
        self.timed("mark_rolled_back", self.inner.mark_rolled_back(target, detail))
            .await
    }

    async fn claim_distributions(&self, claim: &DistributionClaim) -> Result<Vec<Distribution>, StoreError> {
        self.timed("claim_distributions", self.inner.claim_distributions(claim))
            .await
    }

    async fn defer_distribution(
        &self,
        id: DistributionId,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.timed("defer_distribution", self.inner.defer_distribution(id, owner, until))
            .await
    }

    async fn delete_finished_distributions(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.timed(
            "delete_finished_distributions",
            self.inner.delete_finished_distributions(before, limit),
        )
        .await
    }
}
