//! Starting copies on EC2: admission by the Region's limits, one CopyImage call per attempt with
//! the job's deterministic ClientToken, adoption of a copy whose outcome was never learned, and
//! the retry-or-fail decision.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, stream};
use tracing::{info, warn};

use super::{
    Engine, EngineError, TickReport, after,
    backoff::retry_delay,
    checks::Checked,
    limits::{Admission, Place},
    now,
};
use crate::{
    backend::{BackendError, Ec2Backend, ImageState, StartCopy},
    domain::{AttemptFailure, Change, Job, JobId, JobState, Refused, RetryPlan, codes},
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
    /// The copy of a job created with its first attempt recorded ([`Job::accept_starting`]),
    /// inside the CopyImage call that created it: one CopyImage call to EC2 and one commit for
    /// its answer. `admission` is the place the Region's limits gave it.
    pub(super) async fn copy_admitted(&self, job: Job, admission: Admission) -> Result<Job, EngineError> {
        let outcome = match self.backend_for(job.request().destination_account.as_ref()) {
            Ok(backend) => self.call_copy_image(job, &*backend).await,
            Err(error) => {
                let change = refused_as_conflict(job.check_failed(error.to_failure()));
                match change {
                    Ok(change) => self.record(change).await.map(|job| (job, Started::Ended)),
                    Err(conflict) => Err(conflict),
                }
            }
        };
        drop(admission);
        self.answer_inline(outcome).await
    }

    /// The copy started inside a CopyImage call for a job that needs checks first: the job
    /// was just created holding the inline lease. Starts it if the Region's limits allow,
    /// else leaves it queued for the engine.
    pub(super) async fn dispatch_inline(&self, job: Job) -> Result<Job, EngineError> {
        self.count_copies_once().await?;
        match self.limits.try_admit(&Place::of(&job)) {
            Ok(admission) => {
                let outcome = self.start(job).await;
                drop(admission);
                self.answer_inline(outcome).await
            }
            Err(wait) => Ok(self
                .record(refused_as_conflict(job.wait_for_limits(after(now(), wait)))?)
                .await?),
        }
    }

    /// The job a CopyImage call answers with once its copy was started (or not).
    async fn answer_inline(&self, outcome: Result<(Job, Started), StoreError>) -> Result<Job, EngineError> {
        match outcome {
            Ok((job, _)) => Ok(job),
            // A cancel got there first; answer with the job as it now stands.
            Err(StoreError::Conflict(id)) => Ok(self.store.get_job_any_tenant(id).await?),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads the counts of copies in progress for the Region limits if no tick has yet: a call
    /// that comes before the first tick admits against them too.
    pub(super) async fn count_copies_once(&self) -> Result<(), StoreError> {
        self.counted_once.get_or_try_init(|| self.refresh_in_progress()).await?;
        Ok(())
    }

    /// Brings every place's count of copies in progress up to date from the store: one query
    /// per tick, whatever the number of places.
    pub(super) async fn refresh_in_progress(&self) -> Result<(), StoreError> {
        let mark = self.limits.mark();
        let stored: HashMap<Place, u64> = self
            .store
            .count_in_progress()
            .await?
            .into_iter()
            .map(|count| {
                let place = Place {
                    account: count.account,
                    region: count.destination_region,
                };
                (place, count.count)
            })
            .collect();
        self.limits.refreshed(mark, &stored);
        Ok(())
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
        let mut by_place: BTreeMap<Place, Vec<Job>> = BTreeMap::new();
        for job in claimed {
            by_place.entry(Place::of(&job)).or_default().push(job);
        }

        let mut report = TickReport::default();
        let mut admitted = Vec::new();
        for (place, jobs) in by_place {
            for job in jobs {
                match self.limits.try_admit(&place) {
                    Ok(admission) => admitted.push((job, admission)),
                    Err(wait) => {
                        self.record_quietly(job.postpone(after(now, wait))).await;
                        report.deferred += 1;
                    }
                }
            }
        }

        let outcomes: Vec<Result<(Job, Started), StoreError>> = stream::iter(admitted)
            .map(|(job, admission)| async move {
                let outcome = self.start(job).await;
                drop(admission);
                outcome
            })
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

    /// Starts (or adopts) the copy of a job this replica holds the lease on, after the checks
    /// its first attempt needs.
    async fn start(&self, job: Job) -> Result<(Job, Started), StoreError> {
        let backend = match self.backend_for(job.request().destination_account.as_ref()) {
            Ok(backend) => backend,
            Err(error) => {
                let change = refused_as_conflict(job.check_failed(error.to_failure()))?;
                return Ok((self.record(change).await?, Started::Ended));
            }
        };
        let job = match self.check_before_copying(job, &backend).await? {
            Checked::Ready(job) => job,
            Checked::Ended(job) => return Ok((job, Started::Ended)),
            Checked::Later(job) => return Ok((job, Started::Waiting)),
        };
        if let Some(settles) = job.earlier_call_settles_at(self.settings.lease)
            && now() < settles
        {
            // The earlier attempt's call may still be on its way to EC2: look for its image
            // once it can have landed, or a second copy could be made beside it.
            self.store.defer_jobs(&[(job.id(), settles)], &self.owner).await?;
            return Ok((job, Started::Waiting));
        }
        if job.earlier_outcome_unknown() {
            match self.find_earlier_copy(&job, &*backend).await {
                Ok(Some(image_id)) => {
                    let now = now();
                    let first_look = after(now, self.settings.track_min_interval);
                    let change = job.copy_adopted(&image_id, now, first_look);
                    return self.record_copying(&job, change, image_id).await;
                }
                Ok(None) => {}
                Err(error) => return self.record_failed_attempt(&job, error).await,
            }
        }

        let attempt = self
            .record(refused_as_conflict(job.record_attempt(self.lease_until(now())))?)
            .await?;
        self.call_copy_image(attempt, &*backend).await
    }

    /// Calls CopyImage for a job whose attempt is recorded, and records EC2's answer. The call
    /// is made only while the attempt's lease still covers it: a commit that took most of the
    /// lease (a stalled database link) would let another replica take the job over mid-call.
    /// Such a job is left to whoever takes it next, who waits for this call's window to close
    /// ([`Job::earlier_call_settles_at`]) and then looks for a copy before making one.
    async fn call_copy_image(&self, attempt: Job, backend: &dyn Ec2Backend) -> Result<(Job, Started), StoreError> {
        let covered = attempt
            .lease_expires_at()
            .is_some_and(|until| after(now(), self.settings.lease.mul_f64(0.9)) <= until);
        if !covered {
            warn!(job_id = %attempt.id(), "the attempt's commit took most of its lease; the copy is left to the engine");
            return Ok((attempt, Started::Waiting));
        }
        let call = StartCopy {
            request: attempt.request().clone(),
            client_token: attempt.id().ec2_client_token(),
            dry_run: false,
        };
        match backend.copy_image(&call).await {
            Ok(image_id) => {
                let now = now();
                let first_look = after(now, self.settings.track_min_interval);
                let change = attempt.copy_started(&image_id, now, first_look);
                self.record_copying(&attempt, change, image_id).await
            }
            Err(error) => self.record_failed_attempt(&attempt, error).await,
        }
    }

    /// Looks in the destination account and Region for an image this job's earlier attempt made.
    pub(super) async fn find_earlier_copy(
        &self,
        job: &Job,
        backend: &dyn Ec2Backend,
    ) -> Result<Option<String>, BackendError> {
        let request = job.request();
        let images = backend
            .find_images_by_name(&request.destination_region, request.name.as_str())
            .await?;
        let earliest = job.created_at() - ADOPTION_SKEW;
        Ok(images
            .into_iter()
            .filter(|image| image.state != ImageState::Deregistered)
            .filter(|image| image.creation_date.is_none_or(|created| created >= earliest))
            .map(|image| image.image_id)
            .next())
    }

    async fn record_copying(
        &self,
        job: &Job,
        change: Result<Change, Refused>,
        image_id: String,
    ) -> Result<(Job, Started), StoreError> {
        match self.record(refused_as_conflict(change)?).await {
            Ok(stored) => {
                info!(job_id = %stored.id(), image_id = %image_id, "copy started");
                Ok((stored, Started::Copying))
            }
            Err(StoreError::Conflict(_)) => self.hand_image_to_cancel(job.id(), image_id).await,
            Err(error) => Err(error),
        }
    }

    /// The job changed while its copy was being started: a cancel arrived. Give the cancel the
    /// image so the tracker deregisters it.
    async fn hand_image_to_cancel(&self, id: JobId, image_id: String) -> Result<(Job, Started), StoreError> {
        let current = self.store.get_job_any_tenant(id).await?;
        match current.hand_image_to_cancel(&image_id, now()) {
            Ok(change) => Ok((self.record(change).await?, Started::Ended)),
            Err(refused) => {
                warn!(job_id = %id, image_id = %image_id, %refused, "copy started for a job that changed meanwhile");
                Err(StoreError::Conflict(id))
            }
        }
    }

    async fn record_failed_attempt(&self, job: &Job, error: BackendError) -> Result<(Job, Started), StoreError> {
        let kind = if error.code == codes::RESOURCE_LIMIT_EXCEEDED {
            AttemptFailure::QuotaFull
        } else if error.code == codes::REQUEST_LIMIT_EXCEEDED {
            AttemptFailure::Throttled
        } else if error.retryable {
            AttemptFailure::Transient
        } else {
            AttemptFailure::Permanent
        };
        let plan = RetryPlan {
            max_attempts: self.settings.max_attempts,
            delay: retry_delay(job.attempts(), self.settings.retry_base, self.settings.retry_max),
            now: now(),
        };
        let change = refused_as_conflict(job.attempt_failed(error.to_failure(), kind, plan))?;
        let stored = self.record(change).await?;
        let started = match stored.state() {
            JobState::Failed => {
                info!(job_id = %stored.id(), code = %error.code, "copy failed");
                Started::Ended
            }
            _ => Started::Waiting,
        };
        Ok((stored, started))
    }
}

/// A transition the job's state refused: the job changed since it was read (another replica or
/// a cancel moved it), which the engine handles like a conflicting write.
pub(super) fn refused_as_conflict<T>(result: Result<T, Refused>) -> Result<T, StoreError> {
    result.map_err(|refused| StoreError::Conflict(refused.job))
}
