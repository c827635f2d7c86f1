//! Following copies to their end: one DescribeImages call (and one DescribeSnapshots call for
//! progress) per destination Region per page of running copies, and deregistration of the pending
//! image of a cancelled copy.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{
    Engine, EngineError, TickReport, after, backoff::retry_delay, dispatch::refused_as_conflict, limits::Place, now,
};
use crate::{
    backend::{Ec2Backend, ImageState, ImageStatus, SnapshotProgress},
    domain::{Change, CopyEnd, Job, JobId, JobState, Refused, Region, Stop},
    store::{Claim, StoreError},
};

/// Pages of due copies one tick looks at, at most: bounds a tick when very many copies run.
const MAX_TRACK_PAGES_PER_TICK: usize = 50;

/// What looking at one Region's page of copies found.
#[derive(Default)]
struct Looked {
    /// Copies that reached a terminal state.
    ended: usize,
    /// Copies still running, each with when to look at it again.
    unchanged: Vec<(JobId, DateTime<Utc>)>,
}

impl Engine {
    /// Claims due running, finishing and cancelling jobs, page by page, and moves each as EC2
    /// says. Copies that did not change are put off to the next tick, so every due copy is looked
    /// at once per tick: one DescribeImages call per destination account and Region per page.
    pub(super) async fn track_due(&self) -> Result<TickReport, EngineError> {
        let mut report = TickReport::default();
        let page_size = self.settings.track_page_size;
        if page_size == 0 {
            return Ok(report);
        }
        for _ in 0..MAX_TRACK_PAGES_PER_TICK {
            let now = now();
            let claimed = self
                .store
                .claim_jobs(&Claim {
                    owner: self.owner.clone(),
                    states: vec![JobState::Copying, JobState::Finishing, JobState::Cancelling],
                    now,
                    lease_until: self.lease_until(now),
                    limit: page_size,
                })
                .await?;
            let full_page = claimed.len() == page_size as usize;
            let mut unchanged = Vec::new();
            let mut copying: BTreeMap<Place, Vec<Job>> = BTreeMap::new();
            for job in claimed {
                match job.state() {
                    JobState::Cancelling => {
                        let id = job.id();
                        if self.stop(job).await? {
                            report.finished += 1;
                        } else {
                            unchanged.push((id, after(now, self.settings.tick)));
                        }
                    }
                    JobState::Finishing => {
                        if self.finish(job).await? {
                            report.finished += 1;
                        }
                    }
                    _ => copying.entry(Place::of(&job)).or_default().push(job),
                }
            }
            for (place, jobs) in copying {
                report.tracked += jobs.len();
                let looked = self.track_place(&place, jobs).await?;
                report.finished += looked.ended;
                unchanged.extend(looked.unchanged);
            }
            self.store.defer_jobs(&unchanged, &self.owner).await?;
            if !full_page {
                break;
            }
        }
        Ok(report)
    }

