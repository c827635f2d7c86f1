//! The accounts copies may be made in besides the service's own: the operator's accounts file
//! (`--accounts-file`), held as [`Accounts`] and re-read on SIGHUP ([`reload`]).
//!
//! ```json
//! { "accounts": [ { "account_id": "222233334444",
//!                   "role_arn": "arn:aws:iam::222233334444:role/amicopy",
//!                   "external_id": "optional", "share_source": true } ] }
//! ```
//!
//! `role_arn` is the IAM role amicopy assumes in the account (its account must be `account_id`);
//! `external_id` is passed to STS AssumeRole when given; `share_source` lets amicopy share a
//! source AMI and its snapshots with the account before copying. Keys starting with `sim_` are
//! read by the simulator only ([`SimAccountSettings`]). Unknown keys are refused by name, so a
//! misspelt key is never silently ignored.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::{Arc, PoisonError, RwLock},
};

use crate::domain::{AccountId, OrganizationArn, OrganizationalUnitArn, Region};

mod file;
pub mod reload;

/// Where the accounts file is (`--accounts-file`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AccountsSettings {
    /// JSON file of the AWS accounts copies may be made in besides the service's own, each with
    /// the IAM role amicopy assumes there: {"accounts":[{"account_id":"222233334444",
    /// "role_arn":"arn:aws:iam::222233334444:role/amicopy","external_id":"…","share_source":true}]}.
    /// Re-read on SIGHUP. With the simulator it also says which simulated accounts exist.
    #[arg(long, env = "AMICOPY_ACCOUNTS_FILE")]
    pub accounts_file: Option<PathBuf>,
}

impl AccountsSettings {
    /// The accounts the file lists, or none when no file is named.
    pub fn load(&self) -> Result<Accounts, AccountsFileError> {
        match &self.accounts_file {
            Some(path) => Accounts::load(path.clone()),
            None => Ok(Accounts::none()),
        }
    }
}

/// Why an accounts file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccountsFileError {
    /// The file could not be read.
    #[error("cannot read the accounts file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON, or entries are invalid.
    #[error("invalid accounts file {path}: {}", .problems.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every mistake found, each naming its entry.
        problems: Vec<String>,
    },
}

/// One account of the accounts file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEntry {
    /// The account.
    pub account_id: AccountId,
    /// The IAM role amicopy assumes in it (STS AssumeRole).
    pub role_arn: String,
    /// The external id the role's trust policy asks for, if any.
    pub external_id: Option<String>,
    /// Whether amicopy may share a source AMI and its snapshots with this account before
    /// copying it there.
    pub share_source: bool,
    /// What the simulator alone reads.
    pub sim: SimAccountSettings,
}

/// What an account entry tells the simulator beyond what is real: keys it holds and the
/// organization it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimAccountSettings {
    /// `sim_kms_keys`: extra KMS keys per Region, each `alias/NAME` (a new key with that alias)
    /// or a key id; every simulated account also holds the catalogue's keys.
    pub kms_keys: BTreeMap<Region, Vec<String>>,
    /// `sim_organization_arn`: the organization the account is in, for launch permissions
    /// given to an organization.
    pub organization_arn: Option<OrganizationArn>,
    /// `sim_organizational_unit_arns`: the OUs the account is in, its OU's parents included, for
    /// launch permissions given to an OU.
    pub organizational_unit_arns: Vec<OrganizationalUnitArn>,
}

/// The accounts in use, shared by every task and replaced whole by [`Accounts::reload`].
#[derive(Debug, Clone)]
pub struct Accounts {
    path: Option<PathBuf>,
    entries: Arc<RwLock<Arc<[AccountEntry]>>>,
}

impl Accounts {
    /// No accounts besides the service's own, and no file to reload.
    pub fn none() -> Self {
        Self::fixed(Vec::new())
    }

    /// These accounts, with no file behind them (tests, tools).
    pub fn fixed(entries: Vec<AccountEntry>) -> Self {
        Self {
            path: None,
            entries: Arc::new(RwLock::new(entries.into())),
        }
    }

    /// Reads the accounts file at `path`.
    pub fn load(path: PathBuf) -> Result<Self, AccountsFileError> {
        let entries = file::read(&path)?;
        Ok(Self {
            path: Some(path),
            entries: Arc::new(RwLock::new(entries.into())),
        })
    }

    /// The file the accounts come from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Re-reads the file and replaces the accounts with its entries, returning how many there
    /// are. On an error the accounts in use stay as they were. Without a file, nothing changes.
    pub fn reload(&self) -> Result<usize, AccountsFileError> {
        let Some(path) = &self.path else {
            return Ok(self.all().len());
        };
        let entries: Arc<[AccountEntry]> = file::read(path)?.into();
        let count = entries.len();
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = entries;
        Ok(count)
    }

    /// Every account now, in the file's order.
    pub fn all(&self) -> Arc<[AccountEntry]> {
        Arc::clone(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The entry of `account`, if the file lists it now.
    pub fn get(&self, account: &AccountId) -> Option<AccountEntry> {
        self.find(account.as_str())
    }

    /// The entry of the account with id `account`, if the file lists it now.
    pub fn find(&self, account: &str) -> Option<AccountEntry> {
        self.all()
            .iter()
            .find(|entry| entry.account_id.as_str() == account)
            .cloned()
    }
}

#[cfg(test)]
mod tests;
