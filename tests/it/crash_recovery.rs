//! Crash recovery of the real `amicopyd` process: a SIGKILL in the middle of a batch of copies,
//! a restart, and every job ends with exactly one AMI.
//!
//! The EC2 side must outlive the killed process, so this test uses moto's EC2 server through the
//! real aws-sdk-ec2 backend (`--backend ec2 --ec2-endpoint-url`), and PostgreSQL for the jobs.
//! moto ignores EC2 ClientTokens, so a copy whose outcome the killed process never recorded can
//! only be found again by its AMI name: this exercises the engine's adoption path, the stricter of
//! the two guards against a second AMI.

use std::{collections::HashMap, time::Duration};

use amicopy::{
    backend::Ec2Backend,
    domain::Region,
    proto::{self, CopyJobState, image_copy_service_client::ImageCopyServiceClient},
};
use amicopy_testing::{
    moto::{MotoServer, moto_tests_skipped},
    postgres::postgres_tests_skipped,
};
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::support::{
    Database, TestStorage,
    binary::{connect, free_port, spawn_amicopyd},
    is_terminal,
};

/// Copies in the batch.
const BATCH: usize = 24;
/// How long the test waits for the server or the jobs.
const DEADLINE: Duration = Duration::from_secs(120);

async fn all_jobs(client: &mut ImageCopyServiceClient<Channel>) -> Vec<proto::CopyJob> {
    client
        .list_copy_jobs(proto::ListCopyJobsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list jobs")
        .into_inner()
        .jobs
}

#[tokio::test]
async fn a_sigkill_in_the_middle_of_a_batch_loses_no_job_and_copies_none_twice() {
    if moto_tests_skipped() || postgres_tests_skipped() {
        return;
    }
    let moto = MotoServer::start().await.expect("moto starts");
    let ec2 = moto.backend();
    let source = moto.source_image_id("us-east-1").await.expect("moto has a source AMI");
    let storage = TestStorage::new(Database::Postgres).await;
    let database_url = storage.database.as_ref().expect("PostgreSQL").url.clone();
    let port = free_port();

    let mut first = spawn_amicopyd(
        port,
        &[
            "--database-url",
            &database_url,
            "--region",
            "us-west-2",
            "--copy-burst",
            "4",
            "--copy-refill-per-second",
            "8",
        ],
        &moto.amicopyd_env(),
    );
    let client = ImageCopyServiceClient::new(connect(port).await);
    let mut submissions = JoinSet::new();
    for i in 0..BATCH {
        let mut client = client.clone();
        let request = proto::CopyImageRequest {
            source_image_id: source.clone(),
            source_region: "us-east-1".to_owned(),
            destination_region: "us-west-2".to_owned(),
            name: format!("crash-batch-{i}"),
            ..Default::default()
        };
        submissions.spawn(async move { client.copy_image(request).await.map(tonic::Response::into_inner) });
    }
    let mut acknowledged = Vec::new();
    while acknowledged.len() < BATCH / 2 {
        let answer = submissions.join_next().await.expect("a submission").expect("task");
        acknowledged.push(answer.expect("submission before the kill").job_id);
    }
    // Dispatch is paced at 8 copies a second, so the batch is still being worked through.
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("killed process reaped");
    while let Some(answer) = submissions.join_next().await {
        if let Ok(response) = answer.expect("task") {
            acknowledged.push(response.job_id);
        }
    }

    let mut second = spawn_amicopyd(
        port,
        &[
            "--database-url",
            &database_url,
            "--region",
            "us-west-2",
            "--copy-burst",
            "4",
            "--copy-refill-per-second",
            "8",
        ],
        &moto.amicopyd_env(),
    );
    let mut client = ImageCopyServiceClient::new(connect(port).await);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let jobs = loop {
        let jobs = all_jobs(&mut client).await;
        if jobs.iter().all(|job| is_terminal(job.state)) {
            break jobs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs never all ended: {jobs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let by_id: HashMap<&str, &proto::CopyJob> = jobs.iter().map(|job| (job.job_id.as_str(), job)).collect();
    for job_id in &acknowledged {
        assert!(
            by_id.contains_key(job_id.as_str()),
            "acknowledged job {job_id} was lost"
        );
    }
    let destination = Region::parse("us-west-2").expect("region");
    let mut names = HashMap::new();
    for job in &jobs {
        assert_eq!(job.state, CopyJobState::Available as i32, "{job:?}");
        let name = job.request.as_ref().expect("request").name.clone();
        *names.entry(name.clone()).or_insert(0) += 1;
        let images = ec2.find_images_by_name(&destination, &name).await.expect("find images");
        let ids: Vec<&str> = images.iter().map(|image| image.image_id.as_str()).collect();
        assert_eq!(ids, vec![job.image_id.as_str()], "exactly one AMI for {name}");
    }
    assert!(
        names.values().all(|&count| count == 1),
        "one job per submitted copy: {names:?}"
    );

    second.start_kill().expect("stop");
    second.wait().await.expect("reaped");
    storage.cleanup().await;
}
