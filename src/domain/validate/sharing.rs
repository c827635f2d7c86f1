//! The fields of what happens around a copy: the account it is made in, who may launch the new
//! AMI and use its snapshots, and when it is deprecated.

use chrono::{DateTime, Utc};

use super::Violations;
use crate::domain::{
    AccountId, DeprecateAt, LaunchPermissions, OrganizationArn, OrganizationalUnitArn, codes, fields::FieldError,
    request::LaunchPermissionsInput,
};

/// Most entries in one permission list: more is almost surely a mistake, and each is checked.
const MAX_PERMISSIONS: usize = 100;

/// `destination_account_id`: empty, or 12 digits.
pub(super) fn check_destination_account(v: &mut Violations, value: &str) -> Option<AccountId> {
    v.optional("destination_account_id", value, AccountId::parse)
}

/// `launch_permissions`: every account id and ARN well formed; lists sorted, without repeats. An
/// image asked to be encrypted cannot be public (EC2 refuses to make encrypted AMIs public).
pub(super) fn check_launch_permissions(
    v: &mut Violations,
    input: &LaunchPermissionsInput,
    encrypted: Option<bool>,
) -> LaunchPermissions {
    if input.public && encrypted == Some(true) {
        v.add(
            "launch_permissions.public",
            codes::INVALID_PARAMETER_COMBINATION,
            "an encrypted AMI cannot be made public: leave public unset, or copy without encryption",
        );
    }
    LaunchPermissions {
        user_ids: list(v, "launch_permissions.user_ids", &input.user_ids, AccountId::parse),
        organization_arns: list(
            v,
            "launch_permissions.organization_arns",
            &input.organization_arns,
            OrganizationArn::parse,
        ),
        organizational_unit_arns: list(
            v,
            "launch_permissions.organizational_unit_arns",
            &input.organizational_unit_arns,
            OrganizationalUnitArn::parse,
        ),
        public: input.public,
    }
}

/// `snapshot_user_ids`: every one 12 digits.
pub(super) fn check_snapshot_users(v: &mut Violations, values: &[String]) -> Vec<AccountId> {
    list(v, "snapshot_user_ids", values, AccountId::parse)
}

/// `deprecate_time`: a real instant, rounded to the minute as EC2 does, in the future, at most 10
/// years ahead, and for a public AMI at most 2 years after `now` (its creation).
pub(super) fn check_deprecate_time(
    v: &mut Violations,
    value: Option<(i64, i32)>,
    public: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let (seconds, nanos) = value?;
    let Some(at) = u32::try_from(nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(seconds, nanos))
    else {
        v.add(
            "deprecate_time",
            codes::INVALID_PARAMETER_VALUE,
            format!("{seconds} s + {nanos} ns is not a valid timestamp"),
        );
        return None;
    };
    let checked = DeprecateAt::parse(at, now).and_then(|at| {
        if public {
            at.check_public(now)?;
        }
        Ok(at)
    });
    checked
        .map(|at| at.time())
        .map_err(|e| v.add_error("deprecate_time", e))
        .ok()
}

/// Parses every entry of a list, naming each bad one by its index; sorted, without repeats.
fn list<T: Ord>(
    v: &mut Violations,
    field: &str,
    values: &[String],
    parse: impl Fn(&str) -> Result<T, FieldError>,
) -> Vec<T> {
    if values.len() > MAX_PERMISSIONS {
        v.add(
            field,
            codes::INVALID_PARAMETER_VALUE,
            format!("at most {MAX_PERMISSIONS} entries are accepted; got {}", values.len()),
        );
        return Vec::new();
    }
    let mut parsed: Vec<T> = values
        .iter()
        .enumerate()
        .filter_map(|(i, value)| match parse(value) {
            Ok(item) => Some(item),
            Err(error) => {
                v.add_error(format!("{field}[{i}]"), error);
                None
            }
        })
        .collect();
    parsed.sort();
    parsed.dedup();
    parsed
}
