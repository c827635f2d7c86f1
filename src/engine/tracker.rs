//! Following copies to their end: one DescribeImages call (and one DescribeSnapshots call for
//! progress) per destination Region per page of running copies, and deregistration of the pending
//! image of a cancelled copy.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use tracing::{info, warn};

use super::{Engine, EngineError, TickReport, dispatch::release, now};
use crate::{
    backend::{ImageState, ImageStatus, SnapshotProgress},
    domain::{Failure, Job, JobState, Region, codes},
    store::{Claim, StoreError},
};

/// What tracking decided for one job.
enum Verdict {
    /// Nothing to record; look again later.
    Unchanged,
    /// Record this change with this event detail.
    Changed(Box<Job>, String),
}

impl Engine {
    /// Claims due running and cancelling jobs and moves each as EC2 says.
    pub(super) async fn track_due(&self) -> Result<TickReport, EngineError> {
        let now = now();
        let claimed = self
            .store
            .claim_jobs(&Claim {
                owner: self.owner.clone(),
                states: vec![JobState::Copying, JobState::Cancelling],
                now,
                lease_until: self.lease_until(now),
                limit: self.settings.track_page_size,
            })
            .await?;
        let mut report = TickReport::default();
        let mut copying: BTreeMap<Region, Vec<Job>> = BTreeMap::new();
        for job in claimed {
            if job.state == JobState::Cancelling {
                if self.stop(job).await? {
                    report.finished += 1;
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
            report.finished += self.track_region(&region, jobs).await?;
        }
        Ok(report)
    }

    /// Checks one Region's running copies with one DescribeImages call; returns how many ended.
    async fn track_region(&self, region: &Region, jobs: Vec<Job>) -> Result<usize, StoreError> {
        let image_ids: Vec<String> = jobs.iter().filter_map(|job| job.image_id.clone()).collect();
        let images = match self.backend.describe_images(region, &image_ids).await {
            Ok(images) => images,
            Err(error) => {
                warn!(%region, %error, "describing copies failed; will look again next tick");
                return Ok(0);
            }
        };
        let images: HashMap<String, ImageStatus> = images
            .into_iter()
            .map(|image| (image.image_id.clone(), image))
            .collect();
        let progress = self.progress_of(region, images.values()).await;

        let mut ended = 0;
        for job in jobs {
            let image = job.image_id.as_ref().and_then(|id| images.get(id));
            let verdict = judge(job, image, &progress, self.settings.visibility_grace());
            if let Verdict::Changed(next, detail) = verdict {
                match self.commit(&next, Some(&detail)).await {
                    Ok(stored) if stored.state.is_terminal() => {
                        info!(job_id = %stored.id, state = %stored.state, "job ended");
                        ended += 1;
                    }
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(ended)
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
