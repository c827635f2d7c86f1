//! A simulated EC2 that behaves like the real one for everything amicopy does: the default
//! backend, used by demos, benchmarks and most tests.
//!
//! One simulated world holds several AWS accounts: the simulator's own (`--sim-account-id`, the
//! catalogue's owner) and every account of the accounts file. A [`Simulator`] is that world as
//! one account sees it; [`Simulator::as_account`] gives another account's view of the same
//! world and [`SimBackends`] hands them out as a [`crate::backend::Backends`] registry.
//!
//! - [`settings`]: every knob (`--sim-*` flags); `catalogue`: the source images and KMS keys
//!   it starts with (`catalogue.json`, or `--sim-catalogue FILE`).
//! - `clock`: simulated time, `--sim-time-factor` times real (tokio) time.
//! - `state` and `region`: the Regions, their images and snapshots, each account's ClientTokens
//!   and request-rate buckets, who may see what; `copy`: CopyImage with EC2's checks; `images`:
//!   how a copy's state and progress follow from simulated time; `sharing`: launch and snapshot
//!   permissions and deprecation; `cleanup`: DeregisterImage; `kms`: every account's KMS keys;
//!   `faults`: seeded random faults and ids.
//!
//! Copies are never driven by a task: an image's state is worked out from its copy plan and the
//! clock whenever it is looked at. All state sits behind one `std::sync::Mutex`, held only for
//! the plain computation of a call.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::{
    BackendError, Ec2Backend, ImageStatus, KmsKeyLookup, SnapshotDeletion, SnapshotProgress, SourceImage, StartCopy,
    accounts::Accounts,
};
use crate::domain::{AccountId, CreateVolumePermissions, LaunchPermissions, Region};

mod backends;
mod catalogue;
mod cleanup;
mod clock;
mod copy;
mod faults;
mod images;
mod kms;
mod region;
pub mod settings;
mod sharing;
mod state;
#[cfg(test)]
mod tests;

pub use backends::SimBackends;
pub use images::{SimImage, SimInventory, SimSnapshot};
pub use settings::SimSettings;

