//! One Region of the simulated EC2: the images and snapshots of every account there, and each
//! account's own ClientTokens and request-rate buckets (EC2 meters per account and Region).

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use tokio::time::Instant;

use super::{SimSettings, images::Image};
use crate::{
    backend::BackendError,
    domain::{AccountId, Region, codes},
    ratelimit::TokenBucket,
};

/// The API calls the simulator meters, each with its own bucket per account and Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    CopyImage,
    DescribeImages,
    DescribeSnapshots,
    DeregisterImage,
    ModifyImageAttribute,
    DescribeImageAttribute,
    ModifySnapshotAttribute,
    DescribeSnapshotAttribute,
    EnableImageDeprecation,
    /// KMS, not EC2: KMS meters per account and Region too, and answers ThrottlingException.
    DescribeKey,
}

impl Api {
    const COUNT: usize = 10;

    /// The API's name, as its service spells it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::CopyImage => "CopyImage",
            Self::DescribeImages => "DescribeImages",
            Self::DescribeSnapshots => "DescribeSnapshots",
            Self::DeregisterImage => "DeregisterImage",
            Self::ModifyImageAttribute => "ModifyImageAttribute",
            Self::DescribeImageAttribute => "DescribeImageAttribute",
            Self::ModifySnapshotAttribute => "ModifySnapshotAttribute",
            Self::DescribeSnapshotAttribute => "DescribeSnapshotAttribute",
            Self::EnableImageDeprecation => "EnableImageDeprecation",
            Self::DescribeKey => "DescribeKey",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Bucket sizes and refill rates per real second (the simulated rates times the time factor),
/// by [`Api`].
#[derive(Debug, Clone, Copy)]
pub(super) struct RateLimits([(u32, f64); Api::COUNT]);

impl RateLimits {
    /// The limits `settings` ask for, at `time_factor` simulated seconds per real second.
    pub(super) fn new(settings: &SimSettings, time_factor: f64) -> Self {
        let s = settings;
        let limit = |burst: u32, refill: f64| (burst, refill * time_factor);
        let modify = limit(s.sim_modify_attribute_burst, s.sim_modify_attribute_refill);
        let describe_attribute = limit(s.sim_describe_attribute_burst, s.sim_describe_attribute_refill);
        Self([
            limit(s.sim_copy_image_burst, s.sim_copy_image_refill),
            limit(s.sim_describe_images_burst, s.sim_describe_images_refill),
            limit(s.sim_describe_snapshots_burst, s.sim_describe_snapshots_refill),
            limit(s.sim_deregister_image_burst, s.sim_deregister_image_refill),
            modify,
            describe_attribute,
            modify,
            describe_attribute,
            modify,
            limit(s.sim_describe_key_burst, s.sim_describe_key_refill),
        ])
    }
}

/// Where a ClientToken was first used: the request's fingerprint and the image it made.
#[derive(Debug, Clone)]
pub(super) struct TokenUse {
    pub(super) fingerprint: String,
    pub(super) image_id: String,
}

/// What one account has to itself in one Region.
#[derive(Debug)]
pub(super) struct Quota {
    pub(super) tokens: HashMap<String, TokenUse>,
    buckets: Vec<TokenBucket>,
}

impl Quota {
    fn new(limits: &RateLimits) -> Self {
        Self {
            tokens: HashMap::new(),
            buckets: limits
                .0
                .iter()
                .map(|&(burst, refill)| TokenBucket::new(burst, refill))
                .collect(),
        }
    }
}

/// One snapshot: whose it is, the image it was made for, who may create volumes from it.
#[derive(Debug, Clone)]
pub(super) struct SnapshotRecord {
    pub(super) image_id: String,
    pub(super) owner_id: String,
    /// createVolumePermission `UserId`s.
    pub(super) users: BTreeSet<AccountId>,
    /// createVolumePermission `Group: all`.
    pub(super) public: bool,
    /// Deleted (DeregisterImage with DeleteAssociatedSnapshots).
    pub(super) deleted: bool,
}

/// Everything in one Region.
#[derive(Debug)]
pub(super) struct RegionState {
    pub(super) images: HashMap<String, Image>,
    pub(super) snapshots: HashMap<String, SnapshotRecord>,
    quotas: HashMap<String, Quota>,
    limits: RateLimits,
    /// Live images by owner and name (names are unique per account and Region), so CopyImage's
    /// duplicate-name check does not read every image ever made.
    names: HashMap<(String, String), String>,
    /// Per owner, the images whose copy may still be running (dropped as they are found
    /// ended), so the concurrency limit is counted over active copies only.
    copies: HashMap<String, Vec<String>>,
}

impl RegionState {
    /// An empty Region whose accounts start with full buckets.
    pub(super) fn new(limits: &RateLimits) -> Self {
        Self {
            images: HashMap::new(),
            snapshots: HashMap::new(),
            quotas: HashMap::new(),
            limits: *limits,
            names: HashMap::new(),
            copies: HashMap::new(),
        }
    }

