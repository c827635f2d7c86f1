//! What each tenant may do: which source and destination Regions it may copy between, which KMS
//! keys it may name, and whether it may copy to an Outpost. Read from a JSON file:
//!
//! ```json
//! {
//!   "tenants": {
//!     "team-a": {
//!       "source_regions": ["us-east-1"],
//!       "destination_regions": ["us-west-2", "eu-west-1"],
//!       "kms_key_ids": ["alias/team-a"],
//!       "outposts": false,
//!       "destination_accounts": ["222233334444"],
//!       "public_launch": false
//!     },
//!     "*": { "destination_regions": ["us-west-2"] }
//!   }
//! }
//! ```
//!
//! A list that is left out allows anything; `outposts` and `public_launch` default to false.
//! `destination_accounts` lists the accounts (of those the operator configured) a tenant may copy
//! into; left out, any configured account. `"*"` applies to tenants without their own entry; a
//! tenant with neither may do nothing. Without a policy file every tenant may do everything except
//! make an image public, which always needs `public_launch: true`.

use std::{collections::HashMap, path::Path};

use serde::Deserialize;

use crate::domain::{AccountId, CopyRequest, Destination, Region};

/// The entry for tenants without their own.
pub const ANY_TENANT: &str = "*";

/// What a denied public image says.
const PUBLIC_REFUSAL: &str = "make an image public (the policy must say \"public_launch\": true)";

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid policy file {path}: {message}")]
pub struct PolicyFileError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A request the policy does not allow: who asked and everything that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant {tenant} may not {}", refusals.join("; nor "))]
pub struct PolicyDenial {
    /// The tenant that asked.
    pub tenant: String,
    /// One phrase per refused part ("copy from Region eu-west-1 (allowed: us-east-1)").
    pub refusals: Vec<String>,
}

/// What one tenant may use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    /// Regions it may copy from; `None` allows all.
    pub source_regions: Option<Vec<String>>,
    /// Regions it may copy to; `None` allows all.
    pub destination_regions: Option<Vec<String>>,
    /// KMS keys it may name, exactly as sent; `None` allows all. Copies that name no key are
    /// always allowed.
    pub kms_key_ids: Option<Vec<String>>,
    /// Whether it may copy to an Outpost.
    #[serde(default)]
    pub outposts: bool,
    /// Accounts it may copy into (besides the service's own); `None` allows every configured
    /// account.
    pub destination_accounts: Option<Vec<String>>,
    /// Whether it may make an image public (launch permission for everyone).
    #[serde(default)]
    pub public_launch: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    tenants: HashMap<String, TenantPolicy>,
}

/// The policy every CopyImage is checked against.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    tenants: Option<HashMap<String, TenantPolicy>>,
}

impl Policy {
    /// The policy without a file: everything is allowed.
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// A policy of these tenants' entries.
    pub fn from_tenants(tenants: HashMap<String, TenantPolicy>) -> Self {
        Self { tenants: Some(tenants) }
    }

    /// Reads a policy file, checking that every Region in it is a Region code.
    pub fn load(path: &Path) -> Result<Self, PolicyFileError> {
        let invalid = |message: String| PolicyFileError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let file: PolicyFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for (tenant, entry) in &file.tenants {
            let regions = entry.source_regions.iter().chain(&entry.destination_regions).flatten();
            for region in regions {
                Region::parse(region).map_err(|e| invalid(format!("tenant {tenant}: {}", e.description)))?;
            }
            for account in entry.destination_accounts.iter().flatten() {
                AccountId::parse(account).map_err(|e| invalid(format!("tenant {tenant}: {}", e.description)))?;
            }
        }
        Ok(Self::from_tenants(file.tenants))
    }

    /// Whether `tenant` may make `request`: every refused part is named.
    pub fn check(&self, tenant: &str, request: &CopyRequest) -> Result<(), PolicyDenial> {
        let deny = |refusals: Vec<String>| PolicyDenial {
            tenant: tenant.to_owned(),
            refusals,
        };
        let Some(tenants) = &self.tenants else {
            if request.launch_permissions.public {
                return Err(deny(vec![PUBLIC_REFUSAL.to_owned()]));
            }
            return Ok(());
        };
        let Some(entry) = tenants.get(tenant).or_else(|| tenants.get(ANY_TENANT)) else {
            return Err(deny(vec![
                "copy images (the policy file has no entry for it)".to_owned(),
            ]));
        };
        let mut refusals = Vec::new();
        let source = request.source_region.to_string();
        if let Some(refused) = refuse(&entry.source_regions, &source, "copy from Region") {
            refusals.push(refused);
        }
        let destination = request.destination_region.to_string();
        if let Some(refused) = refuse(&entry.destination_regions, &destination, "copy to Region") {
            refusals.push(refused);
        }
        if let Some(key) = &request.kms_key_id
            && let Some(refused) = refuse(&entry.kms_key_ids, &key.to_string(), "use KMS key")
        {
            refusals.push(refused);
        }
        if let (Destination::Outpost(arn), false) = (&request.destination, entry.outposts) {
            refusals.push(format!("copy to Outpost {arn} (Outposts are not allowed)"));
        }
        if let Some(account) = &request.destination_account
            && let Some(refused) = refuse(&entry.destination_accounts, account.as_str(), "copy into account")
        {
            refusals.push(refused);
        }
        if request.launch_permissions.public && !entry.public_launch {
            refusals.push(PUBLIC_REFUSAL.to_owned());
        }
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(deny(refusals))
        }
    }
}

