//! `--job-retention-days` through a real server: a finished job stays readable for the retention
//! time and is then deleted by the background purge, with its events; reads of it answer
//! NOT_FOUND.

use std::time::Duration;

use amicopy::proto::{self, CopyJobState, image_copy_service_client::ImageCopyServiceClient};
use tonic::{Code, Status, transport::Channel};

use crate::support::{Database, copy_request, start};

crate::on_both!(a_finished_job_is_deleted_once_the_retention_time_has_passed);

/// About 2.6 seconds.
const RETENTION_DAYS: &str = "0.00003";
const DEADLINE: Duration = Duration::from_secs(60);

async fn get(client: &mut ImageCopyServiceClient<Channel>, job_id: &str) -> Result<proto::CopyJob, Status> {
    let response = client
        .get_copy_job(proto::GetCopyJobRequest {
            job_id: job_id.to_owned(),
        })
        .await?;
    Ok(response.into_inner().job.expect("a job"))
}

async fn a_finished_job_is_deleted_once_the_retention_time_has_passed(database: Database) {
    let (mut server, storage) = start(
        database,
        &[
            "--job-retention-days",
            RETENTION_DAYS,
            "--retention-interval-seconds",
            "0.2",
        ],
    )
    .await;
    let job_id = server
        .client
        .copy_image(copy_request("kept-for-a-while"))
        .await
        .expect("accepted")
        .into_inner()
        .job_id;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let job = get(&mut server.client, &job_id)
            .await
            .expect("readable until it has finished");
        if job.state == CopyJobState::Available as i32 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never finished: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let finished_at = tokio::time::Instant::now();
    let status = loop {
        match get(&mut server.client, &job_id).await {
            Ok(_) => {
                assert!(tokio::time::Instant::now() < deadline, "never deleted");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert!(status.message().contains(&job_id), "{}", status.message());
    assert!(
        finished_at.elapsed() >= Duration::from_secs(2),
        "kept for the retention time first, deleted after {:?}",
        finished_at.elapsed()
    );
    let events = server
        .client
        .watch_copy_job(proto::WatchCopyJobRequest {
            job_id: job_id.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        events.map(|_| ()).unwrap_err().code(),
        Code::NotFound,
        "its events are gone too"
    );
    server.stop().await;
    storage.cleanup().await;
}
