//! EC2's (and KMS's) answers as amicopy's types: images, source images, snapshot progress,
//! launch and create-volume permissions, snapshots deleted with their image, KMS keys.

use aws_sdk_ec2::types::{
    CreateVolumePermission, DeleteSnapshotReturnCode, Image, LaunchPermission, PermissionGroup, Snapshot,
};
use aws_sdk_kms::types::{KeyManagerType, KeyMetadata};
use chrono::{DateTime, Utc};
use tracing::warn;

use crate::{
    backend::{ImageState, ImageStatus, KmsKey, KmsKeyState, SnapshotDeletion, SnapshotProgress, SourceImage},
    domain::{
        AccountId, CreateVolumePermissions, Failure, LaunchPermissions, OrganizationArn, OrganizationalUnitArn, Region,
        Tag,
    },
};

/// What DescribeImages says of one image; `None` for an entry without an image id.
pub(super) fn image_status(image: &Image) -> Option<ImageStatus> {
    Some(ImageStatus {
        image_id: image.image_id()?.to_owned(),
        name: image.name().unwrap_or_default().to_owned(),
        state: state(image),
        state_reason: image.state_reason().and_then(|reason| {
            let code = reason.code().unwrap_or_default();
            let message = reason.message().unwrap_or_default();
            (!code.is_empty() || !message.is_empty()).then(|| Failure::new(code, message))
        }),
        snapshot_ids: image
            .block_device_mappings()
            .iter()
            .filter_map(|device| device.ebs()?.snapshot_id())
            .map(str::to_owned)
            .collect(),
        creation_date: image.creation_date().and_then(parse_timestamp),
        deprecation_time: image.deprecation_time().and_then(parse_timestamp),
    })
}

/// What a copy needs to know of its source image; `None` for an entry without an image id.
pub(super) fn source_image(image: &Image, region: &Region) -> Option<SourceImage> {
    let ebs = || image.block_device_mappings().iter().filter_map(|device| device.ebs());
    Some(SourceImage {
        image_id: image.image_id()?.to_owned(),
        region: region.clone(),
        state: state(image),
        owner_id: image.owner_id().unwrap_or_default().to_owned(),
        snapshot_ids: ebs()
            .filter_map(|device| device.snapshot_id())
            .map(str::to_owned)
            .collect(),
        encrypted: ebs().any(|device| device.encrypted() == Some(true)),
        tags: image
            .tags()
            .iter()
            .map(|tag| Tag::new(tag.key().unwrap_or_default(), tag.value().unwrap_or_default()))
            .collect(),
        // DescribeImages has no Outpost field on the image itself; an AMI stored on an Outpost
        // has its snapshots there, and their block devices name it.
        outpost_arn: ebs().find_map(|device| device.outpost_arn()).map(str::to_owned),
    })
}

/// One snapshot's copy progress: EC2 reports it as a string such as `"37%"`.
pub(super) fn snapshot_progress(snapshot: &Snapshot) -> Option<SnapshotProgress> {
    Some(SnapshotProgress {
        snapshot_id: snapshot.snapshot_id()?.to_owned(),
        progress_percent: snapshot.progress().and_then(parse_percent),
    })
}

/// DescribeImageAttribute's launch permissions. An entry amicopy cannot read is logged and left
/// out rather than failing the call.
pub(super) fn launch_permissions(entries: &[LaunchPermission]) -> LaunchPermissions {
    let mut permissions = LaunchPermissions::default();
    for entry in entries {
        if entry.group() == Some(&PermissionGroup::All) {
            permissions.public = true;
        }
        if let Some(id) = entry.user_id() {
            keep(AccountId::parse(id), &mut permissions.user_ids, id);
        }
        if let Some(arn) = entry.organization_arn() {
            keep(OrganizationArn::parse(arn), &mut permissions.organization_arns, arn);
        }
        if let Some(arn) = entry.organizational_unit_arn() {
            keep(
                OrganizationalUnitArn::parse(arn),
                &mut permissions.organizational_unit_arns,
                arn,
            );
        }
    }
    permissions
}

