//! CopyImage as EC2 does it: throttling, permissions, DryRun, ClientToken idempotency, the
//! checks only EC2 can make (source visible to the caller and its storage readable, name free
//! in the caller's account, the caller's copies in progress under the limit), then a new
//! pending image of the caller's whose snapshots, encryption and tags follow EC2's rules.

use chrono::Utc;

use super::{
    images::{CopyPlan, Image, Launch, Snapshot},
    region::{Api, TokenUse},
    state::{Caller, Fixed, Now, SimState, not_found},
};
use crate::{
    backend::{BackendError, ImageState, StartCopy},
    domain::{CopyRequest, Destination, Failure, Region, Tag, codes},
};

/// Share of a copy's duration after which a copy with an unusable KMS key fails.
const KMS_FAILURE_SHARE: f64 = 0.1;

/// EC2's code for a CopyImage of another account's image whose storage the caller may not read.
const INVALID_REQUEST: &str = "InvalidRequest";

impl SimState {
    /// CopyImage. Returns the new image id, or the first image's id when the same ClientToken
    /// comes again with the same parameters.
    pub(super) fn copy_image(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        copy: &StartCopy,
        now: Now,
    ) -> Result<String, BackendError> {
        let request = &copy.request;
        let destination = &request.destination_region;
        let lost_answer = self.admit(fixed, Api::CopyImage, caller, destination, now)?;
        if fixed
            .deny_source_regions
            .iter()
            .any(|denied| denied == request.source_region.as_str())
        {
            return Err(BackendError::from_code(
                codes::UNAUTHORIZED_OPERATION,
                format!(
                    "You are not authorized to perform this operation: CopyImage from {} is denied \
                     (simulated by --sim-deny-source-regions)",
                    request.source_region
                ),
            ));
        }
        if copy.dry_run {
            return Err(BackendError::from_code(
                codes::DRY_RUN_OPERATION,
                "Request would have succeeded, but DryRun flag is set.",
            ));
        }
        let fingerprint = request.fingerprint();
        if !copy.client_token.is_empty()
            && let Some(used) = self
                .region(fixed, destination)
                .quota(&caller.account)
                .tokens
                .get(&copy.client_token)
        {
            if used.fingerprint != fingerprint {
                return Err(BackendError::from_code(
                    codes::IDEMPOTENT_PARAMETER_MISMATCH,
                    format!(
                        "The client token {} was used in {destination} for a CopyImage call with other parameters",
                        copy.client_token
                    ),
                ));
            }
            let image_id = used.image_id.clone();
            return lost_answer.map_or(Ok(image_id), Err);
        }

        let source = self.checked_source(fixed, caller, request, now)?;
        self.check_destination(fixed, caller, request, now)?;
        let image = self.new_image(fixed, caller, request, &source, now);
        let image_id = image.id.clone();
        tracing::debug!(image_id, source = %source.id, %destination, account = caller.account, "simulated copy started");
        let region = self.region(fixed, destination);
        region.insert(image);
        if !copy.client_token.is_empty() {
            region.quota(&caller.account).tokens.insert(
                copy.client_token.clone(),
                TokenUse {
                    fingerprint,
                    image_id: image_id.clone(),
                },
            );
        }
        self.copies_started += 1;
        lost_answer.map_or(Ok(image_id), Err)
    }

    /// The source image, if the caller may make a copy of it.
    fn checked_source(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        request: &CopyRequest,
        now: Now,
    ) -> Result<Image, BackendError> {
        let id = request.source_image_id.as_str();
        let source = self
            .region(fixed, &request.source_region)
            .images
            .get(id)
            .filter(|image| image.is_live() && image.is_visible(now.sim) && caller.may_launch(image))
            .cloned()
            .ok_or_else(|| not_found(id, &request.source_region))?;
        if source.owner_id != caller.account {
            self.check_storage_readable(fixed, caller, &source, &request.source_region)?;
        }
        if let Some(outpost) = &source.outpost_arn {
            return Err(BackendError::from_code(
                codes::INVALID_PARAMETER_VALUE,
                format!("{id} is stored on Outpost {outpost}: AMIs cannot be copied from an Outpost"),
            ));
        }
        let (state, _) = source.state_at(now.sim);
        if state != ImageState::Available {
            return Err(BackendError::from_code(
                codes::INVALID_AMI_ID_UNAVAILABLE,
                format!("The image {id} is not available to copy (its state is {state:?})"),
            ));
        }
        Ok(source)
    }

    /// Another account's image can be copied only with createVolumePermission on each of its
    /// snapshots and, when they are encrypted, the key shared (never `aws/ebs`).
    fn check_storage_readable(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        source: &Image,
        region: &Region,
    ) -> Result<(), BackendError> {
        let refused = |why: String| {
            BackendError::from_code(
                INVALID_REQUEST,
                format!(
                    "You do not have permission to access the storage of this ami {}: {why}",
                    source.id
                ),
            )
        };
        let records = &self.region(fixed, region).snapshots;
        for snapshot in &source.snapshots {
            if !records.get(&snapshot.id).is_some_and(|record| caller.may_use(record)) {
                return Err(refused(format!(
                    "snapshot {} is not shared with account {} (createVolumePermission)",
                    snapshot.id, caller.account
                )));
            }
        }
        let owner_keys = fixed.keys_of(&source.owner_id);
        for key_arn in source.snapshots.iter().filter_map(|s| s.kms_key_id.as_deref()) {
            owner_keys.check_shared(key_arn, &caller.account).map_err(refused)?;
        }
        Ok(())
    }

