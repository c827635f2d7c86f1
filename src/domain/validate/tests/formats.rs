//! Single-field formats: AMI id, Region codes, AMI name, description, client token.

use super::Want::{self, Accepted, Refused};
use super::*;
use crate::domain::codes::{
    INVALID_AMI_ID_MALFORMED, INVALID_AMI_NAME_MALFORMED, INVALID_CLIENT_TOKEN, INVALID_PARAMETER_VALUE, INVALID_REGION,
};

const AMI_ID: Want = Refused(INVALID_AMI_ID_MALFORMED, "8 or 17 lowercase hex digits");
const REGION: Want = Refused(INVALID_REGION, "such as us-west-2");
const NAME_LENGTH: Want = Refused(INVALID_AMI_NAME_MALFORMED, "3 to 128 characters");
const NAME_CHARS: Want = Refused(
    INVALID_AMI_NAME_MALFORMED,
    "only letters, digits, space and ( ) [ ] . / - ' @ _",
);
const TOKEN: Want = Refused(INVALID_CLIENT_TOKEN, "1 to 64 printable ASCII characters");

#[test]
fn source_image_id_is_ami_dash_8_or_17_lowercase_hex() {
    check_values(
        typical,
        "source_image_id",
        |i, v| i.source_image_id = v,
        &[
            ("ami-12345678".into(), Accepted),
            ("ami-abcdef01".into(), Accepted),
            ("ami-0abcdef1234567890".into(), Accepted),
            ("ami-1234567".into(), AMI_ID),
            ("ami-123456789".into(), AMI_ID),
            ("ami-0abcdef123456789".into(), AMI_ID),
            ("ami-0abcdef12345678901".into(), AMI_ID),
            ("ami-0ABCDEF1".into(), AMI_ID),
            ("ami-0ABCDEF1234567890".into(), AMI_ID),
            ("AMI-12345678".into(), AMI_ID),
            ("snap-12345678".into(), AMI_ID),
            ("aki-12345678".into(), AMI_ID),
            ("ami-1234567g".into(), AMI_ID),
            ("ami-".into(), AMI_ID),
            ("ami-12345678 ".into(), AMI_ID),
            ("ami-１２３４５６７８".into(), AMI_ID),
        ],
    );
}

fn region_rows() -> Vec<(String, Want)> {
    let valid = [
        "us-west-2",
        "us-east-1",
        "eu-central-1",
        "us-gov-west-1",
        "cn-north-1",
        "ap-southeast-4",
        "il-central-1",
        "me-south-1",
        "us-isob-east-1",
    ];
    let junk = [
        "us-west",
        "uswest2",
        "US-WEST-2",
        "us-west-2a",
        "us_west_2",
        "usa-west-2",
        "us-west-123",
        "-west-2",
        "us--2",
        "us-west-2-",
        "us-west-2 ",
        "mars",
        "us-wëst-2",
    ];
    let mut rows: Vec<(String, Want)> = valid.iter().map(|r| (r.to_string(), Accepted)).collect();
    rows.extend(junk.iter().map(|r| (r.to_string(), REGION)));
    rows
}

#[test]
fn source_region_is_a_region_code() {
    check_values(typical, "source_region", |i, v| i.source_region = v, &region_rows());
}

#[test]
fn destination_region_is_a_region_code() {
    check_values(
        typical,
        "destination_region",
        |i, v| i.destination_region = v,
        &region_rows(),
    );
}

#[test]
fn name_is_3_to_128_characters_of_the_allowed_set() {
    check_values(
        typical,
        "name",
        |i, v| i.name = v,
        &[
            ("abc".into(), Accepted),
            ("a".repeat(128), Accepted),
            ("My AMI (v1.2) [prod] ./-'@_".into(), Accepted),
            ("ABCdef0123456789".into(), Accepted),
            ("ab".into(), NAME_LENGTH),
            ("a".repeat(129), NAME_LENGTH),
            ("café".into(), NAME_CHARS),
            ("web😀".into(), NAME_CHARS),
            ("name!".into(), NAME_CHARS),
            ("name#1".into(), NAME_CHARS),
            ("tab\there".into(), NAME_CHARS),
            ("a,b;c".into(), NAME_CHARS),
        ],
    );
}

