//! A CreateDistribution request twice over: as it arrives ([`DistributionInput`], any strings at
//! all) and as it is accepted ([`DistributionRequest`], built only by
//! [`DistributionRequest::parse_at`], with one checked [`CopyRequest`] per target).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{FailurePolicy, paths, template::NamePlaceholders, template::Template};
use crate::domain::{
    AccountId, ClientToken, CopyImageInput, CopyRequest, FieldViolation, ImageId, InvalidRequest, KmsKeyId,
    LaunchPermissions, LaunchPermissionsInput, Region, TagSpecification, TagSpecificationInput, codes,
};

/// Most (account, Region) targets in one distribution: 20 accounts × 30 Regions fit twice over,
/// and a mistake of a generated request is caught before it becomes thousands of copies.
pub const MAX_TARGETS: usize = 1000;

/// `{account}` for the service's own account when its id is not known.
const OWN_ACCOUNT_PLACEHOLDER: &str = "self";

/// A failure policy as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicyInput {
    /// Not given: the default, [`FailurePolicy::Continue`].
    #[default]
    Unspecified,
    /// [`FailurePolicy::Continue`].
    Continue,
    /// [`FailurePolicy::RollBack`].
    RollBack,
    /// A value the API does not define.
    Unknown(i32),
}

/// One target as sent: an account and the Regions to copy into there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetInput {
    /// The account; empty for the service's own.
    pub account_id: String,
    /// The Regions.
    pub regions: Vec<String>,
    /// KMS key per Region, for encrypted copies.
    pub kms_key_ids: BTreeMap<String, String>,
}

/// A CreateDistribution request as a caller sent it, unchecked. Empty strings mean "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DistributionInput {
    /// The AMI to copy.
    pub source_image_id: String,
    /// The Region that holds it.
    pub source_region: String,
    /// The name template (see [`super::expand_name`]).
    pub name: String,
    /// Description of every new AMI.
    pub description: String,
    /// Encrypt every copy; `None` when not given.
    pub encrypted: Option<bool>,
    /// Copy the source's user-defined tags.
    pub copy_image_tags: bool,
    /// Tags for every new AMI and its snapshots.
    pub tag_specifications: Vec<TagSpecificationInput>,
    /// Launch permissions granted on every new AMI.
    pub launch_permissions: LaunchPermissionsInput,
    /// Accounts given createVolumePermission on every new snapshot.
    pub snapshot_user_ids: Vec<String>,
    /// When to deprecate every new AMI: seconds and nanoseconds since the Unix epoch.
    pub deprecate_time: Option<(i64, i32)>,
    /// Time-based copy duration.
    pub snapshot_copy_completion_duration_minutes: Option<i64>,
    /// The caller's idempotency token.
    pub client_token: String,
    /// Where to copy.
    pub targets: Vec<TargetInput>,
    /// What to do when a target fails.
    pub failure_policy: FailurePolicyInput,
}

/// One accepted target: an account and its Regions, with their KMS keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetSpec {
    /// The account; `None` for the service's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountId>,
    /// The Regions, as given.
    pub regions: Vec<Region>,
    /// KMS key per Region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kms_key_ids: BTreeMap<Region, KmsKeyId>,
}

/// An accepted CreateDistribution request: every target passed CopyImage's rules and the
/// distribution's own. This is what the store keeps; the targets' copies are in their jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionRequest {
    /// The AMI to copy.
    pub source_image_id: ImageId,
    /// The Region that holds it.
    pub source_region: Region,
    /// The name template.
    pub name: String,
    /// Description of every new AMI.
    pub description: Option<String>,
    /// Encrypted as asked; `None` keeps EC2's default.
    pub encrypted: Option<bool>,
    /// Copy the source's user-defined tags.
    pub copy_image_tags: bool,
    /// Tags for every new AMI and its snapshots.
    pub tag_specifications: Vec<TagSpecification>,
    /// Launch permissions granted on every new AMI.
    pub launch_permissions: LaunchPermissions,
    /// Accounts given createVolumePermission on every new snapshot.
    pub snapshot_user_ids: Vec<AccountId>,
    /// When every new AMI is deprecated.
    pub deprecate_at: Option<DateTime<Utc>>,
    /// Time-based copy duration.
    pub snapshot_copy_completion_duration_minutes: Option<u32>,
    /// The caller's idempotency token; not part of the request's identity.
    pub client_token: Option<ClientToken>,
    /// Where to copy, as given.
    pub targets: Vec<TargetSpec>,
    /// What to do when a target fails.
    pub failure_policy: FailurePolicy,
}

