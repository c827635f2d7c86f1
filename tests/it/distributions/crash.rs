//! Distributions through a SIGKILL of the real `amicopyd` process, on PostgreSQL: killed while
//! distributions are being created, every distribution is there whole or not at all; killed
//! while their copies run (against moto, whose EC2 state outlives the process), every target
//! ends with exactly one AMI.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use amicopy::{
    backend::Ec2Backend,
    domain::{DistributionId, Region},
    proto::{self, DistributionState, distribution_service_client::DistributionServiceClient},
    store::{self, JobStore, ListQuery},
};
use amicopy_testing::{
    moto::{MotoServer, moto_tests_skipped},
    postgres::postgres_tests_skipped,
};
use tokio::task::JoinSet;

use crate::support::{
    Database, TestStorage,
    binary::{connect, free_port, kill, spawn_amicopyd},
};

/// How long the test waits for the server or the distributions.
const DEADLINE: Duration = Duration::from_secs(120);

/// 150 Region codes the simulator accepts (nothing is copied: the creation is what is tested).
fn many_regions() -> Vec<String> {
    ["north", "south", "east", "west", "central"]
        .iter()
        .flat_map(|word| (1..=30).map(move |n| format!("ap-{word}-{n}")))
        .collect()
}

fn distribution(name: &str, source: &str, regions: Vec<String>) -> proto::CreateDistributionRequest {
    proto::CreateDistributionRequest {
        source_image_id: source.to_owned(),
        source_region: "us-east-1".to_owned(),
        name: format!("{name}-{{region}}"),
        targets: vec![proto::DistributionTarget {
            regions,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_creation_leaves_every_distribution_whole_or_absent() {
    if postgres_tests_skipped() {
        return;
    }
    let storage = TestStorage::new(Database::Postgres).await;
    let database_url = storage.database.as_ref().expect("PostgreSQL").url.clone();
    let port = free_port();
    // No copy is started: the distributions' records are what is tested.
    let flags = ["--max-concurrent-copies", "0"];
    let mut first = spawn_amicopyd(port, &with_database(&database_url, &flags), &[]);
    let client = DistributionServiceClient::new(connect(port).await);

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let mut creators = JoinSet::new();
    for creator in 0..4 {
        let mut client = client.clone();
        let acknowledged = Arc::clone(&acknowledged);
        creators.spawn(async move {
            for i in 0.. {
                let request = distribution(&format!("crash-{creator}-{i}"), "ami-0a1b2c3d4e5f60001", many_regions());
                match client.create_distribution(request).await {
                    Ok(response) => {
                        let id = response
                            .into_inner()
                            .distribution
                            .expect("distribution")
                            .distribution_id;
                        acknowledged.lock().unwrap().push(id);
                    }
                    Err(_) => return,
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    kill(&mut first).await;
    while creators.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        !acknowledged.is_empty(),
        "some distributions were created before the kill"
    );

    let mut second = spawn_amicopyd(port, &with_database(&database_url, &flags), &[]);
    connect(port).await;
    let store = store::connect(
        Some(&database_url),
        std::env::temp_dir().as_path(),
        Duration::from_secs(20),
    )
    .await
    .expect("the store opens");
    let mut ids = HashSet::new();
    let mut expected_jobs = 0;
    let page = store
        .list_distributions(&amicopy::store::DistributionQuery {
            tenant: "default".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    for recorded in &page.distributions {
        let targets = store.distribution_targets(recorded.id()).await.unwrap();
        assert_eq!(targets.len(), 150, "every target of {} or none", recorded.id());
        assert_eq!(recorded.counts().total(), 150);
        let places: HashSet<&str> = targets.iter().map(|t| t.target.region.as_str()).collect();
        assert_eq!(places.len(), 150, "no target twice");
        assert!(targets.iter().all(|t| t.job.distribution_id() == Some(recorded.id())));
        expected_jobs += 150;
        ids.insert(recorded.id());
    }
    for id in &acknowledged {
        assert!(
            ids.contains(&id.parse::<DistributionId>().unwrap()),
            "acknowledged distribution {id} was lost"
        );
    }
    let jobs = all_jobs(&*store).await;
    assert_eq!(
        jobs.len(),
        expected_jobs,
        "no job without its distribution, none doubled"
    );
    assert!(
        jobs.iter()
            .all(|job| job.distribution_id().is_some_and(|id| ids.contains(&id)))
    );

    kill(&mut second).await;
    drop(store);
    storage.cleanup().await;
}

async fn all_jobs(store: &dyn JobStore) -> Vec<amicopy::domain::Job> {
    let mut jobs = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list_jobs(&ListQuery {
                tenant: "default".into(),
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        jobs.extend(page.jobs);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return jobs,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_the_run_loses_no_target_and_copies_none_twice() {
    if moto_tests_skipped() || postgres_tests_skipped() {
        return;
    }
    let moto = MotoServer::start().await.expect("moto starts");
    let ec2 = moto.backend();
    let source = moto.source_image_id("us-east-1").await.expect("moto has a source AMI");
    let storage = TestStorage::new(Database::Postgres).await;
    let database_url = storage.database.as_ref().expect("PostgreSQL").url.clone();
    let port = free_port();
    // One copy per Region at once, two a second: the targets are still being worked through.
    let flags = ["--copy-burst", "1", "--copy-refill-per-second", "2"];
    let regions: Vec<String> = ["us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
        .map(str::to_owned)
        .to_vec();

    let mut first = spawn_amicopyd(port, &with_database(&database_url, &flags), &moto.amicopyd_env());
    let mut client = DistributionServiceClient::new(connect(port).await);
    let mut ids = Vec::new();
    for i in 0..3 {
        let request = distribution(&format!("run-crash-{i}"), &source, regions.clone());
        let created = client
            .create_distribution(request)
            .await
            .expect("created before the kill");
        ids.push(created.into_inner().distribution.unwrap().distribution_id);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut unfinished = 0;
    for id in &ids {
        let distribution = client
            .get_distribution(proto::GetDistributionRequest {
                distribution_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .distribution
            .unwrap();
        unfinished += usize::from(distribution.counts.unwrap().available < 4);
    }
    kill(&mut first).await;
    assert!(unfinished > 0, "the kill came while targets were still being copied");

    let mut second = spawn_amicopyd(port, &with_database(&database_url, &flags), &moto.amicopyd_env());
    let mut client = DistributionServiceClient::new(connect(port).await);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut done = HashMap::new();
    while done.len() < ids.len() {
        for id in &ids {
            let distribution = client
                .get_distribution(proto::GetDistributionRequest {
                    distribution_id: id.clone(),
                })
                .await
                .expect("the distribution survived")
                .into_inner()
                .distribution
                .unwrap();
            if distribution.state != DistributionState::Running as i32 {
                done.insert(id.clone(), distribution);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "distributions never ended: {done:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for distribution in done.values() {
        assert_eq!(
            distribution.state,
            DistributionState::Succeeded as i32,
            "{distribution:#?}"
        );
        assert_eq!(distribution.targets.len(), 4, "no target lost or doubled");
        for target in &distribution.targets {
            let region = Region::parse(&target.region).unwrap();
            let images = ec2
                .find_images_by_name(&region, &target.name)
                .await
                .expect("find images");
            let found: Vec<&str> = images.iter().map(|image| image.image_id.as_str()).collect();
            assert_eq!(
                found,
                vec![target.image_id.as_str()],
                "exactly one AMI for {}",
                target.name
            );
        }
    }
    kill(&mut second).await;
    storage.cleanup().await;
}

/// `flags` after `--database-url URL`.
fn with_database<'a>(url: &'a str, flags: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--database-url", url];
    all.extend_from_slice(flags);
    all
}
