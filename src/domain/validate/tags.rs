//! TagSpecification rules: what may be tagged, how many tags, and what a key and a value may be.

use std::collections::HashSet;

use super::Violations;
use crate::domain::codes;
use crate::domain::fields::{ResourceType, Tag};
use crate::domain::request::{TagSpecification, TagSpecificationInput};

/// Most tags one resource may carry.
const MAX_TAGS_PER_RESOURCE: usize = 50;
/// Longest tag key, in characters. EC2's documentation says 128 and its API model 127; the
/// stricter one is kept so a request accepted here is never refused by EC2 for it.
const MAX_TAG_KEY_CHARS: usize = 127;
/// Longest tag value, in characters.
const MAX_TAG_VALUE_CHARS: usize = 256;

/// Checks every specification; answers those that are acceptable.
pub(super) fn check_tag_specifications(v: &mut Violations, specs: &[TagSpecificationInput]) -> Vec<TagSpecification> {
    let mut accepted = Vec::with_capacity(specs.len());
    let mut seen_types: HashSet<ResourceType> = HashSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let type_field = format!("tag_specifications[{i}].resource_type");
        let resource_type = if spec.resource_type.is_empty() {
            v.add(
                &type_field,
                codes::MISSING_PARAMETER,
                format!("{type_field} is required: use \"image\" or \"snapshot\""),
            );
            None
        } else {
            v.optional(&type_field, &spec.resource_type, ResourceType::parse)
        };
        if let Some(kind) = resource_type
            && !seen_types.insert(kind)
        {
            v.add(
                &type_field,
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "resource type {:?} appears in more than one tag specification: put all its tags in one",
                    kind.as_str()
                ),
            );
        }
        let tags_ok = check_tags(v, i, &spec.tags);
        if let (Some(resource_type), true) = (resource_type, tags_ok) {
            accepted.push(TagSpecification {
                resource_type,
                tags: spec.tags.clone(),
            });
        }
    }
    accepted
}

/// Checks one specification's tags; true when all are acceptable.
fn check_tags(v: &mut Violations, spec_index: usize, tags: &[Tag]) -> bool {
    let before = v.0.len();
    if tags.len() > MAX_TAGS_PER_RESOURCE {
        v.add(
            format!("tag_specifications[{spec_index}].tags"),
            codes::TAG_LIMIT_EXCEEDED,
            format!(
                "a resource may have at most {MAX_TAGS_PER_RESOURCE} tags; {} were given",
                tags.len()
            ),
        );
    }
    let mut seen_keys: HashSet<&str> = HashSet::with_capacity(tags.len());
    for (j, tag) in tags.iter().enumerate() {
        let key_chars = tag.key.chars().count();
        let key_problem = if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
            Some((
                codes::INVALID_TAG_KEY_MALFORMED,
                format!("a tag key must be 1 to {MAX_TAG_KEY_CHARS} characters long; it has {key_chars}"),
            ))
        } else if tag.is_system() {
            Some((
                codes::INVALID_TAG_KEY_MALFORMED,
                format!(
                    "tag keys starting with \"aws:\" (in any case) are reserved for AWS; rename {:?}",
                    tag.key
                ),
            ))
        } else if !seen_keys.insert(tag.key.as_str()) {
            Some((
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "tag key {:?} appears more than once in this tag specification: give each key once",
                    tag.key
                ),
            ))
        } else {
            None
        };
        if let Some((code, description)) = key_problem {
            v.add(
                format!("tag_specifications[{spec_index}].tags[{j}].key"),
                code,
                description,
            );
        }
        let value_chars = tag.value.chars().count();
        if value_chars > MAX_TAG_VALUE_CHARS {
            v.add(
                format!("tag_specifications[{spec_index}].tags[{j}].value"),
                codes::INVALID_PARAMETER_VALUE,
                format!("a tag value may be at most {MAX_TAG_VALUE_CHARS} characters long; it has {value_chars}"),
            );
        }
    }
    v.0.len() == before
}
