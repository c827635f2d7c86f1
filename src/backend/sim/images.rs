//! The images and snapshots the simulator holds, and how a copy's state and progress follow
//! from simulated time. State is never stored as it changes: it is worked out from the copy's
//! plan whenever someone looks.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::{
    backend::{BackendError, INVALID_SNAPSHOT_NOT_FOUND, ImageState, ImageStatus, SnapshotProgress, SourceImage},
    domain::{AccountId, Failure, LaunchPermissions, OrganizationArn, OrganizationalUnitArn, Region, Tag, codes},
};

/// One image in one Region: from the catalogue, or made by CopyImage.
#[derive(Debug, Clone)]
pub(super) struct Image {
    pub(super) id: String,
    pub(super) region: Region,
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) owner_id: String,
    /// The state when no copy is running and it is not deregistered (catalogue images may be
    /// `disabled`, say).
    pub(super) settled_state: ImageState,
    pub(super) encrypted: bool,
    pub(super) outpost_arn: Option<String>,
    pub(super) tags: Vec<Tag>,
    pub(super) snapshots: Vec<Snapshot>,
    pub(super) creation_date: DateTime<Utc>,
    /// Simulated second from which DescribeImages shows it.
    pub(super) visible_from: f64,
    /// How its copy goes, for images made by CopyImage.
    pub(super) copy: Option<CopyPlan>,
    /// Simulated second it was deregistered at.
    pub(super) deregistered_at: Option<f64>,
    /// Who may launch it besides its owner.
    pub(super) launch: Launch,
    /// EnableImageDeprecation's time, rounded to the minute.
    pub(super) deprecation_time: Option<DateTime<Utc>>,
}

/// An image's launch permissions, as sets: adding one that is there changes nothing.
#[derive(Debug, Clone, Default)]
pub(super) struct Launch {
    pub(super) user_ids: BTreeSet<AccountId>,
    pub(super) organization_arns: BTreeSet<OrganizationArn>,
    pub(super) organizational_unit_arns: BTreeSet<OrganizationalUnitArn>,
    pub(super) public: bool,
}

impl Launch {
    /// Adds every permission of `permissions`.
    pub(super) fn add(&mut self, permissions: &LaunchPermissions) {
        self.user_ids.extend(permissions.user_ids.iter().cloned());
        self.organization_arns
            .extend(permissions.organization_arns.iter().cloned());
        self.organizational_unit_arns
            .extend(permissions.organizational_unit_arns.iter().cloned());
        self.public |= permissions.public;
    }

    /// The permissions, as DescribeImageAttribute lists them.
    pub(super) fn permissions(&self) -> LaunchPermissions {
        LaunchPermissions {
            user_ids: self.user_ids.iter().cloned().collect(),
            organization_arns: self.organization_arns.iter().cloned().collect(),
            organizational_unit_arns: self.organizational_unit_arns.iter().cloned().collect(),
            public: self.public,
        }
    }
}

/// One EBS snapshot of an image.
#[derive(Debug, Clone)]
pub(super) struct Snapshot {
    pub(super) id: String,
    pub(super) device_name: String,
    pub(super) size_gib: u32,
    pub(super) encrypted: bool,
    pub(super) kms_key_id: Option<String>,
    pub(super) tags: Vec<Tag>,
}

/// How a copy runs: it starts, its snapshots fill at a rate set by their size (the largest
/// ends exactly at `started_at + duration`), and it may fail on the way.
#[derive(Debug, Clone)]
pub(super) struct CopyPlan {
    pub(super) started_at: f64,
    pub(super) duration: f64,
    /// When it fails (simulated second) and EC2's StateReason.
    pub(super) failure: Option<(f64, Failure)>,
}

