//! A CopyImage request twice over: as it arrives ([`CopyImageInput`], any strings at all) and as
//! it is accepted ([`CopyRequest`], built only by [`CopyRequest::parse`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    AccountId, LaunchPermissions,
    fields::{AmiName, ClientToken, ImageId, KmsKeyId, OutpostArn, Region, ResourceType, Tag},
};

/// A CopyImage request as a caller sent it: every EC2 parameter, unchecked. Empty strings mean
/// "not given", as in proto3.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyImageInput {
    /// EC2 ClientToken.
    pub client_token: String,
    /// EC2 CopyImageTags.
    pub copy_image_tags: bool,
    /// EC2 Description.
    pub description: String,
    /// EC2 DestinationOutpostArn.
    pub destination_outpost_arn: String,
    /// EC2 DryRun.
    pub dry_run: bool,
    /// EC2 Encrypted; `None` when not given.
    pub encrypted: Option<bool>,
    /// EC2 KmsKeyId.
    pub kms_key_id: String,
    /// EC2 Name.
    pub name: String,
    /// EC2 SourceImageId.
    pub source_image_id: String,
    /// EC2 SourceRegion.
    pub source_region: String,
    /// EC2 TagSpecification.N.
    pub tag_specifications: Vec<TagSpecificationInput>,
    /// The Region to copy into; empty means the service's default Region.
    pub destination_region: String,
    /// EC2 SnapshotCopyCompletionDurationMinutes.
    pub snapshot_copy_completion_duration_minutes: Option<i64>,
    /// EC2 DestinationAvailabilityZone.
    pub destination_availability_zone: String,
    /// EC2 DestinationAvailabilityZoneId.
    pub destination_availability_zone_id: String,
    /// The AWS account to copy into; empty means the service's own.
    pub destination_account_id: String,
    /// Launch permissions to grant on the new AMI once it is available.
    pub launch_permissions: LaunchPermissionsInput,
    /// Accounts to give createVolumePermission on the new AMI's snapshots.
    pub snapshot_user_ids: Vec<String>,
    /// When to deprecate the new AMI, as sent: seconds and nanoseconds since the Unix epoch.
    pub deprecate_time: Option<(i64, i32)>,
}

/// Launch permissions as sent, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchPermissionsInput {
    /// Account ids.
    pub user_ids: Vec<String>,
    /// Organization ARNs.
    pub organization_arns: Vec<String>,
    /// Organizational unit ARNs.
    pub organizational_unit_arns: Vec<String>,
    /// Make the AMI public.
    pub public: bool,
}

/// One TagSpecification as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSpecificationInput {
    /// `image` or `snapshot` when valid.
    pub resource_type: String,
    /// The tags, unchecked.
    pub tags: Vec<Tag>,
}

/// Where inside the destination Region the copy goes. EC2 allows at most one of the three
/// special destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Destination {
    /// The Region itself.
    Region,
    /// An Outpost anchored to the Region.
    Outpost(OutpostArn),
    /// A Local Zone, by name.
    AvailabilityZone(String),
    /// A Local Zone, by zone id.
    AvailabilityZoneId(String),
}

impl Destination {
    /// The destination as a store records it: its kind (`region`, `outpost`,
    /// `availability_zone`, `availability_zone_id`) and its value (none for the Region itself).
    pub fn to_parts(&self) -> (&'static str, Option<String>) {
        match self {
            Self::Region => ("region", None),
            Self::Outpost(arn) => ("outpost", Some(arn.to_string())),
            Self::AvailabilityZone(zone) => ("availability_zone", Some(zone.clone())),
            Self::AvailabilityZoneId(zone_id) => ("availability_zone_id", Some(zone_id.clone())),
        }
    }

    /// Rebuilds a destination from what [`Destination::to_parts`] gave, checking it again.
    pub fn from_parts(kind: &str, value: Option<String>) -> Result<Self, String> {
        match (kind, value) {
            ("region", None) => Ok(Self::Region),
            ("outpost", Some(arn)) => OutpostArn::try_from(arn).map(Self::Outpost),
            ("availability_zone", Some(zone)) => Ok(Self::AvailabilityZone(zone)),
            ("availability_zone_id", Some(zone_id)) => Ok(Self::AvailabilityZoneId(zone_id)),
            (kind, value) => Err(format!("destination kind {kind:?} does not fit value {value:?}")),
        }
    }
}

/// A checked TagSpecification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSpecification {
    /// What the tags go on.
    pub resource_type: ResourceType,
    /// Tags with valid, unique, non-reserved keys.
    pub tags: Vec<Tag>,
}

