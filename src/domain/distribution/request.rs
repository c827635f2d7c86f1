//! A CreateDistribution request twice over: as it arrives ([`DistributionInput`], any strings at
//! all) and as it is accepted ([`DistributionRequest`], built only by
//! [`DistributionRequest::parse_at`] (in `validate.rs`), with one checked [`CopyRequest`] per
//! target).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::FailurePolicy;
use crate::domain::{
    AccountId, ClientToken, CopyRequest, ImageId, KmsKeyId, LaunchPermissions, LaunchPermissionsInput, Region,
    TagSpecification, TagSpecificationInput,
};

/// Most (account, Region) targets in one distribution: 20 accounts × 30 Regions fit twice over,
/// and a mistake of a generated request is caught before it becomes thousands of copies.
pub const MAX_TARGETS: usize = 1000;

/// A failure policy as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicyInput {
    /// Not given: the default, [`FailurePolicy::Continue`].
    #[default]
    Unspecified,
    /// [`FailurePolicy::Continue`].
    Continue,
    /// [`FailurePolicy::RollBack`].
    RollBack,
    /// A value the API does not define.
    Unknown(i32),
}

/// One target as sent: an account and the Regions to copy into there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInput {
    /// The account; empty for the service's own.
    pub account_id: String,
    /// The Regions.
    pub regions: Vec<String>,
    /// KMS key per Region, for encrypted copies.
    pub kms_key_ids: BTreeMap<String, String>,
}

/// A CreateDistribution request as a caller sent it, unchecked. Empty strings mean "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistributionInput {
    /// The AMI to copy.
    pub source_image_id: String,
    /// The Region that holds it.
    pub source_region: String,
    /// The name template (see [`super::expand_name`]).
    pub name: String,
    /// Description of every new AMI.
    pub description: String,
    /// Encrypt every copy; `None` when not given.
    pub encrypted: Option<bool>,
    /// Copy the source's user-defined tags.
    pub copy_image_tags: bool,
    /// Tags for every new AMI and its snapshots.
    pub tag_specifications: Vec<TagSpecificationInput>,
    /// Launch permissions granted on every new AMI.
    pub launch_permissions: LaunchPermissionsInput,
    /// Accounts given createVolumePermission on every new snapshot.
    pub snapshot_user_ids: Vec<String>,
    /// When to deprecate every new AMI: seconds and nanoseconds since the Unix epoch.
    pub deprecate_time: Option<(i64, i32)>,
    /// Time-based copy duration.
    pub snapshot_copy_completion_duration_minutes: Option<i64>,
    /// The caller's idempotency token.
    pub client_token: String,
    /// Where to copy.
    pub targets: Vec<TargetInput>,
    /// What to do when a target fails.
    pub failure_policy: FailurePolicyInput,
}

/// One accepted target: an account and its Regions, with their KMS keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// The account; `None` for the service's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountId>,
    /// The Regions, as given.
    pub regions: Vec<Region>,
    /// KMS key per Region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kms_key_ids: BTreeMap<Region, KmsKeyId>,
}

/// An accepted CreateDistribution request: every target passed CopyImage's rules and the
/// distribution's own. This is what the store keeps; the targets' copies are in their jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionRequest {
    /// The AMI to copy.
    pub source_image_id: ImageId,
    /// The Region that holds it.
    pub source_region: Region,
    /// The name template.
    pub name: String,
    /// Description of every new AMI.
    pub description: Option<String>,
    /// Encrypted as asked; `None` keeps EC2's default.
    pub encrypted: Option<bool>,
    /// Copy the source's user-defined tags.
    pub copy_image_tags: bool,
    /// Tags for every new AMI and its snapshots.
    pub tag_specifications: Vec<TagSpecification>,
    /// Launch permissions granted on every new AMI.
    pub launch_permissions: LaunchPermissions,
    /// Accounts given createVolumePermission on every new snapshot.
    pub snapshot_user_ids: Vec<AccountId>,
    /// When every new AMI is deprecated.
    pub deprecate_at: Option<DateTime<Utc>>,
    /// Time-based copy duration.
    pub snapshot_copy_completion_duration_minutes: Option<u32>,
    /// The caller's idempotency token; not part of the request's identity.
    pub client_token: Option<ClientToken>,
    /// Where to copy, as given.
    pub targets: Vec<TargetSpec>,
    /// What to do when a target fails.
    pub failure_policy: FailurePolicy,
}

/// One (account, Region) target of an accepted request, with the copy it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTarget {
    /// Its place in the request's order: targets by account, Regions in each.
    pub position: u32,
    /// The account; `None` for the service's own.
    pub account: Option<AccountId>,
    /// The Region.
    pub region: Region,
    /// The copy, its name expanded: what the target's job carries out.
    pub copy: CopyRequest,
}

impl DistributionRequest {
    /// A stable hash of everything but the client token: what makes a retried call "the same
    /// request" for idempotency.
    pub fn fingerprint(&self) -> String {
        let identity = Self {
            client_token: None,
            ..self.clone()
        };
        let canonical = serde_json::to_vec(&identity).unwrap_or_default();
        hex::encode(Sha256::digest(&canonical))
    }

    /// How many (account, Region) targets the request has.
    pub fn target_count(&self) -> usize {
        self.targets.iter().map(|target| target.regions.len()).sum()
    }

    /// The request back in its wire shape, for answering callers.
    pub fn to_input(&self) -> DistributionInput {
        let permissions = &self.launch_permissions;
        DistributionInput {
            source_image_id: self.source_image_id.to_string(),
            source_region: self.source_region.to_string(),
            name: self.name.clone(),
            description: self.description.clone().unwrap_or_default(),
            encrypted: self.encrypted,
            copy_image_tags: self.copy_image_tags,
            tag_specifications: self
                .tag_specifications
                .iter()
                .map(|spec| TagSpecificationInput {
                    resource_type: spec.resource_type.as_str().to_owned(),
                    tags: spec.tags.clone(),
                })
                .collect(),
            launch_permissions: LaunchPermissionsInput {
                user_ids: permissions.user_ids.iter().map(ToString::to_string).collect(),
                organization_arns: permissions.organization_arns.iter().map(ToString::to_string).collect(),
                organizational_unit_arns: permissions
                    .organizational_unit_arns
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                public: permissions.public,
            },
            snapshot_user_ids: self.snapshot_user_ids.iter().map(ToString::to_string).collect(),
            deprecate_time: self
                .deprecate_at
                .map(|at| (at.timestamp(), i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0))),
            snapshot_copy_completion_duration_minutes: self.snapshot_copy_completion_duration_minutes.map(i64::from),
            client_token: self.client_token.as_ref().map(ToString::to_string).unwrap_or_default(),
            targets: self
                .targets
                .iter()
                .map(|target| TargetInput {
                    account_id: target.account.as_ref().map(ToString::to_string).unwrap_or_default(),
                    regions: target.regions.iter().map(ToString::to_string).collect(),
                    kms_key_ids: target
                        .kms_key_ids
                        .iter()
                        .map(|(region, key)| (region.to_string(), key.to_string()))
                        .collect(),
                })
                .collect(),
            failure_policy: match self.failure_policy {
                FailurePolicy::Continue => FailurePolicyInput::Continue,
                FailurePolicy::RollBack => FailurePolicyInput::RollBack,
            },
        }
    }
}
