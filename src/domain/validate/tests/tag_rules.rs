//! TagSpecification: resource types, tag count, key and value lengths, reserved and duplicate keys.

use super::Want::{self, Accepted, Refused};
use super::*;
use crate::domain::codes::{INVALID_PARAMETER_VALUE, INVALID_TAG_KEY_MALFORMED, MISSING_PARAMETER, TAG_LIMIT_EXCEEDED};

const KEY_LENGTH: Want = Refused(INVALID_TAG_KEY_MALFORMED, "a tag key must be 1 to 127 characters long");
const RESERVED: Want = Refused(
    INVALID_TAG_KEY_MALFORMED,
    "starting with \"aws:\" (in any case) are reserved",
);
const VALUE_LENGTH: Want = Refused(INVALID_PARAMETER_VALUE, "at most 256 characters");

fn tagged(resource_type: &str, tags: Vec<Tag>) -> CopyImageInput {
    CopyImageInput {
        tag_specifications: vec![TagSpecificationInput {
            resource_type: resource_type.into(),
            tags,
        }],
        ..typical()
    }
}

fn one_tag(key: impl Into<String>, value: impl Into<String>) -> CopyImageInput {
    tagged("image", vec![Tag::new(key, value)])
}

fn many_tags(count: usize) -> Vec<Tag> {
    (0..count).map(|n| Tag::new(format!("key-{n}"), "v")).collect()
}

#[test]
fn resource_type_is_image_or_snapshot() {
    let other = Refused(INVALID_PARAMETER_VALUE, "use \"image\" or \"snapshot\"");
    let field = "tag_specifications[0].resource_type";
    for (resource_type, want) in [
        ("image", Accepted),
        ("snapshot", Accepted),
        ("Image", other),
        ("volume", other),
        ("instance", other),
        ("", Refused(MISSING_PARAMETER, "use \"image\" or \"snapshot\"")),
    ] {
        check(
            resource_type,
            tagged(resource_type, vec![Tag::new("k", "v")]),
            field,
            want,
        );
    }
}

#[test]
fn one_specification_per_resource_type() {
    let input = CopyImageInput {
        tag_specifications: vec![spec("image", &[("a", "1")]), spec("image", &[("b", "2")])],
        ..typical()
    };
    check(
        "image twice",
        input,
        "tag_specifications[1].resource_type",
        Refused(INVALID_PARAMETER_VALUE, "put all its tags in one"),
    );
}

#[test]
fn at_most_50_tags_per_resource() {
    check("50 tags", tagged("image", many_tags(50)), "", Accepted);
    check(
        "50 + 50 tags on two resources",
        {
            let mut input = tagged("image", many_tags(50));
            input.tag_specifications.push(TagSpecificationInput {
                resource_type: "snapshot".into(),
                tags: many_tags(50),
            });
            input
        },
        "",
        Accepted,
    );
    check(
        "51 tags",
        tagged("snapshot", many_tags(51)),
        "tag_specifications[0].tags",
        Refused(TAG_LIMIT_EXCEEDED, "at most 50 tags; 51 were given"),
    );
}

#[test]
fn tag_key_is_1_to_127_characters() {
    // EC2's documentation says 128, its API model 127: the stricter limit holds.
    let field = "tag_specifications[0].tags[0].key";
    for (label, key, want) in [
        ("1", "k".to_owned(), Accepted),
        ("127", "k".repeat(127), Accepted),
        ("127 multi-byte", "é".repeat(127), Accepted),
        (
            "unicode and symbols",
            "Zuständigkeit/Équipe:+=.@_-".to_owned(),
            Accepted,
        ),
        ("empty", String::new(), KEY_LENGTH),
        ("128", "k".repeat(128), KEY_LENGTH),
        ("128 multi-byte", "é".repeat(128), KEY_LENGTH),
    ] {
        check(label, one_tag(key, "v"), field, want);
    }
}

#[test]
fn tag_value_is_at_most_256_characters() {
    let field = "tag_specifications[0].tags[0].value";
    for (label, value, want) in [
        ("empty", String::new(), Accepted),
        ("256", "v".repeat(256), Accepted),
        ("256 multi-byte", "é".repeat(256), Accepted),
        ("257", "v".repeat(257), VALUE_LENGTH),
        ("257 multi-byte", "é".repeat(257), VALUE_LENGTH),
    ] {
        check(label, one_tag("k", value), field, want);
    }
}

#[test]
fn aws_prefix_is_reserved_in_any_case() {
    let field = "tag_specifications[0].tags[0].key";
    for (key, want) in [
        ("aws:cloudformation:stack-name", RESERVED),
        ("aws:", RESERVED),
        ("AWS:owner", RESERVED),
        ("Aws:Owner", RESERVED),
        ("aWs:x", RESERVED),
        ("aws", Accepted),
        ("awsome", Accepted),
        ("my:aws:key", Accepted),
        ("aws-team", Accepted),
        ("éaws:", Accepted),
        ("aw€:", Accepted),
    ] {
        check(key, one_tag(key, "v"), field, want);
    }
}

#[test]
fn duplicate_keys_in_one_resource_are_refused() {
    check(
        "same key twice",
        tagged(
            "image",
            vec![Tag::new("env", "a"), Tag::new("team", "b"), Tag::new("env", "c")],
        ),
        "tag_specifications[0].tags[2].key",
        Refused(INVALID_PARAMETER_VALUE, "\"env\" appears more than once"),
    );
    check(
        "keys differing in case are distinct",
        tagged("image", vec![Tag::new("env", "a"), Tag::new("Env", "b")]),
        "",
        Accepted,
    );
    check(
        "same key on image and snapshot",
        CopyImageInput {
            tag_specifications: vec![spec("image", &[("env", "a")]), spec("snapshot", &[("env", "a")])],
            ..typical()
        },
        "",
        Accepted,
    );
}

#[test]
fn tag_violations_name_the_specification_and_tag() {
    let found = violations(CopyImageInput {
        tag_specifications: vec![
            spec("image", &[("ok", "1")]),
            spec("snapshot", &[("a", "1"), ("b", "2"), ("aws:c", "3")]),
        ],
        ..typical()
    });
    let fields: Vec<&str> = found.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["tag_specifications[1].tags[2].key"]);
}

#[test]
fn accepted_tags_go_to_their_resource() {
    let request = parse(loaded()).expect("loaded request is valid");
    let image: Vec<&str> = request.image_tags().map(|t| t.key.as_str()).collect();
    let snapshot: Vec<&str> = request.snapshot_tags().map(|t| t.key.as_str()).collect();
    assert_eq!(image, ["Name", "team", "cost-center"]);
    assert_eq!(snapshot, ["Name", "backup"]);
}
