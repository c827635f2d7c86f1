//! The `polling` scenario: EC2 calls per completed copy and how late each copy's end was seen,
//! for N copies of one duration in one Region, with the engine and the simulator in this process
//! and simulated time running fast. Beside it, what the SDK's ImageAvailable waiter (one
//! DescribeImages every 15 s per image) spends and how late it sees the end.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{
    Args,
    inproc::{defaults, engine, submit_all},
    report::{Latencies, Summary},
};
use amicopy::{
    backend::{
        BackendError, Ec2Backend, ImageState, ImageStatus, KmsKeyLookup, SnapshotDeletion, SnapshotProgress,
        SourceImage, StartCopy, sim::Simulator,
    },
    domain::{AccountId, CreateVolumePermissions, JobState, LaunchPermissions, Region},
};

/// Seconds between two polls of the SDK's ImageAvailable waiter.
const WAITER_DELAY: f64 = 15.0;
/// How long one size may run before it is reported unfinished (real time).
const DEADLINE: Duration = Duration::from_secs(300);

/// For each N in `--polling-sizes`: N copies of `--polling-copy-seconds` simulated seconds,
/// followed to their end.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Summary>> {
    let mut summaries = Vec::new();
    for &n in &args.polling_sizes {
        summaries.push(one_size(args, n).await?);
    }
    Ok(summaries)
}

async fn one_size(args: &Args, n: usize) -> anyhow::Result<Summary> {
    let duration = args.polling_copy_seconds;
    let factor = args.polling_time_factor;
    let (mut sim, mut settings) = defaults()?;
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    // Starting quotas out of the way (only tracking is measured); EC2's describe buckets, scaled
    // like everything else by the time factor, stay.
    sim.sim_copy_seconds = duration;
    sim.sim_time_factor = factor;
    sim.sim_max_concurrent_copies = n32;
    sim.sim_copy_image_burst = n32;
    settings.copy_burst = n32;
    settings.max_concurrent_copies = n32;
    // The engine's pace is in real seconds: the 2 s floor and 120 s ceiling, scaled to simulated
    // time, and a tick that can keep up with them.
    settings.track_min_interval = settings.track_min_interval.div_f64(factor);
    settings.track_max_interval = settings.track_max_interval.div_f64(factor);
    settings.tick = settings.track_min_interval;
    let simulator = Arc::new(Simulator::new(sim)?);
    let seen = Arc::new(EndsSeen::new(Arc::clone(&simulator)));
    let dir = tempfile::tempdir()?;
    let engine = engine(dir.path(), seen.clone(), settings).await?;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));

    let started = Instant::now();
    submit_all(&engine, "polled", n).await?;
    let images_before = simulator.calls("DescribeImages");
    let snapshots_before = simulator.calls("DescribeSnapshots");
    let unfinished = [JobState::Queued, JobState::Copying, JobState::Finishing];
    let mut left = u64::MAX;
    while started.elapsed() < DEADLINE {
        left = engine.store().count_jobs(None, "us-west-2", &unfinished).await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    running.await.context("engine task")?;

    let images = simulator.calls("DescribeImages") - images_before;
    let snapshots = simulator.calls("DescribeSnapshots") - snapshots_before;
    let delays = seen.delays();
    let completed = delays.len().max(1) as f64;
    let mut latencies = Latencies::new();
    for delay in &delays {
        latencies.record(Duration::from_secs_f64(delay.max(0.0)));
    }
    // The summary's percentiles are the detection delays, in simulated milliseconds.
    let mut summary = latencies.summary(&format!("polling-{n}"), delays.len(), elapsed);
    summary.errors = left;
    let calls_per_copy = (images + snapshots) as f64 / completed;
    let allowed = (duration * 0.02).max(2.0);
    let extra = [
        ("copies", n as f64),
        ("copy_seconds", duration),
        ("time_factor", factor),
        ("describe_images_calls", images as f64),
        ("describe_snapshots_calls", snapshots as f64),
        ("calls_per_copy", calls_per_copy),
        ("describe_images_per_copy", images as f64 / completed),
        ("delay_mean_seconds", delays.iter().sum::<f64>() / completed),
        ("delay_max_seconds", delays.iter().copied().fold(0.0, f64::max)),
        ("delay_allowed_seconds", allowed),
        ("waiter_calls_per_copy", (duration / WAITER_DELAY).ceil()),
        ("waiter_delay_mean_seconds", WAITER_DELAY / 2.0),
        ("waiter_delay_max_seconds", WAITER_DELAY),
    ];
    for (key, value) in extra {
        summary.extra.insert(key.into(), value);
    }
    summary.notes.push(format!(
        "{n} copies of {duration} simulated seconds in us-west-2, simulated time {factor}x, \
         engine pace scaled the same; delays in simulated seconds from EC2 reporting the copy \
         available to the engine's DescribeImages seeing it"
    ));
    Ok(summary)
}

