//! Plan files for `amicopy distribute -f`: a CreateDistributionRequest written as YAML or JSON with
//! the proto's field names, so a distribution can live in git. The same shape is the `request` of
//! a distribution in `--output json`, so `get ID -o json | jq .request` gives a plan back.
//!
//! ```yaml
//! source_image_id: ami-0a1b2c3d4e5f60001
//! source_region: us-east-1
//! name: "golden-{region}-{date}"
//! targets:
//!   - regions: [us-west-2, eu-west-1]
//!   - account_id: "222233334444"        # quoted: account ids are strings
//!     regions: [us-west-2]
//! failure_policy: CONTINUE              # or ROLL_BACK
//! ```

use std::{collections::BTreeMap, io::Read, path::Path};

use amicopy::proto;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    failure::CliError,
    view::{LaunchPermissionsView, TagSpecificationView, rfc3339},
};

/// A distribution's request, field for field the proto's CreateDistributionRequest. Fields the
/// server requires may be left out here: the server then names every missing one at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistributionPlan {
    /// The AMI to copy.
    pub source_image_id: String,
    /// The Region it is in.
    pub source_region: String,
    /// Name template of every new AMI ({region}, {account}, {source_image_id}, {date}).
    pub name: String,
    /// Description of every new AMI.
    pub description: String,
    /// Encrypt the new snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Copy the source AMI's own tags.
    pub copy_image_tags: bool,
    /// Tags for every new AMI and its snapshots.
    pub tag_specifications: Vec<TagSpecificationView>,
    /// Who may launch every new AMI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_permissions: Option<LaunchPermissionsView>,
    /// Accounts given createVolumePermission on every new snapshot.
    pub snapshot_user_ids: Vec<String>,
    /// When to deprecate every new AMI (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecate_time: Option<String>,
    /// Time-based copy: minutes to complete within.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_copy_completion_duration_minutes: Option<i64>,
    /// Makes a repeated call safe; `distribute` makes one up when empty.
    pub client_token: String,
    /// Each account and the Regions to copy into there.
    pub targets: Vec<TargetPlan>,
    /// CONTINUE (the default) or ROLL_BACK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<String>,
}

/// One account and its Regions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetPlan {
    /// The account (12 digits, as a string); empty for the service's own.
    pub account_id: String,
    /// Regions to copy into.
    pub regions: Vec<String>,
    /// KMS key per Region for encrypted copies.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kms_key_ids: BTreeMap<String, String>,
}

/// A failure policy by the name people write: `continue`, `ROLL_BACK`, `roll-back` or the
/// proto's full `FAILURE_POLICY_ROLL_BACK`.
pub fn failure_policy(name: &str) -> Option<proto::FailurePolicy> {
    let upper = name.trim().to_ascii_uppercase().replace('-', "_");
    let full = if upper.starts_with("FAILURE_POLICY_") {
        upper
    } else {
        format!("FAILURE_POLICY_{upper}")
    };
    proto::FailurePolicy::from_str_name(&full).filter(|p| *p != proto::FailurePolicy::Unspecified)
}

/// An RFC 3339 time as a proto timestamp; `field` names it in the error.
pub fn timestamp(value: &str, field: &str) -> Result<prost_types::Timestamp, CliError> {
    let time = DateTime::parse_from_rfc3339(value.trim()).map_err(|error| {
        CliError::usage(format!(
            "{field}: {value:?} is not an RFC 3339 time such as 2027-01-01T00:00:00Z ({error})"
        ))
    })?;
    Ok(to_timestamp(time.with_timezone(&Utc)))
}

/// A time as a proto timestamp.
pub fn to_timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

impl DistributionPlan {
    /// Reads a plan from `path` (`-` is standard input): JSON when the file ends in `.json` or
    /// starts with `{`, YAML otherwise.
    pub fn load(path: &Path) -> Result<Self, CliError> {
        let shown = path.display();
        let text = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| CliError::usage(format!("reading the plan from standard input: {error}")))?;
            text
        } else {
            std::fs::read_to_string(path).map_err(|error| CliError::usage(format!("{shown}: {error}")))?
        };
        let json =
            path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) || text.trim_start().starts_with('{');
        let parsed = if json {
            serde_json::from_str(&text).map_err(|error| error.to_string())
        } else {
            serde_norway::from_str(&text).map_err(|error| error.to_string())
        };
        parsed.map_err(|error| CliError::usage(format!("{shown}: {error}")))
    }

    /// The request this plan asks for.
    pub fn into_request(self) -> Result<proto::CreateDistributionRequest, CliError> {
        let failure_policy = match &self.failure_policy {
            None => proto::FailurePolicy::Unspecified,
            Some(name) => failure_policy(name).ok_or_else(|| {
                CliError::usage(format!("failure_policy: {name:?} is neither CONTINUE nor ROLL_BACK"))
            })?,
        };
        let deprecate_time = self
            .deprecate_time
            .as_deref()
            .map(|value| timestamp(value, "deprecate_time"))
            .transpose()?;
        Ok(proto::CreateDistributionRequest {
            source_image_id: self.source_image_id,
            source_region: self.source_region,
            name: self.name,
            description: self.description,
            encrypted: self.encrypted,
            copy_image_tags: self.copy_image_tags,
            tag_specifications: self.tag_specifications.into_iter().map(Into::into).collect(),
            launch_permissions: self.launch_permissions.map(Into::into),
            snapshot_user_ids: self.snapshot_user_ids,
            deprecate_time,
            snapshot_copy_completion_duration_minutes: self.snapshot_copy_completion_duration_minutes,
            client_token: self.client_token,
            targets: self
                .targets
                .into_iter()
                .map(|t| proto::DistributionTarget {
                    account_id: t.account_id,
                    regions: t.regions,
                    kms_key_ids: t.kms_key_ids.into_iter().collect(),
                })
                .collect(),
            failure_policy: failure_policy as i32,
        })
    }
}

