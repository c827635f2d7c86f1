//! [`MeteredStore`]: a [`JobStore`] around another one that times every call, by method.

use std::{future::Future, sync::Arc, time::Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Metrics, OperationLabels};
use crate::{
    domain::{AccountId, Change, Job, JobEvent, JobId, JobState},
    store::{ChangeFeed, Claim, Created, JobPage, JobStore, ListQuery, StateCount, StoreError},
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

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        self.inner.change_feed().await
    }
}
