//! The finishing steps after a copy is available in EC2: launch permissions, snapshot
//! permissions, deprecation. Each is one EC2 call (one per snapshot for snapshot permissions,
//! as EC2 takes them), each recorded as an event. EC2's eventual consistency right after
//! `available` and throttling are retried with backoff; a permanent error fails the job, which
//! keeps its image id so the AMI is never forgotten.

use tracing::info;

use super::{Engine, backoff::retry_delay, dispatch::refused_as_conflict, now};
use crate::{
    backend::{BackendError, Ec2Backend},
    domain::{AttemptFailure, Job, LaunchPermissions, RetryPlan, Step},
    store::StoreError,
};

impl Engine {
    /// Does the finishing steps of a FINISHING job this replica holds, one after the other, and
    /// records each; true when the job has ended (AVAILABLE, or FAILED for good).
    pub(super) async fn finish(&self, job: Job) -> Result<bool, StoreError> {
        let mut job = job;
        let backend = self.backend_for(job.request().destination_account.as_ref());
        while let Some(step) = job.next_step() {
            let applied = match &backend {
                Ok(backend) => apply(step, &job, &**backend).await,
                Err(error) => Err(error.clone()),
            };
            let change = match applied {
                Ok(detail) => job.step_done(step, &detail, now()),
                Err(error) => {
                    let kind = if error.retryable || error.is_eventual_consistency() {
                        AttemptFailure::Transient
                    } else {
                        AttemptFailure::Permanent
                    };
                    let plan = RetryPlan {
                        max_attempts: self.settings.max_attempts,
                        delay: retry_delay(
                            job.step_failures() + 1,
                            self.settings.retry_base,
                            self.settings.retry_max,
                        ),
                        now: now(),
                    };
                    job.step_failed(step, error.to_failure(), kind, plan)
                }
            };
            let failed_try = change.as_ref().is_ok_and(|change| change.event().is_none());
            job = match self.record(refused_as_conflict(change)?).await {
                Ok(stored) => stored,
                Err(StoreError::Conflict(_)) => return Ok(false),
                Err(error) => return Err(error),
            };
            if failed_try {
                break;
            }
        }
        if job.state().is_terminal() {
            info!(job_id = %job.id(), state = %job.state(), "job ended");
        }
        Ok(job.state().is_terminal())
    }
}

/// Does one step; answers what EC2 now has, for the step's event.
async fn apply(step: Step, job: &Job, backend: &dyn Ec2Backend) -> Result<String, BackendError> {
    let request = job.request();
    let region = &request.destination_region;
    let image_id = job.image_id().unwrap_or_default();
    match step {
        Step::LaunchPermissions => {
            backend
                .add_launch_permissions(region, image_id, &request.launch_permissions)
                .await?;
            Ok(format!(
                "launch permissions granted on {image_id}: {}",
                describe(&request.launch_permissions)
            ))
        }
        Step::SnapshotPermissions => {
            for snapshot_id in job.snapshot_ids() {
                backend
                    .add_create_volume_permissions(region, snapshot_id, &request.snapshot_user_ids)
                    .await?;
            }
            let accounts: Vec<String> = request.snapshot_user_ids.iter().map(ToString::to_string).collect();
            Ok(format!(
                "createVolumePermission granted to {} on {}",
                accounts.join(", "),
                if job.snapshot_ids().is_empty() {
                    "no snapshots (the image has none)".to_owned()
                } else {
                    job.snapshot_ids().join(", ")
                }
            ))
        }
        Step::Deprecation => match request.deprecate_at {
            Some(at) => {
                backend.enable_image_deprecation(region, image_id, at).await?;
                Ok(format!("{image_id} is deprecated from {}", at.to_rfc3339()))
            }
            None => Ok("no deprecation asked for".to_owned()),
        },
        Step::Checks => Ok("checks are made before copying, not after".to_owned()),
    }
}

/// Launch permissions for people: "accounts 1, 2; organizations o; public".
fn describe(permissions: &LaunchPermissions) -> String {
    let mut parts = Vec::new();
    let join = |items: Vec<String>| items.join(", ");
    if !permissions.user_ids.is_empty() {
        parts.push(format!(
            "accounts {}",
            join(permissions.user_ids.iter().map(ToString::to_string).collect())
        ));
    }
    if !permissions.organization_arns.is_empty() {
        parts.push(format!(
            "organizations {}",
            join(permissions.organization_arns.iter().map(ToString::to_string).collect())
        ));
    }
    if !permissions.organizational_unit_arns.is_empty() {
        parts.push(format!(
            "organizational units {}",
            join(
                permissions
                    .organizational_unit_arns
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            )
        ));
    }
    if permissions.public {
        parts.push("everyone (public)".to_owned());
    }
    parts.join("; ")
}
