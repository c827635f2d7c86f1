//! Whole job lifecycles over gRPC with the simulator, on both databases: dispatch, progress,
//! watch, failures with EC2's reasons, cancel in each state, Region limits, idempotent retries,
//! throttling, and restarts.

use amicopy::proto::{self, CopyJobState};
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{Database, TestStorage, copy_request, start};

crate::on_both!(
    a_copy_streams_from_queued_to_available_with_progress,
    a_missing_kms_key_is_refused_before_any_copy_is_made,
    a_missing_source_image_is_refused_and_recorded,
    a_queued_job_is_cancelled_at_once,
    a_copying_job_is_cancelled_by_deregistering_its_image,
    a_region_at_its_limit_queues_then_dispatches,
    a_client_token_makes_retries_safe,
    every_job_finishes_despite_frequent_throttling,
    throttling_never_uses_up_a_jobs_attempts,
    jobs_are_listed_page_by_page_with_filters,
    a_restart_keeps_every_job_and_finishes_it,
);

fn state(job: &proto::CopyJob) -> CopyJobState {
    CopyJobState::try_from(job.state).unwrap()
}

async fn a_copy_streams_from_queued_to_available_with_progress(database: Database) {
    let (mut server, storage) = start(database, &["--sim-copy-seconds", "40"]).await;
    let response = server.copy(copy_request("lifecycle-copy")).await.unwrap();
    assert_eq!(response.state, CopyJobState::Copying as i32);
    assert!(response.image_id.starts_with("ami-") && response.image_id.len() == 21);

    let events = server.watch_to_end(&response.job_id).await;
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "no gaps, no duplicates"
    );
    assert_eq!(events[0].state, CopyJobState::Queued as i32);
    assert!(
        events
            .iter()
            .any(|e| e.state == CopyJobState::Copying as i32 && e.image_id == response.image_id)
    );
    let progress: Vec<u32> = events.iter().filter_map(|e| e.progress_percent).collect();
    assert!(progress.len() >= 2, "progress was reported: {events:?}");
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress never goes back: {progress:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last.state, CopyJobState::Available as i32);
    assert_eq!(last.progress_percent, Some(100));

    // A late watcher sees the same history and the stream ends at once.
    let replay = server.watch_to_end(&response.job_id).await;
    assert_eq!(replay, events);
    let job = server.job(&response.job_id).await;
    assert_eq!(state(&job), CopyJobState::Available);
    assert_eq!(job.image_id, response.image_id);
    server.stop().await;
    storage.cleanup().await;
}

async fn a_missing_kms_key_is_refused_before_any_copy_is_made(database: Database) {
    let (mut server, storage) = start(database, &[]).await;
    let mut request = copy_request("kms-copy");
    request.encrypted = Some(true);
    request.kms_key_id = "alias/no-such-key".to_owned();
    let status = server.copy(request).await.unwrap_err();
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "InvalidKMSKey.NotFound", "{status:?}");
    for named in ["alias/no-such-key", "us-west-2", "own account"] {
        assert!(status.message().contains(named), "{named} missing from {status:?}");
    }
    let job = server.job(&info.metadata["job_id"]).await;
    assert_eq!(state(&job), CopyJobState::Failed);
    assert_eq!(job.attempts, 0, "no CopyImage call was made");
    assert!(job.image_id.is_empty());
    let events = server.watch_to_end(&job.job_id).await;
    assert!(
        events
            .last()
            .unwrap()
            .detail
            .starts_with("refused before copying: InvalidKMSKey.NotFound"),
        "{events:?}"
    );
    server.stop().await;
    storage.cleanup().await;
}

async fn a_missing_source_image_is_refused_and_recorded(database: Database) {
    let (mut server, storage) = start(database, &[]).await;
    let mut request = copy_request("missing-source-copy");
    request.source_image_id = "ami-0fffffffffffffff0".to_owned();
    let status = server.copy(request).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.reason, "InvalidAMIID.NotFound");
    let job_id = info.metadata.get("job_id").expect("the failed job is named").clone();
    let job = server.job(&job_id).await;
    assert_eq!(state(&job), CopyJobState::Failed);
    assert_eq!(job.failure_code, "InvalidAMIID.NotFound");
    server.stop().await;
    storage.cleanup().await;
}