/// DescribeSnapshotAttribute's create-volume permissions.
pub(super) fn create_volume_permissions(entries: &[CreateVolumePermission]) -> CreateVolumePermissions {
    let mut permissions = CreateVolumePermissions::default();
    for entry in entries {
        if entry.group() == Some(&PermissionGroup::All) {
            permissions.public = true;
        }
        if let Some(id) = entry.user_id() {
            keep(AccountId::parse(id), &mut permissions.user_ids, id);
        }
    }
    permissions
}

fn keep<T, E>(parsed: Result<T, E>, into: &mut Vec<T>, value: &str) {
    match parsed {
        Ok(parsed) => into.push(parsed),
        Err(_) => warn!(value, "EC2 listed a permission amicopy cannot read; it is left out"),
    }
}

/// What DeregisterImage did with each snapshot.
pub(super) fn snapshot_deletions(results: &[DeleteSnapshotReturnCode]) -> Vec<SnapshotDeletion> {
    results
        .iter()
        .filter_map(|result| {
            Some(SnapshotDeletion {
                snapshot_id: result.snapshot_id()?.to_owned(),
                return_code: result
                    .return_code()
                    .map(|code| code.as_str().to_owned())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// What DescribeKey says of a key; the Region is the ARN's, else the one asked.
pub(super) fn kms_key(metadata: &KeyMetadata, asked: &Region) -> KmsKey {
    let arn = metadata.arn().unwrap_or_default().to_owned();
    let region = arn
        .split(':')
        .nth(3)
        .and_then(|code| Region::parse(code).ok())
        .unwrap_or_else(|| asked.clone());
    KmsKey {
        key_id: metadata.key_id().to_owned(),
        account_id: metadata.aws_account_id().unwrap_or_default().to_owned(),
        region,
        state: metadata.key_state().map_or(KmsKeyState::Other(String::new()), |state| {
            KmsKeyState::parse(state.as_str())
        }),
        aws_managed: metadata.key_manager() == Some(&KeyManagerType::Aws),
        arn,
    }
}

fn state(image: &Image) -> ImageState {
    ImageState::parse(image.state().map(|state| state.as_str()).unwrap_or_default())
}

fn parse_percent(value: &str) -> Option<u8> {
    let number: u8 = value.trim().trim_end_matches('%').trim().parse().ok()?;
    Some(number.min(100))
}

fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|date| date.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{
        BlockDeviceMapping, EbsBlockDevice, ImageState as Ec2ImageState, StateReason, Tag as Ec2Tag,
    };

    use super::*;

    fn ebs(snapshot: &str, encrypted: bool, outpost: Option<&str>) -> BlockDeviceMapping {
        BlockDeviceMapping::builder()
            .device_name("/dev/xvda")
            .ebs(
                EbsBlockDevice::builder()
                    .snapshot_id(snapshot)
                    .encrypted(encrypted)
                    .set_outpost_arn(outpost.map(str::to_owned))
                    .build(),
            )
            .build()
    }

    #[test]
    fn failed_image_carries_state_reason_snapshots_and_date() {
        let image = Image::builder()
            .image_id("ami-0123456789abcdef0")
            .name("copy")
            .state(Ec2ImageState::Failed)
            .state_reason(
                StateReason::builder()
                    .code("Client.InternalError")
                    .message("boom")
                    .build(),
            )
            .block_device_mappings(ebs("snap-1", false, None))
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/sdb")
                    .virtual_name("ephemeral0")
                    .build(),
            )
            .block_device_mappings(ebs("snap-2", false, None))
            .creation_date("2026-11-24T21:14:43.000Z")
            .build();
        let status = image_status(&image).unwrap();
        assert_eq!(status.state, ImageState::Failed);
        assert_eq!(status.state_reason, Some(Failure::new("Client.InternalError", "boom")));
        assert_eq!(status.snapshot_ids, ["snap-1", "snap-2"]);
        assert_eq!(status.creation_date.unwrap().to_rfc3339(), "2026-11-24T21:14:43+00:00");
    }

    #[test]
    fn pending_image_without_reason_or_date_has_none() {
        let image = Image::builder()
            .image_id("ami-12345678")
            .state(Ec2ImageState::Pending)
            .build();
        let status = image_status(&image).unwrap();
        assert_eq!(status.state, ImageState::Pending);
        assert_eq!(status.state_reason, None);
        assert_eq!(status.creation_date, None);
        assert!(status.snapshot_ids.is_empty());
    }

    #[test]
    fn unknown_image_state_is_kept_verbatim() {
        let image = Image::builder()
            .image_id("ami-12345678")
            .state(Ec2ImageState::from("disabled"))
            .build();
        assert_eq!(
            image_status(&image).unwrap().state,
            ImageState::Other("disabled".into())
        );
    }

    #[test]
    fn source_image_is_encrypted_when_any_snapshot_is() {
        let outpost = "arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0";
        let image = Image::builder()
            .image_id("ami-12345678")
            .state(Ec2ImageState::Available)
            .owner_id("123456789012")
            .tags(Ec2Tag::builder().key("team").value("a").build())
            .block_device_mappings(ebs("snap-1", false, None))
            .block_device_mappings(ebs("snap-2", true, Some(outpost)))
            .build();
        let region = Region::parse("us-east-1").unwrap();
        let source = source_image(&image, &region).unwrap();
        assert!(source.encrypted);
        assert_eq!(source.owner_id, "123456789012");
        assert_eq!(source.tags, [Tag::new("team", "a")]);
        assert_eq!(source.outpost_arn.as_deref(), Some(outpost));
        assert_eq!(source.state, ImageState::Available);
        assert_eq!(source.snapshot_ids, ["snap-1", "snap-2"]);
    }

    #[test]
    fn deprecation_time_is_read() {
        let image = Image::builder()
            .image_id("ami-12345678")
            .deprecation_time("2027-01-31T10:00:00.000Z")
            .build();
        assert_eq!(
            image_status(&image).unwrap().deprecation_time.unwrap().to_rfc3339(),
            "2027-01-31T10:00:00+00:00"
        );
    }

    #[test]
    fn permissions_read_back_with_every_kind_and_public() {
        let launch = launch_permissions(&[
            LaunchPermission::builder().user_id("222233334444").build(),
            LaunchPermission::builder().group(PermissionGroup::All).build(),
            LaunchPermission::builder()
                .organization_arn("arn:aws:organizations::111122223333:organization/o-abcde12345")
                .build(),
            LaunchPermission::builder()
                .organizational_unit_arn("arn:aws:organizations::111122223333:ou/o-abcde12345/ou-ab12-cdefgh34")
                .build(),
            LaunchPermission::builder().user_id("garbage").build(),
        ]);
        assert!(launch.public);
        assert_eq!(launch.user_ids.len(), 1, "the unreadable entry is left out");
        assert_eq!(launch.organization_arns.len(), 1);
        assert_eq!(launch.organizational_unit_arns.len(), 1);

        let volume = create_volume_permissions(&[CreateVolumePermission::builder().user_id("222233334444").build()]);
        assert!(!volume.public);
        assert_eq!(volume.user_ids[0].as_str(), "222233334444");
    }

    #[test]
    fn kms_key_takes_its_region_from_the_arn() {
        use aws_sdk_kms::types::KeyState;
        let metadata = KeyMetadata::builder()
            .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
            .arn("arn:aws:kms:eu-west-1:222233334444:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .aws_account_id("222233334444")
            .key_state(KeyState::PendingDeletion)
            .key_manager(KeyManagerType::Customer)
            .build()
            .unwrap();
        let key = kms_key(&metadata, &Region::parse("us-east-1").unwrap());
        assert_eq!(key.region.as_str(), "eu-west-1");
        assert_eq!(key.state, KmsKeyState::PendingDeletion);
        assert_eq!(key.account_id, "222233334444");
        assert!(!key.aws_managed);
    }

    #[test]
    fn snapshot_progress_reads_percent_strings() {
        let progress = |value: Option<&str>| {
            let snapshot = Snapshot::builder()
                .snapshot_id("snap-1")
                .set_progress(value.map(str::to_owned))
                .build();
            snapshot_progress(&snapshot).unwrap().progress_percent
        };
        assert_eq!(progress(Some("37%")), Some(37));
        assert_eq!(progress(Some("100%")), Some(100));
        assert_eq!(progress(Some("")), None);
        assert_eq!(progress(None), None);
        assert_eq!(progress(Some("lots")), None);
    }
}
