//! The job engine: carries every accepted copy to the end.
//!
//! - [`Engine::submit`] records a job and, when the destination Region's limits allow, starts the
//!   copy at once (as EC2's CopyImage does) so the caller gets the image id.
//! - [`Engine::tick`] is one pass of the background work: start queued copies as limits allow
//!   ([`dispatch`]), track running ones with batched DescribeImages calls ([`tracker`]), stop
//!   cancelled ones. [`Engine::run`] calls it on a timer until shutdown; tests call it directly.
//! - Every change is one store transaction that also appends the job's event; [`hub::EventHub`]
//!   wakes this process's watchers, and PostgreSQL NOTIFY wakes other replicas'.
//!
//! Replicas share work through row leases ([`crate::store::Claim`]): a job is worked on by one
//! replica at a time, and a job whose replica died is taken over when its lease runs out.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    backend::{BackendError, Ec2Backend, StartCopy},
    domain::{CopyRequest, Job, JobEvent, JobId, JobState},
    store::{Created, JobStore, NewJob, StoreError},
};

mod backoff;
mod dispatch;
pub mod hub;
mod limits;
mod settings;
mod tracker;

pub use settings::EngineSettings;

use hub::EventHub;
use limits::RegionLimits;

/// Why an engine operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// EC2 (or the simulator) answered with an error that ends the operation.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The job has already ended, so it cannot be cancelled.
    #[error("job {id} has already ended ({state})")]
    AlreadyEnded {
        /// The job.
        id: JobId,
        /// Its terminal state.
        state: JobState,
    },
}

/// What one tick did, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// Copies started (or adopted) on EC2.
    pub started: usize,
    /// Queued jobs that had to wait for the Region's limits.
    pub deferred: usize,
    /// Running copies checked with DescribeImages.
    pub tracked: usize,
    /// Jobs that reached a terminal state.
    pub finished: usize,
}

impl TickReport {
    fn add(&mut self, other: TickReport) {
        self.started += other.started;
        self.deferred += other.deferred;
        self.tracked += other.tracked;
        self.finished += other.finished;
    }
}

/// Carries jobs from QUEUED to a terminal state. Cheap to share: hold it in an `Arc`.
pub struct Engine {
    store: Arc<dyn JobStore>,
    backend: Arc<dyn Ec2Backend>,
    hub: Arc<EventHub>,
    settings: EngineSettings,
    /// This replica's lease owner name for background work.
    owner: String,
    /// Lease owner name for the copy started inside a CopyImage call, distinct from `owner` so the
    /// background ticks of this replica leave that job alone until the call is done with it.
    inline_owner: String,
    limits: RegionLimits,
    wake: Notify,
}

