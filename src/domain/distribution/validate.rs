//! Validation of a CreateDistribution request: every target checked as CopyImage would check
//! it, the distribution's own rules (targets, duplicates, keys per Region, the name template),
//! and every violation reported once, with the distribution's field paths.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{
    FailurePolicy, paths,
    request::{
        DistributionInput, DistributionRequest, FailurePolicyInput, MAX_TARGETS, PlannedTarget, TargetInput, TargetSpec,
    },
    template::{NamePlaceholders, Template},
};
use crate::domain::{
    AccountId, ClientToken, CopyImageInput, CopyRequest, FieldViolation, InvalidRequest, KmsKeyId, Region, codes,
};

/// `{account}` for the service's own account when its id is not known.
const OWN_ACCOUNT_PLACEHOLDER: &str = "self";

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
        let client_token = check_client_token(&mut found, &input.client_token);
        let failure_policy = check_failure_policy(&mut found, input.failure_policy);
        let template = match Template::parse(&input.name) {
            Ok(template) => Some(template),
            Err(description) => {
                found.add("name", codes::INVALID_AMI_NAME_MALFORMED, description);
                None
            }
        };
        let pairs: usize = input.targets.iter().map(|target| target.regions.len()).sum();
        check_target_list(&mut found, &input.targets, pairs);
        let planned = if pairs <= MAX_TARGETS {
            plan(&mut found, &input, template.as_ref(), own_account, now)
        } else {
            Vec::new()
        };
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
        let request = accepted(&input, &first.copy, client_token, failure_policy);
        Ok((request, planned))
    }
}

/// The accepted request: the shared fields as the first target's copy has them (every target's
/// are the same), the template and the targets as given, every value checked.
fn accepted(
    input: &DistributionInput,
    first: &CopyRequest,
    client_token: Option<ClientToken>,
    failure_policy: FailurePolicy,
) -> DistributionRequest {
    let targets = input
        .targets
        .iter()
        .map(|target| TargetSpec {
            account: AccountId::parse(&target.account_id).ok(),
            regions: target.regions.iter().filter_map(|r| Region::parse(r).ok()).collect(),
            kms_key_ids: target
                .kms_key_ids
                .iter()
                .filter_map(|(region, key)| Some((Region::parse(region).ok()?, KmsKeyId::parse(key).ok()?)))
                .collect(),
        })
        .collect();
    DistributionRequest {
        source_image_id: first.source_image_id.clone(),
        source_region: first.source_region.clone(),
        name: input.name.clone(),
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
    }
}

/// One copy per (account, Region), in the request's order, each checked by CopyImage's rules;
/// what is wrong is added to `found` under the distribution's paths.
fn plan(
    found: &mut Found,
    input: &DistributionInput,
    template: Option<&Template<'_>>,
    own_account: Option<&AccountId>,
    now: DateTime<Utc>,
) -> Vec<PlannedTarget> {
    let date = now.format("%Y-%m-%d").to_string();
    let own_name = own_account.map_or(OWN_ACCOUNT_PLACEHOLDER, AccountId::as_str);
    let default_region = fallback_region(input);
    let mut planned = Vec::new();
    let mut seen: HashSet<(String, &str)> = HashSet::new();
    for (i, target) in input.targets.iter().enumerate() {
        check_kms_keys(found, i, target);
        for (j, region) in target.regions.iter().enumerate() {
            let path = format!("targets[{i}].regions[{j}]");
            if region.is_empty() {
                found.add(
                    &path,
                    codes::MISSING_PARAMETER,
                    format!("{path} is empty: name a Region, such as us-west-2"),
                );
                continue;
            }
            if !seen.insert((resolved_account(&target.account_id, own_account), region)) {
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
            let account = if target.account_id.is_empty() {
                own_name
            } else {
                &target.account_id
            };
            // A template that is not one was reported; the other rules are still checked.
            let name = template.map_or_else(
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
            match CopyRequest::parse_at(copy_input(input, target, region, name), &default_region, now) {
                Ok(copy) => planned.push(PlannedTarget {
                    position: u32::try_from(planned.len()).unwrap_or(u32::MAX),
                    account: copy.destination_account.clone(),
                    region: copy.destination_region.clone(),
                    copy,
                }),
                Err(invalid) => {
                    for violation in invalid.violations {
                        let field = paths::rewrite(&violation.field, i, j, region);
                        found.add(&field, violation.code, violation.description);
                    }
                }
            }
        }
    }
    planned
}

fn check_client_token(found: &mut Found, token: &str) -> Option<ClientToken> {
    if token.is_empty() {
        return None;
    }
    ClientToken::parse(token)
        .map_err(|e| found.add("client_token", e.code, e.description))
        .ok()
}

fn check_failure_policy(found: &mut Found, policy: FailurePolicyInput) -> FailurePolicy {
    match policy {
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
            let per_target = matches!(
                violation.field.as_str(),
                "destination_region" | "kms_key_id" | "destination_account_id"
            );
            // A template that is not one was reported already; the probe's name is made up.
            let reported = violation.field == "name" && !template_ok;
            let shared = !per_target && !reported;
            if shared {
                found.add(&violation.field, violation.code, violation.description);
            }
        }
    }
}
