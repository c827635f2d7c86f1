//! The account a copy is made in, who may launch it and use its snapshots, and when it is
//! deprecated: each field alone, against EC2's rules.

use super::Want::{Accepted, Refused};
use super::*;
use crate::domain::{
    INVALID_USER_ID_MALFORMED,
    codes::{INVALID_PARAMETER_COMBINATION, INVALID_PARAMETER_VALUE, MISSING_PARAMETER},
};

#[test]
fn accounts_are_twelve_digits() {
    check_rows(
        typical,
        &[
            ("own account", |i| i.destination_account_id.clear(), "", Accepted),
            (
                "leading zeros",
                |i| i.destination_account_id = "012345678901".into(),
                "",
                Accepted,
            ),
            (
                "eleven digits",
                |i| i.destination_account_id = "12345678901".into(),
                "destination_account_id",
                Refused(INVALID_USER_ID_MALFORMED, "12 digits"),
            ),
            (
                "letters",
                |i| i.destination_account_id = "22223333444a".into(),
                "destination_account_id",
                Refused(INVALID_USER_ID_MALFORMED, "12 digits"),
            ),
            (
                "launch user id",
                |i| i.launch_permissions.user_ids = vec!["333344445555".into(), "me".into()],
                "launch_permissions.user_ids[1]",
                Refused(INVALID_USER_ID_MALFORMED, "12 digits"),
            ),
            (
                "snapshot user id",
                |i| i.snapshot_user_ids = vec!["123".into()],
                "snapshot_user_ids[0]",
                Refused(INVALID_USER_ID_MALFORMED, "12 digits"),
            ),
            (
                "too many snapshot users",
                |i| i.snapshot_user_ids = vec!["333344445555".into(); 101],
                "snapshot_user_ids",
                Refused(INVALID_PARAMETER_VALUE, "at most 100"),
            ),
        ],
    );
}

#[test]
fn organizations_and_units_are_arns_of_their_kind() {
    check_rows(
        typical,
        &[
            (
                "organization",
                |i| i.launch_permissions.organization_arns = vec![ORGANIZATION.into()],
                "",
                Accepted,
            ),
            (
                "unit",
                |i| i.launch_permissions.organizational_unit_arns = vec![UNIT.into()],
                "",
                Accepted,
            ),
            (
                "a unit given as an organization",
                |i| i.launch_permissions.organization_arns = vec![UNIT.into()],
                "launch_permissions.organization_arns[0]",
                Refused(INVALID_PARAMETER_VALUE, "organization ARN"),
            ),
            (
                "public and encrypted",
                |i| {
                    i.launch_permissions.public = true;
                    i.encrypted = Some(true);
                },
                "launch_permissions.public",
                Refused(INVALID_PARAMETER_COMBINATION, "cannot be made public"),
            ),
            (
                "an organization given as a unit",
                |i| i.launch_permissions.organizational_unit_arns = vec![ORGANIZATION.into()],
                "launch_permissions.organizational_unit_arns[0]",
                Refused(INVALID_PARAMETER_VALUE, "organizational unit ARN"),
            ),
        ],
    );
}

#[test]
fn deprecation_times_follow_ec2s_rules() {
    check_rows(
        typical,
        &[
            (
                "next year",
                |i| i.deprecate_time = Some(wire_time("2027-06-01T00:00:00Z")),
                "",
                Accepted,
            ),
            (
                "almost ten years",
                |i| i.deprecate_time = Some(wire_time("2036-05-31T00:00:00Z")),
                "",
                Accepted,
            ),
            (
                "in the past",
                |i| i.deprecate_time = Some(wire_time("2026-05-31T12:00:00Z")),
                "deprecate_time",
                Refused(INVALID_PARAMETER_VALUE, "in the past"),
            ),
            (
                "more than ten years ahead",
                |i| i.deprecate_time = Some(wire_time("2036-06-02T00:00:00Z")),
                "deprecate_time",
                Refused(INVALID_PARAMETER_VALUE, "10 years"),
            ),
            (
                "public and more than two years ahead",
                |i| {
                    i.launch_permissions.public = true;
                    i.deprecate_time = Some(wire_time("2028-06-02T00:00:00Z"));
                },
                "deprecate_time",
                Refused(INVALID_PARAMETER_VALUE, "2 years"),
            ),
            (
                "nanoseconds out of range",
                |i| i.deprecate_time = Some((1_900_000_000, 2_000_000_000)),
                "deprecate_time",
                Refused(INVALID_PARAMETER_VALUE, "not a valid timestamp"),
            ),
        ],
    );
}

#[test]
fn the_deprecation_time_is_rounded_to_the_minute_and_lists_are_sorted_without_repeats() {
    let request = parse(CopyImageInput {
        deprecate_time: Some(wire_time("2027-03-04T05:06:31Z")),
        launch_permissions: LaunchPermissionsInput {
            user_ids: vec!["444455556666".into(), "333344445555".into(), "444455556666".into()],
            ..Default::default()
        },
        ..typical()
    })
    .expect("valid");
    assert_eq!(
        request.deprecate_at.map(|at| at.to_rfc3339()),
        Some("2027-03-04T05:07:00+00:00".to_owned())
    );
    let users: Vec<&str> = request.launch_permissions.user_ids.iter().map(|a| a.as_str()).collect();
    assert_eq!(users, ["333344445555", "444455556666"]);
    assert!(request.has_finishing_steps());
    assert!(!parse(typical()).expect("valid").has_finishing_steps());
}

#[test]
fn a_missing_required_field_still_comes_first_among_sharing_mistakes() {
    let invalid = parse(CopyImageInput {
        name: String::new(),
        destination_account_id: "x".into(),
        ..typical()
    })
    .expect_err("two mistakes");
    assert_eq!(invalid.reason(), MISSING_PARAMETER);
    assert_eq!(invalid.violations.len(), 2);
}
