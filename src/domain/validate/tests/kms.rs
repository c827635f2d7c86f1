//! KmsKeyId: its four forms, only with encrypted = true, and an ARN in the destination Region.

use super::Want::{self, Accepted, Refused};
use super::*;
use crate::domain::KmsKeyId;
use crate::domain::codes::{INVALID_PARAMETER_COMBINATION, INVALID_PARAMETER_VALUE};
use crate::domain::fields::KmsKeyForm;

const MALFORMED: Want = Refused(INVALID_PARAMETER_VALUE, "is not a KMS key identifier: use a key id");

fn encrypted() -> CopyImageInput {
    CopyImageInput {
        encrypted: Some(true),
        ..typical()
    }
}

#[test]
fn kms_key_id_accepts_every_documented_form() {
    check_values(
        encrypted,
        "kms_key_id",
        |i, v| i.kms_key_id = v,
        &[
            ("1234abcd-12ab-34cd-56ef-1234567890ab".into(), Accepted),
            ("mrk-1234abcd12ab34cd56ef1234567890ab".into(), Accepted),
            ("alias/ExampleAlias".into(), Accepted),
            ("alias/aws/ebs".into(), Accepted),
            ("alias/team:prod/key_1-a".into(), Accepted),
            (format!("alias/{}", "a".repeat(256)), Accepted),
            (KEY_ARN.into(), Accepted),
            (
                "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab".into(),
                Accepted,
            ),
            ("arn:aws:kms:us-east-1:123456789012:alias/ExampleAlias".into(), Accepted),
        ],
    );
}

#[test]
fn kms_key_arns_of_every_partition_are_accepted_in_their_region() {
    check_rows(
        encrypted,
        &[
            (
                "aws-cn key ARN",
                |i| {
                    i.destination_region = "cn-north-1".into();
                    i.kms_key_id =
                        "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into();
                },
                "",
                Accepted,
            ),
            (
                "aws-us-gov alias ARN",
                |i| {
                    i.destination_region = "us-gov-west-1".into();
                    i.kms_key_id = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/ebs-key".into();
                },
                "",
                Accepted,
            ),
        ],
    );
}

#[test]
fn malformed_kms_key_ids_are_refused() {
    let uuid = "1234abcd-12ab-34cd-56ef-1234567890ab";
    check_values(
        encrypted,
        "kms_key_id",
        |i, v| i.kms_key_id = v,
        &[
            ("1234abcd-12ab-34cd-56ef-1234567890a".into(), MALFORMED),
            ("1234abcd12ab34cd56ef1234567890ab".into(), MALFORMED),
            ("1234abcg-12ab-34cd-56ef-1234567890ab".into(), MALFORMED),
            ("mrk-1234".into(), MALFORMED),
            ("mrk-1234ABCD12AB34CD56EF1234567890AB".into(), MALFORMED),
            ("alias/".into(), MALFORMED),
            ("alias/bad name".into(), MALFORMED),
            (format!("alias/{}", "a".repeat(257)), MALFORMED),
            ("ExampleAlias".into(), MALFORMED),
            (format!("key/{uuid}"), MALFORMED),
            (format!("arn:aws:kms:us-east-1:12345:key/{uuid}"), MALFORMED),
            ("arn:aws:kms:us-east-1:123456789012:key/not-a-key".into(), MALFORMED),
            ("arn:aws:kms:us-east-1:123456789012:secret/x".into(), MALFORMED),
            (format!("arn:azure:kms:us-east-1:123456789012:key/{uuid}"), MALFORMED),
            (format!("arn:aws:s3:us-east-1:123456789012:key/{uuid}"), MALFORMED),
            (format!("arn:aws:kms:moon:123456789012:key/{uuid}"), MALFORMED),
            (
                format!("arn:aws:kms:us-east-1:123456789012:key/{uuid}:extra"),
                MALFORMED,
            ),
        ],
    );
}

#[test]
fn kms_key_id_needs_encrypted_true() {
    let combination = Refused(
        INVALID_PARAMETER_COMBINATION,
        "only be given together with encrypted = true",
    );
    check_rows(
        typical,
        &[
            (
                "encrypted unset",
                |i| i.kms_key_id = "alias/ExampleAlias".into(),
                "kms_key_id",
                combination,
            ),
            (
                "encrypted false",
                |i| {
                    i.encrypted = Some(false);
                    i.kms_key_id = "alias/ExampleAlias".into();
                },
                "kms_key_id",
                combination,
            ),
            ("encrypted true without key", |i| i.encrypted = Some(true), "", Accepted),
            (
                "encrypted false without key",
                |i| i.encrypted = Some(false),
                "",
                Accepted,
            ),
        ],
    );
}

#[test]
fn kms_key_arn_must_be_in_the_destination_region() {
    let elsewhere = Refused(
        INVALID_PARAMETER_VALUE,
        "must be in the destination Region us-east-1, but its ARN names us-west-2",
    );
    check_rows(
        encrypted,
        &[
            (
                "key ARN in the source Region, default destination",
                |i| i.kms_key_id = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
                "kms_key_id",
                elsewhere,
            ),
            (
                "alias ARN in another Region",
                |i| i.kms_key_id = "arn:aws:kms:us-west-2:123456789012:alias/ExampleAlias".into(),
                "kms_key_id",
                elsewhere,
            ),
            (
                "key ARN in the named destination Region",
                |i| {
                    i.destination_region = "eu-central-1".into();
                    i.kms_key_id = "arn:aws:kms:eu-central-1:123456789012:alias/ExampleAlias".into();
                },
                "",
                Accepted,
            ),
            (
                "key id and alias carry no Region",
                |i| {
                    i.destination_region = "eu-central-1".into();
                    i.kms_key_id = "alias/ExampleAlias".into();
                },
                "",
                Accepted,
            ),
        ],
    );
}

#[test]
fn kms_key_form_and_region_are_read_from_the_value() {
    let cases = [
        ("1234abcd-12ab-34cd-56ef-1234567890ab", KmsKeyForm::KeyId, None),
        ("alias/ExampleAlias", KmsKeyForm::Alias, None),
        (KEY_ARN, KmsKeyForm::KeyArn, Some("us-east-1")),
        (
            "arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/x",
            KmsKeyForm::AliasArn,
            Some("us-gov-west-1"),
        ),
    ];
    for (value, form, region) in cases {
        let key = KmsKeyId::parse(value).expect("valid key");
        assert_eq!(key.form(), form, "{value}");
        assert_eq!(key.arn_region(), region, "{value}");
    }
}
