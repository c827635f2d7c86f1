//! The finishing and clean-up calls on aws-sdk-ec2 and aws-sdk-kms: launch and create-volume
//! permissions (add, read back), EnableImageDeprecation, DeregisterImage with its snapshots, and
//! KMS DescribeKey. One API call each.

use aws_sdk_ec2::types::{ImageAttributeName, OperationType, SnapshotAttributeName};
use aws_sdk_kms::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use super::{errors::from_sdk_error, request, response};
use crate::{
    backend::{BackendError, KmsKeyLookup, SnapshotDeletion},
    domain::{AccountId, CreateVolumePermissions, LaunchPermissions, Region},
};

/// KMS's code for a key it does not know.
const KMS_NOT_FOUND: &str = "NotFoundException";

/// ModifyImageAttribute `launchPermission` Add.
pub(super) async fn add_launch_permissions(
    client: &aws_sdk_ec2::Client,
    image_id: &str,
    permissions: &LaunchPermissions,
) -> Result<(), BackendError> {
    client
        .modify_image_attribute()
        .image_id(image_id)
        .launch_permission(request::launch_permission_add(permissions))
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(())
}

/// DescribeImageAttribute `launchPermission`.
pub(super) async fn launch_permissions(
    client: &aws_sdk_ec2::Client,
    image_id: &str,
) -> Result<LaunchPermissions, BackendError> {
    let output = client
        .describe_image_attribute()
        .image_id(image_id)
        .attribute(ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(response::launch_permissions(output.launch_permissions()))
}

/// ModifySnapshotAttribute `createVolumePermission` add.
pub(super) async fn add_create_volume_permissions(
    client: &aws_sdk_ec2::Client,
    snapshot_id: &str,
    user_ids: &[AccountId],
) -> Result<(), BackendError> {
    client
        .modify_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(OperationType::Add)
        .set_user_ids(Some(user_ids.iter().map(|id| id.as_str().to_owned()).collect()))
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(())
}

/// DescribeSnapshotAttribute `createVolumePermission`.
pub(super) async fn create_volume_permissions(
    client: &aws_sdk_ec2::Client,
    snapshot_id: &str,
) -> Result<CreateVolumePermissions, BackendError> {
    let output = client
        .describe_snapshot_attribute()
        .snapshot_id(snapshot_id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(response::create_volume_permissions(output.create_volume_permissions()))
}

/// EnableImageDeprecation; EC2 rounds the time to the minute.
pub(super) async fn enable_image_deprecation(
    client: &aws_sdk_ec2::Client,
    image_id: &str,
    deprecate_at: DateTime<Utc>,
) -> Result<(), BackendError> {
    client
        .enable_image_deprecation()
        .image_id(image_id)
        .deprecate_at(aws_smithy_types::DateTime::from_secs(deprecate_at.timestamp()))
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(())
}

/// DeregisterImage with DeleteAssociatedSnapshots.
pub(super) async fn deregister_image_and_snapshots(
    client: &aws_sdk_ec2::Client,
    image_id: &str,
) -> Result<Vec<SnapshotDeletion>, BackendError> {
    let output = client
        .deregister_image()
        .image_id(image_id)
        .delete_associated_snapshots(true)
        .send()
        .await
        .map_err(from_sdk_error)?;
    Ok(response::snapshot_deletions(output.delete_snapshot_results()))
}

/// KMS DescribeKey in `region`; a key KMS does not find is [`KmsKeyLookup::Missing`].
pub(super) async fn describe_kms_key(
    client: &aws_sdk_kms::Client,
    region: &Region,
    key_id: &str,
) -> Result<KmsKeyLookup, BackendError> {
    match client.describe_key().key_id(key_id).send().await {
        Ok(output) => Ok(output.key_metadata().map_or(KmsKeyLookup::Missing, |metadata| {
            KmsKeyLookup::Found(response::kms_key(metadata, region))
        })),
        Err(error) if error.code() == Some(KMS_NOT_FOUND) => Ok(KmsKeyLookup::Missing),
        Err(error) => Err(from_sdk_error(error)),
    }
}
