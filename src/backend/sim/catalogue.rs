//! What the simulated EC2 holds before any copy: source images in several Regions and the
//! account's KMS keys. Built in (`catalogue.json` beside this file) or read from the file named
//! by `--sim-catalogue`, in the same format; every entry is checked when it is loaded.
//!
//! The catalogue belongs to the simulator's own account (`--sim-account-id`). An image naming
//! another `owner_id` is shared with the own account (launch permission and createVolumePermission)
//! unless `shared_with` lists other accounts; `public` shares it with everyone. A key's
//! `shared_with` lists the accounts its key policy lets copy images it encrypts.

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    path::Path,
};

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    SimError,
    images::{Image, Launch, Snapshot},
    kms::{KeyState, Keyring, KmsKey},
};
use crate::{
    backend::ImageState,
    domain::{AccountId, AmiName, ImageId, KmsKeyId, OutpostArn, Region, Tag},
};

/// The built-in catalogue.
const BUILT_IN: &str = include_str!("catalogue.json");

/// A catalogue file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    images: Vec<ImageEntry>,
    #[serde(default)]
    kms_keys: Vec<KeyEntry>,
}

/// One source image.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageEntry {
    image_id: String,
    region: String,
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Another account's id makes it an image shared with the simulated account.
    #[serde(default)]
    owner_id: Option<String>,
    /// EC2 state name; `available` when not given.
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    encrypted: bool,
    /// Key of its snapshots when encrypted; the Region's `alias/aws/ebs` when not given.
    #[serde(default)]
    kms_key_id: Option<String>,
    #[serde(default)]
    outpost_arn: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    creation_date: Option<DateTime<Utc>>,
    /// Accounts given launch permission and createVolumePermission; the own account when
    /// not given and another account owns the image, nobody otherwise.
    #[serde(default)]
    shared_with: Option<Vec<String>>,
    /// Launch permission and createVolumePermission for everyone (`all`).
    #[serde(default)]
    public: bool,
    block_devices: Vec<DeviceEntry>,
}

/// One EBS block device of a source image.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceEntry {
    device_name: String,
    size_gib: u32,
    /// Derived from the image id and device name when not given.
    #[serde(default)]
    snapshot_id: Option<String>,
}

/// One KMS key of the simulated account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    region: String,
    key_id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    /// Scheduled for deletion: it exists but cannot be used.
    #[serde(default)]
    pending_deletion: bool,
    /// Accounts the key policy lets use it.
    #[serde(default)]
    shared_with: Vec<String>,
}

fn enabled_by_default() -> bool {
    true
}

/// A checked catalogue: the images (with their Region) and the account's keys.
#[derive(Debug)]
pub(super) struct Catalogue {
    pub(super) images: Vec<Image>,
    pub(super) keyring: Keyring,
}

impl Catalogue {
    /// The catalogue in `path`, or the built-in one, with `account_id` owning what names no
    /// other owner.
    pub(super) fn load(path: Option<&Path>, account_id: &str) -> Result<Self, SimError> {
        let (text, origin) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| SimError::Catalogue {
                    origin: path.display().to_string(),
                    message: e.to_string(),
                })?;
                (text, path.display().to_string())
            }
            None => (BUILT_IN.to_owned(), "the built-in catalogue".to_owned()),
        };
        Self::parse(&text, account_id).map_err(|message| SimError::Catalogue { origin, message })
    }

    fn parse(text: &str, account_id: &str) -> Result<Self, String> {
        let file: CatalogueFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let keys = file.kms_keys.into_iter().map(key).collect::<Result<Vec<_>, _>>()?;
        let keyring = Keyring::new(account_id, keys);
        let mut seen = HashSet::new();
        let mut images = Vec::with_capacity(file.images.len());
        for entry in file.images {
            let image = image(entry, account_id, &keyring)?;
            if !seen.insert(image.id.clone()) {
                return Err(format!("image {} is listed twice", image.id));
            }
            images.push(image);
        }
        Ok(Self { images, keyring })
    }
}

