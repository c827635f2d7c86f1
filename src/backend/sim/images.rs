//! The images and snapshots the simulator holds, and how a copy's state and progress follow
//! from simulated time. State is never stored as it changes: it is worked out from the copy's
//! plan whenever someone looks.

use chrono::{DateTime, Utc};

use crate::{
    backend::{ImageState, ImageStatus, SnapshotProgress, SourceImage},
    domain::{Failure, Region, Tag},
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
            snapshot_ids: self.snapshots.iter().map(|s| s.id.clone()).collect(),
            creation_date: Some(self.creation_date),
        }
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
        }
    }
}

/// A simulated image as it is now, with everything tests want to check.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Its snapshots, one per block device.
    pub snapshots: Vec<SimSnapshot>,
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
