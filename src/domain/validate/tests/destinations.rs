//! Outposts, Local Zones, their exclusivity and Region, and time-based copies.

use super::Want::{self, Accepted, Refused};
use super::*;
use crate::domain::Destination;
use crate::domain::codes::{INVALID_PARAMETER_COMBINATION, INVALID_PARAMETER_VALUE};

const OUTPOST_ARN: Want = Refused(
    INVALID_PARAMETER_VALUE,
    "is not an Outpost ARN: expected arn:aws:outposts:",
);
const ZONE_NAME: Want = Refused(INVALID_PARAMETER_VALUE, "is not an Availability Zone name");
const ZONE_ID: Want = Refused(INVALID_PARAMETER_VALUE, "is not an Availability Zone id");
const MINUTES: Want = Refused(INVALID_PARAMETER_VALUE, "must be 15 to 2880 in steps of 15");
const NOT_TIMED: Want = Refused(
    INVALID_PARAMETER_COMBINATION,
    "not supported to Outposts or Local Zones",
);

fn to_outpost() -> CopyImageInput {
    CopyImageInput {
        destination_outpost_arn: OUTPOST.into(),
        ..typical()
    }
}

#[test]
fn outpost_arn_form() {
    let arn = |tail: &str| format!("arn:aws:outposts:us-west-2:{tail}");
    check_values(
        typical,
        "destination_outpost_arn",
        |i, v| i.destination_outpost_arn = v,
        &[
            (OUTPOST.into(), Accepted),
            (arn("123456789012:outpost/op-abcdefabcdefabcde"), Accepted),
            (arn("12345678901:outpost/op-1234567890abcdef0"), OUTPOST_ARN),
            (arn("1234567890123:outpost/op-1234567890abcdef0"), OUTPOST_ARN),
            (arn("12345678901a:outpost/op-1234567890abcdef0"), OUTPOST_ARN),
            (arn("123456789012:outpost/op-1234567890abcdef"), OUTPOST_ARN),
            (arn("123456789012:outpost/op-1234567890abcdef01"), OUTPOST_ARN),
            (arn("123456789012:outpost/op-1234567890ABCDEF0"), OUTPOST_ARN),
            (arn("123456789012:outpost/1234567890abcdef0"), OUTPOST_ARN),
            (arn("123456789012:site/os-1234567890abcdef0"), OUTPOST_ARN),
            (
                "arn:aws:ec2:us-west-2:123456789012:outpost/op-1234567890abcdef0".into(),
                OUTPOST_ARN,
            ),
            (
                "arn:gcp:outposts:us-west-2:123456789012:outpost/op-1234567890abcdef0".into(),
                OUTPOST_ARN,
            ),
            (
                "arn:AWS:outposts:us-west-2:123456789012:outpost/op-1234567890abcdef0".into(),
                OUTPOST_ARN,
            ),
            (
                "arn:aws:outposts:moon:123456789012:outpost/op-1234567890abcdef0".into(),
                OUTPOST_ARN,
            ),
            ("op-1234567890abcdef0".into(), OUTPOST_ARN),
        ],
    );
}

#[test]
fn outpost_in_other_partitions_is_accepted_from_its_region() {
    check_rows(
        typical,
        &[
            (
                "aws-cn",
                |i| {
                    i.source_region = "cn-north-1".into();
                    i.destination_outpost_arn =
                        "arn:aws-cn:outposts:cn-north-1:123456789012:outpost/op-1234567890abcdef0".into();
                },
                "",
                Accepted,
            ),
            (
                "aws-us-gov",
                |i| {
                    i.source_region = "us-gov-west-1".into();
                    i.destination_outpost_arn =
                        "arn:aws-us-gov:outposts:us-gov-west-1:123456789012:outpost/op-1234567890abcdef0".into();
                },
                "",
                Accepted,
            ),
        ],
    );
}