    /// The checks of the destination: Outpost placement, a name free in the caller's account,
    /// room for one more of its copies.
    fn check_destination(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        request: &CopyRequest,
        now: Now,
    ) -> Result<(), BackendError> {
        let destination = &request.destination_region;
        if let Destination::Outpost(outpost) = &request.destination
            && (outpost.region() != destination.as_str() || outpost.region() != request.source_region.as_str())
        {
            return Err(BackendError::from_code(
                codes::INVALID_PARAMETER_COMBINATION,
                format!(
                    "Outpost {outpost} is anchored to {}: only AMIs in that Region can be copied to it, from that Region",
                    outpost.region()
                ),
            ));
        }
        let region = self.region(fixed, destination);
        if let Some(taken) = region.live_named(&caller.account, request.name.as_str()) {
            return Err(BackendError::from_code(
                codes::INVALID_AMI_NAME_DUPLICATE,
                format!("AMI name {} is already in use by AMI {}", request.name, taken.id),
            ));
        }
        let copying = region.copies_in_progress(&caller.account, now.sim);
        if copying >= usize::try_from(fixed.max_concurrent_copies).unwrap_or(usize::MAX) {
            return Err(BackendError::from_code(
                codes::RESOURCE_LIMIT_EXCEEDED,
                format!(
                    "You have reached the limit of {} AMI copies in progress in {destination}",
                    fixed.max_concurrent_copies
                ),
            ));
        }
        Ok(())
    }

    /// The new pending image: its snapshots, encryption, tags and how its copy will go.
    fn new_image(&mut self, fixed: &Fixed, caller: &Caller, request: &CopyRequest, source: &Image, now: Now) -> Image {
        let destination = &request.destination_region;
        let outpost_arn = match &request.destination {
            Destination::Outpost(arn) => Some(arn.to_string()),
            _ => None,
        };
        let encrypted = source.encrypted || outpost_arn.is_some() || request.encrypted == Some(true);
        let given_key = request.kms_key_id.as_ref().map(ToString::to_string);
        let (kms_key_id, kms_failure) = if encrypted {
            match fixed
                .keys_of(&caller.account)
                .resolve(destination, given_key.as_deref())
            {
                Ok(arn) => (Some(arn), None),
                Err(reason) => (given_key, Some(reason)),
            }
        } else {
            (None, None)
        };

        let image_id = self.fresh_id(fixed, destination, "ami");
        let snapshot_tags: Vec<Tag> = request.snapshot_tags().cloned().collect();
        let snapshots: Vec<Snapshot> = source
            .snapshots
            .iter()
            .map(|from| Snapshot {
                id: self.fresh_id(fixed, destination, "snap"),
                device_name: from.device_name.clone(),
                size_gib: from.size_gib,
                encrypted,
                kms_key_id: kms_key_id.clone(),
                tags: snapshot_tags.clone(),
            })
            .collect();

        let duration = match request.snapshot_copy_completion_duration_minutes {
            Some(minutes) => fixed.copy_seconds.min(f64::from(minutes) * 60.0),
            None => fixed.copy_seconds,
        };
        let first_snapshot = snapshots.first().map(|s| s.id.clone()).unwrap_or_default();
        let failure = match kms_failure {
            Some(reason) => Some((now.sim + duration * KMS_FAILURE_SHARE, reason)),
            None => self
                .faults
                .copy_failure(&first_snapshot)
                .map(|(share, reason): (f64, Failure)| (now.sim + duration * share, reason)),
        };

        Image {
            id: image_id,
            region: destination.clone(),
            name: request.name.to_string(),
            description: request.description.clone(),
            owner_id: caller.account.clone(),
            settled_state: ImageState::Available,
            encrypted,
            outpost_arn,
            tags: new_image_tags(caller, request, source),
            snapshots,
            creation_date: Utc::now(),
            visible_from: now.sim + fixed.visibility_delay,
            copy: Some(CopyPlan {
                started_at: now.sim,
                duration,
                failure,
            }),
            deregistered_at: None,
            launch: Launch::default(),
            deprecation_time: None,
        }
    }

    /// A resource id no image or snapshot in the Region has.
    fn fresh_id(&mut self, fixed: &Fixed, region: &Region, prefix: &str) -> String {
        loop {
            let id = self.faults.id(prefix);
            if !self.region(fixed, region).holds_id(&id) {
                return id;
            }
        }
    }
}

/// The new image's tags: with CopyImageTags the source's user tags (never `aws:` ones, never
/// another account's), then the request's image tags, which win on a shared key.
fn new_image_tags(caller: &Caller, request: &CopyRequest, source: &Image) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    if request.copy_image_tags && source.owner_id == caller.account {
        tags.extend(source.tags.iter().filter(|tag| !tag.is_system()).cloned());
    }
    for tag in request.image_tags() {
        tags.retain(|existing| existing.key != tag.key);
        tags.push(tag.clone());
    }
    tags
}
