//! One Region of the simulated EC2: its images, the snapshots behind them, the ClientTokens
//! CopyImage has seen there and the request-rate buckets of the four API calls amicopy makes.

use std::{collections::HashMap, time::Duration};

use tokio::time::Instant;

use super::{SimSettings, images::Image};
use crate::{
    backend::BackendError,
    domain::{Region, codes},
    ratelimit::TokenBucket,
};

/// The EC2 API calls the simulator meters, each with its own bucket per Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    CopyImage,
    DescribeImages,
    DescribeSnapshots,
    DeregisterImage,
}

impl Api {
    /// EC2's name of the call.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::CopyImage => "CopyImage",
            Self::DescribeImages => "DescribeImages",
            Self::DescribeSnapshots => "DescribeSnapshots",
            Self::DeregisterImage => "DeregisterImage",
        }
    }
}

/// Bucket sizes and refill rates per real second (the simulated rates times the time factor).
#[derive(Debug, Clone, Copy)]
pub(super) struct RateLimits {
    copy_image: (u32, f64),
    describe_images: (u32, f64),
    describe_snapshots: (u32, f64),
    deregister_image: (u32, f64),
}

impl RateLimits {
    /// The limits `settings` ask for, at `time_factor` simulated seconds per real second.
    pub(super) fn new(settings: &SimSettings, time_factor: f64) -> Self {
        Self {
            copy_image: (
                settings.sim_copy_image_burst,
                settings.sim_copy_image_refill * time_factor,
            ),
            describe_images: (
                settings.sim_describe_images_burst,
                settings.sim_describe_images_refill * time_factor,
            ),
            describe_snapshots: (
                settings.sim_describe_snapshots_burst,
                settings.sim_describe_snapshots_refill * time_factor,
            ),
            deregister_image: (
                settings.sim_deregister_image_burst,
                settings.sim_deregister_image_refill * time_factor,
            ),
        }
    }
}

/// Where a ClientToken was first used: the request's fingerprint and the image it made.
#[derive(Debug, Clone)]
pub(super) struct TokenUse {
    pub(super) fingerprint: String,
    pub(super) image_id: String,
}

/// Everything in one Region.
#[derive(Debug)]
pub(super) struct RegionState {
    pub(super) images: HashMap<String, Image>,
    /// Snapshot id → id of the image it belongs to.
    snapshot_owners: HashMap<String, String>,
    pub(super) tokens: HashMap<String, TokenUse>,
    copy_image: TokenBucket,
    describe_images: TokenBucket,
    describe_snapshots: TokenBucket,
    deregister_image: TokenBucket,
}

impl RegionState {
    /// An empty Region with full buckets.
    pub(super) fn new(limits: &RateLimits) -> Self {
        let bucket = |(burst, refill): (u32, f64)| TokenBucket::new(burst, refill);
        Self {
            images: HashMap::new(),
            snapshot_owners: HashMap::new(),
            tokens: HashMap::new(),
            copy_image: bucket(limits.copy_image),
            describe_images: bucket(limits.describe_images),
            describe_snapshots: bucket(limits.describe_snapshots),
            deregister_image: bucket(limits.deregister_image),
        }
    }

    /// Adds an image and indexes its snapshots.
    pub(super) fn insert(&mut self, image: Image) {
        for snapshot in &image.snapshots {
            self.snapshot_owners.insert(snapshot.id.clone(), image.id.clone());
        }
        self.images.insert(image.id.clone(), image);
    }

    /// The image a snapshot belongs to, and the snapshot's place in it.
    pub(super) fn snapshot(&self, snapshot_id: &str) -> Option<(&Image, usize)> {
        let image = self.images.get(self.snapshot_owners.get(snapshot_id)?)?;
        let index = image.snapshots.iter().position(|s| s.id == snapshot_id)?;
        Some((image, index))
    }

    /// Whether any snapshot or image already has this id.
    pub(super) fn holds_id(&self, id: &str) -> bool {
        self.images.contains_key(id) || self.snapshot_owners.contains_key(id)
    }

    /// Takes a token from the call's bucket, or answers RequestLimitExceeded as EC2 does.
    pub(super) fn meter(&mut self, api: Api, region: &Region, now: Instant) -> Result<(), BackendError> {
        let bucket = match api {
            Api::CopyImage => &mut self.copy_image,
            Api::DescribeImages => &mut self.describe_images,
            Api::DescribeSnapshots => &mut self.describe_snapshots,
            Api::DeregisterImage => &mut self.deregister_image,
        };
        bucket.try_take(now).map_err(|wait: Duration| {
            tracing::debug!(api = api.name(), %region, wait_ms = wait.as_millis(), "simulated throttling");
            BackendError::from_code(
                codes::REQUEST_LIMIT_EXCEEDED,
                format!("Request limit exceeded for {} in {region}.", api.name()),
            )
        })
    }
}
