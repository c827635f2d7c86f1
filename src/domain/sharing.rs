//! Who may use an AMI and its snapshots: launch permissions (ModifyImageAttribute
//! `launchPermission`) and create-volume permissions (ModifySnapshotAttribute
//! `createVolumePermission`), with the organization ARNs EC2 accepts.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    AccountId, codes,
    fields::{FieldError, is_partition, shown},
};

/// An AWS Organizations organization ARN: `arn:aws:organizations::ACCOUNT:organization/o-ID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrganizationArn(String);

/// An AWS Organizations organizational unit ARN:
/// `arn:aws:organizations::ACCOUNT:ou/o-ID/ou-ROOT-ID`. A launch permission for an OU covers
/// the accounts in it and in the OUs below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrganizationalUnitArn(String);

/// Who may launch (and, with the snapshots shared too, copy) an AMI. Empty means the owner only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchPermissions {
    /// Accounts (`UserId`).
    #[serde(default)]
    pub user_ids: Vec<AccountId>,
    /// Organizations (`OrganizationArn`): every account in them.
    #[serde(default)]
    pub organization_arns: Vec<OrganizationArn>,
    /// Organizational units (`OrganizationalUnitArn`): every account in them or below them.
    #[serde(default)]
    pub organizational_unit_arns: Vec<OrganizationalUnitArn>,
    /// Everyone (`Group: all`): the AMI is public.
    #[serde(default)]
    pub public: bool,
}

/// Who may create volumes from (and so copy) a snapshot. Empty means the owner only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateVolumePermissions {
    /// Accounts (`UserId`).
    #[serde(default)]
    pub user_ids: Vec<AccountId>,
    /// Everyone (`Group: all`).
    #[serde(default)]
    pub public: bool,
}

impl LaunchPermissions {
    /// Whether it grants nothing.
    pub fn is_empty(&self) -> bool {
        self.user_ids.is_empty()
            && self.organization_arns.is_empty()
            && self.organizational_unit_arns.is_empty()
            && !self.public
    }

    /// The same permissions, each list sorted and without repeats: two sets of permissions
    /// compare equal this way whatever order EC2 lists them in.
    pub fn normalized(mut self) -> Self {
        self.user_ids.sort();
        self.user_ids.dedup();
        self.organization_arns.sort();
        self.organization_arns.dedup();
        self.organizational_unit_arns.sort();
        self.organizational_unit_arns.dedup();
        self
    }

    /// Whether every permission in `wanted` is granted here (what reading back after adding checks).
    pub fn includes(&self, wanted: &LaunchPermissions) -> bool {
        (!wanted.public || self.public)
            && wanted.user_ids.iter().all(|id| self.user_ids.contains(id))
            && wanted
                .organization_arns
                .iter()
                .all(|arn| self.organization_arns.contains(arn))
            && wanted
                .organizational_unit_arns
                .iter()
                .all(|arn| self.organizational_unit_arns.contains(arn))
    }
}

impl CreateVolumePermissions {
    /// The same permissions with the accounts sorted and without repeats.
    pub fn normalized(mut self) -> Self {
        self.user_ids.sort();
        self.user_ids.dedup();
        self
    }
}

impl OrganizationArn {
    /// Accepts `arn:PARTITION:organizations::ACCOUNT:organization/o-` + 10–32 lowercase letters
    /// or digits.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let ok = organizations_resource(value)
            .and_then(|resource| resource.strip_prefix("organization/"))
            .is_some_and(is_organization_id);
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} is not an organization ARN: expected arn:aws:organizations::ACCOUNT:organization/o-ID, \
                     such as arn:aws:organizations::123456789012:organization/o-abcde12345",
                    shown(value)
                ),
            ))
        }
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OrganizationalUnitArn {
    /// Accepts `arn:PARTITION:organizations::ACCOUNT:ou/o-ID/ou-` + 4–32 lowercase letters or
    /// digits, `-`, and 8–32 more.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let ok = organizations_resource(value)
            .and_then(|resource| resource.strip_prefix("ou/"))
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(organization, unit)| is_organization_id(organization) && is_unit_id(unit));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} is not an organizational unit ARN: expected arn:aws:organizations::ACCOUNT:ou/o-ID/ou-ID, \
                     such as arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdefgh34",
                    shown(value)
                ),
            ))
        }
    }

    /// The ARN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The resource part of an `arn:PARTITION:organizations::ACCOUNT:RESOURCE` ARN.