/// One (account, Region) target of an accepted request, with the copy it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTarget {
    /// Its place in the request's order: targets by account, Regions in each.
    pub position: u32,
    /// The account; `None` for the service's own.
    pub account: Option<AccountId>,
    /// The Region.
    pub region: Region,
    /// The copy, its name expanded: what the target's job carries out.
    pub copy: CopyRequest,
}

impl DistributionRequest {
    /// Checks `input` as CopyImage would check each of its targets, plus the distribution's own
    /// rules, and plans one copy per (account, Region); or reports every violation at once,
    /// with paths such as `targets[2].kms_key_ids[eu-west-1]`. `own_account` is the service's
    /// own account id when known (for `{account}` and for telling a target that names it from
    /// one that leaves the account empty); `now` dates `{date}` and deprecation checks.
    pub fn parse_at(
        input: DistributionInput,
        own_account: Option<&AccountId>,
        now: DateTime<Utc>,
    ) -> Result<(DistributionRequest, Vec<PlannedTarget>), InvalidRequest> {
        let mut found = Found::default();
        let client_token = if input.client_token.is_empty() {
            None
        } else {
            ClientToken::parse(&input.client_token)
                .map_err(|e| found.add("client_token", e.code, e.description))
                .ok()
        };
        let failure_policy = match input.failure_policy {
            FailurePolicyInput::Unspecified | FailurePolicyInput::Continue => FailurePolicy::Continue,
            FailurePolicyInput::RollBack => FailurePolicy::RollBack,
            FailurePolicyInput::Unknown(value) => {
                found.add(
                    "failure_policy",
                    codes::INVALID_PARAMETER_VALUE,
                    format!("{value} is not a failure policy: use FAILURE_POLICY_CONTINUE or FAILURE_POLICY_ROLL_BACK"),
                );
                FailurePolicy::Continue
            }
        };
        let template = match Template::parse(&input.name) {
            Ok(template) => Some(template),
            Err(description) => {
                found.add("name", codes::INVALID_AMI_NAME_MALFORMED, description);
                None
            }
        };
        let pairs: usize = input.targets.iter().map(|target| target.regions.len()).sum();
        check_target_list(&mut found, &input.targets, pairs);
        let date = now.format("%Y-%m-%d").to_string();
        let own_name = own_account.map_or(OWN_ACCOUNT_PLACEHOLDER, AccountId::as_str);

        let mut planned = Vec::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut specs = Vec::new();
        if pairs <= MAX_TARGETS {
            for (i, target) in input.targets.iter().enumerate() {
                check_kms_keys(&mut found, i, target);
                let mut regions = Vec::new();
                for (j, region) in target.regions.iter().enumerate() {
                    let path = format!("targets[{i}].regions[{j}]");
                    if region.is_empty() {
                        found.add(&path, codes::MISSING_PARAMETER, format!("{path} is empty: name a Region, such as us-west-2"));
                        continue;
                    }
                    let place = (resolved_account(&target.account_id, own_account), region.clone());
                    if !seen.insert(place) {
                        found.add(
                            &path,
                            codes::INVALID_PARAMETER_COMBINATION,
                            format!(
                                "{region} in {} is already a target of this distribution: each (account, Region) may be named once",
                                account_label(&target.account_id)
                            ),
                        );
                        continue;
                    }
                    let account = if target.account_id.is_empty() { own_name } else { &target.account_id };
                    let name = template.as_ref().map_or_else(
                        || "distribution".to_owned(),
                        |template| {
                            template.expand(&NamePlaceholders {
                                region,
                                account,
                                source_image_id: &input.source_image_id,
                                date: &date,
                            })
                        },
                    );
                    let copy_input = copy_input(&input, target, region, name);
                    match CopyRequest::parse_at(copy_input, &fallback_region(&input), now) {
                        Ok(copy) => {
                            regions.push(copy.destination_region.clone());
                            planned.push(PlannedTarget {
                                position: u32::try_from(planned.len()).unwrap_or(u32::MAX),
                                account: copy.destination_account.clone(),
                                region: copy.destination_region.clone(),
                                copy,
                            });
                        }
                        Err(invalid) => {
                            for violation in invalid.violations {
                                let field = paths::rewrite(&violation.field, i, j, region);
                                found.add(&field, violation.code, violation.description);
                            }
                        }
                    }
                }
                specs.push(regions);
            }
        }
        if pairs == 0 || pairs > MAX_TARGETS {
            // No target to check the shared fields with: check them once on their own.
            probe_shared_fields(&mut found, &input, now);
        }
        if !found.0.is_empty() {
            return Err(InvalidRequest { violations: found.0 });
        }
        let Some(first) = planned.first() else {
            return Err(InvalidRequest {
                violations: vec![FieldViolation {
                    field: "targets".to_owned(),
                    code: codes::MISSING_PARAMETER,
                    description: "targets is required: at least one account and Region to copy into".to_owned(),
                }],
            });
        };
        let first = &first.copy;
        let targets = input
            .targets
            .iter()
            .zip(specs)
            .map(|(target, regions)| TargetSpec {
                account: AccountId::parse(&target.account_id).ok(),
                kms_key_ids: regions
                    .iter()
                    .filter_map(|region| {
                        let key = target.kms_key_ids.get(region.as_str())?;
                        KmsKeyId::parse(key).ok().map(|key| (region.clone(), key))
                    })
                    .collect(),
                regions,
            })
            .collect();
        let request = DistributionRequest {
            source_image_id: first.source_image_id.clone(),
            source_region: first.source_region.clone(),
            name: input.name,
            description: first.description.clone(),
            encrypted: first.encrypted,
            copy_image_tags: first.copy_image_tags,
            tag_specifications: first.tag_specifications.clone(),
            launch_permissions: first.launch_permissions.clone(),
            snapshot_user_ids: first.snapshot_user_ids.clone(),
            deprecate_at: first.deprecate_at,
            snapshot_copy_completion_duration_minutes: first.snapshot_copy_completion_duration_minutes,
            client_token,
            targets,
            failure_policy,
        };
        Ok((request, planned))
    }

