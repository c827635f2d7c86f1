//! SourceImageId, SourceRegion and Name are required: an empty value is `MissingParameter`.

use super::Want::{Accepted, Refused};
use super::*;
use crate::domain::codes::{INVALID_AMI_ID_MALFORMED, MISSING_PARAMETER};

#[test]
fn typical_and_loaded_requests_are_accepted() {
    check("typical", typical(), "", Accepted);
    check("loaded", loaded(), "", Accepted);
}

#[test]
fn each_required_field_missing_is_missing_parameter() {
    check_rows(
        typical,
        &[
            (
                "no source_image_id",
                |i| i.source_image_id.clear(),
                "source_image_id",
                Refused(MISSING_PARAMETER, "source_image_id is required"),
            ),
            (
                "no source_region",
                |i| i.source_region.clear(),
                "source_region",
                Refused(MISSING_PARAMETER, "source_region is required"),
            ),
            (
                "no name",
                |i| i.name.clear(),
                "name",
                Refused(MISSING_PARAMETER, "name is required"),
            ),
            (
                "blank source_image_id is given, and malformed",
                |i| i.source_image_id = " ".into(),
                "source_image_id",
                Refused(INVALID_AMI_ID_MALFORMED, "ami-"),
            ),
        ],
    );
}

#[test]
fn missing_parameter_says_what_to_give() {
    let all = violations(CopyImageInput::default());
    let fields: Vec<(&str, &str)> = all.iter().map(|v| (v.field.as_str(), v.code)).collect();
    assert_eq!(
        fields,
        [
            ("source_image_id", MISSING_PARAMETER),
            ("source_region", MISSING_PARAMETER),
            ("name", MISSING_PARAMETER),
        ]
    );
    assert!(all[0].description.contains("ami-0abcdef1234567890"), "{:?}", all[0]);
    assert!(all[1].description.contains("us-west-2"), "{:?}", all[1]);
    assert!(all[2].description.contains("3 to 128"), "{:?}", all[2]);
}

#[test]
fn optional_fields_left_empty_are_not_given() {
    let request = parse(typical()).expect("typical request is valid");
    assert_eq!(request.description, None);
    assert_eq!(request.client_token, None);
    assert_eq!(request.kms_key_id, None);
    assert_eq!(request.encrypted, None);
    assert_eq!(request.destination_region.as_str(), DEFAULT_REGION);
    assert_eq!(request.destination, crate::domain::Destination::Region);
    assert_eq!(request.snapshot_copy_completion_duration_minutes, None);
    assert!(request.tag_specifications.is_empty());
}
