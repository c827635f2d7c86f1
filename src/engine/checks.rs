//! The checks a copy's first attempt makes where they need EC2: the source shared with the
//! destination account when the operator allows it, the source visible there, and the KMS key
//! usable there. A copy that cannot succeed fails in seconds with a message that names what to
//! fix, instead of ending `failed` with EC2's opaque "internal error" after a long copy.

use std::sync::Arc;

use tracing::warn;

use super::{Engine, after, backoff::retry_delay, dispatch::refused_as_conflict, now};
use crate::{
    backend::{BackendError, Ec2Backend, KmsKeyLookup, KmsKeyState},
    domain::{AccountId, CopyRequest, Failure, Job, LaunchPermissions, Step, codes},
    store::StoreError,
};

/// EC2's code for a KMS key that does not exist where it is needed.
const KMS_KEY_NOT_FOUND: &str = "InvalidKMSKey.NotFound";
/// EC2's code for a KMS key that exists but cannot be used.
const KMS_KEY_INVALID_STATE: &str = "InvalidKMSKey.InvalidState";

/// Where the checks left a job.
pub(super) enum Checked {
    /// Passed (or not needed): the copy may start.
    Ready(Job),
    /// Failed: the job has ended.
    Ended(Job),
    /// EC2 could not answer now; the job is put off.
    Later(Job),
}

/// What one check found: what was done, or why the copy cannot succeed.
type Verdict = Result<String, Failure>;

impl Engine {
    /// Runs the checks `job` needs before its first attempt, once, and records their outcome.
    pub(super) async fn check_before_copying(
        &self,
        job: Job,
        backend: &Arc<dyn Ec2Backend>,
    ) -> Result<Checked, StoreError> {
        if job.steps_done().contains(Step::Checks) || !needs_checks(job.request()) {
            return Ok(Checked::Ready(job));
        }
        let outcome = match self.run_checks(job.request(), backend).await {
            Err(error) if !error.retryable => Ok(Err(error.to_failure())),
            other => other,
        };
        match outcome {
            Ok(Ok(done)) => {
                let change = job.checked(format!("checked before copying: {}", done.join("; ")));
                Ok(Checked::Ready(self.record(refused_as_conflict(change)?).await?))
            }
            Ok(Err(failure)) => {
                let change = job.check_failed(failure);
                Ok(Checked::Ended(self.record(refused_as_conflict(change)?).await?))
            }
            Err(error) => {
                warn!(job_id = %job.id(), %error, "the checks before copying could not be made; will retry");
                let delay = retry_delay(1, self.settings.retry_base, self.settings.retry_max);
                let change = job.postpone(after(now(), delay));
                Ok(Checked::Later(self.record(refused_as_conflict(change)?).await?))
            }
        }
    }

    /// The checks themselves, in order, stopping at the first that fails.
    async fn run_checks(
        &self,
        request: &CopyRequest,
        backend: &Arc<dyn Ec2Backend>,
    ) -> Result<Result<Vec<String>, Failure>, BackendError> {
        let mut done = Vec::new();
        if let Some(account) = &request.destination_account {
            if self.backends.account(account).is_some_and(|entry| entry.share_source) {
                match self.share_source(request, account).await? {
                    Ok(shared) => done.push(shared),
                    Err(failure) => return Ok(Err(failure)),
                }
            }
            match self.source_visible(request, account, backend).await? {
                Ok(visible) => done.push(visible),
                Err(failure) => return Ok(Err(failure)),
            }
        }
        if let (Some(true), Some(key)) = (request.encrypted, &request.kms_key_id) {
            let lookup = backend
                .describe_kms_key(&request.destination_region, key.as_str())
                .await?;
            let account = account_name(request.destination_account.as_ref());
            match kms_verdict(key.as_str(), &account, request, lookup) {
                Ok(usable) => done.push(usable),
                Err(failure) => return Ok(Err(failure)),
            }
        }
        Ok(Ok(done))
    }

