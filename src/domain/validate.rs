//! Validation of a CopyImage request: every rule of EC2's that can be checked without asking EC2,
//! applied to the whole request so that every violation is reported at once.

mod destination;
mod sharing;
mod tags;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use super::codes;
use super::fields::{AmiName, ClientToken, FieldError, ImageId, KmsKeyId, Region};
use super::request::{CopyImageInput, CopyRequest, Destination};

/// Longest description EC2 accepts, in characters.
const MAX_DESCRIPTION_CHARS: usize = 255;

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
        self.summary_of("CopyImage")
    }

    /// [`InvalidRequest::summary`] for a request of the call `call` ("CreateDistribution").
    pub fn summary_of(&self, call: &str) -> String {
        match self.violations.as_slice() {
            [only] => format!("invalid {call} request: {}: {}", only.field, only.description),
            [first, rest @ ..] => format!(
                "invalid {call} request: {} problems; first, {}: {}",
                rest.len() + 1,
                first.field,
                first.description
            ),
            [] => format!("invalid {call} request"),
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
    /// `what` tells the caller what to put there.
    fn required<T>(
        &mut self,
        field: &str,
        what: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        if value.is_empty() {
            self.add(field, codes::MISSING_PARAMETER, format!("{field} is required: {what}"));
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
        Self::parse_at(input, default_region, Utc::now())
    }

    /// [`CopyRequest::parse`] at the time `now` (rules about deprecation times depend on it).
    pub fn parse_at(
        input: CopyImageInput,
        default_region: &Region,
        now: DateTime<Utc>,
    ) -> Result<CopyRequest, InvalidRequest> {
        let mut v = Violations::default();

        let source_image_id = v.required(
            "source_image_id",
            "the AMI to copy, such as ami-0abcdef1234567890",
            &input.source_image_id,
            ImageId::parse,
        );
        let source_region = v.required(
            "source_region",
            "the Region that holds the AMI, such as us-west-2",
            &input.source_region,
            Region::parse,
        );
        let name = v.required(
            "name",
            "the name of the new AMI, 3 to 128 characters",
            &input.name,
            AmiName::parse,
        );
        let description = check_description(&mut v, input.description.clone());
        let client_token = v.optional("client_token", &input.client_token, ClientToken::parse);
        let (destination_region, destination) = destination::resolve(&mut v, &input, default_region);

        let kms_key_id = v.optional("kms_key_id", &input.kms_key_id, KmsKeyId::parse);
        check_kms_key(
            &mut v,
            kms_key_id.as_ref(),
            input.encrypted,
            destination_region.as_ref(),
        );
        if let Some(Destination::Outpost(arn)) = &destination {
            destination::check_outpost(&mut v, arn, source_region.as_ref(), input.encrypted);
        }
        let copy_minutes = destination::check_copy_minutes(
            &mut v,
            input.snapshot_copy_completion_duration_minutes,
            destination.as_ref(),
        );
        let tag_specifications = tags::check_tag_specifications(&mut v, &input.tag_specifications);
        let destination_account = sharing::check_destination_account(&mut v, &input.destination_account_id);
        let launch_permissions = sharing::check_launch_permissions(&mut v, &input.launch_permissions, input.encrypted);
        let snapshot_user_ids = sharing::check_snapshot_users(&mut v, &input.snapshot_user_ids);
        let deprecate_at =
            sharing::check_deprecate_time(&mut v, input.deprecate_time, input.launch_permissions.public, now);

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
                    destination_account,
                    launch_permissions,
                    snapshot_user_ids,
                    deprecate_at,
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
