//! Conversions between the DistributionService messages and the domain's distributions. Nothing
//! here decides anything: validation lives in [`crate::domain::distribution`].

use crate::{
    api::convert::{copy_job_event, job_state, launch_permissions_input, launch_permissions_message, timestamp},
    domain::{
        Counts, Distribution, DistributionState, Tag, TagSpecificationInput,
        distribution::{
            DistributionEvent, DistributionEventKind, DistributionInput, FailurePolicyInput, TargetInput, TargetJob,
        },
    },
    proto,
};

/// The request's fields, unchecked, for [`crate::domain::DistributionRequest::parse_at`].
pub fn distribution_input(request: proto::CreateDistributionRequest) -> DistributionInput {
    DistributionInput {
        source_image_id: request.source_image_id,
        source_region: request.source_region,
        name: request.name,
        description: request.description,
        encrypted: request.encrypted,
        copy_image_tags: request.copy_image_tags,
        tag_specifications: request
            .tag_specifications
            .into_iter()
            .map(|spec| TagSpecificationInput {
                resource_type: spec.resource_type,
                tags: spec.tags.into_iter().map(|tag| Tag::new(tag.key, tag.value)).collect(),
            })
            .collect(),
        launch_permissions: launch_permissions_input(request.launch_permissions.unwrap_or_default()),
        snapshot_user_ids: request.snapshot_user_ids,
        deprecate_time: request.deprecate_time.map(|t| (t.seconds, t.nanos)),
        snapshot_copy_completion_duration_minutes: request.snapshot_copy_completion_duration_minutes,
        client_token: request.client_token,
        targets: request
            .targets
            .into_iter()
            .map(|target| TargetInput {
                account_id: target.account_id,
                regions: target.regions,
                kms_key_ids: target.kms_key_ids.into_iter().collect(),
            })
            .collect(),
        failure_policy: match proto::FailurePolicy::try_from(request.failure_policy) {
            Ok(proto::FailurePolicy::Unspecified) => FailurePolicyInput::Unspecified,
            Ok(proto::FailurePolicy::Continue) => FailurePolicyInput::Continue,
            Ok(proto::FailurePolicy::RollBack) => FailurePolicyInput::RollBack,
            Err(_) => FailurePolicyInput::Unknown(request.failure_policy),
        },
    }
}

/// A request back in its wire form.
pub fn create_request(input: DistributionInput) -> proto::CreateDistributionRequest {
    proto::CreateDistributionRequest {
        source_image_id: input.source_image_id,
        source_region: input.source_region,
        name: input.name,
        description: input.description,
        encrypted: input.encrypted,
        copy_image_tags: input.copy_image_tags,
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
        launch_permissions: launch_permissions_message(input.launch_permissions),
        snapshot_user_ids: input.snapshot_user_ids,
        deprecate_time: input
            .deprecate_time
            .map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
        snapshot_copy_completion_duration_minutes: input.snapshot_copy_completion_duration_minutes,
        client_token: input.client_token,
        targets: input
            .targets
            .into_iter()
            .map(|target| proto::DistributionTarget {
                account_id: target.account_id,
                regions: target.regions,
                kms_key_ids: target.kms_key_ids.into_iter().collect(),
            })
            .collect(),
        failure_policy: match input.failure_policy {
            FailurePolicyInput::Unspecified => proto::FailurePolicy::Unspecified as i32,
            FailurePolicyInput::Continue => proto::FailurePolicy::Continue as i32,
            FailurePolicyInput::RollBack => proto::FailurePolicy::RollBack as i32,
            FailurePolicyInput::Unknown(value) => value,
        },
    }
}

/// A distribution as callers see it; `targets` empty for the list, which leaves them out.
pub fn distribution(distribution: &Distribution, targets: &[TargetJob]) -> proto::Distribution {
    proto::Distribution {
        distribution_id: distribution.id().to_string(),
        request: Some(create_request(distribution.request().to_input())),
        state: state(distribution.state()) as i32,
        counts: Some(counts(&distribution.counts())),
        targets: targets.iter().map(target_status).collect(),
        create_time: Some(timestamp(distribution.created_at())),
        update_time: Some(timestamp(distribution.updated_at())),
        last_sequence: distribution.last_sequence(),
    }
}

