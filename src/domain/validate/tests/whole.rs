//! The request as a whole: every mistake reported at once, the overall reason, oversize input,
//! and a fully-loaded request's round trip and fingerprint.

use super::*;
use crate::domain::INVALID_USER_ID_MALFORMED;
use crate::domain::codes::{
    INVALID_AMI_ID_MALFORMED, INVALID_AMI_NAME_MALFORMED, INVALID_CLIENT_TOKEN, INVALID_PARAMETER_COMBINATION,
    INVALID_PARAMETER_VALUE, INVALID_REGION, INVALID_TAG_KEY_MALFORMED, MISSING_PARAMETER,
};

/// One mistake in each of a dozen fields.
fn full_of_mistakes() -> CopyImageInput {
    CopyImageInput {
        client_token: "x".repeat(65),
        copy_image_tags: true,
        description: "d".repeat(256),
        destination_outpost_arn: String::new(),
        dry_run: false,
        encrypted: None,
        kms_key_id: "alias/ExampleAlias".into(),
        name: "x".into(),
        source_image_id: "ami-XYZ".into(),
        source_region: "mars".into(),
        tag_specifications: vec![spec("volume", &[("ok", "1")]), spec("snapshot", &[("aws:x", "1")])],
        destination_region: "moon".into(),
        snapshot_copy_completion_duration_minutes: Some(16),
        destination_availability_zone: "nowhere".into(),
        destination_availability_zone_id: String::new(),
        destination_account_id: "12345".into(),
        deprecate_time: Some(wire_time("2020-01-01T00:00:00Z")),
        ..Default::default()
    }
}

#[test]
fn every_mistake_is_reported_at_once_in_a_stable_order() {
    let found = violations(full_of_mistakes());
    let summary: Vec<(&str, &str)> = found.iter().map(|v| (v.field.as_str(), v.code)).collect();
    assert_eq!(
        summary,
        [
            ("source_image_id", INVALID_AMI_ID_MALFORMED),
            ("source_region", INVALID_REGION),
            ("name", INVALID_AMI_NAME_MALFORMED),
            ("description", INVALID_PARAMETER_VALUE),
            ("client_token", INVALID_CLIENT_TOKEN),
            ("destination_availability_zone", INVALID_PARAMETER_VALUE),
            ("destination_region", INVALID_REGION),
            ("kms_key_id", INVALID_PARAMETER_COMBINATION),
            ("snapshot_copy_completion_duration_minutes", INVALID_PARAMETER_VALUE),
            ("tag_specifications[0].resource_type", INVALID_PARAMETER_VALUE),
            ("tag_specifications[1].tags[0].key", INVALID_TAG_KEY_MALFORMED),
            ("destination_account_id", INVALID_USER_ID_MALFORMED),
            ("deprecate_time", INVALID_PARAMETER_VALUE),
        ]
    );
    found.iter().for_each(assert_readable);
    assert_eq!(violations(full_of_mistakes()), found, "same request, same report");
}

#[test]
fn reason_prefers_missing_parameter_over_earlier_violations() {
    let invalid = parse(CopyImageInput {
        source_image_id: "ami-bad".into(),
        name: String::new(),
        ..typical()
    })
    .expect_err("two mistakes");
    assert_eq!(invalid.violations[0].code, INVALID_AMI_ID_MALFORMED);
    assert_eq!(invalid.reason(), MISSING_PARAMETER);

    let invalid = parse(full_of_mistakes()).expect_err("many mistakes");
    assert_eq!(
        invalid.reason(),
        INVALID_AMI_ID_MALFORMED,
        "no missing parameter: the first one"
    );
    assert!(
        invalid
            .summary()
            .starts_with("invalid CopyImage request: 13 problems; first, source_image_id: ")
    );

    let none = InvalidRequest { violations: vec![] };
    assert_eq!(none.reason(), INVALID_PARAMETER_VALUE);
}

#[test]
fn a_single_violation_summary_names_field_and_problem() {
    let invalid = parse(CopyImageInput {
        name: "ab".into(),
        ..typical()
    })
    .expect_err("short name");
    assert_eq!(
        invalid.to_string(),
        "invalid CopyImage request: name: the AMI name must be 3 to 128 characters long; it has 2"
    );
}

#[test]
fn megabyte_strings_are_refused_with_short_messages() {
    let huge = "a".repeat(1 << 20);
    let huge_wide = "é".repeat(1 << 19);
    let found = violations(CopyImageInput {
        client_token: huge.clone(),
        description: huge_wide.clone(),
        kms_key_id: huge.clone(),
        encrypted: Some(true),
        name: huge_wide.clone(),
        source_image_id: huge.clone(),
        source_region: "-".repeat(1 << 20),
        destination_outpost_arn: huge.clone(),
        tag_specifications: vec![TagSpecificationInput {
            resource_type: huge.clone(),
            tags: vec![Tag::new(huge.clone(), huge_wide.clone())],
        }],
        ..CopyImageInput::default()
    });
    let fields: Vec<&str> = found.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "source_image_id",
            "source_region",
            "name",
            "description",
            "client_token",
            "destination_outpost_arn",
            "kms_key_id",
            "tag_specifications[0].resource_type",
            "tag_specifications[0].tags[0].key",
            "tag_specifications[0].tags[0].value",
        ]
    );
    found.iter().for_each(assert_readable);

    let zones = violations(CopyImageInput {
        destination_availability_zone: huge.clone(),
        ..typical()
    });
    assert_eq!(zones.len(), 1);
    assert_readable(&zones[0]);
    let zone_ids = violations(CopyImageInput {
        destination_availability_zone_id: huge,
        ..typical()
    });
    assert_eq!(zone_ids.len(), 1);
    assert_readable(&zone_ids[0]);
}

