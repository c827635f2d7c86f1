//! Validation of a CopyImage request: every rule of EC2's that can be checked without asking EC2,
//! applied to the whole request so that every violation is reported at once.

use std::collections::HashSet;

use super::codes;
use super::fields::{AmiName, ClientToken, FieldError, ImageId, KmsKeyId, OutpostArn, Region, ResourceType, Tag};
use super::request::{CopyImageInput, CopyRequest, Destination, TagSpecification};

/// Longest description EC2 accepts, in characters.
const MAX_DESCRIPTION_CHARS: usize = 255;
/// Most tags one resource may carry.
const MAX_TAGS_PER_RESOURCE: usize = 50;
/// Longest tag key, in characters (EC2's documentation; its API model says 127).
const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters.
const MAX_TAG_VALUE_CHARS: usize = 256;
/// Time-based copies: shortest duration, longest, and the step between them, in minutes.
const COPY_MINUTES_MIN: i64 = 15;
const COPY_MINUTES_MAX: i64 = 48 * 60;
const COPY_MINUTES_STEP: i64 = 15;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the API's (proto) names, such as `tag_specifications[0].tags[2].key`.
    pub field: String,
    /// EC2's error code for the problem.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub description: String,
}

/// Every reason a request was refused, in field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequest {
    /// One entry per problem; never empty.
    pub violations: Vec<FieldViolation>,
}

impl InvalidRequest {
    /// The EC2 error code that names the request's failure as a whole: a missing parameter if any,
    /// otherwise the first violation's code.
    pub fn reason(&self) -> &'static str {
        self.violations
            .iter()
            .find(|v| v.code == codes::MISSING_PARAMETER)
            .or(self.violations.first())
            .map_or(codes::INVALID_PARAMETER_VALUE, |v| v.code)
    }

    /// A one-line summary naming how many problems there are and the first of them.
    pub fn summary(&self) -> String {
        match self.violations.as_slice() {
            [only] => format!("invalid CopyImage request: {}: {}", only.field, only.description),
            [first, rest @ ..] => format!(
                "invalid CopyImage request: {} problems; first, {}: {}",
                rest.len() + 1,
                first.field,
                first.description
            ),
            [] => "invalid CopyImage request".to_owned(),
        }
    }
}

impl std::fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for InvalidRequest {}

/// Collects violations while the request is walked once.
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn add(&mut self, field: impl Into<String>, code: &'static str, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            code,
            description: description.into(),
        });
    }

    fn add_error(&mut self, field: impl Into<String>, error: FieldError) {
        self.add(field, error.code, error.description);
    }

    /// Parses a required field: a missing value and a malformed one are both recorded.
    fn required<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        if value.is_empty() {
            self.add(field, codes::MISSING_PARAMETER, format!("{field} is required"));
            return None;
        }
        self.optional(field, value, parse)
    }

    /// Parses an optional field; empty means not given.
    fn optional<T>(
        &mut self,
        field: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        if value.is_empty() {
            return None;
        }
        parse(value).map_err(|e| self.add_error(field, e)).ok()
    }
}

impl CopyRequest {
    /// Checks `input` against EC2's rules and builds the accepted request, or reports every
    /// violation at once. `default_region` is the destination when the request names none.
    pub fn parse(input: CopyImageInput, default_region: &Region) -> Result<CopyRequest, InvalidRequest> {
        let mut v = Violations::default();

        let source_image_id = v.required("source_image_id", &input.source_image_id, ImageId::parse);
        let source_region = v.required("source_region", &input.source_region, Region::parse);
        let name = v.required("name", &input.name, AmiName::parse);
        let description = check_description(&mut v, input.description.clone());
        let client_token = v.optional("client_token", &input.client_token, ClientToken::parse);
        let outpost = v.optional(
            "destination_outpost_arn",
            &input.destination_outpost_arn,
            OutpostArn::parse,
        );
        let destination_region = resolve_destination_region(&mut v, &input, outpost.as_ref(), default_region);

        let kms_key_id = v.optional("kms_key_id", &input.kms_key_id, KmsKeyId::parse);
        check_kms_key(
            &mut v,
            kms_key_id.as_ref(),
            input.encrypted,
            destination_region.as_ref(),
        );

        let destination = resolve_destination(&mut v, &input, outpost);
        if let (Some(Destination::Outpost(arn)), Some(source)) = (&destination, &source_region) {
            check_outpost(&mut v, arn, source, input.encrypted);
        }
        let copy_minutes = check_copy_minutes(
            &mut v,
            input.snapshot_copy_completion_duration_minutes,
            destination.as_ref(),
        );
        let tag_specifications = check_tag_specifications(&mut v, &input.tag_specifications);

        if !v.0.is_empty() {
            return Err(InvalidRequest { violations: v.0 });
        }
        match (source_image_id, source_region, name, destination_region, destination) {
            (Some(source_image_id), Some(source_region), Some(name), Some(destination_region), Some(destination)) => {
                Ok(CopyRequest {
                    source_image_id,
                    source_region,
                    destination_region,
                    name,
                    description,
                    client_token,
                    encrypted: input.encrypted,
                    kms_key_id,
                    destination,
                    copy_image_tags: input.copy_image_tags,
                    tag_specifications,
                    snapshot_copy_completion_duration_minutes: copy_minutes,
                    dry_run: input.dry_run,
                })
            }
            _ => Err(InvalidRequest {
                violations: vec![FieldViolation {
                    field: String::new(),
                    code: codes::INVALID_PARAMETER_VALUE,
                    description: "the request could not be checked".to_owned(),
                }],
            }),
        }
    }
}

