//! What `--output json` prints: serde views of the proto messages, with the proto's field names
//! (snake_case), states without their enum prefix (`AVAILABLE`), times in RFC 3339. Every line of
//! output is one [`Line`], tagged by `kind`.

use amicopy::proto;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::{failure::Refusal, plan::DistributionPlan};

/// A job state's name without its prefix (`COPYING`), or `UNKNOWN` for a value this CLI does not
/// know.
pub fn job_state(value: i32) -> &'static str {
    proto::CopyJobState::try_from(value)
        .map(|state| strip(state.as_str_name(), "COPY_JOB_STATE_"))
        .unwrap_or("UNKNOWN")
}

/// A distribution state's name without its prefix (`PARTIALLY_SUCCEEDED`).
pub fn distribution_state(value: i32) -> &'static str {
    proto::DistributionState::try_from(value)
        .map(|state| strip(state.as_str_name(), "DISTRIBUTION_STATE_"))
        .unwrap_or("UNKNOWN")
}

fn strip(name: &'static str, prefix: &str) -> &'static str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// A proto timestamp as a time.
pub fn time(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

/// A proto timestamp in RFC 3339, UTC.
pub fn rfc3339(timestamp: Option<&prost_types::Timestamp>) -> Option<String> {
    time(timestamp).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// One line of `--output json`.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant, reason = "built, printed and dropped at once")]
pub enum Line {
    /// A job, as it stands (the last line of a job's watch).
    Job(JobView),
    /// A distribution, as it stands (the last line of a distribution's watch).
    Distribution(DistributionView),
    /// An event of a watched job.
    JobEvent(JobEventView),
    /// An event of one target of a watched distribution.
    TargetEvent {
        /// The distribution's sequence number of this event.
        sequence: u64,
        /// The target's account; empty for the service's own.
        account_id: String,
        /// The target's Region.
        region: String,
        /// The job's event.
        event: JobEventView,
    },
    /// A change of a watched distribution's aggregate state.
    StateChange {
        /// The distribution's sequence number of this event.
        sequence: u64,
        /// The new state.
        state: &'static str,
        /// Targets per state when it changed.
        counts: CountsView,
        /// What happened.
        detail: String,
        /// When.
        create_time: Option<String>,
    },
    /// The answer to a dry run for one target.
    DryRun {
        /// The target's account; empty for the service's own.
        account_id: String,
        /// The target's Region; empty for the server's default.
        region: String,
        /// Whether the copy would have been allowed.
        would_succeed: bool,
        /// EC2's code (DryRunOperation, UnauthorizedOperation, ...).
        reason: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The watch broke off and is resumed after the last event seen.
    Reconnecting {
        /// The last sequence seen; the stream resumes after it.
        after_sequence: u64,
        /// Why it broke off.
        message: String,
    },
    /// Ctrl-C stopped the watching; the work goes on.
    Interrupted {
        /// The job or distribution watched.
        id: String,
        /// The command that resumes watching.
        resume: String,
    },
    /// The server refused the call.
    Error(Refusal),
    /// The command line or a file on it was wrong; nothing was sent.
    UsageError {
        /// What is wrong.
        message: String,
    },
}

/// A tag specification, as in the proto.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagSpecificationView {
    /// `image` or `snapshot`.
    pub resource_type: String,
    /// The tags.
    #[serde(default)]
    pub tags: Vec<TagView>,
}

/// One tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagView {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// Who may launch an image, as in the proto.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LaunchPermissionsView {
    /// Accounts.
    pub user_ids: Vec<String>,
    /// Organizations.
    pub organization_arns: Vec<String>,
    /// Organizational units.
    pub organizational_unit_arns: Vec<String>,
    /// Everyone.
    pub public: bool,
}

impl From<&proto::TagSpecification> for TagSpecificationView {
    fn from(spec: &proto::TagSpecification) -> Self {
        Self {
            resource_type: spec.resource_type.clone(),
            tags: spec
                .tags
                .iter()
                .map(|t| TagView {
                    key: t.key.clone(),
                    value: t.value.clone(),
                })
                .collect(),
        }
    }
}

impl From<TagSpecificationView> for proto::TagSpecification {
    fn from(spec: TagSpecificationView) -> Self {
        Self {
            resource_type: spec.resource_type,
            tags: spec
                .tags
                .into_iter()
                .map(|t| proto::Tag {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
        }
    }
}

impl From<&proto::LaunchPermissions> for LaunchPermissionsView {
    fn from(p: &proto::LaunchPermissions) -> Self {
        Self {
            user_ids: p.user_ids.clone(),
            organization_arns: p.organization_arns.clone(),
            organizational_unit_arns: p.organizational_unit_arns.clone(),
            public: p.public,
        }
    }
}

impl From<LaunchPermissionsView> for proto::LaunchPermissions {
    fn from(p: LaunchPermissionsView) -> Self {
        Self {
            user_ids: p.user_ids,
            organization_arns: p.organization_arns,
            organizational_unit_arns: p.organizational_unit_arns,
            public: p.public,
        }
    }
}

/// A CopyImage request as a job records it (the proto's CopyImageRequest, less dry_run).
#[derive(Debug, Serialize)]
pub struct CopyRequestView {
    /// The client token that made the request idempotent.
    pub client_token: String,
    /// Whether the source AMI's own tags were copied.
    pub copy_image_tags: bool,
    /// Description of the new AMI.
    pub description: String,
    /// Outpost copied to, if any.
    pub destination_outpost_arn: String,
    /// Whether the new snapshots are encrypted; absent means EC2's default.
    pub encrypted: Option<bool>,
    /// KMS key of the encrypted snapshots.
    pub kms_key_id: String,
    /// Name of the new AMI.
    pub name: String,
    /// The AMI copied.
    pub source_image_id: String,
    /// The Region it is in.
    pub source_region: String,
    /// Tags for the new AMI and its snapshots.
    pub tag_specifications: Vec<TagSpecificationView>,
    /// The Region copied into.
    pub destination_region: String,
    /// Time-based copy: minutes to complete within.
    pub snapshot_copy_completion_duration_minutes: Option<i64>,
    /// Local Zone copied to, by name.
    pub destination_availability_zone: String,
    /// Local Zone copied to, by id.
    pub destination_availability_zone_id: String,
    /// Account copied into; empty for the service's own.
    pub destination_account_id: String,
    /// Who may launch the new AMI.
    pub launch_permissions: Option<LaunchPermissionsView>,
    /// Accounts given createVolumePermission on the new snapshots.
    pub snapshot_user_ids: Vec<String>,
    /// When the new AMI is deprecated.
    pub deprecate_time: Option<String>,
}

impl From<&proto::CopyImageRequest> for CopyRequestView {
    fn from(r: &proto::CopyImageRequest) -> Self {
        Self {
            client_token: r.client_token.clone(),
            copy_image_tags: r.copy_image_tags,
            description: r.description.clone(),
            destination_outpost_arn: r.destination_outpost_arn.clone(),
            encrypted: r.encrypted,
            kms_key_id: r.kms_key_id.clone(),
            name: r.name.clone(),
            source_image_id: r.source_image_id.clone(),
            source_region: r.source_region.clone(),
            tag_specifications: r.tag_specifications.iter().map(Into::into).collect(),
            destination_region: r.destination_region.clone(),
            snapshot_copy_completion_duration_minutes: r.snapshot_copy_completion_duration_minutes,
            destination_availability_zone: r.destination_availability_zone.clone(),
            destination_availability_zone_id: r.destination_availability_zone_id.clone(),
            destination_account_id: r.destination_account_id.clone(),
            launch_permissions: r.launch_permissions.as_ref().map(Into::into),
            snapshot_user_ids: r.snapshot_user_ids.clone(),
            deprecate_time: rfc3339(r.deprecate_time.as_ref()),
        }
    }
}

/// A copy job (the proto's CopyJob).
#[derive(Debug, Serialize)]
pub struct JobView {
    /// Job id.
    pub job_id: String,
    /// The request as accepted.
    pub request: Option<CopyRequestView>,
    /// The Region copied into.
    pub destination_region: String,
    /// Account copied into; empty for the service's own.
    pub destination_account_id: String,
    /// Where it stands.
    pub state: &'static str,
    /// The new AMI, once EC2 accepted the copy.
    pub image_id: String,
    /// Snapshots of the new AMI, once it is available.
    pub snapshot_ids: Vec<String>,
    /// EC2's error code, for a failure or a retry.
    pub failure_code: String,
    /// EC2's message for failure_code.
    pub failure_message: String,
    /// Snapshot copy progress, 0-100, once known.
    pub progress_percent: Option<u32>,
    /// How many times the copy was started on EC2.
    pub attempts: u32,
    /// When it was accepted (or happened).
    pub create_time: Option<String>,
    /// When it last changed.
    pub update_time: Option<String>,
    /// The distribution it is a target of; empty for a job made by CopyImage.
    pub distribution_id: String,
}

impl From<&proto::CopyJob> for JobView {
    fn from(j: &proto::CopyJob) -> Self {
        Self {
            job_id: j.job_id.clone(),
            request: j.request.as_ref().map(Into::into),
            destination_region: j.destination_region.clone(),
            destination_account_id: j.destination_account_id.clone(),
            state: job_state(j.state),
            image_id: j.image_id.clone(),
            snapshot_ids: j.snapshot_ids.clone(),
            failure_code: j.failure_code.clone(),
            failure_message: j.failure_message.clone(),
            progress_percent: j.progress_percent,
            attempts: j.attempts,
            create_time: rfc3339(j.create_time.as_ref()),
            update_time: rfc3339(j.update_time.as_ref()),
            distribution_id: j.distribution_id.clone(),
        }
    }
}

/// One event of a job (the proto's CopyJobEvent).
#[derive(Debug, Serialize)]
pub struct JobEventView {
    /// Job the event belongs to.
    pub job_id: String,
    /// Position in the job's history.
    pub sequence: u64,
    /// Where it stands.
    pub state: &'static str,
    /// The new AMI, once EC2 accepted the copy.
    pub image_id: String,
    /// Snapshot copy progress, 0-100, once known.
    pub progress_percent: Option<u32>,
    /// EC2's error code, for a failure or a retry.
    pub failure_code: String,
    /// What happened, for people.
    pub detail: String,
    /// When it was accepted (or happened).
    pub create_time: Option<String>,
}

impl From<&proto::CopyJobEvent> for JobEventView {
    fn from(e: &proto::CopyJobEvent) -> Self {
        Self {
            job_id: e.job_id.clone(),
            sequence: e.sequence,
            state: job_state(e.state),
            image_id: e.image_id.clone(),
            progress_percent: e.progress_percent,
            failure_code: e.failure_code.clone(),
            detail: e.detail.clone(),
            create_time: rfc3339(e.create_time.as_ref()),
        }
    }
}

/// How many targets are in each state.
#[derive(Debug, Default, Serialize)]
pub struct CountsView {
    /// Targets waiting to start.
    pub queued: u32,
    /// Targets copying.
    pub copying: u32,
    /// Targets applying their finishing steps.
    pub finishing: u32,
    /// Targets done.
    pub available: u32,
    /// Targets that failed.
    pub failed: u32,
    /// Targets being cancelled.
    pub cancelling: u32,
    /// Targets cancelled.
    pub cancelled: u32,
    /// Every target.
    pub total: u32,
}

impl From<Option<&proto::TargetCounts>> for CountsView {
    fn from(c: Option<&proto::TargetCounts>) -> Self {
        c.map(|c| Self {
            queued: c.queued,
            copying: c.copying,
            finishing: c.finishing,
            available: c.available,
            failed: c.failed,
            cancelling: c.cancelling,
            cancelled: c.cancelled,
            total: c.total,
        })
        .unwrap_or_default()
    }
}

/// One (account, Region) target of a distribution (the proto's TargetStatus).
#[derive(Debug, Serialize)]
pub struct TargetView {
    /// The account; empty for the service's own.
    pub account_id: String,
    /// The destination Region.
    pub region: String,
    /// The target's current job.
    pub job_id: String,
    /// Where it stands.
    pub state: &'static str,
    /// The new AMI, once EC2 accepted the copy.
    pub image_id: String,
    /// Snapshot copy progress, 0-100, once known.
    pub progress_percent: Option<u32>,
    /// EC2's error code, for a failure or a retry.
    pub failure_code: String,
    /// EC2's message for failure_code.
    pub failure_message: String,
    /// Name of the new AMI.
    pub name: String,
    /// How many jobs the target has had.
    pub generation: u32,
    /// Whether a roll-back deregistered the target's image.
    pub rolled_back: bool,
}

impl From<&proto::TargetStatus> for TargetView {
    fn from(t: &proto::TargetStatus) -> Self {
        Self {
            account_id: t.account_id.clone(),
            region: t.region.clone(),
            job_id: t.job_id.clone(),
            state: job_state(t.state),
            image_id: t.image_id.clone(),
            progress_percent: t.progress_percent,
            failure_code: t.failure_code.clone(),
            failure_message: t.failure_message.clone(),
            name: t.name.clone(),
            generation: t.generation,
            rolled_back: t.rolled_back,
        }
    }
}

/// A distribution (the proto's Distribution).
#[derive(Debug, Serialize)]
pub struct DistributionView {
    /// Distribution id.
    pub distribution_id: String,
    /// The request, in the plan-file form `distribute -f` reads back.
    pub request: Option<DistributionPlan>,
    /// Where it stands.
    pub state: &'static str,
    /// Targets per state.
    pub counts: CountsView,
    /// Every target, in the request's order.
    pub targets: Vec<TargetView>,
    /// When it was accepted (or happened).
    pub create_time: Option<String>,
    /// When it last changed.
    pub update_time: Option<String>,
    /// Sequence number of its newest event.
    pub last_sequence: u64,
}

impl From<&proto::Distribution> for DistributionView {
    fn from(d: &proto::Distribution) -> Self {
        Self {
            distribution_id: d.distribution_id.clone(),
            request: d.request.as_ref().map(DistributionPlan::from),
            state: distribution_state(d.state),
            counts: d.counts.as_ref().into(),
            targets: d.targets.iter().map(Into::into).collect(),
            create_time: rfc3339(d.create_time.as_ref()),
            update_time: rfc3339(d.update_time.as_ref()),
            last_sequence: d.last_sequence,
        }
    }
}

/// Prints one line of NDJSON on stdout.
pub fn print(line: &Line) {
    match serde_json::to_string(line) {
        Ok(json) => println!("{json}"),
        // Views are plain data; this cannot fail, but a line is never silently dropped.
        Err(error) => println!(r#"{{"kind":"usage_error","message":"cannot print JSON: {error}"}}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_lose_their_prefix() {
        assert_eq!(job_state(proto::CopyJobState::Finishing as i32), "FINISHING");
        assert_eq!(
            distribution_state(proto::DistributionState::PartiallySucceeded as i32),
            "PARTIALLY_SUCCEEDED"
        );
        assert_eq!(job_state(99), "UNKNOWN");
    }

    #[test]
    fn lines_are_tagged_by_kind_with_proto_field_names() {
        let event = proto::CopyJobEvent {
            job_id: "j".into(),
            sequence: 3,
            state: proto::CopyJobState::Copying as i32,
            progress_percent: Some(40),
            ..Default::default()
        };
        let json = serde_json::to_value(Line::JobEvent((&event).into())).unwrap();
        assert_eq!(json["kind"], "job_event");
        assert_eq!(json["state"], "COPYING");
        assert_eq!(json["progress_percent"], 40);
        assert_eq!(json["sequence"], 3);
    }
}