    /// Checks one account's running copies in one Region with one DescribeImages call.
    async fn track_place(&self, place: &Place, jobs: Vec<Job>) -> Result<Looked, StoreError> {
        let mut looked = Looked::default();
        let image_ids: Vec<String> = jobs
            .iter()
            .filter_map(|job| job.image_id().map(str::to_owned))
            .collect();
        let described = match self.backend_for(place.account.as_ref()) {
            Ok(backend) => backend
                .describe_images(&place.region, &image_ids)
                .await
                .map(|images| (backend, images)),
            Err(error) => Err(error),
        };
        let (backend, images) = match described {
            Ok(described) => {
                self.tracking_backoff.succeeded(place);
                described
            }
            Err(error) => {
                // Back off per account and Region, as from any other failed call: under
                // throttling, looking again every tick would only deepen it.
                let failures = self.tracking_backoff.failed(place);
                let delay = retry_delay(failures, self.settings.retry_base, self.settings.retry_max);
                warn!(%place, %error, failures, retry_in = ?delay, "describing copies failed; will look again");
                let retry = after(now(), delay.max(self.settings.tick));
                looked.unchanged = jobs.iter().map(|job| (job.id(), retry)).collect();
                return Ok(looked);
            }
        };
        let images: HashMap<String, ImageStatus> = images
            .into_iter()
            .map(|image| (image.image_id.clone(), image))
            .collect();
        let now = now();
        // Snapshot progress only for the copies whose pace is still worth learning.
        let wanted = jobs
            .iter()
            .filter(|job| self.next_look(job, job.progress_percent(), now).with_progress)
            .filter_map(|job| job.image_id())
            .filter_map(|id| images.get(id));
        let progress = progress_of(&*backend, &place.region, wanted).await;

        for job in jobs {
            let image = job.image_id().and_then(|id| images.get(id));
            let look = |progress: Option<u8>| self.next_look(&job, progress, now).at;
            let change = match judge(&job, image, &progress, self.settings.visibility_grace, now, &look) {
                Ok(Some(change)) => change,
                Ok(None) => {
                    looked.unchanged.push((job.id(), look(job.progress_percent())));
                    continue;
                }
                Err(refused) => {
                    warn!(%refused, "tracked a job that is not copying");
                    continue;
                }
            };
            match self.record(change).await {
                Ok(stored) if stored.state().is_terminal() => {
                    info!(job_id = %stored.id(), state = %stored.state(), "job ended");
                    looked.ended += 1;
                }
                Ok(_) | Err(StoreError::Conflict(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(looked)
    }

    /// Stops a cancelled copy by deregistering its image; true when the job is now CANCELLED.
    async fn stop(&self, job: Job) -> Result<bool, StoreError> {
        let region = &job.request().destination_region;
        let backend = match self.backend_for(job.request().destination_account.as_ref()) {
            Ok(backend) => backend,
            Err(error) => {
                let how = Stop::Undeletable {
                    image_id: job.image_id().unwrap_or("no image").to_owned(),
                    error: error.to_string(),
                };
                return self.record_stop(&job, how).await;
            }
        };
        let image_id = match job.image_id() {
            Some(id) => Some(id.to_owned()),
            None if job.attempts() > 0 => match self.find_earlier_copy(&job, &*backend).await {
                Ok(found) => found,
                Err(error) => {
                    warn!(job_id = %job.id(), %error, "looking for the image to deregister failed; will retry");
                    return Ok(false);
                }
            },
            None => None,
        };
        // A finished image (its snapshots known) takes its snapshots with it; a pending one
        // stops its copy.
        let finished = !job.snapshot_ids().is_empty();
        let deregistered = match &image_id {
            Some(image_id) if finished => backend.deregister_image_and_snapshots(region, image_id).await.map(drop),
            Some(image_id) => backend.deregister_image(region, image_id).await,
            None => Ok(()),
        };
        let how = match image_id {
            Some(image_id) => match deregistered {
                Ok(()) if finished => Stop::DeregisteredWithSnapshots(image_id),
                Ok(()) => Stop::Deregistered(image_id),
                Err(error) if !error.retryable => Stop::Undeletable {
                    image_id,
                    error: error.to_string(),
                },
                Err(error) => {
                    warn!(job_id = %job.id(), %error, "deregistering failed; will retry");
                    return Ok(false);
                }
            },
            None => Stop::NothingMade,
        };
        self.record_stop(&job, how).await
    }

    async fn record_stop(&self, job: &Job, how: Stop) -> Result<bool, StoreError> {
        match self.record(refused_as_conflict(job.stopped(how))?).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Decides what EC2's view of a running copy means for its job: the change to record, or
/// `None` when there is no news (look again at the next tick).
fn judge(
    job: &Job,
    image: Option<&ImageStatus>,
    progress: &HashMap<String, u8>,
    grace: Duration,
    now: DateTime<Utc>,
    next_look: &dyn Fn(Option<u8>) -> DateTime<Utc>,
) -> Result<Option<Change>, Refused> {
    let Some(image) = image else {
        let missing_for = (now - job.updated_at()).to_std().unwrap_or_default();
        if missing_for <= grace {
            // EC2's eventual consistency: a new image may be invisible for a while.
            return Ok(None);
        }
        return job
            .copy_failed(CopyEnd::Missing {
                for_duration: missing_for,
            })
            .map(Some);
    };
    match &image.state {
        ImageState::Pending => {
            let percents: Vec<u32> = image
                .snapshot_ids
                .iter()
                .filter_map(|id| progress.get(id).map(|p| u32::from(*p)))
                .collect();
            if percents.is_empty() || percents.len() < image.snapshot_ids.len() {
                return Ok(None);
            }
            let average = percents.iter().sum::<u32>() / u32::try_from(percents.len()).unwrap_or(1);
            let percent = u8::try_from(average).unwrap_or(99);
            job.progressed(percent, next_look(Some(percent.min(99))))
        }
        ImageState::Available => job.copy_available(image.snapshot_ids.clone(), now).map(Some),
        ImageState::Failed => job.copy_failed(CopyEnd::Failed(image.state_reason.clone())).map(Some),
        ImageState::Deregistered => job.copy_failed(CopyEnd::Deregistered).map(Some),
        ImageState::Other(state) if matches!(state.as_str(), "invalid" | "error") => job
            .copy_failed(CopyEnd::Broken {
                state: state.clone(),
                reason: image.state_reason.clone(),
            })
            .map(Some),
        ImageState::Other(_) => Ok(None),
    }
}

/// Snapshot progress of the pending images, by snapshot id; empty when EC2 would not say.
async fn progress_of<'a>(
    backend: &dyn Ec2Backend,
    region: &Region,
    images: impl Iterator<Item = &'a ImageStatus>,
) -> HashMap<String, u8> {
    let snapshot_ids: Vec<String> = images
        .filter(|image| image.state == ImageState::Pending)
        .flat_map(|image| image.snapshot_ids.iter().cloned())
        .collect();
    if snapshot_ids.is_empty() {
        return HashMap::new();
    }
    match backend.snapshot_progress(region, &snapshot_ids).await {
        Ok(snapshots) => snapshots
            .into_iter()
            .filter_map(
                |SnapshotProgress {
                     snapshot_id,
                     progress_percent,
                 }| progress_percent.map(|p| (snapshot_id, p)),
            )
            .collect(),
        Err(error) => {
            warn!(%region, %error, "reading snapshot progress failed");
            HashMap::new()
        }
    }
}
