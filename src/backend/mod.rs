//! The only way amicopy touches EC2: the [`Ec2Backend`] trait, with the real implementation on
//! aws-sdk-ec2 ([`ec2::SdkBackend`]) and a simulator that behaves like EC2 ([`sim::Simulator`]).
//!
//! An [`Ec2Backend`] is one AWS account's view of EC2 (and of KMS, for key checks). The
//! [`Backends`] registry hands out the service's own account and every account of the
//! operator's accounts file ([`accounts`]): [`ec2::SdkBackends`] assumes a role in each,
//! [`sim::SimBackends`] simulates them all in one world.
//!
//! Calls are batched where EC2 allows (many images or snapshots per call). Errors keep EC2's
//! code and message and say whether retrying the same call can help.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{AccountId, CopyRequest, CreateVolumePermissions, Failure, LaunchPermissions, Region, Tag};

pub mod accounts;
mod answers;
pub mod ec2;
mod registry;
pub mod sim;

pub use answers::{KmsKey, KmsKeyLookup, KmsKeyState, SnapshotDeletion};
pub use registry::{Backends, OwnAccountOnly, UnknownAccount};

/// An EC2 error: its code and message, and whether the same call may succeed later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct BackendError {
    /// EC2's error code (`InvalidAMIID.NotFound`, `RequestLimitExceeded`, ...), or one of
    /// [`BackendError::TIMEOUT`] / [`BackendError::CONNECTION`] for transport failures.
    pub code: String,
    /// EC2's message.
    pub message: String,
    /// Retrying the same call may succeed (throttling, EC2 internal errors, timeouts, lost
    /// connections). Permanent errors will fail the same way every time.
    pub retryable: bool,
    /// Whether the call may have taken effect although no answer arrived (timeouts, lost
    /// connections): a copy may then exist that the caller was never told about.
    pub outcome_unknown: bool,
}

impl BackendError {
    /// Code for a call that got no answer in time.
    pub const TIMEOUT: &'static str = "RequestTimeout";
    /// Code for a call whose connection failed.
    pub const CONNECTION: &'static str = "ConnectionError";

    /// EC2 codes that a retry can cure.
    const RETRYABLE_CODES: &'static [&'static str] = &[
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
        "InsufficientInstanceCapacity",
        // KMS's codes for the same.
        "KMSInternalException",
        "DependencyTimeoutException",
        Self::TIMEOUT,
        Self::CONNECTION,
    ];

    /// An error with EC2's code and message, sorted into retryable or permanent by its code.
    pub fn from_code(code: impl Into<String>, message: impl Into<String>) -> Self {
        let code = code.into();
        let retryable = Self::RETRYABLE_CODES.contains(&code.as_str());
        Self {
            code,
            message: message.into(),
            retryable,
            outcome_unknown: false,
        }
    }

    /// A transport failure: retryable, and the call may or may not have taken effect.
    pub fn transport(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            retryable: true,
            outcome_unknown: true,
        }
    }

    /// Whether this is EC2's answer to a DryRun that would have succeeded.
    pub fn is_dry_run_success(&self) -> bool {
        self.code == crate::domain::codes::DRY_RUN_OPERATION
    }

    /// Whether this may be EC2's eventual consistency rather than a real absence: right after
    /// CopyImage or right after an image turns `available`, calls about it (or its snapshots)
    /// can answer `InvalidAMIID.NotFound`, `InvalidAMIID.Unavailable` or
    /// `InvalidSnapshot.NotFound` for a few seconds. EC2's advice is to retry with backoff for a
    /// bounded time; these codes are permanent otherwise, so [`BackendError::retryable`] is false.
    pub fn is_eventual_consistency(&self) -> bool {
        [
            crate::domain::codes::INVALID_AMI_ID_NOT_FOUND,
            crate::domain::codes::INVALID_AMI_ID_UNAVAILABLE,
            INVALID_SNAPSHOT_NOT_FOUND,
        ]
        .contains(&self.code.as_str())
    }

    /// The error as a job failure reason.
    pub fn to_failure(&self) -> Failure {
        Failure::new(self.code.clone(), self.message.clone())
    }
}

/// EC2's code for a snapshot it does not know (or that the caller may not see).
pub const INVALID_SNAPSHOT_NOT_FOUND: &str = "InvalidSnapshot.NotFound";

/// A CopyImage call to make: the accepted request, plus the EC2 ClientToken that makes it
/// idempotent and the DryRun flag.
#[derive(Debug, Clone)]
pub struct StartCopy {
    /// The request, fields as EC2 names them.
    pub request: CopyRequest,
    /// EC2 ClientToken (at most 64 ASCII characters), normally [`crate::domain::JobId::ec2_client_token`].
    pub client_token: String,
    /// Ask EC2 to check permissions only; success is then the error `DryRunOperation`.
    pub dry_run: bool,
}

/// EC2's image states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageState {
    /// Being created (a copy in progress).
    Pending,
    /// Ready to use.
    Available,
    /// The copy failed; see the state reason.
    Failed,
    /// Deregistered (a cancelled copy ends here).
    Deregistered,
    /// Any other state EC2 reports (invalid, transient, error, disabled, ...).
    Other(String),
}

