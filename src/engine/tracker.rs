//! Following copies to their end: one DescribeImages call (and one DescribeSnapshots call for
//! progress) per destination Region per page of running copies, and deregistration of the pending
//! image of a cancelled copy.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use tracing::{info, warn};

use super::{Engine, EngineError, TickReport, after, dispatch::release, now};
use crate::{
    backend::{ImageState, ImageStatus, SnapshotProgress},
    domain::{Failure, Job, JobId, JobState, Region, codes},
    store::{Claim, StoreError},
};

/// Pages of due copies one tick looks at, at most: bounds a tick when very many copies run.
const MAX_TRACK_PAGES_PER_TICK: usize = 50;

/// What looking at one Region's page of copies found.
#[derive(Default)]
struct Looked {
    /// Copies that reached a terminal state.
    ended: usize,
    /// Copies still running, to look at again next tick.
    unchanged: Vec<JobId>,
}

/// What tracking decided for one job.
enum Verdict {
    /// Nothing to record; look again later.
    Unchanged,
    /// Record this change with this event detail.
    Changed(Box<Job>, String),
}

impl Engine {
    /// Claims due running and cancelling jobs, page by page, and moves each as EC2 says. Copies
    /// that did not change are put off to the next tick, so every due copy is looked at once per
    /// tick: one DescribeImages call per destination Region per page.
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
                    states: vec![JobState::Copying, JobState::Cancelling],
                    now,
                    lease_until: self.lease_until(now),
                    limit: page_size,
                })
                .await?;
            let full_page = claimed.len() == page_size as usize;
            let mut unchanged = Vec::new();
            let mut copying: BTreeMap<Region, Vec<Job>> = BTreeMap::new();
            for job in claimed {
                if job.state == JobState::Cancelling {
                    let id = job.id;
                    if self.stop(job).await? {
                        report.finished += 1;
                    } else {
                        unchanged.push(id);
                    }
                } else {
                    copying
                        .entry(job.request.destination_region.clone())
                        .or_default()
                        .push(job);
                }
            }
            for (region, jobs) in copying {
                report.tracked += jobs.len();
                let looked = self.track_region(&region, jobs).await?;
                report.finished += looked.ended;
                unchanged.extend(looked.unchanged);
            }
            let next_look = after(now, self.settings.tick());
            self.store.defer_jobs(&unchanged, &self.owner, next_look).await?;
            if !full_page {
                break;
            }
        }
        Ok(report)
    }

    /// Checks one Region's running copies with one DescribeImages call.
    async fn track_region(&self, region: &Region, jobs: Vec<Job>) -> Result<Looked, StoreError> {
        let mut looked = Looked::default();
        let image_ids: Vec<String> = jobs.iter().filter_map(|job| job.image_id.clone()).collect();
        let images = match self.backend.describe_images(region, &image_ids).await {
            Ok(images) => images,
            Err(error) => {
                warn!(%region, %error, "describing copies failed; will look again next tick");
                looked.unchanged = jobs.iter().map(|job| job.id).collect();
                return Ok(looked);
            }
        };
        let images: HashMap<String, ImageStatus> = images
            .into_iter()
            .map(|image| (image.image_id.clone(), image))
            .collect();
        let progress = self.progress_of(region, images.values()).await;

        for job in jobs {
            let id = job.id;
            let image = job.image_id.as_ref().and_then(|id| images.get(id));
            match judge(job, image, &progress, self.settings.visibility_grace()) {
                Verdict::Unchanged => looked.unchanged.push(id),
                Verdict::Changed(mut next, detail) => {
                    if !next.state.is_terminal() {
                        next.next_attempt_at = after(now(), self.settings.tick());
                    }
                    match self.commit(&next, Some(&detail)).await {
                        Ok(stored) if stored.state.is_terminal() => {
                            info!(job_id = %stored.id, state = %stored.state, "job ended");
                            looked.ended += 1;
                        }
                        Ok(_) => {}
                        Err(StoreError::Conflict(_)) => {}
                        Err(error) => return Err(error),
                    }
                }
            }
        }
        Ok(looked)
    }

    /// Snapshot progress of the pending images, by snapshot id; empty when EC2 would not say.
    async fn progress_of<'a>(
        &self,
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
        match self.backend.snapshot_progress(region, &snapshot_ids).await {
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

    /// Stops a cancelled copy by deregistering its image; true when the job is now CANCELLED.
    async fn stop(&self, job: Job) -> Result<bool, StoreError> {
        let region = job.request.destination_region.clone();
        let image_id = match &job.image_id {
            Some(id) => Some(id.clone()),
            None if job.attempts > 0 => match self.find_earlier_copy(&job).await {
                Ok(found) => found,
                Err(error) => {
                    warn!(job_id = %job.id, %error, "looking for the image to deregister failed; will retry");
                    return Ok(false);
                }
            },
            None => None,
        };
        let detail = match image_id {
            Some(image_id) => match self.backend.deregister_image(&region, &image_id).await {
                Ok(()) => format!("deregistered {image_id}; copy stopped"),
                Err(error) if !error.retryable => {
                    format!("{image_id} could not be deregistered ({error}); nothing left to stop")
                }
                Err(error) => {
                    warn!(job_id = %job.id, %error, "deregistering failed; will retry");
                    return Ok(false);
                }
            },
            None => "cancelled before any copy was made".to_owned(),
        };
        let mut next = job;
        next.state = JobState::Cancelled;
        release(&mut next);
        match self.commit(&next, Some(&detail)).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// Decides what EC2's view of a running copy means for its job.
fn judge(job: Job, image: Option<&ImageStatus>, progress: &HashMap<String, u8>, grace: std::time::Duration) -> Verdict {
    let mut next = job;
    release(&mut next);
    let image_id = next.image_id.clone().unwrap_or_default();
    let Some(image) = image else {
        let missing_for = (Utc::now() - next.updated_at).to_std().unwrap_or_default();
        if missing_for <= grace {
            // EC2's eventual consistency: a new image may be invisible for a while.
            return Verdict::Unchanged;
        }
        next.state = JobState::Failed;
        next.failure = Some(Failure::new(
            codes::INVALID_AMI_ID_NOT_FOUND,
            format!(
                "{image_id} was not found in {} for {}s",
                next.request.destination_region,
                missing_for.as_secs()
            ),
        ));
        return Verdict::Changed(
            Box::new(next),
            format!("copy lost: {image_id} is not in the destination Region"),
        );
    };
    match &image.state {
        ImageState::Pending => {
            let percents: Vec<u32> = image
                .snapshot_ids
                .iter()
                .filter_map(|id| progress.get(id).map(|p| u32::from(*p)))
                .collect();
            if percents.is_empty() || percents.len() < image.snapshot_ids.len() {
                return Verdict::Unchanged;
            }
            let average = percents.iter().sum::<u32>() / u32::try_from(percents.len()).unwrap_or(1);
            let percent = u8::try_from(average.min(99)).unwrap_or(99);
            if next.progress_percent.is_some_and(|known| known >= percent) {
                return Verdict::Unchanged;
            }
            next.progress_percent = Some(percent);
            Verdict::Changed(Box::new(next), format!("copying: {percent}%"))
        }
        ImageState::Available => {
            next.state = JobState::Available;
            next.progress_percent = Some(100);
            next.failure = None;
            Verdict::Changed(Box::new(next), format!("{image_id} is available"))
        }
        ImageState::Failed => {
            let reason = image.state_reason.clone().unwrap_or_else(|| {
                Failure::new(
                    "Server.InternalError",
                    "EC2 reported the image as failed without a reason",
                )
            });
            let detail = format!("copy failed: {}: {}", reason.code, reason.message);
            next.state = JobState::Failed;
            next.failure = Some(reason);
            Verdict::Changed(Box::new(next), detail)
        }
        ImageState::Deregistered => {
            next.state = JobState::Failed;
            next.failure = Some(Failure::new(
                "ImageDeregistered",
                format!("{image_id} was deregistered outside amicopy before the copy completed"),
            ));
            Verdict::Changed(Box::new(next), format!("copy lost: {image_id} was deregistered"))
        }
        ImageState::Other(state) if matches!(state.as_str(), "invalid" | "error") => {
            let reason = image
                .state_reason
                .clone()
                .unwrap_or_else(|| Failure::new("Server.InternalError", format!("EC2 reported the image as {state}")));
            let detail = format!("copy failed: image is {state}");
            next.state = JobState::Failed;
            next.failure = Some(reason);
            Verdict::Changed(Box::new(next), detail)
        }
        ImageState::Other(_) => Verdict::Unchanged,
    }
}
