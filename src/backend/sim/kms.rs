//! The KMS keys the simulated account has, and how a KmsKeyId given to CopyImage is resolved
//! in the destination Region. Every Region also has the account's AWS managed EBS key,
//! `alias/aws/ebs`, used when a copy is encrypted without a key.

use sha2::{Digest, Sha256};

use crate::domain::{Failure, Region};

/// The alias of the AWS managed key EBS encrypts with by default.
pub(super) const DEFAULT_EBS_ALIAS: &str = "alias/aws/ebs";

/// One customer managed key of the simulated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KmsKey {
    pub(super) region: Region,
    /// A UUID, or `mrk-` + 32 hex for a multi-Region key.
    pub(super) key_id: String,
    /// `alias/NAME` entries that point at it.
    pub(super) aliases: Vec<String>,
    /// A disabled key exists but cannot encrypt.
    pub(super) enabled: bool,
}

/// The account's keys in every Region.
#[derive(Debug, Clone)]
pub(super) struct Keyring {
    account_id: String,
    keys: Vec<KmsKey>,
}

impl Keyring {
    /// The keys of `account_id`.
    pub(super) fn new(account_id: &str, keys: Vec<KmsKey>) -> Self {
        Self {
            account_id: account_id.to_owned(),
            keys,
        }
    }

    /// The key ARN a copy into `region` is encrypted with: `given` resolved, or the default EBS
    /// key when no key is given. A key that does not exist in the Region (or is disabled) is
    /// the StateReason the copy will fail with, naming the key as given, as EC2 does.
    pub(super) fn resolve(&self, region: &Region, given: Option<&str>) -> Result<String, Failure> {
        let Some(given) = given else {
            return Ok(self.arn(region, &aws_managed_key_id(region)));
        };
        let wanted = match self.arn_parts(region, given) {
            Some(rest) => rest,
            None if given.starts_with("arn:") => return Err(not_found(given, region)),
            None => given.to_owned(),
        };
        if wanted == DEFAULT_EBS_ALIAS {
            return Ok(self.arn(region, &aws_managed_key_id(region)));
        }
        let alias = wanted.strip_prefix("alias/").map(|_| wanted.as_str());
        let key_id = wanted.strip_prefix("key/").unwrap_or(&wanted);
        let found = self.keys.iter().find(|key| {
            &key.region == region
                && match alias {
                    Some(alias) => key.aliases.iter().any(|a| a == alias),
                    None => key.key_id == key_id,
                }
        });
        match found {
            Some(key) if key.enabled => Ok(self.arn(region, &key.key_id)),
            Some(_) => Err(Failure::new(
                "Client.InvalidKMSKey.InvalidState",
                format!("The KMS key {given} is disabled and cannot be used to encrypt snapshots in {region}"),
            )),
            None => Err(not_found(given, region)),
        }
    }

    /// For an ARN of this account and `region`: its resource part (`key/ID` or `alias/NAME`).
    fn arn_parts(&self, region: &Region, given: &str) -> Option<String> {
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        let [arn, partition, service, arn_region, account, resource] = parts.as_slice() else {
            return None;
        };
        let ours = *arn == "arn"
            && *partition == partition_of(region)
            && *service == "kms"
            && *arn_region == region.as_str()
            && *account == self.account_id;
        ours.then(|| (*resource).to_owned())
    }

    fn arn(&self, region: &Region, key_id: &str) -> String {
        format!(
            "arn:{}:kms:{region}:{}:key/{key_id}",
            partition_of(region),
            self.account_id
        )
    }
}

fn not_found(given: &str, region: &Region) -> Failure {
    Failure::new(
        "Client.InvalidKMSKey.NotFound",
        format!("The KMS key {given} does not exist in {region} or the account may not use it"),
    )
}

/// The AWS partition a Region belongs to.
pub(super) fn partition_of(region: &Region) -> &'static str {
    let code = region.as_str();
    if code.starts_with("cn-") {
        "aws-cn"
    } else if code.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The id of the account's AWS managed EBS key in `region`: a UUID that stays the same from run
/// to run.
pub(super) fn aws_managed_key_id(region: &Region) -> String {
    let hex = hex::encode(Sha256::digest(format!("aws/ebs {region}")));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