    /// Adds an image and records its snapshots. A snapshot starts shared with whoever the image
    /// is (catalogue images shared with the account; new copies with nobody).
    pub(super) fn insert(&mut self, image: Image) {
        for snapshot in &image.snapshots {
            self.snapshots
                .entry(snapshot.id.clone())
                .or_insert_with(|| SnapshotRecord {
                    image_id: image.id.clone(),
                    owner_id: image.owner_id.clone(),
                    users: image.launch.user_ids.clone(),
                    public: image.launch.public,
                    deleted: false,
                });
        }
        if image.is_live() {
            self.names
                .insert((image.owner_id.clone(), image.name.clone()), image.id.clone());
        }
        if image.copy.is_some() {
            self.copies
                .entry(image.owner_id.clone())
                .or_default()
                .push(image.id.clone());
        }
        self.images.insert(image.id.clone(), image);
    }

    /// The live image `owner` has named `name` here, if any.
    pub(super) fn live_named(&self, owner: &str, name: &str) -> Option<&Image> {
        self.names
            .get(&(owner.to_owned(), name.to_owned()))
            .and_then(|id| self.images.get(id))
            .filter(|image| image.is_live())
    }

    /// Forgets the name of an image that was just deregistered, freeing it for a new image.
    pub(super) fn deregistered(&mut self, image_id: &str) {
        if let Some(image) = self.images.get(image_id) {
            let key = (image.owner_id.clone(), image.name.clone());
            if self.names.get(&key).is_some_and(|id| id == image_id) {
                self.names.remove(&key);
            }
        }
    }

    /// How many of `owner`'s copies are running here at simulated second `now`.
    pub(super) fn copies_in_progress(&mut self, owner: &str, now: f64) -> usize {
        let Some(ids) = self.copies.get_mut(owner) else {
            return 0;
        };
        let images = &self.images;
        ids.retain(|id| images.get(id).is_some_and(|image| image.is_copying(now)));
        ids.len()
    }

    /// The image a snapshot that still exists was made for, and the snapshot's place in it.
    pub(super) fn snapshot(&self, snapshot_id: &str) -> Option<(&Image, usize, &SnapshotRecord)> {
        let record = self.snapshots.get(snapshot_id).filter(|record| !record.deleted)?;
        let image = self.images.get(&record.image_id)?;
        let index = image.snapshots.iter().position(|s| s.id == snapshot_id)?;
        Some((image, index, record))
    }

    /// Whether any snapshot or image already has this id.
    pub(super) fn holds_id(&self, id: &str) -> bool {
        self.images.contains_key(id) || self.snapshots.contains_key(id)
    }

    /// What `account` has to itself here, made on its first call.
    pub(super) fn quota(&mut self, account: &str) -> &mut Quota {
        let limits = &self.limits;
        self.quotas
            .entry(account.to_owned())
            .or_insert_with(|| Quota::new(limits))
    }

    /// Takes a token from the account's bucket for the call, or answers as the service does
    /// when throttling (RequestLimitExceeded; ThrottlingException from KMS).
    pub(super) fn meter(&mut self, api: Api, account: &str, region: &Region, now: Instant) -> Result<(), BackendError> {
        let bucket = &mut self.quota(account).buckets[api.index()];
        bucket.try_take(now).map_err(|wait: Duration| {
            tracing::debug!(api = api.name(), account, %region, wait_ms = wait.as_millis(), "simulated throttling");
            if api == Api::DescribeKey {
                BackendError::from_code("ThrottlingException", "Rate exceeded")
            } else {
                BackendError::from_code(
                    codes::REQUEST_LIMIT_EXCEEDED,
                    format!("Request limit exceeded for {} in {region}.", api.name()),
                )
            }
        })
    }
}
