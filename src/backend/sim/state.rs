//! The simulated world as plain data behind the simulator's one lock: every Region, the dice,
//! the fixed settings, who is calling, and the read calls. Nothing here awaits, so the lock is
//! never held across an `.await`.

use std::collections::HashMap;

use tokio::time::Instant;

use super::{
    faults::Faults,
    images::Image,
    kms::{AccountKeys, Keyring},
    region::{Api, RateLimits, RegionState, SnapshotRecord},
};
use crate::{
    backend::{
        BackendError, INVALID_SNAPSHOT_NOT_FOUND, ImageStatus, SnapshotProgress, SourceImage, accounts::Accounts,
    },
    domain::{AccountId, OrganizationArn, OrganizationalUnitArn, Region, codes},
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
    /// The catalogue's owner: the service's own account.
    pub(super) own_account: AccountId,
    pub(super) copy_seconds: f64,
    pub(super) visibility_delay: f64,
    /// Simulated seconds after `available` during which attribute calls do not find the image.
    pub(super) settle_seconds: f64,
    pub(super) max_concurrent_copies: u32,
    pub(super) deny_source_regions: Vec<String>,
    pub(super) limits: RateLimits,
    pub(super) keyring: Keyring,
    /// The configured accounts: their extra KMS keys and organizations.
    pub(super) accounts: Accounts,
}

impl Fixed {
    /// The account `account` as a caller: its id and the organization it is in.
    pub(super) fn caller(&self, account: &str) -> Caller {
        let sim = self.accounts.find(account).map(|entry| entry.sim).unwrap_or_default();
        Caller {
            account: account.to_owned(),
            organization: sim.organization_arn,
            units: sim.organizational_unit_arns,
        }
    }

    /// The KMS keys of `account`: the catalogue's, plus the accounts file's extra ones.
    pub(super) fn keys_of(&self, account: &str) -> AccountKeys {
        let extra = self
            .accounts
            .find(account)
            .map(|entry| entry.sim.kms_keys)
            .unwrap_or_default();
        self.keyring.keys_of(account, &extra)
    }
}

/// The account a call is made as.
#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub(super) account: String,
    organization: Option<OrganizationArn>,
    units: Vec<OrganizationalUnitArn>,
}

impl Caller {
    /// Whether `image` is the caller's or shared with it (launch permission by account,
    /// organization, OU or `all`).
    pub(super) fn may_launch(&self, image: &Image) -> bool {
        let launch = &image.launch;
        image.owner_id == self.account
            || launch.public
            || launch.user_ids.iter().any(|id| id.as_str() == self.account)
            || self
                .organization
                .as_ref()
                .is_some_and(|org| launch.organization_arns.contains(org))
            || self
                .units
                .iter()
                .any(|unit| launch.organizational_unit_arns.contains(unit))
    }

    /// Whether the caller may create volumes from (so copy) the snapshot.
    pub(super) fn may_use(&self, snapshot: &SnapshotRecord) -> bool {
        snapshot.owner_id == self.account
            || snapshot.public
            || snapshot.users.iter().any(|id| id.as_str() == self.account)
    }
}

