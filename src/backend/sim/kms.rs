//! The KMS keys of every simulated account, how a KmsKeyId given to CopyImage is resolved in
//! the destination Region, and KMS DescribeKey.
//!
//! Every account holds the catalogue's keys (the catalogue owner with the catalogue's key ids,
//! every other account with ids derived from its own account id, as keys are never shared
//! between accounts by id) plus the extra keys its accounts-file entry lists
//! (`sim_kms_keys`). Every account also has, in every Region, its AWS managed EBS key,
//! `alias/aws/ebs`, used when a copy is encrypted without a key; it can never be shared.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{
    region::Api,
    state::{Caller, Fixed, Now, SimState, answer},
};
use crate::{
    backend::{BackendError, KmsKey as FoundKey, KmsKeyLookup, KmsKeyState},
    domain::{AccountId, Failure, Region},
};

/// The alias of the AWS managed key EBS encrypts with by default.
pub(super) const DEFAULT_EBS_ALIAS: &str = "alias/aws/ebs";

/// A key's state, of those the simulator models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

/// One customer managed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KmsKey {
    pub(super) region: Region,
    /// A UUID, or `mrk-` + 32 hex for a multi-Region key.
    pub(super) key_id: String,
    /// `alias/NAME` entries that point at it.
    pub(super) aliases: Vec<String>,
    pub(super) state: KeyState,
    /// Accounts its key policy lets use it (for copies of images it encrypts).
    pub(super) shared_with: Vec<AccountId>,
}

/// The catalogue's keys, as its owner holds them.
#[derive(Debug, Clone)]
pub(super) struct Keyring {
    own_account: String,
    catalogue: Vec<KmsKey>,
}

impl Keyring {
    /// The catalogue's keys, held by `own_account`.
    pub(super) fn new(own_account: &str, catalogue: Vec<KmsKey>) -> Self {
        Self {
            own_account: own_account.to_owned(),
            catalogue,
        }
    }

    /// The keys of `account`: the catalogue's (with ids of its own unless it is the catalogue
    /// owner) and `extra` (`alias/NAME` or key ids, per Region).
    pub(super) fn keys_of(&self, account: &str, extra: &BTreeMap<Region, Vec<String>>) -> AccountKeys {
        let mut keys: Vec<KmsKey> = if account == self.own_account {
            self.catalogue.clone()
        } else {
            self.catalogue
                .iter()
                .map(|key| KmsKey {
                    key_id: derived_key_id(account, &key.key_id),
                    shared_with: Vec::new(),
                    ..key.clone()
                })
                .collect()
        };
        for (region, entries) in extra {
            for entry in entries {
                let (key_id, aliases) = match entry.strip_prefix("alias/") {
                    Some(_) => (
                        derived_key_id(account, &format!("{region} {entry}")),
                        vec![entry.clone()],
                    ),
                    None => (entry.clone(), Vec::new()),
                };
                keys.push(KmsKey {
                    region: region.clone(),
                    key_id,
                    aliases,
                    state: KeyState::Enabled,
                    shared_with: Vec::new(),
                });
            }
        }
        AccountKeys {
            account_id: account.to_owned(),
            keys,
        }
    }
}

/// One account's keys in every Region.
#[derive(Debug, Clone)]
pub(super) struct AccountKeys {
    account_id: String,
    keys: Vec<KmsKey>,
}

/// A key found by [`AccountKeys::find`].
struct Found {
    key_id: String,
    state: KeyState,
    aws_managed: bool,
    shared_with: Vec<AccountId>,
}

impl AccountKeys {
    /// The key ARN a copy into `region` is encrypted with: `given` resolved, or the default EBS
    /// key when no key is given. A key that does not exist in the Region (or is not enabled) is
    /// the StateReason the copy will fail with, naming the key as given, as EC2 does.
    pub(super) fn resolve(&self, region: &Region, given: Option<&str>) -> Result<String, Failure> {
        let Some(given) = given else {
            return Ok(self.arn(region, &aws_managed_key_id(&self.account_id, region)));
        };
        let wanted = match self.arn_parts(region, given) {
            Some(rest) => rest,
            None if given.starts_with("arn:") => return Err(not_found(given, region)),
            None => given.to_owned(),
        };
        match self.find(region, &wanted) {
            Some(key) if key.state == KeyState::Enabled => Ok(self.arn(region, &key.key_id)),
            Some(key) => Err(Failure::new(
                "Client.InvalidKMSKey.InvalidState",
                format!(
                    "The KMS key {given} is {} and cannot be used to encrypt snapshots in {region}",
                    match key.state {
                        KeyState::PendingDeletion => "pending deletion",
                        _ => "disabled",
                    }
                ),
            )),
            None => Err(not_found(given, region)),
        }
    }