#[test]
fn name_length_counts_characters_not_bytes() {
    // Two characters in four bytes: too short, and the message counts characters.
    let found = violations(CopyImageInput {
        name: "éé".into(),
        ..typical()
    });
    assert_eq!(found[0].code, INVALID_AMI_NAME_MALFORMED);
    assert!(found[0].description.ends_with("it has 2"), "{:?}", found[0]);
    // 100 characters in 200 bytes: long enough, refused for its letters only.
    check(
        "100 × é",
        CopyImageInput {
            name: "é".repeat(100),
            ..typical()
        },
        "name",
        NAME_CHARS,
    );
    // 128 characters in 256 bytes: the length is fine, the letters are not.
    check(
        "128 × é",
        CopyImageInput {
            name: "é".repeat(128),
            ..typical()
        },
        "name",
        NAME_CHARS,
    );
}

#[test]
fn name_lists_each_offending_character_once() {
    let found = violations(CopyImageInput {
        name: "a!b!c#".into(),
        ..typical()
    });
    assert!(found[0].description.ends_with("it contains '!', '#'"), "{:?}", found[0]);
}

#[test]
fn description_is_at_most_255_characters() {
    let too_long = Refused(INVALID_PARAMETER_VALUE, "at most 255 characters");
    check_values(
        typical,
        "description",
        |i, v| i.description = v,
        &[
            ("".into(), Accepted),
            ("x".repeat(255), Accepted),
            ("é".repeat(255), Accepted),
            ("😀".repeat(255), Accepted),
            ("line one\nline two — «quoted»".into(), Accepted),
            ("x".repeat(256), too_long),
            ("é".repeat(256), too_long),
        ],
    );
}

#[test]
fn client_token_is_at_most_64_printable_ascii_characters() {
    check_values(
        typical,
        "client_token",
        |i, v| i.client_token = v,
        &[
            ("550e8400-e29b-41d4-a716-446655440000".into(), Accepted),
            ("a".into(), Accepted),
            ("x".repeat(64), Accepted),
            ("retry 1 of job #42".into(), Accepted),
            ("x".repeat(65), TOKEN),
            ("tökén".into(), TOKEN),
            ("é".repeat(32), TOKEN),
            ("tab\there".into(), TOKEN),
        ],
    );
}

#[test]
fn client_token_says_why_it_was_refused() {
    let why = |token: &str| {
        violations(CopyImageInput {
            client_token: token.into(),
            ..typical()
        })[0]
            .description
            .clone()
    };
    assert!(why(&"x".repeat(65)).ends_with("it has 65 characters"));
    assert!(why("tökén").ends_with("non-ASCII characters"));
    assert!(why("a\u{7}b").ends_with("control characters"));
}

#[test]
fn client_token_is_case_sensitive_and_kept_verbatim() {
    let request = parse(CopyImageInput {
        client_token: "Token-ABC".into(),
        ..typical()
    })
    .expect("valid token");
    assert_eq!(request.client_token.map(String::from).as_deref(), Some("Token-ABC"));
}

#[test]
fn field_types_read_back_from_json_only_when_valid() {
    use crate::domain::{AmiName, ImageId};
    let id: ImageId = serde_json::from_str("\"ami-12345678\"").expect("valid id");
    assert_eq!(id.as_str(), "ami-12345678");
    let region: Region = serde_json::from_str("\"us-gov-west-1\"").expect("valid Region");
    assert_eq!(region.to_string(), "us-gov-west-1");
    let error = serde_json::from_str::<ImageId>("\"ami-XYZ\"").expect_err("malformed id");
    assert!(error.to_string().contains("8 or 17 lowercase hex digits"), "{error}");
    assert!(serde_json::from_str::<AmiName>("\"ab\"").is_err());
}