/// Everything that changes.
#[derive(Debug)]
pub(super) struct SimState {
    pub(super) regions: HashMap<Region, RegionState>,
    pub(super) faults: Faults,
    pub(super) copies_started: u64,
    /// Calls made to each API, by its name, throttled ones included.
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
        caller: &Caller,
        region: &Region,
        now: Now,
    ) -> Result<Option<BackendError>, BackendError> {
        self.region(fixed, region)
            .meter(api, &caller.account, region, now.instant)?;
        match self.faults.transient(api.name()) {
            Some(fault) if fault.after_effect => Ok(Some(fault.error)),
            Some(fault) => Err(fault.error),
            None => Ok(None),
        }
    }

    /// The image as the caller can see it: live, visible and its own or shared with it; EC2's
    /// NotFound otherwise.
    pub(super) fn seen_image(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        now: Now,
    ) -> Result<&mut Image, BackendError> {
        self.region(fixed, region)
            .images
            .get_mut(image_id)
            .filter(|image| image.is_live() && image.is_visible(now.sim) && caller.may_launch(image))
            .ok_or_else(|| not_found(image_id, region))
    }

    /// The image, if the caller owns it: what changing it needs. An image the caller can see
    /// but does not own is UnauthorizedOperation.
    pub(super) fn owned_image(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        now: Now,
        action: &str,
    ) -> Result<&mut Image, BackendError> {
        let image = self.seen_image(fixed, caller, region, image_id, now)?;
        if image.owner_id != caller.account {
            return Err(BackendError::from_code(
                codes::UNAUTHORIZED_OPERATION,
                format!(
                    "You are not authorized to {action} {image_id}: it belongs to account {}",
                    image.owner_id
                ),
            ));
        }
        Ok(image)
    }

    /// DescribeImages by id: unknown, not yet visible and unshared images are left out.
    pub(super) fn describe_images(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_ids: &[String],
        now: Now,
    ) -> Result<Vec<ImageStatus>, BackendError> {
        answer(self.admit(fixed, Api::DescribeImages, caller, region, now)?)?;
        let images = &self.region(fixed, region).images;
        Ok(image_ids
            .iter()
            .filter_map(|id| images.get(id))
            .filter(|image| image.is_visible(now.sim) && caller.may_launch(image))
            .map(|image| image.status(now.sim))
            .collect())
    }

    /// DescribeImages filtered by name and owned by the caller.
    pub(super) fn find_images_by_name(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        name: &str,
        now: Now,
    ) -> Result<Vec<ImageStatus>, BackendError> {
        answer(self.admit(fixed, Api::DescribeImages, caller, region, now)?)?;
        let mut found: Vec<&Image> = self
            .region(fixed, region)
            .images
            .values()
            .filter(|image| image.name == name && image.owner_id == caller.account && image.is_visible(now.sim))
            .collect();
        found.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then_with(|| a.id.cmp(&b.id)));
        Ok(found.into_iter().map(|image| image.status(now.sim)).collect())
    }

    /// DescribeSnapshots by id; like EC2, one unknown (or unshared) id fails the whole call.
    pub(super) fn snapshot_progress(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        snapshot_ids: &[String],
        now: Now,
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        answer(self.admit(fixed, Api::DescribeSnapshots, caller, region, now)?)?;
        let state = self.region(fixed, region);
        snapshot_ids
            .iter()
            .map(|id| {
                state
                    .snapshot(id)
                    .filter(|(image, _, record)| image.is_visible(now.sim) && caller.may_use(record))
                    .and_then(|(image, index, _)| image.snapshot_progress(index, now.sim))
                    .ok_or_else(|| snapshot_not_found(id))
            })
            .collect()
    }

    /// DescribeImages for one source image.
    pub(super) fn describe_source_image(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        now: Now,
    ) -> Result<Option<SourceImage>, BackendError> {
        answer(self.admit(fixed, Api::DescribeImages, caller, region, now)?)?;
        Ok(self
            .seen_image(fixed, caller, region, image_id, now)
            .ok()
            .map(|image| image.as_source(now.sim)))
    }
}

/// The answer of a call that took effect: the lost-answer fault if there is one.
pub(super) fn answer(lost_answer: Option<BackendError>) -> Result<(), BackendError> {
    lost_answer.map_or(Ok(()), Err)
}

/// EC2's answer for an image it does not know (or the caller may not see) in a Region.
pub(super) fn not_found(image_id: &str, region: &Region) -> BackendError {
    BackendError::from_code(
        codes::INVALID_AMI_ID_NOT_FOUND,
        format!("The image id '[{image_id}]' does not exist in {region}"),
    )
}

/// EC2's answer for a snapshot it does not know (or the caller may not see).
pub(super) fn snapshot_not_found(snapshot_id: &str) -> BackendError {
    BackendError::from_code(
        INVALID_SNAPSHOT_NOT_FOUND,
        format!("The snapshot '{snapshot_id}' does not exist."),
    )
}