impl Image {
    /// Its state and StateReason at simulated second `now`.
    pub(super) fn state_at(&self, now: f64) -> (ImageState, Option<Failure>) {
        if self.deregistered_at.is_some() {
            return (ImageState::Deregistered, None);
        }
        if let Some(plan) = &self.copy {
            if let Some((at, reason)) = &plan.failure
                && now >= *at
            {
                return (ImageState::Failed, Some(reason.clone()));
            }
            if now < plan.started_at + plan.duration {
                return (ImageState::Pending, None);
            }
        }
        (self.settled_state.clone(), None)
    }

    /// The simulated second its copy ended `available`, for a copy that does.
    fn available_at(&self) -> Option<f64> {
        let plan = self.copy.as_ref()?;
        plan.failure.is_none().then_some(plan.started_at + plan.duration)
    }

    /// EC2's eventual consistency right after an image turns `available`: for `settle` simulated
    /// seconds, calls about its attributes answer as if it were not there yet (first
    /// `InvalidAMIID.NotFound`, then `InvalidAMIID.Unavailable`), and calls about its snapshots
    /// `InvalidSnapshot.NotFound`. `None` once it has settled, and for images that were never
    /// copied.
    pub(super) fn settling(&self, now: f64, settle: f64, snapshot_id: Option<&str>) -> Option<BackendError> {
        let available_at = self.available_at()?;
        if !(available_at..available_at + settle).contains(&now) {
            return None;
        }
        let error = match snapshot_id {
            Some(snapshot_id) => BackendError::from_code(
                INVALID_SNAPSHOT_NOT_FOUND,
                format!("The snapshot '{snapshot_id}' does not exist."),
            ),
            None if now < available_at + settle / 2.0 => BackendError::from_code(
                codes::INVALID_AMI_ID_NOT_FOUND,
                format!("The image id '[{}]' does not exist", self.id),
            ),
            None => BackendError::from_code(
                codes::INVALID_AMI_ID_UNAVAILABLE,
                format!("The image id '[{}]' is no longer available", self.id),
            ),
        };
        Some(error)
    }

    /// Whether its copy is still running: it counts against the Region's concurrency limit.
    pub(super) fn is_copying(&self, now: f64) -> bool {
        self.state_at(now).0 == ImageState::Pending
    }

    /// Whether it exists for the caller (not deregistered).
    pub(super) fn is_live(&self) -> bool {
        self.deregistered_at.is_none()
    }

    /// Whether DescribeImages shows it yet.
    pub(super) fn is_visible(&self, now: f64) -> bool {
        now >= self.visible_from
    }

    /// Copy progress of snapshot `index` (0–100) at `now`; it stops rising when the copy fails
    /// or is deregistered.
    pub(super) fn progress(&self, index: usize, now: f64) -> u8 {
        let Some(plan) = &self.copy else { return 100 };
        let largest = self.snapshots.iter().map(|s| s.size_gib).max().unwrap_or(1).max(1);
        let size = self.snapshots.get(index).map_or(largest, |s| s.size_gib);
        let own_duration = plan.duration * f64::from(size) / f64::from(largest);
        let mut until = now;
        if let Some(at) = self.deregistered_at {
            until = until.min(at);
        }
        if let Some((at, _)) = &plan.failure {
            until = until.min(*at);
        }
        let elapsed = (until - plan.started_at).max(0.0);
        if own_duration <= 0.0 || elapsed >= own_duration {
            return 100;
        }
        let percent = (elapsed / own_duration * 100.0).floor().clamp(0.0, 99.0);
        // The clamp keeps it within 0..=99.
        percent as u8
    }

    /// What DescribeImages says of it at `now`.
    pub(super) fn status(&self, now: f64) -> ImageStatus {
        let (state, state_reason) = self.state_at(now);
        ImageStatus {
            image_id: self.id.clone(),
            name: self.name.clone(),
            state,
            state_reason,
            snapshot_ids: self.snapshot_ids(),
            creation_date: Some(self.creation_date),
            deprecation_time: self.deprecation_time,
        }
    }

    /// Its snapshots' ids, in block device order.
    pub(super) fn snapshot_ids(&self) -> Vec<String> {
        self.snapshots.iter().map(|s| s.id.clone()).collect()
    }