fn organizations_resource(value: &str) -> Option<&str> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    let partition_ok = is_partition(partition);
    (*arn == "arn"
        && partition_ok
        && *service == "organizations"
        && region.is_empty()
        && AccountId::parse(account).is_ok())
    .then_some(*resource)
}

fn is_lower_alnum(value: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

fn is_organization_id(value: &str) -> bool {
    value.strip_prefix("o-").is_some_and(|id| is_lower_alnum(id, 10..=32))
}

fn is_unit_id(value: &str) -> bool {
    value
        .strip_prefix("ou-")
        .and_then(|id| id.split_once('-'))
        .is_some_and(|(root, unit)| is_lower_alnum(root, 4..=32) && is_lower_alnum(unit, 8..=32))
}

macro_rules! arn_string {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value).map_err(|e| e.description)
            }
        }
    };
}

arn_string!(OrganizationArn);
arn_string!(OrganizationalUnitArn);

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "arn:aws:organizations::123456789012:organization/o-abcde12345";
    const OU: &str = "arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdefgh34";

    fn account(id: &str) -> AccountId {
        AccountId::parse(id).unwrap()
    }

    #[test]
    fn organization_and_unit_arns_are_accepted_in_every_partition() {
        assert!(OrganizationArn::parse(ORG).is_ok());
        assert!(OrganizationArn::parse("arn:aws-us-gov:organizations::123456789012:organization/o-abcde12345").is_ok());
        assert!(OrganizationalUnitArn::parse(OU).is_ok());
    }

    #[test]
    fn malformed_organization_arns_say_what_is_expected() {
        for bad in [
            "o-abcde12345",
            "arn:aws:organizations:us-east-1:123456789012:organization/o-abcde12345",
            "arn:aws:organizations::1234:organization/o-abcde12345",
            "arn:aws:organizations::123456789012:organization/o-ABCDE12345",
            "arn:aws:organizations::123456789012:organization/o-short",
            // Found by the fuzzer: partitions are lowercase words after `aws-`.
            "arn:aws-:organizations::123456789012:organization/o-abcde12345",
            "arn:aws-US:organizations::123456789012:organization/o-abcde12345",
            "arn:aws--gov:organizations::123456789012:organization/o-abcde12345",
            "arn:aws-us-gov-:organizations::123456789012:organization/o-abcde12345",
            OU,
        ] {
            let error = OrganizationArn::parse(bad).unwrap_err();
            assert_eq!(error.code, codes::INVALID_PARAMETER_VALUE);
            assert!(
                error.description.contains("organization/o-ID"),
                "{bad}: {}",
                error.description
            );
        }
        for bad in [
            ORG,
            "arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12",
            "arn:aws:organizations::123456789012:ou/ou-ab12-cdefgh34",
        ] {
            assert!(OrganizationalUnitArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn normalized_permissions_compare_whatever_the_order() {
        let a = LaunchPermissions {
            user_ids: vec![
                account("222233334444"),
                account("111122223333"),
                account("222233334444"),
            ],
            ..LaunchPermissions::default()
        };
        let b = LaunchPermissions {
            user_ids: vec![account("111122223333"), account("222233334444")],
            ..LaunchPermissions::default()
        };
        assert_ne!(a, b);
        assert_eq!(a.normalized(), b.clone().normalized());
        assert!(!b.is_empty() && LaunchPermissions::default().is_empty());
    }

    #[test]
    fn includes_checks_every_kind_of_permission() {
        let granted = LaunchPermissions {
            user_ids: vec![account("111122223333")],
            organization_arns: vec![OrganizationArn::parse(ORG).unwrap()],
            organizational_unit_arns: vec![OrganizationalUnitArn::parse(OU).unwrap()],
            public: false,
        };
        assert!(granted.includes(&granted));
        assert!(granted.includes(&LaunchPermissions::default()));
        let public = LaunchPermissions {
            public: true,
            ..LaunchPermissions::default()
        };
        assert!(!granted.includes(&public));
        let other = LaunchPermissions {
            user_ids: vec![account("999988887777")],
            ..LaunchPermissions::default()
        };
        assert!(!granted.includes(&other));
    }
}