impl From<&proto::CreateDistributionRequest> for DistributionPlan {
    fn from(r: &proto::CreateDistributionRequest) -> Self {
        let policy = proto::FailurePolicy::try_from(r.failure_policy)
            .ok()
            .filter(|p| *p != proto::FailurePolicy::Unspecified)
            .map(|p| p.as_str_name().trim_start_matches("FAILURE_POLICY_").to_owned());
        Self {
            source_image_id: r.source_image_id.clone(),
            source_region: r.source_region.clone(),
            name: r.name.clone(),
            description: r.description.clone(),
            encrypted: r.encrypted,
            copy_image_tags: r.copy_image_tags,
            tag_specifications: r.tag_specifications.iter().map(Into::into).collect(),
            launch_permissions: r.launch_permissions.as_ref().map(Into::into),
            snapshot_user_ids: r.snapshot_user_ids.clone(),
            deprecate_time: rfc3339(r.deprecate_time.as_ref()),
            snapshot_copy_completion_duration_minutes: r.snapshot_copy_completion_duration_minutes,
            client_token: r.client_token.clone(),
            targets: r
                .targets
                .iter()
                .map(|t| TargetPlan {
                    account_id: t.account_id.clone(),
                    regions: t.regions.clone(),
                    kms_key_ids: t.kms_key_ids.clone().into_iter().collect(),
                })
                .collect(),
            failure_policy: policy,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        (dir, path)
    }

    #[test]
    fn a_yaml_plan_becomes_the_request() {
        let (_dir, path) = write(
            "plan.yaml",
            r#"
source_image_id: ami-0a1b2c3d4e5f60001
source_region: us-east-1
name: "golden-{region}"
encrypted: true
tag_specifications:
  - resource_type: image
    tags: [{key: team, value: platform}]
launch_permissions:
  user_ids: ["333344445555"]
deprecate_time: 2030-01-01T00:00:00Z
targets:
  - regions: [us-west-2, eu-west-1]
    kms_key_ids: {eu-west-1: alias/eu}
  - account_id: "222233334444"
    regions: [us-west-2]
failure_policy: roll-back
"#,
        );
        let request = DistributionPlan::load(&path).unwrap().into_request().unwrap();
        assert_eq!(request.name, "golden-{region}");
        assert_eq!(request.encrypted, Some(true));
        assert_eq!(request.targets.len(), 2);
        assert_eq!(request.targets[0].kms_key_ids["eu-west-1"], "alias/eu");
        assert_eq!(request.targets[1].account_id, "222233334444");
        assert_eq!(request.failure_policy, proto::FailurePolicy::RollBack as i32);
        assert_eq!(request.tag_specifications[0].tags[0].value, "platform");
        assert_eq!(request.launch_permissions.unwrap().user_ids, ["333344445555"]);
        assert_eq!(request.deprecate_time.unwrap().seconds, 1_893_456_000);
    }

    #[test]
    fn a_json_plan_and_the_output_view_round_trip() {
        let request = proto::CreateDistributionRequest {
            source_image_id: "ami-1".into(),
            source_region: "us-east-1".into(),
            name: "n".into(),
            targets: vec![proto::DistributionTarget {
                account_id: String::new(),
                regions: vec!["us-west-2".into()],
                kms_key_ids: Default::default(),
            }],
            failure_policy: proto::FailurePolicy::Continue as i32,
            ..Default::default()
        };
        let json = serde_json::to_string(&DistributionPlan::from(&request)).unwrap();
        let (_dir, path) = write("plan.json", &json);
        assert_eq!(DistributionPlan::load(&path).unwrap().into_request().unwrap(), request);
    }

    #[test]
    fn typos_and_bad_values_are_usage_errors_that_say_where() {
        let (_dir, path) = write("plan.yaml", "source_image_id: ami-1\ntargetz: []\n");
        let error = DistributionPlan::load(&path).unwrap_err().to_string();
        assert!(error.contains("targetz"), "{error}");
        assert!(error.contains("plan.yaml"), "{error}");

        let plan = DistributionPlan {
            failure_policy: Some("sometimes".into()),
            ..Default::default()
        };
        assert!(plan.into_request().unwrap_err().to_string().contains("failure_policy"));

        let plan = DistributionPlan {
            deprecate_time: Some("next year".into()),
            ..Default::default()
        };
        assert!(plan.into_request().unwrap_err().to_string().contains("deprecate_time"));
    }
}
