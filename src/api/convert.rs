//! Conversions between the amicopy.v1 messages and the domain types. Nothing here decides
//! anything: validation lives in [`crate::domain`].

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::{
    domain::{CopyImageInput, Job, JobEvent, JobState, LaunchPermissionsInput, Tag, TagSpecificationInput},
    proto,
};

/// The request's fields, unchecked, for [`crate::domain::CopyRequest::parse`].
pub fn copy_input(request: proto::CopyImageRequest) -> CopyImageInput {
    CopyImageInput {
        client_token: request.client_token,
        copy_image_tags: request.copy_image_tags,
        description: request.description,
        destination_outpost_arn: request.destination_outpost_arn,
        dry_run: request.dry_run,
        encrypted: request.encrypted,
        kms_key_id: request.kms_key_id,
        name: request.name,
        source_image_id: request.source_image_id,
        source_region: request.source_region,
        tag_specifications: request
            .tag_specifications
            .into_iter()
            .map(|spec| TagSpecificationInput {
                resource_type: spec.resource_type,
                tags: spec.tags.into_iter().map(|tag| Tag::new(tag.key, tag.value)).collect(),
            })
            .collect(),
        destination_region: request.destination_region,
        snapshot_copy_completion_duration_minutes: request.snapshot_copy_completion_duration_minutes,
        destination_availability_zone: request.destination_availability_zone,
        destination_availability_zone_id: request.destination_availability_zone_id,
        destination_account_id: request.destination_account_id,
        launch_permissions: launch_permissions_input(request.launch_permissions.unwrap_or_default()),
        snapshot_user_ids: request.snapshot_user_ids,
        deprecate_time: request.deprecate_time.map(|t| (t.seconds, t.nanos)),
    }
}

/// Launch permissions as sent.
pub fn launch_permissions_input(permissions: proto::LaunchPermissions) -> LaunchPermissionsInput {
    LaunchPermissionsInput {
        user_ids: permissions.user_ids,
        organization_arns: permissions.organization_arns,
        organizational_unit_arns: permissions.organizational_unit_arns,
        public: permissions.public,
    }
}

/// Launch permissions back in their wire form; `None` when there are none.
pub fn launch_permissions_message(input: LaunchPermissionsInput) -> Option<proto::LaunchPermissions> {
    let empty = input.user_ids.is_empty()
        && input.organization_arns.is_empty()
        && input.organizational_unit_arns.is_empty()
        && !input.public;
    (!empty).then_some(proto::LaunchPermissions {
        user_ids: input.user_ids,
        organization_arns: input.organization_arns,
        organizational_unit_arns: input.organizational_unit_arns,
        public: input.public,
    })
}

/// A request back in its wire form.
pub fn copy_request(input: CopyImageInput) -> proto::CopyImageRequest {
    proto::CopyImageRequest {
        client_token: input.client_token,
        copy_image_tags: input.copy_image_tags,
        description: input.description,
        destination_outpost_arn: input.destination_outpost_arn,
        dry_run: input.dry_run,
        encrypted: input.encrypted,
        kms_key_id: input.kms_key_id,
        name: input.name,
        source_image_id: input.source_image_id,
        source_region: input.source_region,
        tag_specifications: input
            .tag_specifications
            .into_iter()
            .map(|spec| proto::TagSpecification {
                resource_type: spec.resource_type,
                tags: spec
                    .tags
                    .into_iter()
                    .map(|tag| proto::Tag {
                        key: tag.key,
                        value: tag.value,
                    })
                    .collect(),
            })
            .collect(),
        destination_region: input.destination_region,
        snapshot_copy_completion_duration_minutes: input.snapshot_copy_completion_duration_minutes,
        destination_availability_zone: input.destination_availability_zone,
        destination_availability_zone_id: input.destination_availability_zone_id,
        destination_account_id: input.destination_account_id,
        launch_permissions: launch_permissions_message(input.launch_permissions),
        snapshot_user_ids: input.snapshot_user_ids,
        deprecate_time: input
            .deprecate_time
            .map(|(seconds, nanos)| Timestamp { seconds, nanos }),
    }
}

/// A job as callers see it.
pub fn copy_job(job: &Job) -> proto::CopyJob {
    let (failure_code, failure_message) = job
        .failure()
        .map(|f| (f.code.clone(), f.message.clone()))
        .unwrap_or_default();
    proto::CopyJob {
        job_id: job.id().to_string(),
        request: Some(copy_request(job.request().to_input())),
        destination_region: job.request().destination_region.to_string(),
        state: job_state(job.state()) as i32,
        image_id: job.image_id().unwrap_or_default().to_owned(),
        failure_code,
        failure_message,
        progress_percent: job.progress_percent().map(u32::from),
        attempts: job.attempts(),
        create_time: Some(timestamp(job.created_at())),
        update_time: Some(timestamp(job.updated_at())),
        destination_account_id: job
            .request()
            .destination_account
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        snapshot_ids: job.snapshot_ids().to_vec(),
        distribution_id: job.distribution_id().map(|id| id.to_string()).unwrap_or_default(),
    }
}

/// An event as watchers see it.
pub fn copy_job_event(event: &JobEvent) -> proto::CopyJobEvent {
    proto::CopyJobEvent {
        job_id: event.job_id.to_string(),
        sequence: event.sequence,
        state: job_state(event.state) as i32,
        image_id: event.image_id.clone().unwrap_or_default(),
        progress_percent: event.progress_percent.map(u32::from),
        failure_code: event.failure_code.clone().unwrap_or_default(),
        detail: event.detail.clone(),
        create_time: Some(timestamp(event.created_at)),
    }
}

/// The wire enum for a state.
pub fn job_state(state: JobState) -> proto::CopyJobState {
    match state {
        JobState::Queued => proto::CopyJobState::Queued,
        JobState::Copying => proto::CopyJobState::Copying,
        JobState::Available => proto::CopyJobState::Available,
        JobState::Failed => proto::CopyJobState::Failed,
        JobState::Cancelling => proto::CopyJobState::Cancelling,
        JobState::Cancelled => proto::CopyJobState::Cancelled,
        JobState::Finishing => proto::CopyJobState::Finishing,
    }
}

/// The state a wire enum names; `None` for UNSPECIFIED and unknown numbers.
pub fn state_from_wire(value: i32) -> Option<JobState> {
    match proto::CopyJobState::try_from(value).ok()? {
        proto::CopyJobState::Unspecified => None,
        proto::CopyJobState::Queued => Some(JobState::Queued),
        proto::CopyJobState::Copying => Some(JobState::Copying),
        proto::CopyJobState::Available => Some(JobState::Available),
        proto::CopyJobState::Failed => Some(JobState::Failed),
        proto::CopyJobState::Cancelling => Some(JobState::Cancelling),
        proto::CopyJobState::Cancelled => Some(JobState::Cancelled),
        proto::CopyJobState::Finishing => Some(JobState::Finishing),
    }
}

/// A time in its wire form.
pub fn timestamp(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_survives_the_wire() {
        for state in JobState::ALL {
            assert_eq!(state_from_wire(job_state(state) as i32), Some(state));
        }
        assert_eq!(state_from_wire(0), None);
        assert_eq!(state_from_wire(99), None);
    }
}
