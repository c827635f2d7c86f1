//! The job gauges against a real SQLite store.

use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::{
    domain::{CopyImageInput, CopyRequest, Job, JobId, Region},
    store,
};

fn series(metrics: &Metrics, name: &str) -> Option<String> {
    metrics
        .encode()
        .lines()
        .find(|line| line.starts_with(name))
        .map(str::to_owned)
}

#[tokio::test]
async fn a_region_whose_queue_empties_leaves_the_queue_gauge() {
    let dir = tempfile::tempdir().unwrap();
    let store = store::connect(None, dir.path(), Duration::from_secs(5)).await.unwrap();
    let metrics = Metrics::new();
    let request = CopyRequest::parse(
        CopyImageInput {
            source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
            source_region: "us-east-1".to_owned(),
            name: "gauged".to_owned(),
            ..Default::default()
        },
        &Region::parse("us-west-2").unwrap(),
    )
    .unwrap();
    let job = store
        .create_job(&Job::accept(JobId::new(), "acme", request, Utc::now(), None))
        .await
        .unwrap()
        .into_job();
    metrics.refresh_jobs(&*store).await.unwrap();
    assert_eq!(
        series(&metrics, "amicopy_queue_depth").as_deref(),
        Some(r#"amicopy_queue_depth{region="us-west-2"} 1"#)
    );

    let cancelled = job
        .request_cancel(Utc::now())
        .unwrap()
        .expect("a queued job is cancelled");
    assert_eq!(cancelled.job().state(), JobState::Cancelled);
    store.update_job(cancelled.job(), cancelled.event()).await.unwrap();
    metrics.refresh_jobs(&*store).await.unwrap();
    assert_eq!(series(&metrics, "amicopy_queue_depth{"), None);
    assert_eq!(
        series(&metrics, r#"amicopy_jobs{state="queued"}"#).as_deref(),
        Some(r#"amicopy_jobs{state="queued"} 0"#)
    );
    assert_eq!(
        series(&metrics, r#"amicopy_jobs{state="cancelled"}"#).as_deref(),
        Some(r#"amicopy_jobs{state="cancelled"} 1"#)
    );
}
