//! `amicopy copy`'s flags as requests: a CopyImageRequest for one destination, a
//! CreateDistributionRequest for several. Only the shape of the flags is checked here (KEY=VALUE,
//! times); EC2's rules are the server's, which reports every problem at once.

use std::collections::BTreeMap;

use amicopy::proto;
use chrono::Utc;

use crate::{
    args::{CopyArgs, FailurePolicyArg},
    failure::CliError,
    plan::{timestamp, to_timestamp},
};

/// The (account, Region) targets the flags name: every account × every Region. An empty account
/// is the service's own; an empty Region the server's default.
pub fn targets(args: &CopyArgs) -> Vec<(String, String)> {
    let accounts = if args.accounts.is_empty() {
        vec![String::new()]
    } else {
        args.accounts.clone()
    };
    let regions = if args.regions.is_empty() {
        vec![String::new()]
    } else {
        args.regions.clone()
    };
    accounts
        .iter()
        .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone())))
        .collect()
}

/// Whether the flags ask for a distribution (several Regions or several accounts).
pub fn is_distribution(args: &CopyArgs) -> bool {
    args.regions.len() > 1 || args.accounts.len() > 1
}

/// `--kms-key` values: one key for every Region and keys for single Regions.
#[derive(Debug, Default, PartialEq)]
pub struct KmsKeys {
    every: Option<String>,
    per_region: BTreeMap<String, String>,
}

impl KmsKeys {
    /// Reads `KEY` and `REGION=KEY` values (aliases and ARNs never contain `=`).
    pub fn parse(values: &[String], regions: &[String]) -> Result<Self, CliError> {
        let mut keys = Self::default();
        for value in values {
            match value.split_once('=') {
                Some((region, key)) => {
                    if !regions.is_empty() && !regions.iter().any(|r| r == region) {
                        return Err(CliError::usage(format!(
                            "--kms-key {value}: {region} is not one of the --to Regions"
                        )));
                    }
                    keys.per_region.insert(region.to_owned(), key.to_owned());
                }
                None if keys.every.is_some() => {
                    return Err(CliError::usage(
                        "--kms-key: one KEY for every Region at most; use REGION=KEY for the others",
                    ));
                }
                None => keys.every = Some(value.clone()),
            }
        }
        Ok(keys)
    }

    /// The key for `region`.
    pub fn for_region(&self, region: &str) -> String {
        self.per_region
            .get(region)
            .or(self.every.as_ref())
            .cloned()
            .unwrap_or_default()
    }

    /// The key per Region for a distribution target.
    pub fn map(&self, regions: &[String]) -> std::collections::HashMap<String, String> {
        regions
            .iter()
            .map(|r| (r.clone(), self.for_region(r)))
            .filter(|(_, key)| !key.is_empty())
            .collect()
    }
}