fn refuse(allowed: &Option<Vec<String>>, value: &str, action: &str) -> Option<String> {
    let allowed = allowed.as_ref()?;
    if allowed.iter().any(|a| a == value) {
        return None;
    }
    let listed = if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed.join(", ")
    };
    Some(format!("{action} {value} (allowed: {listed})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CopyImageInput;

    fn request(destination_region: &str, kms_key_id: &str, outpost: &str) -> CopyRequest {
        let input = CopyImageInput {
            source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
            source_region: "us-east-1".to_owned(),
            destination_region: destination_region.to_owned(),
            name: "policy-copy".to_owned(),
            encrypted: (!kms_key_id.is_empty()).then_some(true),
            kms_key_id: kms_key_id.to_owned(),
            destination_outpost_arn: outpost.to_owned(),
            ..Default::default()
        };
        CopyRequest::parse(input, &Region::parse("us-east-1").unwrap()).unwrap()
    }

    fn from_json(json: &str) -> Policy {
        let file: PolicyFile = serde_json::from_str(json).unwrap();
        Policy::from_tenants(file.tenants)
    }

    const OUTPOST: &str = "arn:aws:outposts:us-east-1:123456789012:outpost/op-1234567890abcdef0";

    #[test]
    fn without_a_file_everything_is_allowed() {
        let everything = request("", "alias/any", "");
        assert!(Policy::allow_all().check("anyone", &everything).is_ok());
        assert!(Policy::allow_all().check("anyone", &request("", "", OUTPOST)).is_ok());
    }

    #[test]
    fn every_refused_part_is_named() {
        let policy = from_json(
            r#"{"tenants":{"a":{"source_regions":["eu-west-1"],"destination_regions":["us-west-2"],"kms_key_ids":["alias/a"]}}}"#,
        );
        let denial = policy.check("a", &request("eu-central-1", "alias/b", "")).unwrap_err();
        assert_eq!(denial.refusals.len(), 3, "{denial}");
        let message = denial.to_string();
        for named in ["us-east-1", "eu-central-1", "alias/b", "tenant a"] {
            assert!(message.contains(named), "{named} missing from {message}");
        }
        let listed = from_json(r#"{"tenants":{"a":{"destination_regions":["us-west-2"],"kms_key_ids":["alias/a"]}}}"#);
        assert!(listed.check("a", &request("us-west-2", "alias/a", "")).is_ok());
        assert!(
            listed.check("a", &request("us-west-2", "", "")).is_ok(),
            "no key named is allowed"
        );
    }

    #[test]
    fn outposts_need_an_explicit_yes() {
        let no = from_json(r#"{"tenants":{"a":{}}}"#);
        let message = no.check("a", &request("", "", OUTPOST)).unwrap_err().to_string();
        assert!(message.contains("Outpost"), "{message}");
        let yes = from_json(r#"{"tenants":{"a":{"outposts":true}}}"#);
        assert!(yes.check("a", &request("", "", OUTPOST)).is_ok());
    }

    fn cross_account(account: &str, public: bool) -> CopyRequest {
        let input = CopyImageInput {
            source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
            source_region: "us-east-1".to_owned(),
            name: "policy-copy".to_owned(),
            destination_account_id: account.to_owned(),
            launch_permissions: crate::domain::LaunchPermissionsInput {
                public,
                ..Default::default()
            },
            ..Default::default()
        };
        CopyRequest::parse(input, &Region::parse("us-east-1").unwrap()).unwrap()
    }

    #[test]
    fn destination_accounts_are_limited_to_the_listed_ones() {
        let listed = from_json(r#"{"tenants":{"a":{"destination_accounts":["222233334444"]}}}"#);
        assert!(listed.check("a", &cross_account("222233334444", false)).is_ok());
        assert!(listed.check("a", &cross_account("", false)).is_ok(), "its own account");
        let message = listed
            .check("a", &cross_account("333344445555", false))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("copy into account 333344445555 (allowed: 222233334444)"),
            "{message}"
        );
        let unlisted = from_json(r#"{"tenants":{"a":{}}}"#);
        assert!(unlisted.check("a", &cross_account("333344445555", false)).is_ok());
    }

    #[test]
    fn a_public_image_needs_an_explicit_yes_even_without_a_policy_file() {
        let message = Policy::allow_all()
            .check("anyone", &cross_account("", true))
            .unwrap_err()
            .to_string();
        assert!(message.contains("public_launch"), "{message}");
        let no = from_json(r#"{"tenants":{"a":{}}}"#);
        assert!(no.check("a", &cross_account("", true)).is_err());
        let yes = from_json(r#"{"tenants":{"a":{"public_launch":true}}}"#);
        assert!(yes.check("a", &cross_account("", true)).is_ok());
    }

    #[test]
    fn unlisted_tenants_get_the_star_entry_or_nothing() {
        let with_star = from_json(r#"{"tenants":{"*":{"destination_regions":["us-west-2"]}}}"#);
        assert!(with_star.check("b", &request("us-west-2", "", "")).is_ok());
        assert!(with_star.check("b", &request("eu-west-1", "", "")).is_err());
        let without = from_json(r#"{"tenants":{"a":{}}}"#);
        let message = without
            .check("b", &request("us-west-2", "", ""))
            .unwrap_err()
            .to_string();
        assert!(message.contains("no entry"), "{message}");
    }

    #[test]
    fn a_file_with_a_bad_region_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        std::fs::write(&path, r#"{"tenants":{"a":{"source_regions":["mars-1"]}}}"#).unwrap();
        let error = Policy::load(&path).unwrap_err().to_string();
        assert!(error.contains("mars-1") && error.contains("tenant a"), "{error}");
    }
}