/// One target and its current job.
pub fn target_status(TargetJob { target, job }: &TargetJob) -> proto::TargetStatus {
    let (failure_code, failure_message) = match (job.state(), job.failure()) {
        (_, Some(failure)) => (failure.code.clone(), failure.message.clone()),
        _ => Default::default(),
    };
    proto::TargetStatus {
        account_id: target.account.as_ref().map(ToString::to_string).unwrap_or_default(),
        region: target.region.to_string(),
        job_id: job.id().to_string(),
        state: job_state(job.state()) as i32,
        image_id: job.image_id().unwrap_or_default().to_owned(),
        progress_percent: job.progress_percent().map(u32::from),
        failure_code,
        failure_message,
        name: target.name.clone(),
        generation: target.generation,
        rolled_back: target.rolled_back,
    }
}

/// The counts in their wire form.
pub fn counts(counts: &Counts) -> proto::TargetCounts {
    proto::TargetCounts {
        queued: counts.queued,
        copying: counts.copying,
        finishing: counts.finishing,
        available: counts.available,
        failed: counts.failed,
        cancelling: counts.cancelling,
        cancelled: counts.cancelled,
        total: counts.total(),
    }
}

/// An event as watchers see it.
pub fn event(event: &DistributionEvent) -> proto::WatchDistributionResponse {
    let message = match &event.kind {
        DistributionEventKind::Target { account, region, event } => {
            proto::watch_distribution_response::Event::TargetEvent(proto::TargetEvent {
                account_id: account.as_ref().map(ToString::to_string).unwrap_or_default(),
                region: region.to_string(),
                event: Some(copy_job_event(event)),
            })
        }
        DistributionEventKind::State {
            state: now,
            counts: at,
            detail,
            created_at,
        } => proto::watch_distribution_response::Event::StateChange(proto::DistributionStateChange {
            state: state(*now) as i32,
            counts: Some(counts(at)),
            detail: detail.clone(),
            create_time: Some(timestamp(*created_at)),
        }),
    };
    proto::WatchDistributionResponse {
        sequence: event.sequence,
        event: Some(message),
    }
}

/// The wire enum for a state.
pub fn state(state: DistributionState) -> proto::DistributionState {
    match state {
        DistributionState::Running => proto::DistributionState::Running,
        DistributionState::Succeeded => proto::DistributionState::Succeeded,
        DistributionState::PartiallySucceeded => proto::DistributionState::PartiallySucceeded,
        DistributionState::Failed => proto::DistributionState::Failed,
        DistributionState::Cancelling => proto::DistributionState::Cancelling,
        DistributionState::Cancelled => proto::DistributionState::Cancelled,
        DistributionState::RollingBack => proto::DistributionState::RollingBack,
        DistributionState::RolledBack => proto::DistributionState::RolledBack,
    }
}

/// The state a wire value names; `None` for UNSPECIFIED and unknown values.
pub fn state_from_wire(value: i32) -> Option<DistributionState> {
    let wire = proto::DistributionState::try_from(value).ok()?;
    DistributionState::ALL.into_iter().find(|known| state(*known) == wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_survives_the_wire() {
        for known in DistributionState::ALL {
            assert_eq!(state_from_wire(state(known) as i32), Some(known));
        }
        assert_eq!(state_from_wire(0), None);
        assert_eq!(state_from_wire(99), None);
    }

    #[test]
    fn a_request_survives_the_wire_and_an_unknown_policy_is_kept_for_validation() {
        let request = proto::CreateDistributionRequest {
            source_image_id: "ami-0a1b2c3d4e5f60001".into(),
            source_region: "us-east-1".into(),
            name: "golden-{region}".into(),
            client_token: "t".into(),
            targets: vec![proto::DistributionTarget {
                account_id: "222233334444".into(),
                regions: vec!["eu-west-1".into()],
                kms_key_ids: [("eu-west-1".to_owned(), "alias/k".to_owned())].into(),
            }],
            failure_policy: proto::FailurePolicy::RollBack as i32,
            ..Default::default()
        };
        assert_eq!(create_request(distribution_input(request.clone())), request);
        let unknown = distribution_input(proto::CreateDistributionRequest {
            failure_policy: 9,
            ..Default::default()
        });
        assert_eq!(unknown.failure_policy, FailurePolicyInput::Unknown(9));
    }
}
