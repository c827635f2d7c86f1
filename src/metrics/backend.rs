//! [`MeteredBackend`]: an [`Ec2Backend`] around another one that counts every EC2 API call (and
//! KMS DescribeKey) and every throttled one, by operation; [`MeteredBackends`]: a [`Backends`]
//! registry whose every account's backend is metered that way, into the same series.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Metrics, OperationLabels};
use crate::{
    backend::{
        BackendError, Backends, Ec2Backend, ImageStatus, KmsKeyLookup, SnapshotDeletion, SnapshotProgress, SourceImage,
        StartCopy, UnknownAccount, accounts::AccountEntry,
    },
    domain::{AccountId, CreateVolumePermissions, LaunchPermissions, Region, codes},
};

/// Counts the calls `inner` makes into [`Metrics::ec2_calls`] and [`Metrics::ec2_throttles`].
pub struct MeteredBackend {
    inner: Arc<dyn Ec2Backend>,
    metrics: Metrics,
}

/// EC2's names of the calls [`MeteredBackend`] counts, as its `operation` label.
pub const OPERATIONS: [&str; 10] = [
    "CopyImage",
    "DescribeImages",
    "DescribeSnapshots",
    "DeregisterImage",
    "ModifyImageAttribute",
    "DescribeImageAttribute",
    "ModifySnapshotAttribute",
    "DescribeSnapshotAttribute",
    "EnableImageDeprecation",
    "DescribeKey",
];

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

    async fn deregister_image_and_snapshots(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Vec<SnapshotDeletion>, BackendError> {
        self.count(
            "DeregisterImage",
            self.inner.deregister_image_and_snapshots(region, image_id).await,
        )
    }

    async fn add_launch_permissions(
        &self,
        region: &Region,
        image_id: &str,
        permissions: &LaunchPermissions,
    ) -> Result<(), BackendError> {
        if permissions.is_empty() {
            // No call is made, so none is counted.
            return self.inner.add_launch_permissions(region, image_id, permissions).await;
        }
        self.count(
            "ModifyImageAttribute",
            self.inner.add_launch_permissions(region, image_id, permissions).await,
        )
    }

    async fn launch_permissions(&self, region: &Region, image_id: &str) -> Result<LaunchPermissions, BackendError> {
        self.count(
            "DescribeImageAttribute",
            self.inner.launch_permissions(region, image_id).await,
        )
    }

    async fn add_create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
        user_ids: &[AccountId],
    ) -> Result<(), BackendError> {
        if user_ids.is_empty() {
            return self
                .inner
                .add_create_volume_permissions(region, snapshot_id, user_ids)
                .await;
        }
        self.count(
            "ModifySnapshotAttribute",
            self.inner
                .add_create_volume_permissions(region, snapshot_id, user_ids)
                .await,
        )
    }

    async fn create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
    ) -> Result<CreateVolumePermissions, BackendError> {
        self.count(
            "DescribeSnapshotAttribute",
            self.inner.create_volume_permissions(region, snapshot_id).await,
        )
    }

    async fn enable_image_deprecation(
        &self,
        region: &Region,
        image_id: &str,
        deprecate_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        self.count(
            "EnableImageDeprecation",
            self.inner
                .enable_image_deprecation(region, image_id, deprecate_at)
                .await,
        )
    }

    async fn describe_kms_key(&self, region: &Region, key_id: &str) -> Result<KmsKeyLookup, BackendError> {
        self.count("DescribeKey", self.inner.describe_kms_key(region, key_id).await)
    }
}

/// A [`Backends`] registry whose backends, the own account's and every other's, count their
/// calls into one [`Metrics`] (the same series as [`MeteredBackend`], without an account label).
pub struct MeteredBackends {
    inner: Arc<dyn Backends>,
    own: Arc<dyn Ec2Backend>,
    metrics: Metrics,
}

impl MeteredBackends {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Backends>, metrics: Metrics) -> Self {
        let own = Arc::new(MeteredBackend::new(inner.own(), metrics.clone()));
        Self { inner, own, metrics }
    }
}

#[async_trait]
impl Backends for MeteredBackends {
    fn own(&self) -> Arc<dyn Ec2Backend> {
        self.own.clone()
    }

    fn for_account(&self, account: &AccountId) -> Result<Arc<dyn Ec2Backend>, UnknownAccount> {
        let inner = self.inner.for_account(account)?;
        Ok(Arc::new(MeteredBackend::new(inner, self.metrics.clone())))
    }

    fn account(&self, account: &AccountId) -> Option<AccountEntry> {
        self.inner.account(account)
    }

    fn known_own_account_id(&self) -> Option<AccountId> {
        self.inner.known_own_account_id()
    }

    async fn own_account_id(&self) -> Result<AccountId, BackendError> {
        self.inner.own_account_id().await
    }
}
