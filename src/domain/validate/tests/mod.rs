//! Table-driven tests of every CopyImage rule [`CopyRequest::parse`] applies. A row changes one
//! thing in a valid request and says whether the request stays valid or which field is refused,
//! with which EC2 code, and a phrase the description must contain so a person knows what to do.

use crate::domain::{
    CopyImageInput, CopyRequest, FieldViolation, InvalidRequest, LaunchPermissionsInput, Region, Tag,
    TagSpecificationInput,
};

mod destinations;
mod formats;
mod kms;
mod required;
mod sharing;
mod tag_rules;
mod whole;

/// The service's default destination in these tests.
const DEFAULT_REGION: &str = "us-east-1";
/// A valid Outpost in the typical request's source Region.
const OUTPOST: &str = "arn:aws:outposts:us-west-2:123456789012:outpost/op-1234567890abcdef0";
/// A valid organization ARN.
const ORGANIZATION: &str = "arn:aws:organizations::123456789012:organization/o-abcde12345";
/// A valid organizational unit ARN.
const UNIT: &str = "arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdefgh34";
/// A valid key ARN in the default Region.
const KEY_ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// What a row expects of the request it built.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The request is accepted.
    Accepted,
    /// Exactly one violation, with this EC2 code and a description containing this phrase.
    Refused(&'static str, &'static str),
}

/// A change to the base request.
type Modify = fn(&mut CopyImageInput);
/// A valid request that rows change.
type Base = fn() -> CopyImageInput;

fn default_region() -> Region {
    Region::parse(DEFAULT_REGION).expect("test region is valid")
}

/// The common case: the required fields only.
fn typical() -> CopyImageInput {
    CopyImageInput {
        source_image_id: "ami-0abcdef1234567890".into(),
        source_region: "us-west-2".into(),
        name: "web-server 2024.06 (base)".into(),
        ..CopyImageInput::default()
    }
}

/// Every field set that EC2 lets be set together (the Outpost and zones exclude the time-based
/// copy and each other), in the canonical form `to_input` answers.
fn loaded() -> CopyImageInput {
    CopyImageInput {
        client_token: "550e8400-e29b-41d4-a716-446655440000".into(),
        copy_image_tags: true,
        description: "nightly build of the web tier, copied for DR".into(),
        destination_outpost_arn: String::new(),
        dry_run: true,
        encrypted: Some(true),
        kms_key_id: KEY_ARN.into(),
        name: "web-server 2024.06 (base)".into(),
        source_image_id: "ami-0abcdef1234567890".into(),
        source_region: "us-west-2".into(),
        tag_specifications: vec![
            spec("image", &[("Name", "web"), ("team", "platform"), ("cost-center", "")]),
            spec("snapshot", &[("Name", "web-root"), ("backup", "daily")]),
        ],
        destination_region: DEFAULT_REGION.into(),
        snapshot_copy_completion_duration_minutes: Some(120),
        destination_availability_zone: String::new(),
        destination_availability_zone_id: String::new(),
        destination_account_id: "222233334444".into(),
        launch_permissions: LaunchPermissionsInput {
            user_ids: vec!["333344445555".into(), "444455556666".into()],
            organization_arns: vec![ORGANIZATION.into()],
            organizational_unit_arns: vec![UNIT.into()],
            public: false,
        },
        snapshot_user_ids: vec!["333344445555".into()],
        deprecate_time: Some(wire_time("2027-01-01T00:00:00Z")),
    }
}

fn spec(resource_type: &str, tags: &[(&str, &str)]) -> TagSpecificationInput {
    TagSpecificationInput {
        resource_type: resource_type.into(),
        tags: tags.iter().map(|(k, v)| Tag::new(*k, *v)).collect(),
    }
}

fn parse(input: CopyImageInput) -> Result<CopyRequest, InvalidRequest> {
    CopyRequest::parse_at(input, &default_region(), now())
}

/// The time the tables check requests at, so rules about deprecation times stay put.
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
        .expect("a valid time")
        .to_utc()
}

/// `text` (RFC 3339) as the wire's seconds and nanoseconds.
fn wire_time(text: &str) -> (i64, i32) {
    let time = chrono::DateTime::parse_from_rfc3339(text).expect("a valid time");
    (
        time.timestamp(),
        i32::try_from(time.timestamp_subsec_nanos()).expect("nanos fit"),
    )
}

/// The violations of a request that must be refused.
fn violations(input: CopyImageInput) -> Vec<FieldViolation> {
    match parse(input) {
        Ok(request) => panic!("request was accepted: {request:?}"),
        Err(invalid) => invalid.violations,
    }
}

/// Checks one outcome against a row's expectation; `label` names the row in failures.
fn check(label: &str, input: CopyImageInput, field: &str, want: Want) {
    let result = parse(input);
    match (want, result) {
        (Want::Accepted, Ok(_)) => {}
        (Want::Accepted, Err(invalid)) => panic!("{label}: refused: {:?}", invalid.violations),
        (Want::Refused(..), Ok(_)) => panic!("{label}: accepted, expected a violation on {field}"),
        (Want::Refused(code, phrase), Err(invalid)) => {
            let [violation] = invalid.violations.as_slice() else {
                panic!("{label}: expected one violation, got {:?}", invalid.violations);
            };
            assert_eq!(violation.field, field, "{label}: field of {violation:?}");
            assert_eq!(violation.code, code, "{label}: code of {violation:?}");
            assert!(
                violation.description.contains(phrase),
                "{label}: description {:?} does not say {phrase:?}",
                violation.description
            );
            assert_readable(violation);
        }
    }
}

/// A description is a short sentence of its own, not the code again or an echo of a huge value.
fn assert_readable(violation: &FieldViolation) {
    assert!(
        violation.description.len() > 20 && violation.description.len() < 400,
        "description of {} is not a short sentence: {:?}",
        violation.field,
        violation.description
    );
    assert_ne!(violation.description, violation.code);
}

/// Runs rows that each modify `base()`.
fn check_rows(base: Base, rows: &[(&str, Modify, &str, Want)]) {
    for (label, modify, field, want) in rows {
        let mut input = base();
        modify(&mut input);
        check(label, input, field, *want);
    }
}

/// Runs rows that each put one value into the field `field` of `base()` with `set`.
fn check_values(base: Base, field: &str, set: fn(&mut CopyImageInput, String), rows: &[(String, Want)]) {
    for (value, want) in rows {
        let mut input = base();
        set(&mut input, value.clone());
        check(&format!("{field} = {value:?}"), input, field, *want);
    }
}