impl ImageState {
    /// Parses EC2's lowercase state name.
    pub fn parse(value: &str) -> Self {
        match value {
            "pending" => Self::Pending,
            "available" => Self::Available,
            "failed" => Self::Failed,
            "deregistered" => Self::Deregistered,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// What DescribeImages says of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStatus {
    /// The image.
    pub image_id: String,
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ImageState,
    /// EC2's StateReason, when it gives one.
    pub state_reason: Option<Failure>,
    /// Snapshot ids of its EBS block devices.
    pub snapshot_ids: Vec<String>,
    /// When it was created, when EC2 says.
    pub creation_date: Option<DateTime<Utc>>,
    /// When it is (or was) deprecated (EnableImageDeprecation), when it is.
    pub deprecation_time: Option<DateTime<Utc>>,
}

/// What DescribeSnapshots says of one snapshot's copy progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// The snapshot.
    pub snapshot_id: String,
    /// 0–100 when EC2 reports it.
    pub progress_percent: Option<u8>,
}

/// What a copy needs to know about its source AMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceImage {
    /// The image.
    pub image_id: String,
    /// The Region it is in.
    pub region: Region,
    /// Its state.
    pub state: ImageState,
    /// The account that owns it.
    pub owner_id: String,
    /// The snapshots of its EBS block devices: what sharing the image with another account
    /// must share too (createVolumePermission).
    pub snapshot_ids: Vec<String>,
    /// Whether any of its snapshots is encrypted.
    pub encrypted: bool,
    /// Its tags, `aws:` ones included.
    pub tags: Vec<Tag>,
    /// The Outpost it is stored on, when it is on one.
    pub outpost_arn: Option<String>,
}

/// EC2, as amicopy uses it, as one AWS account sees it. Every method is one API call (batched
/// where EC2 allows) in the named Region; retries of whole operations belong to the caller.
#[async_trait]
pub trait Ec2Backend: Send + Sync + 'static {
    /// CopyImage in the request's destination Region. Returns the new image id. With
    /// `dry_run`, EC2 answers `DryRunOperation` (as an error) when the call would be allowed.
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError>;

    /// DescribeImages for many ids at once. Images EC2 does not know are left out of the answer
    /// (not an error), since a new copy may be briefly invisible.
    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError>;

    /// DescribeImages filtered by name, owned by the caller's account: how a copy whose outcome
    /// is unknown is found again where EC2 ClientTokens are not honoured.
    async fn find_images_by_name(&self, region: &Region, name: &str) -> Result<Vec<ImageStatus>, BackendError>;

    /// DescribeSnapshots for many ids at once: copy progress.
    async fn snapshot_progress(
        &self,
        region: &Region,
        snapshot_ids: &[String],
    ) -> Result<Vec<SnapshotProgress>, BackendError>;

    /// DeregisterImage: stops a pending copy or removes an image.
    async fn deregister_image(&self, region: &Region, image_id: &str) -> Result<(), BackendError>;

    /// DescribeImages for one source image; `None` when it does not exist or is not visible.
    async fn describe_source_image(&self, region: &Region, image_id: &str)
    -> Result<Option<SourceImage>, BackendError>;

    /// DeregisterImage with DeleteAssociatedSnapshots: removes the image and, in the same call,
    /// its snapshots (EC2 keeps one another AMI also uses). Says what became of each snapshot.
    async fn deregister_image_and_snapshots(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Vec<SnapshotDeletion>, BackendError>;

    /// ModifyImageAttribute `launchPermission` Add: every permission in one call. Adding one
    /// that exists is not an error. Nothing is sent when `permissions` is empty.
    async fn add_launch_permissions(
        &self,
        region: &Region,
        image_id: &str,
        permissions: &LaunchPermissions,
    ) -> Result<(), BackendError>;

    /// DescribeImageAttribute `launchPermission`: who may launch the image besides its owner.
    async fn launch_permissions(&self, region: &Region, image_id: &str) -> Result<LaunchPermissions, BackendError>;

    /// ModifySnapshotAttribute `createVolumePermission` add for one snapshot (EC2 takes one
    /// snapshot per call). Nothing is sent when `user_ids` is empty.
    async fn add_create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
        user_ids: &[AccountId],
    ) -> Result<(), BackendError>;

    /// DescribeSnapshotAttribute `createVolumePermission`: who may create volumes from the
    /// snapshot besides its owner.
    async fn create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
    ) -> Result<CreateVolumePermissions, BackendError>;

    /// EnableImageDeprecation. EC2 rounds `deprecate_at` to the minute and refuses a time in the
    /// past or too far ahead (see [`crate::domain::DeprecateAt`]); DescribeImages then reports
    /// it as [`ImageStatus::deprecation_time`].
    async fn enable_image_deprecation(
        &self,
        region: &Region,
        image_id: &str,
        deprecate_at: DateTime<Utc>,
    ) -> Result<(), BackendError>;

    /// KMS DescribeKey in `region`: whether the key (id, alias, key ARN or alias ARN) exists
    /// there for this account, and its state. A key KMS does not find is
    /// [`KmsKeyLookup::Missing`], not an error.
    async fn describe_kms_key(&self, region: &Region, key_id: &str) -> Result<KmsKeyLookup, BackendError>;
}
