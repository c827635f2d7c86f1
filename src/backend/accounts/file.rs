//! Reading the accounts file: JSON first, then each entry on its own, so every mistake names
//! the file, the entry (its position and account) and the key.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
};

use serde::Deserialize;
use serde_json::Value;

use super::{AccountEntry, AccountsFileError, SimAccountSettings};
use crate::domain::{AccountId, KmsKeyId, OrganizationArn, OrganizationalUnitArn, Region};

/// The keys an entry may have.
const KEYS: &[&str] = &[
    "account_id",
    "role_arn",
    "external_id",
    "share_source",
    "sim_kms_keys",
    "sim_organization_arn",
    "sim_organizational_unit_arns",
];

/// One entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    account_id: String,
    role_arn: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    share_source: bool,
    #[serde(default)]
    sim_kms_keys: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    sim_organization_arn: Option<String>,
    #[serde(default)]
    sim_organizational_unit_arns: Vec<String>,
}

/// The accounts in the file at `path`, every entry checked.
pub(super) fn read(path: &Path) -> Result<Vec<AccountEntry>, AccountsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccountsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|problems| AccountsFileError::Invalid {
        path: path.to_owned(),
        problems,
    })
}

/// The accounts in `text`, or every mistake found.
pub(super) fn parse(text: &str) -> Result<Vec<AccountEntry>, Vec<String>> {
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(vec![r#"expected one JSON object, {"accounts": [...]}"#.to_owned()]),
        Err(error) => return Err(vec![format!("not valid JSON: {error}")]),
    };
    let mut problems: Vec<String> = object
        .keys()
        .filter(|key| key.as_str() != "accounts")
        .map(|key| format!(r#"unknown key {key:?} at the top; the file holds only "accounts""#))
        .collect();
    let list = match object.get("accounts") {
        Some(Value::Array(list)) => list.as_slice(),
        Some(_) => {
            problems.push(r#""accounts" must be a list of entries"#.to_owned());
            &[]
        }
        None => {
            problems.push(r#"the key "accounts" is missing"#.to_owned());
            &[]
        }
    };
    let mut entries = Vec::with_capacity(list.len());
    let mut first_seen: HashMap<AccountId, usize> = HashMap::new();
    for (index, value) in list.iter().enumerate() {
        let position = index + 1;
        match entry(value) {
            Ok(entry) => {
                if let Some(earlier) = first_seen.insert(entry.account_id.clone(), position) {
                    problems.push(format!(
                        "{}: the account is already listed by entry {earlier}",
                        describe(position, value)
                    ));
                } else {
                    entries.push(entry);
                }
            }
            Err(messages) => {
                let name = describe(position, value);
                problems.extend(messages.into_iter().map(|message| format!("{name}: {message}")));
            }
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// How a mistake names its entry: its position, and its account when it has a readable one.
fn describe(position: usize, value: &Value) -> String {
    match value.get("account_id").and_then(Value::as_str) {
        Some(account) => format!("entry {position} (account {account:?})"),
        None => format!("entry {position}"),
    }
}

/// One entry, or what is wrong with it.
fn entry(value: &Value) -> Result<AccountEntry, Vec<String>> {
    let Value::Object(object) = value else {
        return Err(vec!["expected an object with account_id and role_arn".to_owned()]);
    };
    let unknown: Vec<String> = object
        .keys()
        .filter(|key| !KEYS.contains(&key.as_str()))
        .map(|key| format!("{key:?}"))
        .collect();
    if !unknown.is_empty() {
        return Err(vec![format!(
            "unknown key{} {}; the keys are {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            KEYS.join(", ")
        )]);
    }
    let raw: RawEntry = serde_json::from_value(value.clone()).map_err(|error| vec![error.to_string()])?;
    let mut problems = Vec::new();
    let account_id = AccountId::parse(&raw.account_id)
        .map_err(|error| problems.push(format!("account_id: {}", error.description)))
        .ok();
    if let Some(account) = &account_id
        && let Err(message) = check_role_arn(&raw.role_arn, account)
    {
        problems.push(format!("role_arn: {message}"));
    }
    if let Some(external_id) = &raw.external_id
        && let Err(message) = check_external_id(external_id)
    {
        problems.push(format!("external_id: {message}"));
    }
    let sim = sim_settings(&raw).map_err(|mut sim_problems| problems.append(&mut sim_problems));
    match (account_id, sim) {
        (Some(account_id), Ok(sim)) if problems.is_empty() => Ok(AccountEntry {
            account_id,
            role_arn: raw.role_arn,
            external_id: raw.external_id,
            share_source: raw.share_source,
            sim,
        }),
        _ => Err(problems),
    }
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`, in the entry's own account.
fn check_role_arn(role_arn: &str, account: &AccountId) -> Result<(), String> {
    let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
    let well_formed = matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", role_account, resource]
            if partition.starts_with("aws")
                && AccountId::parse(role_account).is_ok()
                && resource.strip_prefix("role/").is_some_and(|name| {
                    !name.is_empty()
                        && name.len() <= 512
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
                })
    );
    if !well_formed {
        return Err(format!(
            "{role_arn:?} is not an IAM role ARN: expected arn:aws:iam::{account}:role/NAME"
        ));
    }
    if parts[4] != account.as_str() {
        return Err(format!(
            "the role {role_arn} is in account {}, not in {account}: assuming it would act in the wrong account",
            parts[4]
        ));
    }
    Ok(())
}

/// STS's rule: 2–1224 characters of letters, digits and `+=,.@:/-_`.
fn check_external_id(external_id: &str) -> Result<(), String> {
    let ok = (2..=1224).contains(&external_id.len())
        && external_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be 2 to 1224 characters of letters, digits and + = , . @ : / - _".to_owned())
    }
}

/// The simulator's keys of an entry.
fn sim_settings(raw: &RawEntry) -> Result<SimAccountSettings, Vec<String>> {
    let mut problems = Vec::new();
    let mut kms_keys = BTreeMap::new();
    for (region, keys) in &raw.sim_kms_keys {
        let Ok(region) = Region::parse(region) else {
            problems.push(format!("sim_kms_keys: {region:?} is not a Region code"));
            continue;
        };
        for key in keys {
            let usable = KmsKeyId::parse(key).is_ok()
                && !key.starts_with("arn:")
                && !key.starts_with("alias/aws/")
                && key != "alias/";
            if !usable {
                problems.push(format!(
                    "sim_kms_keys: {key:?} in {region}: expected alias/NAME (not alias/aws/…) or a key id"
                ));
            }
        }
        kms_keys.insert(region, keys.clone());
    }
    let organization_arn = match &raw.sim_organization_arn {
        Some(arn) => match OrganizationArn::parse(arn) {
            Ok(arn) => Some(arn),
            Err(error) => {
                problems.push(format!("sim_organization_arn: {}", error.description));
                None
            }
        },
        None => None,
    };
    let mut organizational_unit_arns = Vec::new();
    for arn in &raw.sim_organizational_unit_arns {
        match OrganizationalUnitArn::parse(arn) {
            Ok(arn) => organizational_unit_arns.push(arn),
            Err(error) => problems.push(format!("sim_organizational_unit_arns: {}", error.description)),
        }
    }
    if problems.is_empty() {
        Ok(SimAccountSettings {
            kms_keys,
            organization_arn,
            organizational_unit_arns,
        })
    } else {
        Err(problems)
    }
}