    /// KMS DescribeKey of `given` (key id, alias, or an ARN of this account) in `region`.
    pub(super) fn describe(&self, region: &Region, given: &str) -> Option<FoundKey> {
        let wanted = match self.arn_parts(region, given) {
            Some(rest) => rest,
            None if given.starts_with("arn:") => return None,
            None => given.to_owned(),
        };
        self.find(region, &wanted).map(|key| self.found(region, key))
    }

    /// Whether `caller` may use the key `key_arn` (of this account) that encrypts a snapshot it
    /// copies: never the AWS managed key, otherwise only when the key's policy shares it.
    pub(super) fn check_shared(&self, key_arn: &str, caller: &str) -> Result<(), String> {
        let parts: Vec<&str> = key_arn.splitn(6, ':').collect();
        let (Some(region), Some(key_id)) = (
            parts.get(3).and_then(|code| Region::parse(code).ok()),
            parts.get(5).and_then(|resource| resource.strip_prefix("key/")),
        ) else {
            return Err(format!("the KMS key {key_arn} is not a key ARN"));
        };
        match self.find(&region, key_id) {
            Some(key) if key.aws_managed => Err(format!(
                "it is encrypted with the AWS managed key alias/aws/ebs of account {}, which cannot be shared with another account",
                self.account_id
            )),
            Some(key) if key.shared_with.iter().any(|id| id.as_str() == caller) => Ok(()),
            _ => Err(format!(
                "the KMS key {key_arn} that encrypts it is not shared with account {caller}"
            )),
        }
    }

    /// The key named by `wanted` in `region`: a key id, `key/ID` or `alias/NAME`.
    fn find(&self, region: &Region, wanted: &str) -> Option<Found> {
        let managed = aws_managed_key_id(&self.account_id, region);
        let key_id = wanted.strip_prefix("key/").unwrap_or(wanted);
        if wanted == DEFAULT_EBS_ALIAS || key_id == managed {
            return Some(Found {
                key_id: managed,
                state: KeyState::Enabled,
                aws_managed: true,
                shared_with: Vec::new(),
            });
        }
        let alias = wanted.starts_with("alias/").then_some(wanted);
        self.keys
            .iter()
            .find(|key| {
                &key.region == region
                    && match alias {
                        Some(alias) => key.aliases.iter().any(|a| a == alias),
                        None => key.key_id == key_id,
                    }
            })
            .map(|key| Found {
                key_id: key.key_id.clone(),
                state: key.state,
                aws_managed: false,
                shared_with: key.shared_with.clone(),
            })
    }

    fn found(&self, region: &Region, key: Found) -> FoundKey {
        FoundKey {
            arn: self.arn(region, &key.key_id),
            key_id: key.key_id,
            account_id: self.account_id.clone(),
            region: region.clone(),
            state: match key.state {
                KeyState::Enabled => KmsKeyState::Enabled,
                KeyState::Disabled => KmsKeyState::Disabled,
                KeyState::PendingDeletion => KmsKeyState::PendingDeletion,
            },
            aws_managed: key.aws_managed,
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

impl SimState {
    /// KMS DescribeKey as `caller`: its own keys, or another account's key (by ARN) whose policy
    /// shares it with the caller.
    pub(super) fn describe_kms_key(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        given: &str,
        now: Now,
    ) -> Result<KmsKeyLookup, BackendError> {
        answer(self.admit(fixed, Api::DescribeKey, caller, region, now)?)?;
        let owner = given
            .starts_with("arn:")
            .then(|| given.split(':').nth(4))
            .flatten()
            .filter(|account| *account != caller.account);
        let Some(owner) = owner else {
            let found = fixed.keys_of(&caller.account).describe(region, given);
            return Ok(found.map_or(KmsKeyLookup::Missing, KmsKeyLookup::Found));
        };
        let keys = fixed.keys_of(owner);
        match keys.describe(region, given) {
            Some(key) if keys.check_shared(&key.arn, &caller.account).is_ok() => Ok(KmsKeyLookup::Found(key)),
            Some(key) => Err(BackendError::from_code(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:iam::{}:root is not authorized to perform: kms:DescribeKey on resource: {} \
                     because no resource-based policy allows the kms:DescribeKey action",
                    caller.account, key.arn
                ),
            )),
            None => Ok(KmsKeyLookup::Missing),
        }
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

/// The id of `account`'s AWS managed EBS key in `region`: a UUID that stays the same from run
/// to run.
fn aws_managed_key_id(account: &str, region: &Region) -> String {
    uuid_from(&format!("aws/ebs {account} {region}"))
}

/// A key id for `account` standing for `seed` (a catalogue key id, or a Region and alias):
/// the same from run to run, a multi-Region id (`mrk-…`) when `seed` is one.
fn derived_key_id(account: &str, seed: &str) -> String {
    if seed.starts_with("mrk-") {
        let hex = hex::encode(Sha256::digest(format!("{account} {seed}")));
        return format!("mrk-{}", &hex[..32]);
    }
    uuid_from(&format!("{account} {seed}"))
}

fn uuid_from(seed: &str) -> String {
    let hex = hex::encode(Sha256::digest(seed));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