impl Engine {
    /// An engine over a store and a backend. `replica` names this process in leases.
    pub fn new(
        store: Arc<dyn JobStore>,
        backend: Arc<dyn Ec2Backend>,
        hub: Arc<EventHub>,
        settings: EngineSettings,
        replica: &str,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits: RegionLimits::new(&settings),
            store,
            backend,
            hub,
            owner: replica.to_owned(),
            inline_owner: format!("{replica}/inline"),
            settings,
            wake: Notify::new(),
        })
    }

    /// The store the engine works on.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// The hub that wakes this process's watchers.
    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// Records `request` as a job of `tenant` and, when it is new and the destination Region's
    /// limits allow, starts the copy before answering. With a client token that was used before
    /// with the same parameters, the earlier job is returned and nothing is started.
    pub async fn submit(self: &Arc<Self>, tenant: &str, request: CopyRequest) -> Result<Job, EngineError> {
        let now = now();
        let created = self
            .store
            .create_job(NewJob {
                id: JobId::new(),
                tenant: tenant.to_owned(),
                request,
                lease: Some((self.inline_owner.clone(), self.lease_until(now))),
                now,
            })
            .await?;
        let job = match created {
            Created::Existing(job) => return Ok(job),
            Created::New(job) => job,
        };
        info!(job_id = %job.id, region = %job.request.destination_region, "job accepted");
        // The copy runs in its own task so that a caller who hangs up cannot interrupt it between
        // EC2's answer and the store's record of it.
        let engine = Arc::clone(self);
        let accepted = job.clone();
        let started = tokio::spawn(async move { engine.dispatch_inline(accepted).await });
        match started.await {
            Ok(Ok(job)) => Ok(job),
            // The job is committed, so the call has succeeded: answering with an error would make
            // the caller submit it again. The engine takes the job over when the inline lease runs
            // out, and finds any copy this attempt made by its ClientToken or its name.
            Ok(Err(error)) => {
                warn!(job_id = %job.id, %error, "starting the copy inline failed; the engine will carry the job");
                Ok(job)
            }
            Err(join_error) => {
                warn!(job_id = %job.id, error = %join_error, "inline dispatch task failed; the engine will carry the job");
                Ok(job)
            }
        }
    }

    /// Asks EC2 (or the simulator) whether `request` would be allowed, without doing it. Returns
    /// EC2's answer: `DryRunOperation` when allowed, `UnauthorizedOperation` when not.
    pub async fn dry_run(&self, request: CopyRequest) -> BackendError {
        let copy = StartCopy {
            request,
            client_token: String::new(),
            dry_run: true,
        };
        match self.backend.copy_image(&copy).await {
            Err(error) => error,
            Ok(image_id) => BackendError::from_code(
                "InternalError",
                format!("the backend started copy {image_id} although DryRun was set"),
            ),
        }
    }

    /// Cancels a job: a queued one at once, a copying one by moving it to CANCELLING so the next
    /// tick deregisters its pending image. A job that has ended is
    /// [`EngineError::AlreadyEnded`].
    pub async fn cancel(&self, tenant: &str, id: JobId) -> Result<Job, EngineError> {
        loop {
            let job = self.store.get_job(tenant, id).await?;
            let mut next = job.clone();
            let detail = match job.state {
                state if state.is_terminal() => return Err(EngineError::AlreadyEnded { id, state }),
                JobState::Cancelling => return Ok(job),
                JobState::Queued if !self.may_be_starting(&job) => {
                    next.state = JobState::Cancelled;
                    next.lease_owner = None;
                    next.lease_expires_at = None;
                    "cancelled before the copy started"
                }
                _ => {
                    next.state = JobState::Cancelling;
                    next.next_attempt_at = now();
                    "cancel requested: the pending image will be deregistered"
                }
            };
            match self.commit(&next, Some(detail)).await {
                Ok(job) => {
                    self.wake.notify_one();
                    return Ok(job);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Whether a queued job may have a CopyImage call in flight or an image whose creation was
    /// never confirmed, so cancelling it must look for an image to deregister.
    fn may_be_starting(&self, job: &Job) -> bool {
        let leased = job.lease_expires_at.is_some_and(|until| until > now());
        leased || job.attempts > 0
    }

    /// One pass of background work: start what may start, track what runs, stop what was
    /// cancelled.
    pub async fn tick(&self) -> Result<TickReport, EngineError> {
        let mut report = self.dispatch_due().await?;
        report.add(self.track_due().await?);
        Ok(report)
    }

    /// Ticks until `shutdown` is cancelled: every tick interval, or sooner when woken.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        info!(owner = %self.owner, "job engine started");
        loop {
            match self.tick().await {
                Ok(report) if report != TickReport::default() => debug!(?report, "engine tick"),
                Ok(_) => {}
                Err(error) => warn!(%error, "engine tick failed; retrying next tick"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.settings.tick()) => {}
                () = self.wake.notified() => {}
            }
        }
        info!("job engine stopped");
    }

    /// Writes a change (and its event, with `detail`) and wakes this process's watchers.
    async fn commit(&self, job: &Job, detail: Option<&str>) -> Result<Job, StoreError> {
        let stored = self.store.update_job(job, detail).await?;
        if let Some(detail) = detail {
            self.hub.publish_event(&JobEvent::of(&stored, detail));
        }
        Ok(stored)
    }

    fn lease_until(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        after(from, self.settings.lease())
    }
}

/// The current time at the store's precision (microseconds).
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// `time + duration`, saturating.
fn after(time: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| time.checked_add_signed(d))
        .unwrap_or(time)
}