    /// A stable hash of everything but the client token: what makes a retried call "the same
    /// request" for idempotency.
    pub fn fingerprint(&self) -> String {
        let identity = Self {
            client_token: None,
            ..self.clone()
        };
        let canonical = serde_json::to_vec(&identity).unwrap_or_default();
        hex::encode(Sha256::digest(&canonical))
    }

    /// How many (account, Region) targets the request has.
    pub fn target_count(&self) -> usize {
        self.targets.iter().map(|target| target.regions.len()).sum()
    }

    /// The request back in its wire shape, for answering callers.
    pub fn to_input(&self) -> DistributionInput {
        let permissions = &self.launch_permissions;
        DistributionInput {
            source_image_id: self.source_image_id.to_string(),
            source_region: self.source_region.to_string(),
            name: self.name.clone(),
            description: self.description.clone().unwrap_or_default(),
            encrypted: self.encrypted,
            copy_image_tags: self.copy_image_tags,
            tag_specifications: self
                .tag_specifications
                .iter()
                .map(|spec| TagSpecificationInput {
                    resource_type: spec.resource_type.as_str().to_owned(),
                    tags: spec.tags.clone(),
                })
                .collect(),
            launch_permissions: LaunchPermissionsInput {
                user_ids: permissions.user_ids.iter().map(ToString::to_string).collect(),
                organization_arns: permissions.organization_arns.iter().map(ToString::to_string).collect(),
                organizational_unit_arns: permissions
                    .organizational_unit_arns
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                public: permissions.public,
            },
            snapshot_user_ids: self.snapshot_user_ids.iter().map(ToString::to_string).collect(),
            deprecate_time: self
                .deprecate_at
                .map(|at| (at.timestamp(), i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0))),
            snapshot_copy_completion_duration_minutes: self.snapshot_copy_completion_duration_minutes.map(i64::from),
            client_token: self.client_token.as_ref().map(ToString::to_string).unwrap_or_default(),
            targets: self
                .targets
                .iter()
                .map(|target| TargetInput {
                    account_id: target.account.as_ref().map(ToString::to_string).unwrap_or_default(),
                    regions: target.regions.iter().map(ToString::to_string).collect(),
                    kms_key_ids: target
                        .kms_key_ids
                        .iter()
                        .map(|(region, key)| (region.to_string(), key.to_string()))
                        .collect(),
                })
                .collect(),
            failure_policy: match self.failure_policy {
                FailurePolicy::Continue => FailurePolicyInput::Continue,
                FailurePolicy::RollBack => FailurePolicyInput::RollBack,
            },
        }
    }
}

/// Every violation found so far, each once, in the order found.
#[derive(Default)]
struct Found(Vec<FieldViolation>);

