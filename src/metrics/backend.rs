//! [`MeteredBackend`]: an [`Ec2Backend`] around another one that counts every EC2 API call and
//! every throttled one, by operation.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Metrics, OperationLabels};
use crate::{
    backend::{BackendError, Ec2Backend, ImageStatus, SnapshotProgress, SourceImage, StartCopy},
    domain::{Region, codes},
};

/// Counts the calls `inner` makes into [`Metrics::ec2_calls`] and [`Metrics::ec2_throttles`].
pub struct MeteredBackend {
    inner: Arc<dyn Ec2Backend>,
    metrics: Metrics,
}

/// EC2's names of the calls [`MeteredBackend`] counts, as its `operation` label.
pub const OPERATIONS: [&str; 4] = ["CopyImage", "DescribeImages", "DescribeSnapshots", "DeregisterImage"];

/// RequestLimitExceeded answers counted in `metrics`, over every operation.
pub fn throttles(metrics: &Metrics) -> u64 {
    OPERATIONS
        .iter()
        .map(|operation| {
            let labels = OperationLabels {
                operation: (*operation).to_owned(),
            };
            metrics.ec2_throttles.get_or_create(&labels).get()
        })
        .sum()
}

impl MeteredBackend {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Ec2Backend>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(&self, operation: &str, result: Result<T, BackendError>) -> Result<T, BackendError> {
        let labels = OperationLabels {
            operation: operation.to_owned(),
        };
        self.metrics.ec2_calls.get_or_create(&labels).inc();
        if let Err(error) = &result
            && error.code == codes::REQUEST_LIMIT_EXCEEDED
        {
            self.metrics.ec2_throttles.get_or_create(&labels).inc();
        }
        result
    }
}

#[async_trait]
impl Ec2Backend for MeteredBackend {
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError> {
        self.count("CopyImage", self.inner.copy_image(copy).await)
    }

    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError> {
        self.count("DescribeImages", self.inner.describe_images(region, image_ids).await)
    }

    async fn find_images_by_name(&self, region: &Region, name: &str) -> Result<Vec<ImageStatus>, BackendError> {
        self.count("DescribeImages", self.inner.find_images_by_name(region, name).await)
    }

    async fn snapshot_progress(
        &self,
        region: &Region,
        snapshot_ids: &[String],
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        self.count(
            "DescribeSnapshots",
            self.inner.snapshot_progress(region, snapshot_ids).await,
        )
    }

    async fn deregister_image(&self, region: &Region, image_id: &str) -> Result<(), BackendError> {
        self.count("DeregisterImage", self.inner.deregister_image(region, image_id).await)
    }

    async fn describe_source_image(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Option<SourceImage>, BackendError> {
        self.count(
            "DescribeImages",
            self.inner.describe_source_image(region, image_id).await,
        )
    }
}