#[test]
fn outpost_copy_is_region_to_outpost_and_always_encrypted() {
    check_rows(
        to_outpost,
        &[
            ("encrypted unset", |_| {}, "", Accepted),
            ("encrypted true", |i| i.encrypted = Some(true), "", Accepted),
            (
                "encrypted with a key in the Outpost's Region",
                |i| {
                    i.encrypted = Some(true);
                    i.kms_key_id = "arn:aws:kms:us-west-2:123456789012:alias/outpost".into();
                },
                "",
                Accepted,
            ),
            (
                "encrypted false",
                |i| i.encrypted = Some(false),
                "encrypted",
                Refused(
                    INVALID_PARAMETER_COMBINATION,
                    "Outposts do not support unencrypted snapshots",
                ),
            ),
            (
                "source in another Region",
                |i| i.source_region = "eu-central-1".into(),
                "destination_outpost_arn",
                Refused(
                    INVALID_PARAMETER_COMBINATION,
                    "the Outpost is in us-west-2 but source_region is eu-central-1",
                ),
            ),
            (
                "destination Region named and equal",
                |i| i.destination_region = "us-west-2".into(),
                "",
                Accepted,
            ),
            (
                "destination Region named and other",
                |i| i.destination_region = "us-east-1".into(),
                "destination_region",
                Refused(
                    INVALID_PARAMETER_COMBINATION,
                    "leave destination_region empty or set it to us-west-2",
                ),
            ),
        ],
    );
}

/// Found by fuzzing against the oracle: without a source Region, an unencrypted Outpost copy was
/// not reported, so the caller fixed one mistake only to meet the next.
#[test]
fn unencrypted_outpost_copy_is_reported_even_without_a_source_region() {
    let input = CopyImageInput {
        source_region: String::new(),
        encrypted: Some(false),
        ..to_outpost()
    };
    let fields: Vec<String> = parse(input)
        .expect_err("refused")
        .violations
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    assert_eq!(fields, ["source_region", "encrypted"]);
}

#[test]
fn outpost_copy_is_made_in_the_outposts_region() {
    let request = parse(to_outpost()).expect("valid Outpost copy");
    assert_eq!(request.destination_region.as_str(), "us-west-2");
    assert!(matches!(request.destination, Destination::Outpost(ref arn) if arn.region() == "us-west-2"));
}

#[test]
fn at_most_one_special_destination() {
    let one_of = Refused(INVALID_PARAMETER_COMBINATION, "give at most one of");
    check_rows(
        typical,
        &[
            (
                "outpost and zone",
                |i| {
                    i.destination_outpost_arn = OUTPOST.into();
                    i.destination_availability_zone = "us-west-2-lax-1a".into();
                },
                "destination_availability_zone",
                one_of,
            ),
            (
                "outpost and zone id",
                |i| {
                    i.destination_outpost_arn = OUTPOST.into();
                    i.destination_availability_zone_id = "usw2-lax1-az1".into();
                },
                "destination_availability_zone_id",
                one_of,
            ),
            (
                "zone and zone id",
                |i| {
                    i.destination_availability_zone = "us-east-1-bos-1a".into();
                    i.destination_availability_zone_id = "use1-bos1-az1".into();
                },
                "destination_availability_zone_id",
                one_of,
            ),
        ],
    );
    let all = violations(CopyImageInput {
        destination_outpost_arn: OUTPOST.into(),
        destination_availability_zone: "us-west-2-lax-1a".into(),
        destination_availability_zone_id: "usw2-lax1-az1".into(),
        ..typical()
    });
    let fields: Vec<&str> = all.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        ["destination_availability_zone", "destination_availability_zone_id"]
    );
}

#[test]
fn zone_name_form() {
    check_values(
        typical,
        "destination_availability_zone",
        |i, v| i.destination_availability_zone = v,
        &[
            ("us-east-1-bos-1a".into(), Accepted),
            ("us-east-1-mia-2b".into(), Accepted),
            ("us-east-1a".into(), Accepted),
            ("US-EAST-1-BOS-1A".into(), ZONE_NAME),
            ("us-east-1".into(), ZONE_NAME),
            ("bos-1a".into(), ZONE_NAME),
            ("us-east-1-bos-1".into(), ZONE_NAME),
            ("us-east-1-bos".into(), ZONE_NAME),
            ("us-east-1--1a".into(), ZONE_NAME),
            ("us-east-1-b-1a".into(), ZONE_NAME),
            ("us-east-1-bos-1ab".into(), ZONE_NAME),
            ("use1-bos1-az1".into(), ZONE_NAME),
        ],
    );
}

