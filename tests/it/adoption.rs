//! A copy whose outcome the engine never learned is found again by its AMI name and adopted, not
//! started a second time: when the answer is lost on the way back (a timeout, as the SDK reports
//! it), and when the call is still on its way to EC2 after its replica's lease ran out and another
//! replica takes the job over. The store is a real SQLite file.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use amicopy::{
    backend::sim::Simulator,
    backend::{
        BackendError, Ec2Backend, ImageStatus, KmsKeyLookup, OwnAccountOnly, SnapshotDeletion, SnapshotProgress,
        SourceImage, StartCopy,
    },
    domain::{AccountId, CreateVolumePermissions, JobState, LaunchPermissions, Region},
    engine::{Engine, hub::EventHub},
    store,
};
use amicopy_testing::presets;

use crate::support::engine_copy_request;
use async_trait::async_trait;

/// What goes wrong with the first CopyImage call.
enum FirstCall {
    /// EC2 makes the copy but the answer never arrives.
    AnswerLost,
    /// The call takes this long to reach EC2 (then makes the copy and answers).
    Slow(Duration),
}

/// EC2 that makes every copy, whose first CopyImage call goes wrong as `first` says.
struct FirstCallGoesWrong {
    inner: Arc<Simulator>,
    copy_calls: AtomicU64,
    first: FirstCall,
}

impl FirstCallGoesWrong {
    fn new(inner: &Arc<Simulator>, first: FirstCall) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::clone(inner),
            copy_calls: AtomicU64::new(0),
            first,
        })
    }
}

#[async_trait]
impl Ec2Backend for FirstCallGoesWrong {
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError> {
        let first = self.copy_calls.fetch_add(1, Ordering::SeqCst) == 0;
        if let (true, FirstCall::Slow(delay)) = (first, &self.first) {
            tokio::time::sleep(*delay).await;
        }
        let answer = self.inner.copy_image(copy).await;
        if first && matches!(self.first, FirstCall::AnswerLost) && answer.is_ok() {
            return Err(BackendError::transport(BackendError::TIMEOUT, "no answer within 30s"));
        }
        answer
    }

    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError> {
        self.inner.describe_images(region, image_ids).await
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
        deprecate_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BackendError> {
        self.inner
            .enable_image_deprecation(region, image_id, deprecate_at)
            .await
    }

    async fn describe_kms_key(&self, region: &Region, key_id: &str) -> Result<KmsKeyLookup, BackendError> {
        self.inner.describe_kms_key(region, key_id).await
    }
}

#[tokio::test]
async fn a_copy_whose_answer_was_lost_is_adopted_by_name_not_made_twice() {
    let data_dir = tempfile::tempdir().unwrap();
    let store = store::connect(None, data_dir.path(), Duration::from_secs(5))
        .await
        .unwrap();
    let simulator = Arc::new(Simulator::new(presets::fast_sim()).unwrap());
    let backend = FirstCallGoesWrong::new(&simulator, FirstCall::AnswerLost);
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::new(OwnAccountOnly(backend.clone())),
        EventHub::new(),
        presets::fast_engine(),
        "adoption-test",
    );
    let job = engine.submit("acme", engine_copy_request("answer-lost")).await.unwrap();
    assert_eq!(
        job.state(),
        JobState::Queued,
        "the answer was lost, so the job waits for a retry"
    );
    assert_eq!(simulator.copies_started(), 1, "yet EC2 made the copy");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let copying = loop {
        engine.tick().await.unwrap();
        let job = store.get_job_any_tenant(job.id()).await.unwrap();
        if job.state() != JobState::Queued {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job was never retried: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    assert_eq!(copying.state(), JobState::Copying);
    let destination = Region::parse("us-west-2").unwrap();
    let made = simulator
        .find_images_by_name(&destination, "answer-lost")
        .await
        .unwrap();
    assert_eq!(made.len(), 1, "one AMI of that name");
    assert_eq!(
        copying.image_id(),
        Some(made[0].image_id.as_str()),
        "the job took it over"
    );
    assert_eq!(
        backend.copy_calls.load(Ordering::SeqCst),
        1,
        "found by name, not started again"
    );
    assert_eq!(simulator.copies_started(), 1);
    let events = store.list_events(job.id(), 0, 100).await.unwrap();
    assert!(
        events.iter().any(|event| event.detail.contains("adopted")),
        "{events:#?}"
    );
}

/// A copy into us-west-2 named `name`.
// Replica A's CopyImage call takes 0.8 s to reach EC2 and its lease is 0.5 s: replica B takes the
// job over while the call is still on its way. B must wait until such a call can have landed
// (one lease after A's ran out) before looking for its image, or it finds none and copies again.
#[tokio::test]
async fn a_call_still_on_its_way_when_its_lease_runs_out_is_waited_for_not_made_twice() {
    let data_dir = tempfile::tempdir().unwrap();
    let store = store::connect(None, data_dir.path(), Duration::from_secs(5))
        .await
        .unwrap();
    let simulator = Arc::new(Simulator::new(presets::fast_sim()).unwrap());
    let backend = FirstCallGoesWrong::new(&simulator, FirstCall::Slow(Duration::from_millis(800)));
    let settings = amicopy::engine::EngineSettings {
        lease: Duration::from_millis(500),
        ..presets::fast_engine()
    };
    let replica = |name: &str| {
        Engine::new(
            Arc::clone(&store),
            Arc::new(OwnAccountOnly(backend.clone())),
            EventHub::new(),
            settings.clone(),
            name,
        )
    };
    let (a, b) = (replica("replica-a"), replica("replica-b"));

    let submitted = tokio::spawn(async move { a.submit("acme", engine_copy_request("slow-call")).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let adopted = loop {
        b.tick().await.unwrap();
        let jobs = store
            .list_jobs(&store::ListQuery {
                tenant: "acme".to_owned(),
                page_size: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .jobs;
        if let Some(job) = jobs.into_iter().find(|job| job.state() != JobState::Queued) {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica B never took the job over"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    submitted.await.unwrap().unwrap();

    assert_eq!(adopted.state(), JobState::Copying);
    assert_eq!(
        backend.copy_calls.load(Ordering::SeqCst),
        1,
        "one CopyImage call in all"
    );
    assert_eq!(simulator.copies_started(), 1);
    let events = store.list_events(adopted.id(), 0, 100).await.unwrap();
    assert!(
        events.iter().any(|event| event.detail.contains("adopted")),
        "{events:#?}"
    );
}