    /// What DescribeSnapshots says of its snapshot `index` at `now`.
    pub(super) fn snapshot_progress(&self, index: usize, now: f64) -> Option<SnapshotProgress> {
        let snapshot = self.snapshots.get(index)?;
        Some(SnapshotProgress {
            snapshot_id: snapshot.id.clone(),
            progress_percent: Some(self.progress(index, now)),
        })
    }

    /// What a copy needs to know of it as a source.
    pub(super) fn as_source(&self, now: f64) -> SourceImage {
        SourceImage {
            image_id: self.id.clone(),
            region: self.region.clone(),
            state: self.state_at(now).0,
            owner_id: self.owner_id.clone(),
            snapshot_ids: self.snapshot_ids(),
            encrypted: self.encrypted,
            tags: self.tags.clone(),
            outpost_arn: self.outpost_arn.clone(),
        }
    }

    /// Everything about it, for tests and tools.
    pub(super) fn view(&self, now: f64) -> SimImage {
        let (state, state_reason) = self.state_at(now);
        SimImage {
            image_id: self.id.clone(),
            region: self.region.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            owner_id: self.owner_id.clone(),
            state,
            state_reason,
            encrypted: self.encrypted,
            outpost_arn: self.outpost_arn.clone(),
            tags: self.tags.clone(),
            creation_date: self.creation_date,
            launch_permissions: self.launch.permissions(),
            deprecation_time: self.deprecation_time,
            snapshots: self
                .snapshots
                .iter()
                .enumerate()
                .map(|(index, s)| SimSnapshot {
                    snapshot_id: s.id.clone(),
                    device_name: s.device_name.clone(),
                    size_gib: s.size_gib,
                    encrypted: s.encrypted,
                    kms_key_id: s.kms_key_id.clone(),
                    tags: s.tags.clone(),
                    progress_percent: self.progress(index, now),
                })
                .collect(),
            available_at: self.available_at(),
        }
    }
}

/// A simulated image as it is now, with everything tests want to check.
#[derive(Debug, Clone, PartialEq)]
pub struct SimImage {
    /// The image id.
    pub image_id: String,
    /// The Region it is in.
    pub region: Region,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The account that owns it.
    pub owner_id: String,
    /// Its state now.
    pub state: ImageState,
    /// Why it failed, when it did.
    pub state_reason: Option<Failure>,
    /// Whether its snapshots are encrypted.
    pub encrypted: bool,
    /// The Outpost it is stored on.
    pub outpost_arn: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// When it was made (wall-clock time).
    pub creation_date: DateTime<Utc>,
    /// Who may launch it besides its owner.
    pub launch_permissions: LaunchPermissions,
    /// When it is deprecated, if EnableImageDeprecation was called.
    pub deprecation_time: Option<DateTime<Utc>>,
    /// Its snapshots, one per block device.
    pub snapshots: Vec<SimSnapshot>,
    /// The simulated second its copy turned (or will turn) `available`; `None` for an image
    /// that was not copied, or whose copy fails.
    pub available_at: Option<f64>,
}

/// One snapshot of a [`SimImage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSnapshot {
    /// The snapshot id.
    pub snapshot_id: String,
    /// The block device it backs.
    pub device_name: String,
    /// Its size.
    pub size_gib: u32,
    /// Whether it is encrypted.
    pub encrypted: bool,
    /// The KMS key it is encrypted with: a key ARN when the key is known, else as given.
    pub kms_key_id: Option<String>,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Copy progress, 0–100.
    pub progress_percent: u8,
}

/// What one account holds in one Region of the simulated world: proof that a roll-back left
/// nothing behind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimInventory {
    /// Its images that are not deregistered, by id.
    pub images: Vec<SimImage>,
    /// Its snapshots that are not deleted, by id (a deregistered image's snapshots stay unless
    /// they were deleted with it).
    pub snapshot_ids: Vec<String>,
}