#[test]
fn zone_name_names_the_destination_region() {
    let request = parse(CopyImageInput {
        destination_availability_zone: "us-west-2-lax-1a".into(),
        ..typical()
    })
    .expect("a Local Zone alone implies its Region");
    assert_eq!(request.destination_region.as_str(), "us-west-2");
    assert_eq!(
        request.destination,
        Destination::AvailabilityZone("us-west-2-lax-1a".into())
    );
    check(
        "zone outside the named destination Region",
        CopyImageInput {
            destination_region: "eu-central-1".into(),
            destination_availability_zone: "us-west-2-lax-1a".into(),
            ..typical()
        },
        "destination_region",
        Refused(
            INVALID_PARAMETER_COMBINATION,
            "destination_availability_zone is in Region us-west-2",
        ),
    );
}

#[test]
fn zone_id_form() {
    check_values(
        typical,
        "destination_availability_zone_id",
        |i, v| i.destination_availability_zone_id = v,
        &[
            ("usw2-lax1-az1".into(), Accepted),
            ("use1-az4".into(), Accepted),
            ("usw2".into(), ZONE_ID),
            ("usw2-lax1-az".into(), ZONE_ID),
            ("USW2-AZ1".into(), ZONE_ID),
            ("usw2-lax1-zone1".into(), ZONE_ID),
            ("az1".into(), ZONE_ID),
            ("usw2-lax1-az1-az2".into(), ZONE_ID),
            ("us-west-2-lax-1a".into(), ZONE_ID),
        ],
    );
}

#[test]
fn copy_duration_is_15_to_2880_minutes_in_steps_of_15() {
    check_rows(
        typical,
        &[
            (
                "15",
                |i| i.snapshot_copy_completion_duration_minutes = Some(15),
                "",
                Accepted,
            ),
            (
                "30",
                |i| i.snapshot_copy_completion_duration_minutes = Some(30),
                "",
                Accepted,
            ),
            (
                "1440",
                |i| i.snapshot_copy_completion_duration_minutes = Some(1440),
                "",
                Accepted,
            ),
            (
                "2880",
                |i| i.snapshot_copy_completion_duration_minutes = Some(2880),
                "",
                Accepted,
            ),
            (
                "0",
                |i| i.snapshot_copy_completion_duration_minutes = Some(0),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
            (
                "14",
                |i| i.snapshot_copy_completion_duration_minutes = Some(14),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
            (
                "16",
                |i| i.snapshot_copy_completion_duration_minutes = Some(16),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
            (
                "2895",
                |i| i.snapshot_copy_completion_duration_minutes = Some(2895),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
            (
                "-15",
                |i| i.snapshot_copy_completion_duration_minutes = Some(-15),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
            (
                "i64::MIN",
                |i| i.snapshot_copy_completion_duration_minutes = Some(i64::MIN),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
            (
                "i64::MAX",
                |i| i.snapshot_copy_completion_duration_minutes = Some(i64::MAX),
                "snapshot_copy_completion_duration_minutes",
                MINUTES,
            ),
        ],
    );
}

#[test]
fn copy_duration_is_not_for_outposts_or_local_zones() {
    const FIELD: &str = "snapshot_copy_completion_duration_minutes";
    check_rows(
        typical,
        &[
            (
                "outpost",
                |i| {
                    i.destination_outpost_arn = OUTPOST.into();
                    i.snapshot_copy_completion_duration_minutes = Some(60);
                },
                FIELD,
                NOT_TIMED,
            ),
            (
                "zone name",
                |i| {
                    i.destination_availability_zone = "us-east-1-bos-1a".into();
                    i.snapshot_copy_completion_duration_minutes = Some(60);
                },
                FIELD,
                NOT_TIMED,
            ),
            (
                "zone id",
                |i| {
                    i.destination_availability_zone_id = "use1-bos1-az1".into();
                    i.snapshot_copy_completion_duration_minutes = Some(60);
                },
                FIELD,
                NOT_TIMED,
            ),
        ],
    );
}