async fn a_queued_job_is_cancelled_at_once(database: Database) {
    let (mut server, storage) = start(database, &["--max-concurrent-copies", "0"]).await;
    let response = server.copy(copy_request("queued-cancel")).await.unwrap();
    assert_eq!(response.state, CopyJobState::Queued as i32);
    assert!(response.image_id.is_empty());
    let cancelled = server
        .client
        .cancel_copy_job(proto::CancelCopyJobRequest {
            job_id: response.job_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(state(&cancelled), CopyJobState::Cancelled);
    let again = server
        .client
        .cancel_copy_job(proto::CancelCopyJobRequest {
            job_id: response.job_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(again.get_details_error_info().unwrap().reason, "IncorrectState");
    let events = server.watch_to_end(&response.job_id).await;
    assert_eq!(events.last().unwrap().state, CopyJobState::Cancelled as i32);
    server.stop().await;
    storage.cleanup().await;
}

async fn a_copying_job_is_cancelled_by_deregistering_its_image(database: Database) {
    let (mut server, storage) = start(database, &["--sim-copy-seconds", "6000"]).await;
    let response = server.copy(copy_request("copying-cancel")).await.unwrap();
    assert_eq!(response.state, CopyJobState::Copying as i32);
    let cancelling = server
        .client
        .cancel_copy_job(proto::CancelCopyJobRequest {
            job_id: response.job_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .job
        .unwrap();
    assert_eq!(state(&cancelling), CopyJobState::Cancelling);
    let events = server.watch_to_end(&response.job_id).await;
    let last = events.last().unwrap();
    assert_eq!(last.state, CopyJobState::Cancelled as i32);
    assert!(last.detail.contains(&response.image_id), "{last:?}");
    server.stop().await;
    storage.cleanup().await;
}

async fn a_region_at_its_limit_queues_then_dispatches(database: Database) {
    let (mut server, storage) = start(database, &["--max-concurrent-copies", "1"]).await;
    let first = server.copy(copy_request("limit-first")).await.unwrap();
    let second = server.copy(copy_request("limit-second")).await.unwrap();
    assert_eq!(first.state, CopyJobState::Copying as i32);
    assert_eq!(second.state, CopyJobState::Queued as i32);
    assert!(second.image_id.is_empty());
    let first_done = server.wait_terminal(&first.job_id).await;
    let second_done = server.wait_terminal(&second.job_id).await;
    assert_eq!(state(&first_done), CopyJobState::Available);
    assert_eq!(state(&second_done), CopyJobState::Available);
    assert!(!second_done.image_id.is_empty());
    server.stop().await;
    storage.cleanup().await;
}

async fn a_client_token_makes_retries_safe(database: Database) {
    let (mut server, storage) = start(database, &[]).await;
    let mut request = copy_request("token-copy");
    request.client_token = "retry-me-1".to_owned();
    let first = server.copy(request.clone()).await.unwrap();
    let second = server.copy(request.clone()).await.unwrap();
    assert_eq!(first.job_id, second.job_id);
    assert_eq!(first.image_id, second.image_id);

    request.description = "something else".to_owned();
    let mismatch = server.copy(request).await.unwrap_err();
    assert_eq!(mismatch.code(), Code::AlreadyExists);
    assert_eq!(
        mismatch.get_details_error_info().unwrap().reason,
        "IdempotentParameterMismatch"
    );
    server.stop().await;
    storage.cleanup().await;
}

async fn every_job_finishes_despite_frequent_throttling(database: Database) {
    let (mut server, storage) = start(
        database,
        &[
            "--sim-transient-error-rate",
            "0.3",
            "--sim-seed",
            "7",
            "--max-attempts",
            "30",
        ],
    )
    .await;
    let mut job_ids = Vec::new();
    for i in 0..12 {
        // Submissions themselves are retried like any EC2 client would on a transient answer.
        let response = server.copy(copy_request(&format!("throttled-{i}"))).await.unwrap();
        job_ids.push(response.job_id);
    }
    for job_id in &job_ids {
        let job = server.wait_terminal(job_id).await;
        assert_eq!(state(&job), CopyJobState::Available, "{job:?}");
    }
    server.stop().await;
    storage.cleanup().await;
}

/// Found by the throttling storm of scripts/chaos.sh: RequestLimitExceeded counted towards
/// `--max-attempts`, so a storm longer than the retry budget failed jobs for throttling alone.
/// Here EC2's CopyImage bucket holds one call and refills slowly, so most first calls are
/// throttled, and two attempts would not be enough if throttling used them up.
async fn throttling_never_uses_up_a_jobs_attempts(database: Database) {
    let (mut server, storage) = start(
        database,
        &[
            "--sim-copy-image-burst",
            "1",
            "--sim-copy-image-refill",
            "0.1",
            "--max-attempts",
            "2",
        ],
    )
    .await;
    let mut job_ids = Vec::new();
    for i in 0..6 {
        job_ids.push(server.copy(copy_request(&format!("bucket-{i}"))).await.unwrap().job_id);
    }
    let mut throttled = 0;
    for job_id in &job_ids {
        let job = server.wait_terminal(job_id).await;
        assert_eq!(state(&job), CopyJobState::Available, "{job:?}");
        throttled += server
            .watch_to_end(job_id)
            .await
            .iter()
            .filter(|event| event.detail.contains("RequestLimitExceeded"))
            .count();
    }
    assert!(
        throttled > 0,
        "EC2's bucket never throttled, so the test proves nothing"
    );
    server.stop().await;
    storage.cleanup().await;
}

async fn jobs_are_listed_page_by_page_with_filters(database: Database) {
    let (mut server, storage) = start(database, &["--max-concurrent-copies", "0"]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut request = copy_request(&format!("listed-{i}"));
        if i % 2 == 0 {
            request.destination_region = "eu-west-1".to_owned();
        }
        ids.push(server.copy(request).await.unwrap().job_id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .client
            .list_copy_jobs(proto::ListCopyJobsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.jobs.len() <= 2);
        seen.extend(page.jobs.into_iter().map(|job| job.job_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");

    let europe = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest {
            destination_region: "eu-west-1".to_owned(),
            states: vec![CopyJobState::Queued as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(europe.jobs.len(), 3);
    let none = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest {
            states: vec![CopyJobState::Available as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.jobs.is_empty());
    server.stop().await;
    storage.cleanup().await;
}

async fn a_restart_keeps_every_job_and_finishes_it(database: Database) {
    let storage = TestStorage::new(database).await;
    let mut server = storage.start(&["--max-concurrent-copies", "0"], None).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(server.copy(copy_request(&format!("restart-{i}"))).await.unwrap().job_id);
    }
    server.stop().await;

    let mut restarted = storage.start(&[], None).await;
    for id in &ids {
        let job = restarted.wait_terminal(id).await;
        assert_eq!(state(&job), CopyJobState::Available, "{job:?}");
    }
    restarted.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn a_watcher_that_never_reads_holds_up_nobody_and_is_caught_up_later() {
    let (mut server, storage) = start(Database::Sqlite, &["--sim-copy-seconds", "60"]).await;
    let response = server.copy(copy_request("slow-watcher")).await.unwrap();
    let watch = |client: &mut amicopy::proto::image_copy_service_client::ImageCopyServiceClient<_>| {
        let mut client = client.clone();
        let job_id = response.job_id.clone();
        async move {
            client
                .watch_copy_job(proto::WatchCopyJobRequest {
                    job_id,
                    after_sequence: 0,
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    // One stream is never read until the end, one is dropped at once.
    let mut slow = watch(&mut server.client).await;
    drop(watch(&mut server.client).await);

    let events = server.watch_to_end(&response.job_id).await;
    assert_eq!(events.last().unwrap().state, CopyJobState::Available as i32);

    let mut caught_up = Vec::new();
    while let Some(message) = tokio_stream::StreamExt::next(&mut slow).await {
        caught_up.push(message.unwrap().event.unwrap());
    }
    assert_eq!(caught_up, events, "the slow watcher gets every event, in order, once");
    server.stop().await;
    storage.cleanup().await;
}
