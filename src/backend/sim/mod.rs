//! A simulated EC2 that behaves like the real one for everything amicopy does: the default
//! backend, used by demos, benchmarks and most tests.
//!
//! - [`settings`]: every knob (`--sim-*` flags); `catalogue`: the source images and KMS keys
//!   it starts with (`catalogue.json`, or `--sim-catalogue FILE`).
//! - `clock`: simulated time, `--sim-time-factor` times real (tokio) time.
//! - `state` and `region`: the Regions, their images, ClientTokens and request-rate buckets;
//!   `copy`: CopyImage with EC2's checks; `images`: how a copy's state and progress follow from
//!   simulated time; `kms`: KMS key resolution; `faults`: seeded random faults and ids.
//!
//! Copies are never driven by a task: an image's state is worked out from its copy plan and the
//! clock whenever it is looked at. All state sits behind one `std::sync::Mutex`, held only for
//! the plain computation of a call.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use tokio::time::Instant;

use super::{BackendError, Ec2Backend, ImageStatus, SnapshotProgress, SourceImage, StartCopy};
use crate::domain::Region;

mod catalogue;
mod clock;
mod copy;
mod faults;
mod images;
mod kms;
mod region;
pub mod settings;
mod state;
#[cfg(test)]
mod tests;

pub use images::{SimImage, SimSnapshot};
pub use settings::SimSettings;

use self::{
    catalogue::Catalogue,
    clock::SimClock,
    faults::Faults,
    region::{Api, RateLimits},
    state::{Fixed, Now, SimState},
};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A setting is out of range.
    #[error("{flag} {message}")]
    Setting {
        /// The flag.
        flag: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The catalogue could not be read or is invalid.
    #[error("simulator catalogue {origin}: {message}")]
    Catalogue {
        /// The file (or "the built-in catalogue").
        origin: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The simulated EC2. Share it with `Arc`; every method may be called from any task.
#[derive(Debug)]
pub struct Simulator {
    clock: SimClock,
    fixed: Fixed,
    state: Mutex<SimState>,
}

impl Simulator {
    /// A simulator with the catalogue and limits `settings` name, at simulated second 0.
    pub fn new(settings: SimSettings) -> Result<Self, SimError> {
        settings.check()?;
        let catalogue = Catalogue::load(settings.sim_catalogue.as_deref(), &settings.sim_account_id)?;
        let clock = SimClock::new(settings.sim_time_factor);
        let fixed = Fixed {
            account_id: settings.sim_account_id.clone(),
            copy_seconds: settings.sim_copy_seconds,
            visibility_delay: settings.sim_visibility_delay_seconds,
            max_concurrent_copies: settings.sim_max_concurrent_copies,
            deny_source_regions: settings
                .sim_deny_source_regions
                .iter()
                .map(|region| region.trim().to_owned())
                .collect(),
            limits: RateLimits::new(&settings, clock.factor()),
            keyring: catalogue.keyring,
        };
        let mut state = SimState {
            regions: Default::default(),
            faults: Faults::new(
                settings.sim_seed,
                settings.sim_transient_error_rate,
                settings.sim_copy_failure_rate,
            ),
            copies_started: 0,
            calls: HashMap::new(),
        };
        for image in catalogue.images {
            let region = image.region.clone();
            state.region(&fixed, &region).insert(image);
        }
        Ok(Self {
            clock,
            fixed,
            state: Mutex::new(state),
        })
    }

    /// How many CopyImage calls made a new image (idempotent replays and DryRuns do not count).
    pub fn copies_started(&self) -> u64 {
        self.lock().copies_started
    }

    /// How many calls of an EC2 API (`"CopyImage"`, `"DescribeImages"`, `"DescribeSnapshots"`,
    /// `"DeregisterImage"`) the simulator has answered, throttled ones included, in every Region:
    /// what tests and benchmarks count EC2 traffic with.
    pub fn calls(&self, api: &str) -> u64 {
        self.lock().calls.get(api).copied().unwrap_or(0)
    }

    /// One image as it is now, whatever its visibility, without throttling or faults: for tests
    /// and tools that check what a copy made.
    pub fn image(&self, region: &Region, image_id: &str) -> Option<SimImage> {
        let now = self.clock.now();
        let state = self.lock();
        Some(state.regions.get(region)?.images.get(image_id)?.view(now))
    }

    /// The account the simulated caller acts as.
    pub fn account_id(&self) -> &str {
        &self.fixed.account_id
    }

    fn now(&self) -> Now {
        Now {
            sim: self.clock.now(),
            instant: Instant::now(),
        }
    }

    /// The state, locked, for one call of `api`, which is counted.
    fn metered(&self, api: Api) -> MutexGuard<'_, SimState> {
        let mut state = self.lock();
        *state.calls.entry(api.name()).or_insert(0) += 1;
        state
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // The state is left consistent between statements, so a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Ec2Backend for Simulator {
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError> {
        let now = self.now();
        self.metered(Api::CopyImage).copy_image(&self.fixed, copy, now)
    }

    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError> {
        let now = self.now();
        self.metered(Api::DescribeImages)
            .describe_images(&self.fixed, region, image_ids, now)
    }

    async fn find_images_by_name(&self, region: &Region, name: &str) -> Result<Vec<ImageStatus>, BackendError> {
        let now = self.now();
        self.metered(Api::DescribeImages)
            .find_images_by_name(&self.fixed, region, name, now)
    }

    async fn snapshot_progress(
        &self,
        region: &Region,
        snapshot_ids: &[String],
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        let now = self.now();
        self.metered(Api::DescribeSnapshots)
            .snapshot_progress(&self.fixed, region, snapshot_ids, now)
    }

    async fn deregister_image(&self, region: &Region, image_id: &str) -> Result<(), BackendError> {
        let now = self.now();
        self.metered(Api::DeregisterImage)
            .deregister_image(&self.fixed, region, image_id, now)
    }

    async fn describe_source_image(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Option<SourceImage>, BackendError> {
        let now = self.now();
        self.metered(Api::DescribeImages)
            .describe_source_image(&self.fixed, region, image_id, now)
    }
}