fn key(entry: KeyEntry) -> Result<KmsKey, String> {
    let region = Region::parse(&entry.region).map_err(|e| e.description)?;
    let is_key_id = KmsKeyId::parse(&entry.key_id).is_ok()
        && !entry.key_id.starts_with("alias/")
        && !entry.key_id.starts_with("arn:");
    if !is_key_id {
        return Err(format!("KMS key {:?}: expected a key id (UUID or mrk-…)", entry.key_id));
    }
    if let Some(bad) = entry.aliases.iter().find(|a| !a.starts_with("alias/") || a.len() <= 6) {
        return Err(format!("KMS key {}: alias {bad:?} must be alias/NAME", entry.key_id));
    }
    let shared_with = accounts(&entry.shared_with).map_err(|e| format!("KMS key {}: {e}", entry.key_id))?;
    let state = match (entry.enabled, entry.pending_deletion) {
        (_, true) => KeyState::PendingDeletion,
        (true, false) => KeyState::Enabled,
        (false, false) => KeyState::Disabled,
    };
    Ok(KmsKey {
        region,
        key_id: entry.key_id,
        aliases: entry.aliases,
        state,
        shared_with: shared_with.into_iter().collect(),
    })
}

/// Account ids, each checked.
fn accounts(ids: &[String]) -> Result<BTreeSet<AccountId>, String> {
    ids.iter()
        .map(|id| AccountId::parse(id).map_err(|e| format!("shared_with: {}", e.description)))
        .collect()
}

fn image(entry: ImageEntry, account_id: &str, keyring: &Keyring) -> Result<Image, String> {
    let id = ImageId::parse(&entry.image_id).map_err(|e| e.description)?.to_string();
    let at = |message: String| format!("image {id}: {message}");
    let region = Region::parse(&entry.region).map_err(|e| at(e.description))?;
    let name = AmiName::parse(&entry.name).map_err(|e| at(e.description))?.to_string();
    let owner_id = entry.owner_id.unwrap_or_else(|| account_id.to_owned());
    if owner_id.len() != 12 || !owner_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(at(format!("owner_id {owner_id:?} must be 12 digits")));
    }
    let user_ids = match &entry.shared_with {
        Some(ids) => accounts(ids).map_err(at)?,
        None if owner_id != account_id => accounts(&[account_id.to_owned()]).map_err(at)?,
        None => BTreeSet::new(),
    };
    if let Some(arn) = &entry.outpost_arn {
        let outpost = OutpostArn::parse(arn).map_err(|e| at(e.description))?;
        if outpost.region() != region.as_str() {
            return Err(at(format!(
                "its Outpost is anchored to {}, not {region}",
                outpost.region()
            )));
        }
    }
    if entry.block_devices.is_empty() {
        return Err(at("it needs at least one block device".to_owned()));
    }
    let encrypted = entry.encrypted || entry.outpost_arn.is_some();
    if encrypted && entry.public {
        return Err(at("an encrypted image cannot be public".to_owned()));
    }
    let kms_key_id = if encrypted {
        Some(
            keyring
                .keys_of(&owner_id, &BTreeMap::new())
                .resolve(&region, entry.kms_key_id.as_deref())
                .map_err(|reason| at(reason.message))?,
        )
    } else {
        None
    };
    let mut snapshots = Vec::with_capacity(entry.block_devices.len());
    for device in entry.block_devices {
        if device.size_gib == 0 {
            return Err(at(format!("device {} has size 0", device.device_name)));
        }
        snapshots.push(Snapshot {
            id: device
                .snapshot_id
                .unwrap_or_else(|| derived_snapshot_id(&id, &device.device_name)),
            device_name: device.device_name,
            size_gib: device.size_gib,
            encrypted,
            kms_key_id: kms_key_id.clone(),
            tags: Vec::new(),
        });
    }
    Ok(Image {
        region,
        name,
        description: entry.description,
        owner_id,
        settled_state: ImageState::parse(entry.state.as_deref().unwrap_or("available")),
        encrypted,
        outpost_arn: entry.outpost_arn,
        tags: entry.tags,
        snapshots,
        creation_date: entry
            .creation_date
            .unwrap_or_else(|| Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).single().unwrap_or_default()),
        visible_from: f64::NEG_INFINITY,
        copy: None,
        deregistered_at: None,
        launch: Launch {
            user_ids,
            public: entry.public,
            ..Launch::default()
        },
        deprecation_time: None,
        id,
    })
}

