//! The simulated EC2 as plain data behind the simulator's one lock: every Region, the dice, the
//! fixed settings, and the read and deregister calls. Nothing here awaits, so the lock is never
//! held across an `.await`.

use std::collections::HashMap;

use tokio::time::Instant;

use super::{
    faults::Faults,
    images::Image,
    kms::Keyring,
    region::{Api, RateLimits, RegionState},
};
use crate::{
    backend::{BackendError, ImageStatus, SnapshotProgress, SourceImage},
    domain::{Region, codes},
};

/// The moment a call is handled, in both clocks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    /// Simulated seconds since start: image states and progress.
    pub(super) sim: f64,
    /// Real (tokio) time: request-rate buckets, whose rates are already scaled.
    pub(super) instant: Instant,
}

/// What the settings fix for the simulator's lifetime.
#[derive(Debug)]
pub(super) struct Fixed {
    pub(super) account_id: String,
    pub(super) copy_seconds: f64,
    pub(super) visibility_delay: f64,
    pub(super) max_concurrent_copies: u32,
    pub(super) deny_source_regions: Vec<String>,
    pub(super) limits: RateLimits,
    pub(super) keyring: Keyring,
}

/// Everything that changes.
#[derive(Debug)]
pub(super) struct SimState {
    pub(super) regions: HashMap<Region, RegionState>,
    pub(super) faults: Faults,
    pub(super) copies_started: u64,
    /// Calls made to each API, by EC2's name of the call, throttled ones included.
    pub(super) calls: HashMap<&'static str, u64>,
}

impl SimState {
    /// The Region's state, made empty on first use.
    pub(super) fn region(&mut self, fixed: &Fixed, region: &Region) -> &mut RegionState {
        self.regions
            .entry(region.clone())
            .or_insert_with(|| RegionState::new(&fixed.limits))
    }

    /// Lets a call in: throttles it, or injects a transient fault. `Ok(Some(error))` means the
    /// call is to be carried out and then answered with `error`, as when EC2 loses its answer.
    pub(super) fn admit(
        &mut self,
        fixed: &Fixed,
        api: Api,
        region: &Region,
        now: Now,
    ) -> Result<Option<BackendError>, BackendError> {
        self.region(fixed, region).meter(api, region, now.instant)?;
        match self.faults.transient(api.name()) {
            Some(fault) if fault.after_effect => Ok(Some(fault.error)),
            Some(fault) => Err(fault.error),
            None => Ok(None),
        }
    }

    /// DescribeImages by id: unknown and not yet visible images are left out.
    pub(super) fn describe_images(
        &mut self,
        fixed: &Fixed,
        region: &Region,
        image_ids: &[String],
        now: Now,
    ) -> Result<Vec<ImageStatus>, BackendError> {
        answer(self.admit(fixed, Api::DescribeImages, region, now)?)?;
        let images = &self.region(fixed, region).images;
        Ok(image_ids
            .iter()
            .filter_map(|id| images.get(id))
            .filter(|image| image.is_visible(now.sim))
            .map(|image| image.status(now.sim))
            .collect())
    }

    /// DescribeImages filtered by name and owned by the account.
    pub(super) fn find_images_by_name(
        &mut self,
        fixed: &Fixed,
        region: &Region,
        name: &str,
        now: Now,
    ) -> Result<Vec<ImageStatus>, BackendError> {
        answer(self.admit(fixed, Api::DescribeImages, region, now)?)?;
        let mut found: Vec<&Image> = self
            .region(fixed, region)
            .images
            .values()
            .filter(|image| image.name == name && image.owner_id == fixed.account_id && image.is_visible(now.sim))
            .collect();
        found.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then_with(|| a.id.cmp(&b.id)));
        Ok(found.into_iter().map(|image| image.status(now.sim)).collect())
    }

    /// DescribeSnapshots by id; like EC2, one unknown id fails the whole call.
    pub(super) fn snapshot_progress(
        &mut self,
        fixed: &Fixed,
        region: &Region,
        snapshot_ids: &[String],
        now: Now,
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        answer(self.admit(fixed, Api::DescribeSnapshots, region, now)?)?;
        let state = self.region(fixed, region);
        snapshot_ids
            .iter()
            .map(|id| {
                state
                    .snapshot(id)
                    .filter(|(image, _)| image.is_visible(now.sim))
                    .and_then(|(image, index)| image.snapshot_progress(index, now.sim))
                    .ok_or_else(|| {
                        BackendError::from_code(
                            "InvalidSnapshot.NotFound",
                            format!("The snapshot '{id}' does not exist."),
                        )
                    })
            })
            .collect()
    }

    /// DeregisterImage: a pending copy stops where it is and frees its concurrency slot.
    pub(super) fn deregister_image(
        &mut self,
        fixed: &Fixed,
        region: &Region,
        image_id: &str,
        now: Now,
    ) -> Result<(), BackendError> {
        let lost_answer = self.admit(fixed, Api::DeregisterImage, region, now)?;
        let image = self
            .region(fixed, region)
            .images
            .get_mut(image_id)
            .filter(|image| image.is_live())
            .ok_or_else(|| not_found(image_id, region))?;
        if image.owner_id != fixed.account_id {
            return Err(BackendError::from_code(
                codes::UNAUTHORIZED_OPERATION,
                format!(
                    "You are not authorized to deregister {image_id}: it belongs to account {}",
                    image.owner_id
                ),
            ));
        }
        image.deregistered_at = Some(now.sim);
        tracing::debug!(image_id, %region, "simulated image deregistered");
        answer(lost_answer)
    }

    /// DescribeImages for one source image.
    pub(super) fn describe_source_image(
        &mut self,
        fixed: &Fixed,
        region: &Region,
        image_id: &str,
        now: Now,
    ) -> Result<Option<SourceImage>, BackendError> {
        answer(self.admit(fixed, Api::DescribeImages, region, now)?)?;
        Ok(self
            .region(fixed, region)
            .images
            .get(image_id)
            .filter(|image| image.is_live() && image.is_visible(now.sim))
            .map(|image| image.as_source(now.sim)))
    }
}

/// The answer of a call that took effect: the lost-answer fault if there is one.
pub(super) fn answer(lost_answer: Option<BackendError>) -> Result<(), BackendError> {
    lost_answer.map_or(Ok(()), Err)
}

/// EC2's answer for an image it does not know in a Region.
pub(super) fn not_found(image_id: &str, region: &Region) -> BackendError {
    BackendError::from_code(
        codes::INVALID_AMI_ID_NOT_FOUND,
        format!("The image id '[{image_id}]' does not exist in {region}"),
    )
}
