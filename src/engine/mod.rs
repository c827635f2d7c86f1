//! The job engine: carries every accepted copy to the end.
//!
//! - [`Engine::submit`] records a job and, when the destination Region's limits allow, starts the
//!   copy at once (as EC2's CopyImage does) so the caller gets the image id: two commits, the
//!   Region's count of copies in progress kept in memory between ticks (`limits.rs`).
//! - [`Engine::tick`] is one pass of the background work: start queued copies as limits allow
//!   ([`dispatch`]), track running ones with batched DescribeImages calls ([`tracker`]), stop
//!   cancelled ones. [`Engine::run`] calls it on a timer until shutdown; tests call it directly.
//! - Every change is one store transaction that also appends the job's event; [`hub::EventHub`]
//!   wakes this process's watchers, and PostgreSQL NOTIFY wakes other replicas'.
//! - Distributions ([`Engine::create_distribution`]) record a job per target and leave them to
//!   the tick like any other; the tick also cancels the targets of cancelled distributions and
//!   rolls back failed ones ([`rollback`]).
//!
//! Replicas share work through row leases ([`crate::store::Claim`]): a job is worked on by one
//! replica at a time, and a job whose replica died is taken over when its lease runs out.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    backend::{BackendError, Backends, Ec2Backend, StartCopy},
    domain::{
        AccountId, Change, CopyRequest, DistributionId, Job, JobEvent, JobId, JobState, Refused, codes,
        distribution::Refusal,
    },
    store::{Created, JobStore, StoreError},
};

mod backoff;
mod checks;
mod dispatch;
mod distributions;
mod finishing;
pub mod hub;
mod limits;
mod polling;
mod rollback;
mod settings;
mod tracker;

pub use settings::EngineSettings;

use hub::EventHub;
use limits::{Place, RegionLimits};