/// A snapshot id that stays the same from run to run.
fn derived_snapshot_id(image_id: &str, device_name: &str) -> String {
    let hex = hex::encode(Sha256::digest(format!("{image_id} {device_name}")));
    format!("snap-{}", &hex[..17])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    #[test]
    fn the_built_in_catalogue_loads() {
        let catalogue = Catalogue::load(None, ACCOUNT).unwrap();
        let ids: Vec<&str> = catalogue.images.iter().map(|i| i.id.as_str()).collect();
        assert!(ids.contains(&"ami-0a1b2c3d4e5f60001"));
        assert!(ids.contains(&"ami-0a1b2c3d4e5f60003"));
        assert!(catalogue.images.iter().all(|i| i.id.len() == 21));
        assert!(catalogue.images.iter().any(|i| i.owner_id != ACCOUNT));
        assert!(catalogue.images.iter().any(|i| i.outpost_arn.is_some()));
    }

    #[test]
    fn a_catalogue_file_replaces_the_built_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalogue.json");
        std::fs::write(
            &path,
            r#"{"images": [{"image_id": "ami-0123456789abcdef0", "region": "sa-east-1", "name": "mine",
                "block_devices": [{"device_name": "/dev/xvda", "size_gib": 4}]}]}"#,
        )
        .unwrap();
        let catalogue = Catalogue::load(Some(&path), ACCOUNT).unwrap();
        assert_eq!(catalogue.images.len(), 1);
        assert_eq!(catalogue.images[0].region.as_str(), "sa-east-1");
        assert_eq!(catalogue.images[0].owner_id, ACCOUNT);
    }

    #[test]
    fn another_owners_image_is_shared_with_the_own_account_unless_it_says_otherwise() {
        let catalogue = Catalogue::load(None, ACCOUNT).unwrap();
        let vendor = catalogue
            .images
            .iter()
            .find(|i| i.id == "ami-0a1b2c3d4e5f60005")
            .unwrap();
        assert_eq!(
            vendor.launch.user_ids.iter().map(AccountId::as_str).collect::<Vec<_>>(),
            [ACCOUNT]
        );
        let base = catalogue
            .images
            .iter()
            .find(|i| i.id == "ami-0a1b2c3d4e5f60001")
            .unwrap();
        assert!(
            base.launch.user_ids.is_empty() && !base.launch.public,
            "the own images are private"
        );

        let listed = Catalogue::parse(
            r#"{"images": [{"image_id": "ami-0123456789abcdef0", "region": "us-east-1", "name": "x1x",
                "owner_id": "444455556666", "shared_with": ["222233334444"], "public": true,
                "block_devices": [{"device_name": "/dev/xvda", "size_gib": 4}]}]}"#,
            ACCOUNT,
        )
        .unwrap();
        let launch = &listed.images[0].launch;
        assert_eq!(
            launch.user_ids.iter().map(AccountId::as_str).collect::<Vec<_>>(),
            ["222233334444"]
        );
        assert!(launch.public);
    }

    #[test]
    fn an_encrypted_image_cannot_be_public() {
        let error = Catalogue::parse(
            r#"{"images": [{"image_id": "ami-0123456789abcdef0", "region": "us-east-1", "name": "x1x",
                "encrypted": true, "public": true,
                "block_devices": [{"device_name": "/dev/xvda", "size_gib": 4}]}]}"#,
            ACCOUNT,
        )
        .unwrap_err();
        assert!(error.contains("cannot be public"), "{error}");
        let bad_share = Catalogue::parse(
            r#"{"images": [{"image_id": "ami-0123456789abcdef0", "region": "us-east-1", "name": "x1x",
                "shared_with": ["12"], "block_devices": [{"device_name": "/dev/xvda", "size_gib": 4}]}]}"#,
            ACCOUNT,
        )
        .unwrap_err();
        assert!(
            bad_share.contains("shared_with") && bad_share.contains("12 digits"),
            "{bad_share}"
        );
    }

    #[test]
    fn a_bad_catalogue_is_refused_with_the_reason() {
        let missing = Catalogue::load(Some(Path::new("/nonexistent/catalogue.json")), ACCOUNT).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/catalogue.json"), "{missing}");
        let bad_id = Catalogue::parse(
            r#"{"images": [{"image_id": "ami-XYZ", "region": "us-east-1", "name": "x1x",
                "block_devices": [{"device_name": "/dev/xvda", "size_gib": 4}]}]}"#,
            ACCOUNT,
        )
        .unwrap_err();
        assert!(bad_id.contains("ami-XYZ"), "{bad_id}");
        let unknown_key = Catalogue::parse(
            r#"{"images": [{"image_id": "ami-0123456789abcdef0", "region": "us-east-1", "name": "x1x",
                "encrypted": true, "kms_key_id": "alias/nope",
                "block_devices": [{"device_name": "/dev/xvda", "size_gib": 4}]}]}"#,
            ACCOUNT,
        )
        .unwrap_err();
        assert!(unknown_key.contains("alias/nope"), "{unknown_key}");
    }
}