fn check_description(v: &mut Violations, description: String) -> Option<String> {
    let chars = description.chars().count();
    if chars > MAX_DESCRIPTION_CHARS {
        v.add(
            "description",
            codes::INVALID_PARAMETER_VALUE,
            format!("the description may be at most {MAX_DESCRIPTION_CHARS} characters long; it has {chars}"),
        );
    }
    (!description.is_empty()).then_some(description)
}

/// The Region the copy is made in: the request's, or for an Outpost its anchor Region, or the
/// service's default.
fn resolve_destination_region(
    v: &mut Violations,
    input: &CopyImageInput,
    outpost: Option<&OutpostArn>,
    default_region: &Region,
) -> Option<Region> {
    if input.destination_region.is_empty() {
        return match outpost {
            Some(arn) => Region::parse(arn.region()).ok(),
            None => Some(default_region.clone()),
        };
    }
    let region = v.optional("destination_region", &input.destination_region, Region::parse)?;
    if let Some(arn) = outpost
        && arn.region() != region.as_str()
    {
        v.add(
                "destination_region",
                codes::INVALID_PARAMETER_COMBINATION,
                format!(
                    "a copy to an Outpost is made in the Outpost's Region {}; leave destination_region empty or set it to {}",
                    arn.region(),
                    arn.region()
                ),
            );
    }
    Some(region)
}

fn check_kms_key(
    v: &mut Violations,
    key: Option<&KmsKeyId>,
    encrypted: Option<bool>,
    destination_region: Option<&Region>,
) {
    let Some(key) = key else { return };
    if encrypted != Some(true) {
        v.add(
            "kms_key_id",
            codes::INVALID_PARAMETER_COMBINATION,
            "kms_key_id may only be given together with encrypted = true",
        );
    }
    if let (Some(key_region), Some(destination)) = (key.arn_region(), destination_region)
        && key_region != destination.as_str()
    {
        v.add(
            "kms_key_id",
            codes::INVALID_PARAMETER_VALUE,
            format!("the KMS key must be in the destination Region {destination}, but its ARN names {key_region}"),
        );
    }
}

/// Picks the one destination kind; more than one is a violation on each extra field.
fn resolve_destination(v: &mut Violations, input: &CopyImageInput, outpost: Option<OutpostArn>) -> Option<Destination> {
    let given: Vec<&str> = [
        ("destination_outpost_arn", &input.destination_outpost_arn),
        ("destination_availability_zone", &input.destination_availability_zone),
        (
            "destination_availability_zone_id",
            &input.destination_availability_zone_id,
        ),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(field, _)| field)
    .collect();
    if given.len() > 1 {
        for field in &given[1..] {
            v.add(
                *field,
                codes::INVALID_PARAMETER_COMBINATION,
                format!("give at most one of {}; {} is also set", given.join(", "), given[0]),
            );
        }
        return None;
    }
    if !input.destination_outpost_arn.is_empty() {
        return outpost.map(Destination::Outpost);
    }
    if !input.destination_availability_zone.is_empty() {
        let zone = &input.destination_availability_zone;
        if !is_zone_name(zone) {
            v.add(
                "destination_availability_zone",
                codes::INVALID_PARAMETER_VALUE,
                format!("{zone:?} is not an Availability Zone name: expected a name such as us-west-2-lax-1a"),
            );
            return None;
        }
        return Some(Destination::AvailabilityZone(zone.clone()));
    }
    if !input.destination_availability_zone_id.is_empty() {
        let id = &input.destination_availability_zone_id;
        if !is_zone_id(id) {
            v.add(
                "destination_availability_zone_id",
                codes::INVALID_PARAMETER_VALUE,
                format!("{id:?} is not an Availability Zone id: expected an id such as usw2-lax1-az1"),
            );
            return None;
        }
        return Some(Destination::AvailabilityZoneId(id.clone()));
    }
    Some(Destination::Region)
}

