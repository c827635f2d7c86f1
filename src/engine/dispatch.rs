//! Starting copies on EC2: admission by the Region's limits, one CopyImage call per attempt with
//! the job's deterministic ClientToken, adoption of a copy whose outcome was never learned, and
//! the retry-or-fail decision.

use std::collections::BTreeMap;

use futures::{StreamExt, stream};
use tracing::{info, warn};

use super::{Engine, EngineError, TickReport, after, backoff::retry_delay, now};
use crate::{
    backend::{BackendError, ImageState, StartCopy},
    domain::{Job, JobState, Region, codes},
    store::{Claim, StoreError},
};

/// CopyImage calls one tick makes at once.
const PARALLEL_STARTS: usize = 16;

/// How far before the job's creation an image found by name may have been created and still be
/// taken for this job's copy (clock skew between amicopy and EC2).
const ADOPTION_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Where a start attempt left the job.
enum Started {
    /// EC2 accepted the copy (or an earlier one was adopted).
    Copying,
    /// The job waits for a retry or for the Region's limits.
    Waiting,
    /// The job ended (failed, or cancelled meanwhile).
    Ended,
}

impl Engine {
    /// The copy started inside a CopyImage call: the job was just created holding the inline
    /// lease. Starts it if the Region's limits allow, else leaves it queued for the engine.
    pub(super) async fn dispatch_inline(&self, job: Job) -> Result<Job, EngineError> {
        let region = job.request.destination_region.clone();
        let in_progress = self.copies_in_progress(&region).await?;
        match self.limits.try_admit(&region, in_progress) {
            Ok(()) => match self.start(job).await {
                Ok((job, _)) => Ok(job),
                // A cancel got there first; answer with the job as it now stands.
                Err(StoreError::Conflict(id)) => Ok(self.store.load_job(id).await?),
                Err(error) => Err(error.into()),
            },
            Err(wait) => {
                let mut next = job;
                next.next_attempt_at = after(now(), wait);
                release(&mut next);
                let detail = format!("waiting: {region} is at its copy limits");
                Ok(self.commit(&next, Some(&detail)).await?)
            }
        }
    }