/// An accepted CopyImage request: every field satisfies EC2's rules, alone and together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRequest {
    /// The AMI to copy.
    pub source_image_id: ImageId,
    /// The Region that holds it.
    pub source_region: Region,
    /// The Region the copy is made in.
    pub destination_region: Region,
    /// Name of the new AMI, unique per account and destination Region.
    pub name: AmiName,
    /// Description of the new AMI.
    pub description: Option<String>,
    /// The caller's idempotency token; not part of the request's identity.
    pub client_token: Option<ClientToken>,
    /// Encrypted as asked; `None` keeps EC2's default.
    pub encrypted: Option<bool>,
    /// KMS key for the new snapshots; only with `encrypted == Some(true)`.
    pub kms_key_id: Option<KmsKeyId>,
    /// Region, Outpost or Local Zone.
    pub destination: Destination,
    /// Copy the source's user-defined tags.
    pub copy_image_tags: bool,
    /// Tags for the new AMI and snapshots.
    pub tag_specifications: Vec<TagSpecification>,
    /// Time-based copy duration, a multiple of 15 between 15 and 2880.
    pub snapshot_copy_completion_duration_minutes: Option<u32>,
    /// Only check, never record or start.
    pub dry_run: bool,
    /// The account the copy is made in; `None` for the service's own. (Fields after this one are
    /// left out of the serialised form while empty, so requests without them keep the
    /// fingerprint they had before the fields existed.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_account: Option<AccountId>,
    /// Launch permissions granted on the new AMI once it is available.
    #[serde(default, skip_serializing_if = "LaunchPermissions::is_empty")]
    pub launch_permissions: LaunchPermissions,
    /// Accounts given createVolumePermission on every snapshot of the new AMI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_user_ids: Vec<AccountId>,
    /// When the new AMI is deprecated: UTC, a whole minute, in the future when accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecate_at: Option<DateTime<Utc>>,
}

impl CopyRequest {
    /// A stable hash of everything that makes two requests "the same parameters" for EC2's
    /// idempotency: all fields but the client token and DryRun.
    pub fn fingerprint(&self) -> String {
        let identity = Self {
            client_token: None,
            dry_run: false,
            ..self.clone()
        };
        let canonical = serde_json::to_vec(&identity).unwrap_or_default();
        hex::encode(Sha256::digest(&canonical))
    }

    /// The request back in its wire shape, for answering callers and for storage.
    pub fn to_input(&self) -> CopyImageInput {
        let (outpost, zone, zone_id) = match &self.destination {
            Destination::Region => (String::new(), String::new(), String::new()),
            Destination::Outpost(arn) => (arn.to_string(), String::new(), String::new()),
            Destination::AvailabilityZone(zone) => (String::new(), zone.clone(), String::new()),
            Destination::AvailabilityZoneId(id) => (String::new(), String::new(), id.clone()),
        };
        CopyImageInput {
            client_token: self.client_token.as_ref().map(ToString::to_string).unwrap_or_default(),
            copy_image_tags: self.copy_image_tags,
            description: self.description.clone().unwrap_or_default(),
            destination_outpost_arn: outpost,
            dry_run: self.dry_run,
            encrypted: self.encrypted,
            kms_key_id: self.kms_key_id.as_ref().map(ToString::to_string).unwrap_or_default(),
            name: self.name.to_string(),
            source_image_id: self.source_image_id.to_string(),
            source_region: self.source_region.to_string(),
            tag_specifications: self
                .tag_specifications
                .iter()
                .map(|spec| TagSpecificationInput {
                    resource_type: spec.resource_type.as_str().to_owned(),
                    tags: spec.tags.clone(),
                })
                .collect(),
            destination_region: self.destination_region.to_string(),
            snapshot_copy_completion_duration_minutes: self.snapshot_copy_completion_duration_minutes.map(i64::from),
            destination_availability_zone: zone,
            destination_availability_zone_id: zone_id,
            destination_account_id: self
                .destination_account
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            launch_permissions: LaunchPermissionsInput {
                user_ids: self
                    .launch_permissions
                    .user_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                organization_arns: self
                    .launch_permissions
                    .organization_arns
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                organizational_unit_arns: self
                    .launch_permissions
                    .organizational_unit_arns
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                public: self.launch_permissions.public,
            },
            snapshot_user_ids: self.snapshot_user_ids.iter().map(ToString::to_string).collect(),
            deprecate_time: self
                .deprecate_at
                .map(|at| (at.timestamp(), i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0))),
        }
    }

    /// Whether anything is to be done after the copy is available: launch permissions,
    /// snapshot permissions or deprecation.
    pub fn has_finishing_steps(&self) -> bool {
        !self.launch_permissions.is_empty() || !self.snapshot_user_ids.is_empty() || self.deprecate_at.is_some()
    }

    /// Tags to put on the new AMI, from every `image` specification.
    pub fn image_tags(&self) -> impl Iterator<Item = &Tag> {
        self.tags_for(ResourceType::Image)
    }

    /// Tags to put on every new snapshot, from every `snapshot` specification.
    pub fn snapshot_tags(&self) -> impl Iterator<Item = &Tag> {
        self.tags_for(ResourceType::Snapshot)
    }

    fn tags_for(&self, kind: ResourceType) -> impl Iterator<Item = &Tag> {
        self.tag_specifications
            .iter()
            .filter(move |spec| spec.resource_type == kind)
            .flat_map(|spec| spec.tags.iter())
    }
}