/// A zone name is a Region code followed by dash-separated lowercase words and digits ending in
/// a letter: `us-west-2a`, `us-west-2-lax-1a`.
fn is_zone_name(zone: &str) -> bool {
    zone.len() <= 64
        && zone.ends_with(|c: char| c.is_ascii_lowercase())
        && zone
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && zone.split('-').count() >= 3
        && !zone.split('-').any(str::is_empty)
}

/// A zone id is `usw2-az1` or `usw2-lax1-az1`.
fn is_zone_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    let word_then_digits = |s: &str| {
        let letters = s.trim_end_matches(|c: char| c.is_ascii_digit());
        !letters.is_empty() && letters.len() < s.len() && letters.bytes().all(|b| b.is_ascii_lowercase())
    };
    (2..=3).contains(&parts.len())
        && parts.iter().all(|p| word_then_digits(p))
        && parts.last().is_some_and(|p| p.starts_with("az"))
}

fn check_outpost(v: &mut Violations, arn: &OutpostArn, source_region: &Region, encrypted: Option<bool>) {
    if arn.region() != source_region.as_str() {
        v.add(
            "destination_outpost_arn",
            codes::INVALID_PARAMETER_COMBINATION,
            format!(
                "an AMI can only be copied to an Outpost in its own Region: the Outpost is in {} but source_region is {source_region}",
                arn.region()
            ),
        );
    }
    if encrypted == Some(false) {
        v.add(
            "encrypted",
            codes::INVALID_PARAMETER_COMBINATION,
            "Outposts do not support unencrypted snapshots: leave encrypted unset or set it to true",
        );
    }
}

fn check_copy_minutes(v: &mut Violations, minutes: Option<i64>, destination: Option<&Destination>) -> Option<u32> {
    const FIELD: &str = "snapshot_copy_completion_duration_minutes";
    let minutes = minutes?;
    let mut ok = true;
    if !(COPY_MINUTES_MIN..=COPY_MINUTES_MAX).contains(&minutes) || minutes % COPY_MINUTES_STEP != 0 {
        v.add(
            FIELD,
            codes::INVALID_PARAMETER_VALUE,
            format!(
                "a time-based copy takes {COPY_MINUTES_MIN} to {COPY_MINUTES_MAX} minutes in steps of {COPY_MINUTES_STEP}; got {minutes}"
            ),
        );
        ok = false;
    }
    match destination {
        Some(Destination::Outpost(_))
        | Some(Destination::AvailabilityZone(_))
        | Some(Destination::AvailabilityZoneId(_)) => {
            v.add(
                FIELD,
                codes::INVALID_PARAMETER_COMBINATION,
                "time-based copies are not supported to Outposts or Local Zones: remove the duration or the Outpost/zone destination",
            );
            ok = false;
        }
        Some(Destination::Region) | None => {}
    }
    if ok { u32::try_from(minutes).ok() } else { None }
}

fn check_tag_specifications(
    v: &mut Violations,
    specs: &[super::request::TagSpecificationInput],
) -> Vec<TagSpecification> {
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
    let mut seen_keys: HashSet<&str> = HashSet::new();
    for (j, tag) in tags.iter().enumerate() {
        let key_field = format!("tag_specifications[{spec_index}].tags[{j}].key");
        let key_chars = tag.key.chars().count();
        if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
            v.add(
                &key_field,
                codes::INVALID_TAG_KEY_MALFORMED,
                format!("a tag key must be 1 to {MAX_TAG_KEY_CHARS} characters long; it has {key_chars}"),
            );
        } else if tag.is_system() {
            v.add(
                &key_field,
                codes::INVALID_TAG_KEY_MALFORMED,
                format!(
                    "tag keys starting with \"aws:\" are reserved for AWS; rename {:?}",
                    tag.key
                ),
            );
        } else if !seen_keys.insert(tag.key.as_str()) {
            v.add(
                &key_field,
                codes::INVALID_PARAMETER_VALUE,
                format!("tag key {:?} appears more than once in this tag specification", tag.key),
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
