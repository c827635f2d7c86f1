//! EC2's answers as amicopy's types: images, source images and snapshot progress.

use aws_sdk_ec2::types::{Image, Snapshot};
use chrono::{DateTime, Utc};

use crate::{
    backend::{ImageState, ImageStatus, SnapshotProgress, SourceImage},
    domain::{Failure, Region, Tag},
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