/// `--tag KEY=VALUE` values as tag specifications for the new AMI and its snapshots.
pub fn tag_specifications(tags: &[String]) -> Result<Vec<proto::TagSpecification>, CliError> {
    if tags.is_empty() {
        return Ok(Vec::new());
    }
    let tags = tags
        .iter()
        .map(|tag| {
            tag.split_once('=')
                .map(|(key, value)| proto::Tag {
                    key: key.to_owned(),
                    value: value.to_owned(),
                })
                .ok_or_else(|| CliError::usage(format!("--tag {tag}: expected KEY=VALUE (VALUE may be empty)")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(["image", "snapshot"]
        .into_iter()
        .map(|resource_type| proto::TagSpecification {
            resource_type: resource_type.to_owned(),
            tags: tags.clone(),
        })
        .collect())
}

/// `--share-with` values as launch permissions: `public`, organization and OU ARNs, accounts.
pub fn launch_permissions(who: &[String]) -> Option<proto::LaunchPermissions> {
    if who.is_empty() {
        return None;
    }
    let mut permissions = proto::LaunchPermissions::default();
    for value in who {
        match value.as_str() {
            "public" | "all" => permissions.public = true,
            arn if arn.starts_with("arn:") && arn.contains(":ou/") => {
                permissions.organizational_unit_arns.push(arn.to_owned());
            }
            arn if arn.starts_with("arn:") => permissions.organization_arns.push(arn.to_owned()),
            account => permissions.user_ids.push(account.to_owned()),
        }
    }
    Some(permissions)
}

/// `--deprecate-in` or `--deprecate-at` as a time.
pub fn deprecate_time(args: &CopyArgs) -> Result<Option<prost_types::Timestamp>, CliError> {
    if let Some(after) = args.deprecate_in {
        let after =
            chrono::Duration::from_std(after).map_err(|_| CliError::usage("--deprecate-in is too far ahead"))?;
        let at = Utc::now()
            .checked_add_signed(after)
            .ok_or_else(|| CliError::usage("--deprecate-in is too far ahead"))?;
        return Ok(Some(to_timestamp(at)));
    }
    args.deprecate_at
        .as_deref()
        .map(|value| timestamp(value, "--deprecate-at"))
        .transpose()
}

/// The AMI name for one target: `{region}`, `{account}` (when known), `{source_image_id}` and
/// `{date}` expanded, as the server expands a distribution's template.
pub fn expand_name(template: &str, account: &str, region: &str, source_image_id: &str) -> String {
    let mut name = template
        .replace("{region}", region)
        .replace("{source_image_id}", source_image_id)
        .replace("{date}", &Utc::now().format("%Y-%m-%d").to_string());
    if !account.is_empty() {
        name = name.replace("{account}", account);
    }
    name
}

/// The client token: the one given, or a fresh one so that retrying the call is safe.
pub fn client_token(args: &CopyArgs) -> String {
    args.client_token
        .clone()
        .unwrap_or_else(|| format!("amicopy-cli-{}", uuid::Uuid::new_v4()))
}

/// The CopyImage request for one target.
pub fn copy_request(args: &CopyArgs, account: &str, region: &str) -> Result<proto::CopyImageRequest, CliError> {
    let kms = KmsKeys::parse(&args.kms_keys, &args.regions)?;
    Ok(proto::CopyImageRequest {
        client_token: client_token(args),
        copy_image_tags: args.copy_tags,
        description: args.description.clone().unwrap_or_default(),
        destination_outpost_arn: args.outpost_arn.clone().unwrap_or_default(),
        dry_run: args.dry_run,
        encrypted: args.encrypted.then_some(true),
        kms_key_id: kms.for_region(region),
        name: expand_name(&args.name, account, region, &args.source_image),
        source_image_id: args.source_image.clone(),
        source_region: args.source_region.clone(),
        tag_specifications: tag_specifications(&args.tags)?,
        destination_region: region.to_owned(),
        snapshot_copy_completion_duration_minutes: args.completion_minutes,
        destination_availability_zone: args.availability_zone.clone().unwrap_or_default(),
        destination_availability_zone_id: args.availability_zone_id.clone().unwrap_or_default(),
        destination_account_id: account.to_owned(),
        launch_permissions: launch_permissions(&args.share_with),
        snapshot_user_ids: args.share_snapshots_with.clone(),
        deprecate_time: deprecate_time(args)?,
    })
}

/// The CreateDistribution request for several targets.
pub fn distribution_request(args: &CopyArgs) -> Result<proto::CreateDistributionRequest, CliError> {
    if args.regions.is_empty() {
        return Err(CliError::usage(
            "several --account need the Regions to copy into: add --to REGION",
        ));
    }
    for (flag, given) in [
        ("--outpost-arn", args.outpost_arn.is_some()),
        ("--availability-zone", args.availability_zone.is_some()),
        ("--availability-zone-id", args.availability_zone_id.is_some()),
    ] {
        if given {
            return Err(CliError::usage(format!(
                "{flag} names one destination; it cannot be used with several --to or --account"
            )));
        }
    }
    let kms = KmsKeys::parse(&args.kms_keys, &args.regions)?;
    let accounts = if args.accounts.is_empty() {
        vec![String::new()]
    } else {
        args.accounts.clone()
    };
    Ok(proto::CreateDistributionRequest {
        source_image_id: args.source_image.clone(),
        source_region: args.source_region.clone(),
        name: args.name.clone(),
        description: args.description.clone().unwrap_or_default(),
        encrypted: args.encrypted.then_some(true),
        copy_image_tags: args.copy_tags,
        tag_specifications: tag_specifications(&args.tags)?,
        launch_permissions: launch_permissions(&args.share_with),
        snapshot_user_ids: args.share_snapshots_with.clone(),
        deprecate_time: deprecate_time(args)?,
        snapshot_copy_completion_duration_minutes: args.completion_minutes,
        client_token: client_token(args),
        targets: accounts
            .into_iter()
            .map(|account_id| proto::DistributionTarget {
                account_id,
                regions: args.regions.clone(),
                kms_key_ids: kms.map(&args.regions),
            })
            .collect(),
        failure_policy: match args.failure_policy {
            FailurePolicyArg::Continue => proto::FailurePolicy::Continue,
            FailurePolicyArg::RollBack => proto::FailurePolicy::RollBack,
        } as i32,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn copy_args(extra: &[&str]) -> CopyArgs {
        let mut argv = vec![
            "amicopy",
            "copy",
            "--source-image",
            "ami-0a1b2c3d4e5f60001",
            "--source-region",
            "us-east-1",
            "--name",
            "golden-{region}",
        ];
        argv.extend(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Copy(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_destination_is_a_job_with_every_flag_in_place() {
        let args = copy_args(&[
            "--to",
            "us-west-2",
            "--account",
            "222233334444",
            "--encrypted",
            "--kms-key",
            "alias/k",
            "--tag",
            "team=platform",
            "--share-with",
            "333344445555",
            "--share-with",
            "public",
            "--deprecate-in",
            "90d",
        ]);
        assert!(!is_distribution(&args));
        let request = copy_request(&args, "222233334444", "us-west-2").unwrap();
        assert_eq!(request.name, "golden-us-west-2");
        assert_eq!(request.kms_key_id, "alias/k");
        assert_eq!(request.encrypted, Some(true));
        assert_eq!(request.destination_account_id, "222233334444");
        assert_eq!(request.tag_specifications.len(), 2);
        let permissions = request.launch_permissions.unwrap();
        assert!(permissions.public);
        assert_eq!(permissions.user_ids, ["333344445555"]);
        let in_90_days = Utc::now().timestamp() + 90 * 86_400;
        assert!((request.deprecate_time.unwrap().seconds - in_90_days).abs() < 60);
        assert!(request.client_token.starts_with("amicopy-cli-"));
    }

    #[test]
    fn several_regions_or_accounts_are_a_distribution_of_every_pair() {
        let args = copy_args(&[
            "--to",
            "us-west-2",
            "--to",
            "eu-west-1",
            "--account",
            "222233334444",
            "--account",
            "333344445555",
            "--encrypted",
            "--kms-key",
            "alias/every",
            "--kms-key",
            "eu-west-1=alias/eu",
        ]);
        assert!(is_distribution(&args));
        assert_eq!(targets(&args).len(), 4);
        let request = distribution_request(&args).unwrap();
        assert_eq!(request.name, "golden-{region}", "the server expands the template");
        assert_eq!(request.targets.len(), 2);
        assert_eq!(request.targets[1].account_id, "333344445555");
        assert_eq!(request.targets[0].kms_key_ids["eu-west-1"], "alias/eu");
        assert_eq!(request.targets[0].kms_key_ids["us-west-2"], "alias/every");
    }

    #[test]
    fn malformed_flags_are_usage_errors() {
        assert!(tag_specifications(&["team".into()]).is_err());
        let regions = ["us-west-2".to_owned()];
        assert!(KmsKeys::parse(&["eu-west-1=alias/x".into()], &regions).is_err());
        assert!(KmsKeys::parse(&["a".into(), "b".into()], &regions).is_err());
        let args = copy_args(&["--account", "222233334444", "--account", "333344445555"]);
        assert!(distribution_request(&args).is_err(), "a distribution needs its Regions");
    }
}