use self::{
    catalogue::Catalogue,
    clock::SimClock,
    faults::Faults,
    region::{Api, RateLimits},
    state::{Caller, Fixed, Now, SimState},
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

/// The simulated EC2 as one account sees it. Share it with `Arc`; every method may be called
/// from any task. Views of other accounts ([`Simulator::as_account`]) share the same world.
#[derive(Debug, Clone)]
pub struct Simulator {
    world: Arc<World>,
    account: AccountId,
}

/// The world every account's view shares.
#[derive(Debug)]
struct World {
    clock: SimClock,
    fixed: Fixed,
    state: Mutex<SimState>,
}

impl Simulator {
    /// A simulator with the catalogue and limits `settings` name, at simulated second 0, seen
    /// by its own account; no other account is configured.
    pub fn new(settings: SimSettings) -> Result<Self, SimError> {
        Self::with_accounts(settings, Accounts::none())
    }

    /// Like [`Simulator::new`], with the accounts of an accounts file: their extra KMS keys and
    /// organizations are read from `accounts` on every call, so a reload takes effect at once.
    pub fn with_accounts(settings: SimSettings, accounts: Accounts) -> Result<Self, SimError> {
        settings.check()?;
        let own_account = AccountId::parse(&settings.sim_account_id).map_err(|e| SimError::Setting {
            flag: "--sim-account-id",
            message: e.description,
        })?;
        let catalogue = Catalogue::load(settings.sim_catalogue.as_deref(), own_account.as_str())?;
        let clock = SimClock::new(settings.sim_time_factor);
        let fixed = Fixed {
            own_account: own_account.clone(),
            copy_seconds: settings.sim_copy_seconds,
            visibility_delay: settings.sim_visibility_delay_seconds,
            settle_seconds: settings.sim_settle_seconds,
            max_concurrent_copies: settings.sim_max_concurrent_copies,
            deny_source_regions: settings
                .sim_deny_source_regions
                .iter()
                .map(|region| region.trim().to_owned())
                .collect(),
            limits: RateLimits::new(&settings, clock.factor()),
            keyring: catalogue.keyring,
            accounts,
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
            world: Arc::new(World {
                clock,
                fixed,
                state: Mutex::new(state),
            }),
            account: own_account,
        })
    }

    /// The same world as `account` sees it. Any 12-digit account may be simulated; which of
    /// them callers may reach is [`SimBackends`]'s business.
    pub fn as_account(&self, account: &AccountId) -> Simulator {
        Simulator {
            world: Arc::clone(&self.world),
            account: account.clone(),
        }
    }

    /// The account this view acts as.
    pub fn account_id(&self) -> &str {
        self.account.as_str()
    }

    /// The simulator's own account (`--sim-account-id`): the catalogue's owner.
    pub fn own_account_id(&self) -> &AccountId {
        &self.world.fixed.own_account
    }

    /// The accounts file the world reads its other accounts from.
    pub fn accounts(&self) -> &Accounts {
        &self.world.fixed.accounts
    }

    /// How many CopyImage calls made a new image, in every account (idempotent replays and
    /// DryRuns do not count).
    pub fn copies_started(&self) -> u64 {
        self.lock().copies_started
    }

    /// How many calls of an API (`"CopyImage"`, `"DescribeImages"`, `"DescribeSnapshots"`,
    /// `"DeregisterImage"`, `"ModifyImageAttribute"`, `"DescribeImageAttribute"`,
    /// `"ModifySnapshotAttribute"`, `"DescribeSnapshotAttribute"`, `"EnableImageDeprecation"`,
    /// `"DescribeKey"`) the simulator has answered, throttled ones included, in every account and
    /// Region: what tests and benchmarks count traffic with.
    pub fn calls(&self, api: &str) -> u64 {
        self.lock().calls.get(api).copied().unwrap_or(0)
    }

    /// The simulated clock: simulated seconds since the simulator started.
    pub fn sim_seconds(&self) -> f64 {
        self.world.clock.now()
    }

    /// One image as it is now, whoever owns it and whatever its visibility, without throttling
    /// or faults: for tests and tools that check what a copy made.
    pub fn image(&self, region: &Region, image_id: &str) -> Option<SimImage> {
        let now = self.world.clock.now();
        let state = self.lock();
        Some(state.regions.get(region)?.images.get(image_id)?.view(now))
    }

    /// Everything `account` holds in `region` now (images not deregistered, snapshots not
    /// deleted), without throttling or faults: how a test proves a roll-back left nothing behind.
    pub fn inventory(&self, account: &AccountId, region: &Region) -> SimInventory {
        let now = self.world.clock.now();
        let state = self.lock();
        let Some(region) = state.regions.get(region) else {
            return SimInventory::default();
        };
        let mut images: Vec<SimImage> = region
            .images
            .values()
            .filter(|image| image.owner_id == account.as_str() && image.is_live())
            .map(|image| image.view(now))
            .collect();
        images.sort_by(|a, b| a.image_id.cmp(&b.image_id));
        let mut snapshot_ids: Vec<String> = region
            .snapshots
            .iter()
            .filter(|(_, record)| record.owner_id == account.as_str() && !record.deleted)
            .map(|(id, _)| id.clone())
            .collect();
        snapshot_ids.sort();
        SimInventory { images, snapshot_ids }
    }

    fn now(&self) -> Now {
        Now {
            sim: self.world.clock.now(),
            instant: Instant::now(),
        }
    }

    fn caller(&self) -> Caller {
        self.world.fixed.caller(self.account.as_str())
    }

    /// Runs one call of `api` as this view's account, on the locked state; the call is counted.
    fn call<T>(&self, api: Api, run: impl FnOnce(&mut SimState, &Fixed, &Caller, Now) -> T) -> T {
        let now = self.now();
        let caller = self.caller();
        let mut state = self.lock();
        *state.calls.entry(api.name()).or_insert(0) += 1;
        run(&mut state, &self.world.fixed, &caller, now)
    }

    fn lock(&self) -> MutexGuard<'_, SimState> {
        // The state is left consistent between statements, so a panic elsewhere cannot corrupt it.
        self.world.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Ec2Backend for Simulator {
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError> {
        self.call(Api::CopyImage, |state, fixed, caller, now| {
            state.copy_image(fixed, caller, copy, now)
        })
    }

    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError> {
        self.call(Api::DescribeImages, |state, fixed, caller, now| {
            state.describe_images(fixed, caller, region, image_ids, now)
        })
    }

    async fn find_images_by_name(&self, region: &Region, name: &str) -> Result<Vec<ImageStatus>, BackendError> {
        self.call(Api::DescribeImages, |state, fixed, caller, now| {
            state.find_images_by_name(fixed, caller, region, name, now)
        })
    }

    async fn snapshot_progress(
        &self,
        region: &Region,
        snapshot_ids: &[String],
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        self.call(Api::DescribeSnapshots, |state, fixed, caller, now| {
            state.snapshot_progress(fixed, caller, region, snapshot_ids, now)
        })
    }

    async fn deregister_image(&self, region: &Region, image_id: &str) -> Result<(), BackendError> {
        self.call(Api::DeregisterImage, |state, fixed, caller, now| {
            state
                .deregister_image(fixed, caller, region, image_id, false, now)
                .map(drop)
        })
    }

    async fn describe_source_image(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Option<SourceImage>, BackendError> {
        self.call(Api::DescribeImages, |state, fixed, caller, now| {
            state.describe_source_image(fixed, caller, region, image_id, now)
        })
    }

    async fn deregister_image_and_snapshots(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Vec<SnapshotDeletion>, BackendError> {
        self.call(Api::DeregisterImage, |state, fixed, caller, now| {
            state.deregister_image(fixed, caller, region, image_id, true, now)
        })
    }

    async fn add_launch_permissions(
        &self,
        region: &Region,
        image_id: &str,
        permissions: &LaunchPermissions,
    ) -> Result<(), BackendError> {
        if permissions.is_empty() {
            return Ok(());
        }
        self.call(Api::ModifyImageAttribute, |state, fixed, caller, now| {
            state.add_launch_permissions(fixed, caller, region, image_id, permissions, now)
        })
    }

    async fn launch_permissions(&self, region: &Region, image_id: &str) -> Result<LaunchPermissions, BackendError> {
        self.call(Api::DescribeImageAttribute, |state, fixed, caller, now| {
            state.launch_permissions(fixed, caller, region, image_id, now)
        })
    }

    async fn add_create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
        user_ids: &[AccountId],
    ) -> Result<(), BackendError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        self.call(Api::ModifySnapshotAttribute, |state, fixed, caller, now| {
            state.add_create_volume_permissions(fixed, caller, region, snapshot_id, user_ids, now)
        })
    }

    async fn create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
    ) -> Result<CreateVolumePermissions, BackendError> {
        self.call(Api::DescribeSnapshotAttribute, |state, fixed, caller, now| {
            state.create_volume_permissions(fixed, caller, region, snapshot_id, now)
        })
    }

    async fn enable_image_deprecation(
        &self,
        region: &Region,
        image_id: &str,
        deprecate_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        self.call(Api::EnableImageDeprecation, |state, fixed, caller, now| {
            state.enable_image_deprecation(fixed, caller, region, image_id, deprecate_at, now)
        })
    }

    async fn describe_kms_key(&self, region: &Region, key_id: &str) -> Result<KmsKeyLookup, BackendError> {
        self.call(Api::DescribeKey, |state, fixed, caller, now| {
            state.describe_kms_key(fixed, caller, region, key_id, now)
        })
    }
}
