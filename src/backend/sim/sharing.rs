//! The finishing steps as EC2 does them: launch permissions (ModifyImageAttribute /
//! DescribeImageAttribute), snapshot permissions (ModifySnapshotAttribute /
//! DescribeSnapshotAttribute) and EnableImageDeprecation. Only the owner may make them; adding a
//! permission that exists changes nothing; right after an image turns `available` they answer
//! as if it were not there yet ([`super::images::Image::settling`]).

use chrono::{DateTime, Utc};

use super::{
    images::Image,
    region::{Api, SnapshotRecord},
    state::{Caller, Fixed, Now, SimState, answer, snapshot_not_found},
};
use crate::{
    backend::BackendError,
    domain::{AccountId, CreateVolumePermissions, DeprecateAt, LaunchPermissions, Region, codes},
};

/// EC2's code for a parameter it refuses for what it names (an encrypted AMI made public, a
/// snapshot under the AWS managed key shared).
const INVALID_PARAMETER: &str = "InvalidParameter";

impl SimState {
    /// ModifyImageAttribute `launchPermission` Add.
    pub(super) fn add_launch_permissions(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        permissions: &LaunchPermissions,
        now: Now,
    ) -> Result<(), BackendError> {
        let lost_answer = self.admit(fixed, Api::ModifyImageAttribute, caller, region, now)?;
        let image = self.settled_image(fixed, caller, region, image_id, now, "modify the attributes of")?;
        if permissions.public && image.encrypted {
            return Err(BackendError::from_code(
                INVALID_PARAMETER,
                format!("Encrypted AMIs cannot be made public: {image_id} has encrypted snapshots"),
            ));
        }
        image.launch.add(permissions);
        answer(lost_answer)
    }

    /// DescribeImageAttribute `launchPermission`.
    pub(super) fn launch_permissions(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        now: Now,
    ) -> Result<LaunchPermissions, BackendError> {
        answer(self.admit(fixed, Api::DescribeImageAttribute, caller, region, now)?)?;
        let image = self.settled_image(fixed, caller, region, image_id, now, "describe the attributes of")?;
        Ok(image.launch.permissions())
    }

    /// EnableImageDeprecation, with EC2's rules for the time.
    pub(super) fn enable_image_deprecation(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        deprecate_at: DateTime<Utc>,
        now: Now,
    ) -> Result<(), BackendError> {
        let lost_answer = self.admit(fixed, Api::EnableImageDeprecation, caller, region, now)?;
        let image = self.settled_image(fixed, caller, region, image_id, now, "deprecate")?;
        let refused = |error: crate::domain::FieldError| BackendError::from_code(error.code, error.description);
        let at = DeprecateAt::parse(deprecate_at, Utc::now()).map_err(refused)?;
        if image.launch.public {
            at.check_public(image.creation_date).map_err(refused)?;
        }
        image.deprecation_time = Some(at.time());
        answer(lost_answer)
    }

    /// ModifySnapshotAttribute `createVolumePermission` add.
    pub(super) fn add_create_volume_permissions(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        snapshot_id: &str,
        user_ids: &[AccountId],
        now: Now,
    ) -> Result<(), BackendError> {
        let lost_answer = self.admit(fixed, Api::ModifySnapshotAttribute, caller, region, now)?;
        let key_arn = {
            let (image, index, _) = self.settled_snapshot(fixed, caller, region, snapshot_id, now)?;
            image.snapshots[index].kms_key_id.clone()
        };
        let aws_managed = key_arn
            .and_then(|arn| fixed.keys_of(&caller.account).describe(region, &arn))
            .is_some_and(|key| key.aws_managed);
        if aws_managed && !user_ids.is_empty() {
            return Err(BackendError::from_code(
                INVALID_PARAMETER,
                "Snapshots encrypted with the AWS Managed CMK can't be shared. Specify another snapshot.",
            ));
        }
        if let Some(record) = self.region(fixed, region).snapshots.get_mut(snapshot_id) {
            record.users.extend(user_ids.iter().cloned());
        }
        answer(lost_answer)
    }

    /// DescribeSnapshotAttribute `createVolumePermission`.
    pub(super) fn create_volume_permissions(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        snapshot_id: &str,
        now: Now,
    ) -> Result<CreateVolumePermissions, BackendError> {
        answer(self.admit(fixed, Api::DescribeSnapshotAttribute, caller, region, now)?)?;
        let (_, _, record) = self.settled_snapshot(fixed, caller, region, snapshot_id, now)?;
        Ok(CreateVolumePermissions {
            user_ids: record.users.iter().cloned().collect(),
            public: record.public,
        })
    }

    /// The caller's image, once EC2 has settled after it turned `available`.
    fn settled_image(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        now: Now,
        action: &str,
    ) -> Result<&mut Image, BackendError> {
        let image = self.owned_image(fixed, caller, region, image_id, now, action)?;
        match image.settling(now.sim, fixed.settle_seconds, None) {
            Some(error) => Err(error),
            None => Ok(image),
        }
    }

    /// The caller's snapshot, once EC2 has settled after its image turned `available`. Another
    /// account's snapshot the caller may use is UnauthorizedOperation; one it may not, NotFound.
    fn settled_snapshot(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        snapshot_id: &str,
        now: Now,
    ) -> Result<(&Image, usize, &SnapshotRecord), BackendError> {
        let (image, index, record) = self
            .region(fixed, region)
            .snapshot(snapshot_id)
            .filter(|(image, _, record)| image.is_visible(now.sim) && caller.may_use(record))
            .ok_or_else(|| snapshot_not_found(snapshot_id))?;
        if record.owner_id != caller.account {
            return Err(BackendError::from_code(
                codes::UNAUTHORIZED_OPERATION,
                format!(
                    "You are not authorized to modify or describe the attributes of snapshot {snapshot_id}: \
                     it belongs to account {}",
                    record.owner_id
                ),
            ));
        }
        if let Some(error) = image.settling(now.sim, fixed.settle_seconds, Some(snapshot_id)) {
            return Err(error);
        }
        Ok((image, index, record))
    }
}