/// Watched jobs looked up per store query when looking for events watchers missed.
pub const WATCHED_JOBS_PER_QUERY: usize = 1000;

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
    /// The distribution's state does not allow what was asked.
    #[error("distribution {id}: {refusal}")]
    DistributionRefused {
        /// The distribution.
        id: DistributionId,
        /// Why not.
        refusal: Refusal,
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

/// How a new job's copy is started inside the CopyImage call that creates it.
enum InlineStart {
    /// The Region admitted it; the attempt is recorded in the job's first commit.
    Admitted(limits::Admission),
    /// It needs checks against EC2 first; the Region's limits are asked after them.
    AfterChecks,
    /// The Region is at its limits: the engine's tick starts it.
    Later,
}

/// Carries jobs from QUEUED to a terminal state. Cheap to share: hold it in an `Arc`.
pub struct Engine {
    store: Arc<dyn JobStore>,
    backends: Arc<dyn Backends>,
    hub: Arc<EventHub>,
    settings: EngineSettings,
    /// This replica's lease owner name for background work.
    owner: String,
    /// Lease owner name for the copy started inside a CopyImage call, distinct from `owner` so the
    /// background ticks of this replica leave that job alone until the call is done with it.
    inline_owner: String,
    limits: RegionLimits,
    /// Set once the Region limits hold the store's counts (by the first tick or call).
    counted_once: tokio::sync::OnceCell<()>,
    tracking_backoff: limits::TrackingBackoff,
    wake: Notify,
}

impl Engine {
    /// An engine over a store and every account's backend. `replica` names this process in
    /// leases.
    pub fn new(
        store: Arc<dyn JobStore>,
        backends: Arc<dyn Backends>,
        hub: Arc<EventHub>,
        settings: EngineSettings,
        replica: &str,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits: RegionLimits::new(&settings),
            counted_once: tokio::sync::OnceCell::new(),
            tracking_backoff: limits::TrackingBackoff::default(),
            store,
            backends,
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

    /// Every account's backend.
    pub fn backends(&self) -> &Arc<dyn Backends> {
        &self.backends
    }

    /// The backend of `account` (`None`: the service's own). An account that is no longer
    /// configured answers as EC2 does for a call that is not allowed.
    fn backend_for(&self, account: Option<&AccountId>) -> Result<Arc<dyn Ec2Backend>, BackendError> {
        match account {
            None => Ok(self.backends.own()),
            Some(account) => self
                .backends
                .for_account(account)
                .map_err(|unknown| BackendError::from_code(codes::UNAUTHORIZED_OPERATION, unknown.to_string())),
        }
    }

    /// The hub that wakes this process's watchers.
    pub fn hub(&self) -> &Arc<EventHub> {
        &self.hub
    }

    /// Records `request` as a job of `tenant` and, when it is new and the destination Region's
    /// limits allow, starts the copy before answering. With a client token that was used before
    /// with the same parameters, the earlier job is returned and nothing is started.
    ///
    /// A copy that needs no checks costs two commits: the job with its first event and its
    /// attempt recorded (the Region's limits are counted in memory, so admitting it costs no
    /// query), then EC2's answer.
    pub async fn submit(self: &Arc<Self>, tenant: &str, request: CopyRequest) -> Result<Job, EngineError> {
        let now = now();
        let lease = (self.inline_owner.clone(), self.lease_until(now));
        let (accepted, start) = if checks::needs_checks(&request) {
            let accepted = Job::accept(JobId::new(), tenant, request, now, Some(lease));
            (accepted, InlineStart::AfterChecks)
        } else {
            self.count_copies_once().await?;
            match self.limits.try_admit(&Place::of_request(&request)) {
                Ok(admission) => (
                    Job::accept_starting(JobId::new(), tenant, request, now, lease),
                    InlineStart::Admitted(admission),
                ),
                Err(wait) => (
                    Job::accept_waiting(JobId::new(), tenant, request, now, after(now, wait)),
                    InlineStart::Later,
                ),
            }
        };
        let job = match self.store.create_job(&accepted).await? {
            Created::Existing(job) => return Ok(job),
            Created::New(job) => job,
        };
        info!(job_id = %job.id(), region = %job.request().destination_region, "job accepted");
        let engine = Arc::clone(self);
        let accepted = job.clone();
        match start {
            InlineStart::Later => Ok(job),
            InlineStart::Admitted(admission) => {
                self.answer_after_copy(job, async move { engine.copy_admitted(accepted, admission).await })
                    .await
            }
            InlineStart::AfterChecks => {
                self.answer_after_copy(job, async move { engine.dispatch_inline(accepted).await })
                    .await
            }
        }
    }

    /// Runs `copy` (the start of `job`'s copy) in its own task, so that a caller who hangs up
    /// cannot interrupt it between EC2's answer and the store's record of it, and answers with
    /// the job as the copy left it.
    async fn answer_after_copy(
        &self,
        job: Job,
        copy: impl std::future::Future<Output = Result<Job, EngineError>> + Send + 'static,
    ) -> Result<Job, EngineError> {
        match tokio::spawn(copy).await {
            Ok(Ok(job)) => Ok(job),
            // The job is committed, so the call has succeeded: answering with an error would make
            // the caller submit it again. The engine takes the job over when the inline lease runs
            // out, and finds any copy this attempt made by its ClientToken or its name.
            Ok(Err(error)) => {
                warn!(job_id = %job.id(), %error, "starting the copy inline failed; the engine will carry the job");
                Ok(job)
            }
            Err(join_error) => {
                warn!(job_id = %job.id(), error = %join_error, "inline dispatch task failed; the engine will carry the job");
                Ok(job)
            }
        }
    }

    /// Asks EC2 (or the simulator) whether `request` would be allowed, without doing it: `Ok`
    /// when EC2 answers `DryRunOperation`, else EC2's refusal (`UnauthorizedOperation`, ...).
    pub async fn dry_run(&self, request: CopyRequest) -> Result<(), BackendError> {
        let backend = self.backend_for(request.destination_account.as_ref())?;
        let copy = StartCopy {
            request,
            client_token: String::new(),
            dry_run: true,
        };
        match backend.copy_image(&copy).await {
            Err(error) if error.is_dry_run_success() => Ok(()),
            Err(error) => Err(error),
            Ok(image_id) => Err(BackendError::from_code(
                "InternalError",
                format!("the backend started copy {image_id} although DryRun was set"),
            )),
        }
    }

    /// Cancels a job of `tenant`: a queued one at once, a copying one by moving it to CANCELLING
    /// so the next tick deregisters its pending image. A job that has ended is
    /// [`EngineError::AlreadyEnded`].
    pub async fn cancel(&self, tenant: &str, id: JobId) -> Result<Job, EngineError> {
        let job = self.store.get_tenant_job(tenant, id).await?;
        self.cancel_job(job).await
    }

    /// Cancels `job` as read, reading it again when another writer changed it first.
    async fn cancel_job(&self, job: Job) -> Result<Job, EngineError> {
        let mut job = job;
        loop {
            let change = match job.request_cancel(now()) {
                Ok(Some(change)) => change,
                Ok(None) => return Ok(job),
                Err(refused) => {
                    return Err(EngineError::AlreadyEnded {
                        id: job.id(),
                        state: refused.state,
                    });
                }
            };
            match self.record(change).await {
                Ok(job) => {
                    self.wake.notify_one();
                    return Ok(job);
                }
                Err(StoreError::Conflict(id)) => job = self.store.get_job_any_tenant(id).await?,
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Hands this process's watchers of `job` the events another replica announced up to
    /// `sequence`, read from the store once for all of them instead of once per watcher; when
    /// they cannot be read, the watchers are told to read them themselves. Nothing when nobody
    /// here watches the job. Returns when each event handed over was recorded.
    pub async fn relay_announced_events(&self, job: JobId, sequence: u64) -> Vec<DateTime<Utc>> {
        let Some(known) = self.hub.newest_known(job) else {
            return Vec::new();
        };
        if sequence <= known {
            return Vec::new();
        }
        let recent = u64::try_from(hub::RECENT_EVENTS).unwrap_or(u64::MAX);
        let after = known.max(sequence.saturating_sub(recent));
        let limit = u32::try_from(sequence - after).unwrap_or(u32::MAX);
        match self.store.list_events(job, after, limit).await {
            Ok(events) if events.last().is_some_and(|event| event.sequence >= sequence) => {
                for event in &events {
                    self.hub.publish_event(event);
                }
                return events.iter().map(|event| event.created_at).collect();
            }
            Ok(_) => self.hub.publish(job, sequence),
            Err(error) => {
                debug!(job_id = %job, %error, "cannot read announced events; the watchers will");
                self.hub.publish(job, sequence);
            }
        }
        Vec::new()
    }

    /// The watchers' safety net against a lost notification: compares, for every job watched on
    /// this replica, the newest event in the store with the newest this replica knows of, and
    /// hands the watchers of each job that is behind its missing events as an announcement
    /// would. One store query per [`WATCHED_JOBS_PER_QUERY`] watched jobs, however many
    /// watchers each has. Returns how many jobs were behind.
    pub async fn catch_up_watchers(&self) -> Result<usize, EngineError> {
        let mut behind = 0;
        for jobs in self.hub.watched_job_ids().chunks(WATCHED_JOBS_PER_QUERY) {
            for (job, newest) in self.store.newest_event_sequences(jobs).await? {
                if self.hub.newest_known(job).is_some_and(|known| newest > known) {
                    behind += 1;
                    self.relay_announced_events(job, newest).await;
                }
            }
        }
        Ok(behind)
    }

    /// Runs [`catch_up_watchers`](Self::catch_up_watchers) every `period` until `shutdown`.
    pub async fn catch_up_watchers_every(self: Arc<Self>, period: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
            match self.catch_up_watchers().await {
                Ok(0) => {}
                Ok(behind) => debug!(behind, "watched jobs caught up from the store"),
                Err(error) => debug!(%error, "cannot look for missed events; will look again"),
            }
        }
    }

    /// One pass of background work: start what may start, track what runs, stop what was
    /// cancelled.
    pub async fn tick(&self) -> Result<TickReport, EngineError> {
        self.refresh_in_progress().await?;
        // Calls after the first tick admit against the counts it read: no query of their own.
        let _ = self.counted_once.set(());
        let mut report = self.dispatch_due().await?;
        report.add(self.track_due().await?);
        self.wind_down_due().await?;
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
                () = tokio::time::sleep(self.settings.tick) => {}
                () = self.wake.notified() => {}
            }
        }
        info!("job engine stopped");
    }

    /// Records a change in the store (with its event, if it has one) and tells this process's
    /// watchers about the event.
    async fn record(&self, change: Change) -> Result<Job, StoreError> {
        let stored = self.store.update_job(change.job(), change.event()).await?;
        if let Some(detail) = change.event() {
            self.hub.publish_event(&JobEvent::of(&stored, detail));
        }
        if let Some(distribution) = stored.distribution_id() {
            self.hub.poke_distribution(distribution);
        }
        Ok(stored)
    }

    /// Records a change and logs a failure instead of returning it: for a transition that
    /// cannot be written now because another writer got there first, or that the next tick
    /// makes again.
    async fn record_quietly(&self, change: Result<Change, Refused>) {
        let change = match change {
            Ok(change) => change,
            Err(refused) => {
                warn!(%refused, "transition refused");
                return;
            }
        };
        let id = change.job().id();
        match self.record(change).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(error) => warn!(job_id = %id, %error, "could not record a change"),
        }
    }

    /// How often running copies may and must be looked at.
    fn pacing(&self) -> polling::Pacing {
        polling::Pacing {
            floor: self.settings.track_min_interval,
            ceiling: self.settings.track_max_interval,
        }
    }

    /// When to look at `job`'s copy next, seen from `now`, if its snapshots are `progress` done.
    fn next_look(&self, job: &Job, progress: Option<u8>, now: DateTime<Utc>) -> polling::Look {
        let since = job.copying_since().unwrap_or(now);
        let deadline = job
            .request()
            .snapshot_copy_completion_duration_minutes
            .map(|minutes| after(since, Duration::from_secs(u64::from(minutes) * 60)));
        self.pacing().next_look(
            polling::Copy {
                since,
                progress,
                deadline,
            },
            now,
        )
    }

    fn lease_until(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        after(from, self.settings.lease)
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