impl Found {
    fn add(&mut self, field: &str, code: &'static str, description: impl Into<String>) {
        let violation = FieldViolation {
            field: field.to_owned(),
            code,
            description: description.into(),
        };
        if !self.0.contains(&violation) {
            self.0.push(violation);
        }
    }
}

/// At least one target, at least one Region in each, at most [`MAX_TARGETS`] in all.
fn check_target_list(found: &mut Found, targets: &[TargetInput], pairs: usize) {
    if targets.is_empty() {
        found.add(
            "targets",
            codes::MISSING_PARAMETER,
            "targets is required: at least one account and the Regions to copy into there",
        );
    }
    for (i, target) in targets.iter().enumerate() {
        if target.regions.is_empty() {
            let field = format!("targets[{i}].regions");
            found.add(
                &field,
                codes::MISSING_PARAMETER,
                format!("{field} is required: at least one Region to copy into in this account"),
            );
        }
    }
    if pairs > MAX_TARGETS {
        found.add(
            "targets",
            codes::INVALID_PARAMETER_VALUE,
            format!(
                "a distribution may have at most {MAX_TARGETS} (account, Region) targets; this one has {pairs}: split it"
            ),
        );
    }
}

/// Every KMS key must be for one of the target's Regions.
fn check_kms_keys(found: &mut Found, i: usize, target: &TargetInput) {
    for region in target.kms_key_ids.keys() {
        if !target.regions.contains(region) {
            let field = format!("targets[{i}].kms_key_ids[{region}]");
            found.add(
                &field,
                codes::INVALID_PARAMETER_COMBINATION,
                format!(
                    "{region} is not one of this target's Regions ({}): a key is only for a Region the target copies into",
                    if target.regions.is_empty() { "none".to_owned() } else { target.regions.join(", ") }
                ),
            );
        }
    }
}

/// The account a target copies into, for telling duplicates apart: empty and the service's
/// own id are the same account.
fn resolved_account(account_id: &str, own: Option<&AccountId>) -> String {
    match own {
        Some(own) if own.as_str() == account_id => String::new(),
        _ => account_id.to_owned(),
    }
}

fn account_label(account_id: &str) -> String {
    if account_id.is_empty() {
        "the service's own account".to_owned()
    } else {
        format!("account {account_id}")
    }
}

/// The CopyImage request one target makes.
fn copy_input(input: &DistributionInput, target: &TargetInput, region: &str, name: String) -> CopyImageInput {
    CopyImageInput {
        client_token: String::new(),
        copy_image_tags: input.copy_image_tags,
        description: input.description.clone(),
        destination_outpost_arn: String::new(),
        dry_run: false,
        encrypted: input.encrypted,
        kms_key_id: target.kms_key_ids.get(region).cloned().unwrap_or_default(),
        name,
        source_image_id: input.source_image_id.clone(),
        source_region: input.source_region.clone(),
        tag_specifications: input.tag_specifications.clone(),
        destination_region: region.to_owned(),
        snapshot_copy_completion_duration_minutes: input.snapshot_copy_completion_duration_minutes,
        destination_availability_zone: String::new(),
        destination_availability_zone_id: String::new(),
        destination_account_id: target.account_id.clone(),
        launch_permissions: input.launch_permissions.clone(),
        snapshot_user_ids: input.snapshot_user_ids.clone(),
        deprecate_time: input.deprecate_time,
    }
}

/// A Region to hand CopyImage's parser as its default; every target names its Region, so it
/// only matters for the probe of shared fields, which ignores destination problems.
fn fallback_region(input: &DistributionInput) -> Region {
    Region::parse(&input.source_region)
        .or_else(|_| Region::parse("us-east-1"))
        .expect("us-east-1 is a Region code")
}

/// Checks the fields every target shares with one copy into the source Region, keeping only
/// the violations of shared fields.
fn probe_shared_fields(found: &mut Found, input: &DistributionInput, now: DateTime<Utc>) {
    let template_ok = Template::parse(&input.name).is_ok();
    let name = if template_ok && !input.name.is_empty() {
        input.name.replace(['{', '}'], "")
    } else {
        input.name.clone()
    };
    let probe = copy_input(input, &TargetInput::default(), &input.source_region, name);
    if let Err(invalid) = CopyRequest::parse_at(probe, &fallback_region(input), now) {
        for violation in invalid.violations {
            let shared = !matches!(
                violation.field.as_str(),
                "destination_region" | "kms_key_id" | "destination_account_id"
            ) && !(violation.field == "name" && !template_ok);
            if shared {
                found.add(&violation.field, violation.code, violation.description);
            }
        }
    }
}