    /// Grants the destination account launch permission on the source AMI and createVolumePermission
    /// on its snapshots, from the service's own account (which must own or see the source).
    async fn share_source(&self, request: &CopyRequest, account: &AccountId) -> Result<Verdict, BackendError> {
        let own = self.backends.own();
        let region = &request.source_region;
        let image_id = request.source_image_id.as_str();
        let Some(source) = own.describe_source_image(region, image_id).await? else {
            return Ok(Err(Failure::new(
                codes::INVALID_AMI_ID_NOT_FOUND,
                format!("{image_id} does not exist in {region}, so it cannot be shared with account {account}"),
            )));
        };
        let permission = LaunchPermissions {
            user_ids: vec![account.clone()],
            ..Default::default()
        };
        own.add_launch_permissions(region, image_id, &permission).await?;
        for snapshot_id in &source.snapshot_ids {
            own.add_create_volume_permissions(region, snapshot_id, std::slice::from_ref(account))
                .await?;
        }
        Ok(Ok(format!(
            "shared {image_id} and its {} snapshot(s) with account {account}",
            source.snapshot_ids.len()
        )))
    }

    /// Whether the destination account can see the source AMI (and so copy it).
    async fn source_visible(
        &self,
        request: &CopyRequest,
        account: &AccountId,
        backend: &Arc<dyn Ec2Backend>,
    ) -> Result<Verdict, BackendError> {
        let region = &request.source_region;
        let image_id = request.source_image_id.as_str();
        if backend.describe_source_image(region, image_id).await?.is_some() {
            return Ok(Ok(format!("{image_id} in {region} is visible to account {account}")));
        }
        let hint = if self.backends.account(account).is_some_and(|entry| entry.share_source) {
            "sharing it did not make it visible; check that the service's own account owns it"
        } else {
            "share it with the account (launch permission, and createVolumePermission on its \
             snapshots), or set \"share_source\": true for the account in the accounts file"
        };
        Ok(Err(Failure::new(
            codes::INVALID_AMI_ID_NOT_FOUND,
            format!("{image_id} in {region} is not visible to account {account}: {hint}"),
        )))
    }
}

/// Whether a request needs checks that ask EC2 before its first attempt: it copies into another
/// account, or names a KMS key.
pub(super) fn needs_checks(request: &CopyRequest) -> bool {
    request.destination_account.is_some() || (request.encrypted == Some(true) && request.kms_key_id.is_some())
}

fn account_name(account: Option<&AccountId>) -> String {
    account.map_or_else(|| "the service's own account".to_owned(), |a| format!("account {a}"))
}

/// What KMS's answer means for the copy.
fn kms_verdict(key: &str, account: &str, request: &CopyRequest, lookup: KmsKeyLookup) -> Verdict {
    let region = &request.destination_region;
    let found = match lookup {
        KmsKeyLookup::Missing => {
            return Err(Failure::new(
                KMS_KEY_NOT_FOUND,
                format!(
                    "KMS key {key} does not exist in {account}, Region {region}: create it there, or name a key \
                     of that account and Region"
                ),
            ));
        }
        KmsKeyLookup::Found(found) => found,
    };
    if &found.region != region {
        return Err(Failure::new(
            KMS_KEY_NOT_FOUND,
            format!(
                "KMS key {key} is in Region {}, not in the destination Region {region} ({account}): name a key of {region}",
                found.region
            ),
        ));
    }
    let fix = match &found.state {
        KmsKeyState::Enabled => return Ok(format!("KMS key {key} is enabled in {account}, Region {region}")),
        KmsKeyState::Disabled => "enable it, or name another key",
        KmsKeyState::PendingDeletion => "cancel its deletion and enable it, or name another key",
        KmsKeyState::Other(_) => "wait until it is Enabled, or name another key",
    };
    Err(Failure::new(
        KMS_KEY_INVALID_STATE,
        format!(
            "KMS key {key} ({}) in {account}, Region {region} is {}: {fix}",
            found.arn,
            found.state.as_str()
        ),
    ))
}