#[test]
fn loaded_request_round_trips_through_to_input() {
    let to_zone = || CopyImageInput {
        snapshot_copy_completion_duration_minutes: None,
        destination_availability_zone: "us-east-1-bos-1a".into(),
        ..loaded()
    };
    let to_zone_id = || CopyImageInput {
        snapshot_copy_completion_duration_minutes: None,
        destination_availability_zone_id: "use1-bos1-az1".into(),
        ..loaded()
    };
    let to_outpost = || CopyImageInput {
        snapshot_copy_completion_duration_minutes: None,
        destination_outpost_arn: OUTPOST.into(),
        destination_region: "us-west-2".into(),
        kms_key_id: "arn:aws:kms:us-west-2:123456789012:alias/outpost".into(),
        ..loaded()
    };
    for input in [loaded(), to_zone(), to_zone_id(), to_outpost()] {
        let request = parse(input.clone()).expect("loaded request is valid");
        assert_eq!(request.to_input(), input, "to_input gives back what was sent");
        let again = parse(request.to_input()).expect("a request's own input is valid");
        assert_eq!(again, request);
        assert_eq!(again.fingerprint(), request.fingerprint());
    }
}

#[test]
fn fingerprint_ignores_client_token_and_dry_run() {
    let base = parse(loaded()).expect("valid").fingerprint();
    assert_eq!(base.len(), 64, "hex SHA-256");
    for (label, modify) in [
        ("other token", (|i| i.client_token = "another-token".into()) as Modify),
        ("no token", |i| i.client_token.clear()),
        ("not a dry run", |i| i.dry_run = false),
    ] {
        let mut input = loaded();
        modify(&mut input);
        assert_eq!(parse(input).expect("valid").fingerprint(), base, "{label}");
    }
}

#[test]
fn fingerprint_changes_with_every_other_field() {
    let rows: &[(&str, Base, Modify)] = &[
        ("source_image_id", loaded, |i| i.source_image_id = "ami-12345678".into()),
        ("source_region", loaded, |i| i.source_region = "eu-central-1".into()),
        ("name", loaded, |i| i.name = "web-server 2024.07".into()),
        ("description", loaded, |i| i.description = "another".into()),
        ("no description", loaded, |i| i.description.clear()),
        ("kms key", loaded, |i| i.kms_key_id = "alias/other".into()),
        ("no kms key", loaded, |i| i.kms_key_id.clear()),
        ("copy_image_tags", loaded, |i| i.copy_image_tags = false),
        ("duration", loaded, |i| {
            i.snapshot_copy_completion_duration_minutes = Some(135)
        }),
        ("no duration", loaded, |i| {
            i.snapshot_copy_completion_duration_minutes = None
        }),
        ("tag value", loaded, |i| {
            i.tag_specifications[0].tags[0].value = "api".into()
        }),
        ("tag key", loaded, |i| {
            i.tag_specifications[0].tags[0].key = "name".into()
        }),
        ("tag order", loaded, |i| i.tag_specifications[0].tags.reverse()),
        ("tag resource", loaded, |i| i.tag_specifications.truncate(1)),
        ("encrypted unset", without_key, |i| i.encrypted = None),
        ("encrypted false", without_key, |i| i.encrypted = Some(false)),
        ("destination_region", without_key, |i| {
            i.destination_region = "eu-central-1".into()
        }),
        ("zone", untimed, |i| {
            i.destination_availability_zone = "us-east-1-bos-1a".into()
        }),
        ("zone id", untimed, |i| {
            i.destination_availability_zone_id = "use1-bos1-az1".into()
        }),
        ("outpost", untimed_in_source_region, |i| {
            i.destination_outpost_arn = OUTPOST.into()
        }),
        ("account", loaded, |i| i.destination_account_id = "999988887777".into()),
        ("own account", loaded, |i| i.destination_account_id.clear()),
        ("launch permission", loaded, |i| {
            i.launch_permissions.user_ids.pop().map(drop).unwrap_or(())
        }),
        ("public", unencrypted, |i| i.launch_permissions.public = true),
        ("snapshot users", loaded, |i| i.snapshot_user_ids.clear()),
        ("deprecation", loaded, |i| {
            i.deprecate_time = Some(wire_time("2027-02-01T00:00:00Z"))
        }),
        ("no deprecation", loaded, |i| i.deprecate_time = None),
    ];
    for (label, base, modify) in rows {
        let before = parse(base()).expect("base is valid").fingerprint();
        let mut input = base();
        modify(&mut input);
        let after = parse(input).unwrap_or_else(|e| panic!("{label}: {e}")).fingerprint();
        assert_ne!(after, before, "{label} must change the fingerprint");
    }
}

fn without_key() -> CopyImageInput {
    CopyImageInput {
        kms_key_id: String::new(),
        ..loaded()
    }
}

fn unencrypted() -> CopyImageInput {
    CopyImageInput {
        encrypted: None,
        ..without_key()
    }
}

fn untimed() -> CopyImageInput {
    CopyImageInput {
        snapshot_copy_completion_duration_minutes: None,
        ..loaded()
    }
}

fn untimed_in_source_region() -> CopyImageInput {
    CopyImageInput {
        destination_region: "us-west-2".into(),
        kms_key_id: String::new(),
        ..untimed()
    }
}