    /// Claims due queued jobs and starts as many as their Regions' limits allow.
    pub(super) async fn dispatch_due(&self) -> Result<TickReport, EngineError> {
        let now = now();
        let claimed = self
            .store
            .claim_jobs(&Claim {
                owner: self.owner.clone(),
                states: vec![JobState::Queued],
                now,
                lease_until: self.lease_until(now),
                limit: self.settings.track_page_size,
            })
            .await?;
        let mut by_region: BTreeMap<Region, Vec<Job>> = BTreeMap::new();
        for job in claimed {
            by_region
                .entry(job.request.destination_region.clone())
                .or_default()
                .push(job);
        }

        let mut report = TickReport::default();
        let mut admitted = Vec::new();
        for (region, jobs) in by_region {
            let mut in_progress = self.copies_in_progress(&region).await?;
            for mut job in jobs {
                match self.limits.try_admit(&region, in_progress) {
                    Ok(()) => {
                        in_progress += 1;
                        admitted.push(job);
                    }
                    Err(wait) => {
                        job.next_attempt_at = after(now, wait);
                        release(&mut job);
                        self.commit_quietly(&job).await;
                        report.deferred += 1;
                    }
                }
            }
        }

        let outcomes: Vec<Result<(Job, Started), StoreError>> = stream::iter(admitted)
            .map(|job| self.start(job))
            .buffer_unordered(PARALLEL_STARTS)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Ok((_, Started::Copying)) => report.started += 1,
                Ok((_, Started::Ended)) => report.finished += 1,
                Ok((_, Started::Waiting)) => {}
                Err(StoreError::Conflict(id)) => {
                    info!(job_id = %id, "job changed while starting; left to its new owner")
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(report)
    }

    async fn copies_in_progress(&self, region: &Region) -> Result<u64, StoreError> {
        self.store
            .count_jobs(region.as_str(), &[JobState::Copying, JobState::Cancelling])
            .await
    }

    /// Starts (or adopts) the copy of a job this replica holds the lease on.
    async fn start(&self, job: Job) -> Result<(Job, Started), StoreError> {
        if job.attempts > 0 && outcome_may_be_unknown(&job) {
            match self.find_earlier_copy(&job).await {
                Ok(Some(image_id)) => {
                    let detail =
                        format!("adopted {image_id}, found by name after an attempt whose outcome was unknown");
                    return self.record_copying(job, image_id, &detail).await;
                }
                Ok(None) => {}
                Err(error) => return self.record_failed_attempt(job, error).await,
            }
        }

        // The attempt is recorded before it is made, so that after a crash during the call the
        // job is known to have a copy whose outcome is unknown.
        let mut attempt = job;
        attempt.attempts += 1;
        attempt.failure = None;
        attempt.lease_expires_at = Some(self.lease_until(now()));
        let detail = format!("starting copy (attempt {})", attempt.attempts);
        let attempt = self.commit(&attempt, Some(&detail)).await?;

        let call = StartCopy {
            request: attempt.request.clone(),
            client_token: attempt.id.ec2_client_token(),
            dry_run: false,
        };
        match self.backend.copy_image(&call).await {
            Ok(image_id) => {
                let detail = format!("copy started: {image_id}");
                self.record_copying(attempt, image_id, &detail).await
            }
            Err(error) => self.record_failed_attempt(attempt, error).await,
        }
    }

    /// Looks in the destination Region for an image this job's earlier attempt made.
    pub(super) async fn find_earlier_copy(&self, job: &Job) -> Result<Option<String>, BackendError> {
        let request = &job.request;
        let images = self
            .backend
            .find_images_by_name(&request.destination_region, request.name.as_str())
            .await?;
        let earliest = job.created_at - ADOPTION_SKEW;
        Ok(images
            .into_iter()
            .filter(|image| image.state != ImageState::Deregistered)
            .filter(|image| image.creation_date.is_none_or(|created| created >= earliest))
            .map(|image| image.image_id)
            .next())
    }

    async fn record_copying(&self, job: Job, image_id: String, detail: &str) -> Result<(Job, Started), StoreError> {
        let mut next = job.clone();
        next.state = JobState::Copying;
        next.image_id = Some(image_id.clone());
        next.failure = None;
        next.progress_percent = None;
        next.next_attempt_at = now();
        release(&mut next);
        match self.commit(&next, Some(detail)).await {
            Ok(stored) => {
                info!(job_id = %stored.id, image_id = %image_id, "copy started");
                Ok((stored, Started::Copying))
            }
            Err(StoreError::Conflict(_)) => self.hand_image_to_cancel(job, image_id).await,
            Err(error) => Err(error),
        }
    }

    /// The job changed while its copy was being started: a cancel arrived. Give the cancel the
    /// image so the tracker deregisters it.
    async fn hand_image_to_cancel(&self, job: Job, image_id: String) -> Result<(Job, Started), StoreError> {
        let mut current = self.store.load_job(job.id).await?;
        if current.state == JobState::Cancelling && current.image_id.is_none() {
            current.image_id = Some(image_id.clone());
            current.next_attempt_at = now();
            let detail = format!("copy had started as {image_id}; deregistering it");
            let stored = self.commit(&current, Some(&detail)).await?;
            return Ok((stored, Started::Ended));
        }
        warn!(job_id = %job.id, image_id = %image_id, state = %current.state, "copy started for a job that changed meanwhile");
        Err(StoreError::Conflict(job.id))
    }

    async fn record_failed_attempt(&self, job: Job, error: BackendError) -> Result<(Job, Started), StoreError> {
        let mut next = job;
        next.failure = Some(error.to_failure());
        release(&mut next);
        let (detail, started) = if error.code == codes::RESOURCE_LIMIT_EXCEEDED {
            let wait = retry_delay(next.attempts, self.settings.retry_base(), self.settings.retry_max());
            next.next_attempt_at = after(now(), wait);
            (
                format!(
                    "waiting: EC2 has too many copies in progress in {} ({error})",
                    next.request.destination_region
                ),
                Started::Waiting,
            )
        } else if error.code == codes::REQUEST_LIMIT_EXCEEDED {
            // Throttling proves no copy was made and says nothing against the request, so it never
            // uses up attempts: the backoff keeps growing to its cap instead, however long EC2
            // throttles (a throttling storm longer than the retry budget failed jobs before).
            let wait = retry_delay(next.attempts, self.settings.retry_base(), self.settings.retry_max());
            next.next_attempt_at = after(now(), wait);
            (
                format!(
                    "attempt {} throttled: {error}; retrying in {:.1}s",
                    next.attempts,
                    wait.as_secs_f64()
                ),
                Started::Waiting,
            )
        } else if !error.retryable {
            next.state = JobState::Failed;
            (format!("copy refused: {error}"), Started::Ended)
        } else if next.attempts >= self.settings.max_attempts {
            next.state = JobState::Failed;
            (
                format!("gave up after {} attempts: {error}", next.attempts),
                Started::Ended,
            )
        } else {
            let wait = retry_delay(next.attempts, self.settings.retry_base(), self.settings.retry_max());
            next.next_attempt_at = after(now(), wait);
            (
                format!(
                    "attempt {} failed: {error}; retrying in {:.1}s",
                    next.attempts,
                    wait.as_secs_f64()
                ),
                Started::Waiting,
            )
        };
        if next.state == JobState::Failed {
            info!(job_id = %next.id, code = %error.code, "copy failed");
        }
        let stored = self.commit(&next, Some(&detail)).await?;
        Ok((stored, started))
    }

    /// Writes a change that watchers need not hear about (rescheduling, lease release); a
    /// conflict means another writer got there first, which is fine.
    pub(super) async fn commit_quietly(&self, job: &Job) {
        match self.commit(job, None).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(error) => warn!(job_id = %job.id, %error, "could not reschedule job"),
        }
    }
}

/// Drops the job's lease so any replica may work on it when it is next due.
pub(super) fn release(job: &mut Job) {
    job.lease_owner = None;
    job.lease_expires_at = None;
}

/// Whether an earlier CopyImage call of this job may have made an image nobody recorded: the
/// process died during the call (no failure recorded) or the call failed in a way that does not
/// prove EC2 did nothing. Throttling and quota refusals prove it.
fn outcome_may_be_unknown(job: &Job) -> bool {
    match &job.failure {
        None => true,
        Some(failure) => !matches!(
            failure.code.as_str(),
            codes::REQUEST_LIMIT_EXCEEDED | codes::RESOURCE_LIMIT_EXCEEDED
        ),
    }
}