/// The simulator, watched: the first time a DescribeImages answer shows an image `available`,
/// how many simulated seconds after it turned available that was.
struct EndsSeen {
    inner: Arc<Simulator>,
    delays: Mutex<HashMap<String, f64>>,
}

impl EndsSeen {
    fn new(inner: Arc<Simulator>) -> Self {
        Self {
            inner,
            delays: Mutex::new(HashMap::new()),
        }
    }

    fn delays(&self) -> Vec<f64> {
        self.delays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .copied()
            .collect()
    }
}

#[async_trait]
impl Ec2Backend for EndsSeen {
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError> {
        self.inner.copy_image(copy).await
    }

    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError> {
        let images = self.inner.describe_images(region, image_ids).await?;
        let now = self.inner.sim_seconds();
        let mut delays = self.delays.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for image in images.iter().filter(|image| image.state == ImageState::Available) {
            if delays.contains_key(&image.image_id) {
                continue;
            }
            if let Some(at) = self.inner.image(region, &image.image_id).and_then(|i| i.available_at) {
                delays.insert(image.image_id.clone(), now - at);
            }
        }
        Ok(images)
    }

    async fn find_images_by_name(&self, region: &Region, name: &str) -> Result<Vec<ImageStatus>, BackendError> {
        self.inner.find_images_by_name(region, name).await
    }

    async fn snapshot_progress(
        &self,
        region: &Region,
        snapshot_ids: &[String],
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        self.inner.snapshot_progress(region, snapshot_ids).await
    }

    async fn deregister_image(&self, region: &Region, image_id: &str) -> Result<(), BackendError> {
        self.inner.deregister_image(region, image_id).await
    }

    async fn describe_source_image(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Option<SourceImage>, BackendError> {
        self.inner.describe_source_image(region, image_id).await
    }

    async fn deregister_image_and_snapshots(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Vec<SnapshotDeletion>, BackendError> {
        self.inner.deregister_image_and_snapshots(region, image_id).await
    }

    async fn add_launch_permissions(
        &self,
        region: &Region,
        image_id: &str,
        permissions: &LaunchPermissions,
    ) -> Result<(), BackendError> {
        self.inner.add_launch_permissions(region, image_id, permissions).await
    }

    async fn launch_permissions(&self, region: &Region, image_id: &str) -> Result<LaunchPermissions, BackendError> {
        self.inner.launch_permissions(region, image_id).await
    }

    async fn add_create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
        user_ids: &[AccountId],
    ) -> Result<(), BackendError> {
        self.inner
            .add_create_volume_permissions(region, snapshot_id, user_ids)
            .await
    }

    async fn create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
    ) -> Result<CreateVolumePermissions, BackendError> {
        self.inner.create_volume_permissions(region, snapshot_id).await
    }

    async fn enable_image_deprecation(
        &self,
        region: &Region,
        image_id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BackendError> {
        self.inner.enable_image_deprecation(region, image_id, at).await
    }

    async fn describe_kms_key(&self, region: &Region, key_id: &str) -> Result<KmsKeyLookup, BackendError> {
        self.inner.describe_kms_key(region, key_id).await
    }
}
