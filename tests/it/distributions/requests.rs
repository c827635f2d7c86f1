//! CreateDistribution's front door over gRPC: every problem at once with the distribution's
//! field paths, idempotency, policy and unknown accounts refused before anything is recorded, a
//! 600-target distribution in one call, and the arguments of the other calls.

use std::{collections::HashSet, time::Instant};

use amicopy::proto::{self, DistributionState};
use tonic::Code;
use tonic_types::StatusExt;

use super::{TEAM, World, request};
use crate::support::Database;

crate::on_both!(
    every_problem_comes_back_at_once_with_the_distributions_field_paths,
    the_same_token_returns_the_same_distribution_and_another_request_is_refused,
    a_policy_denial_or_an_unknown_account_records_nothing,
    six_hundred_targets_are_accepted_in_one_call_and_every_one_exists,
    distribution_ids_and_pages_are_checked,
);

async fn every_problem_comes_back_at_once_with_the_distributions_field_paths(database: Database) {
    let mut world = World::start(database, &[]).await;
    let mut bad = request("bad", &["us-west-2", "eu-west-1"]);
    bad.encrypted = Some(true);
    bad.targets.push(proto::DistributionTarget {
        account_id: TEAM.to_owned(),
        regions: vec!["eu-west-1".to_owned(), "us-east-2".to_owned()],
        kms_key_ids: [
            ("us-east-2".to_owned(), "not-a-key".to_owned()),
            ("ap-south-1".to_owned(), "alias/k".to_owned()),
        ]
        .into(),
    });
    bad.tag_specifications = vec![proto::TagSpecification {
        resource_type: "image".to_owned(),
        tags: vec![proto::Tag {
            key: "aws:reserved".to_owned(),
            value: String::new(),
        }],
    }];
    let status = world.create(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("invalid CreateDistribution request"),
        "{}",
        status.message()
    );
    let violations = status.get_details_bad_request().expect("BadRequest").field_violations;
    let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "tag_specifications[0].tags[0].key",
            "targets[2].kms_key_ids[ap-south-1]",
            "targets[2].regions[0]",
            "targets[2].kms_key_ids[us-east-2]",
        ],
        "{violations:#?}"
    );
    let duplicate = &violations[2].description;
    assert!(
        duplicate.contains("eu-west-1") && duplicate.contains(TEAM),
        "{duplicate}"
    );
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.metadata["targets[2].regions[0]"], "InvalidParameterCombination");
    assert_eq!(
        info.metadata["targets[2].kms_key_ids[us-east-2]"],
        "InvalidParameterValue"
    );
    assert!(list(&mut world).await.is_empty(), "an invalid request records nothing");
    world.stop().await;
}

async fn list(world: &mut World) -> Vec<proto::Distribution> {
    world
        .client
        .list_distributions(proto::ListDistributionsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .distributions
}

async fn the_same_token_returns_the_same_distribution_and_another_request_is_refused(database: Database) {
    let mut world = World::start(database, &["--max-concurrent-copies", "0"]).await;
    let mut first = request("tokened", &["us-west-2"]);
    first.client_token = "publish-2026-12".to_owned();
    let created = world.create(first.clone()).await.unwrap();
    let again = world.create(first.clone()).await.unwrap();
    assert_eq!(again.distribution_id, created.distribution_id);
    let jobs: HashSet<&str> = again.targets.iter().map(|t| t.job_id.as_str()).collect();
    assert_eq!(jobs, created.targets.iter().map(|t| t.job_id.as_str()).collect());
    first.description = "another request".to_owned();
    let mismatch = world.create(first).await.unwrap_err();
    assert_eq!(mismatch.code(), Code::AlreadyExists);
    assert_eq!(
        mismatch.get_details_error_info().unwrap().reason,
        "IdempotentParameterMismatch"
    );
    assert_eq!(list(&mut world).await.len(), 1);
    world.stop().await;
}

async fn a_policy_denial_or_an_unknown_account_records_nothing(database: Database) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"tenants":{"*":{"destination_regions":["us-west-2","eu-west-1"]}}}"#,
    )
    .unwrap();
    let mut world = World::start(database, &["--policy-file", policy.to_str().unwrap()]).await;
    let denied = world
        .create(request("denied", &["us-west-2", "eu-central-1", "ap-south-1"]))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(denied.get_details_error_info().unwrap().reason, "UnauthorizedOperation");
    let message = denied.message();
    assert!(
        message.contains("eu-central-1") && message.contains("ap-south-1"),
        "every refused Region is named: {message}"
    );
    assert_eq!(
        message.matches("eu-central-1").count(),
        1,
        "each refusal once, though two targets ask it: {message}"
    );

    let mut unknown = request("unknown", &["us-west-2"]);
    unknown.targets[1].account_id = "999988887777".to_owned();
    let refused = world.create(unknown).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("999988887777"), "{}", refused.message());

    assert!(list(&mut world).await.is_empty(), "nothing was recorded");
    let jobs = world
        .server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert!(jobs.is_empty(), "not one target job either");
    world
        .create(request("allowed", &["us-west-2", "eu-west-1"]))
        .await
        .expect("allowed Regions pass");
    world.stop().await;
}

async fn six_hundred_targets_are_accepted_in_one_call_and_every_one_exists(database: Database) {
    // Nothing is started: the test is about the call and the records it makes.
    let mut world = World::start(database, &["--track-page-size", "0"]).await;
    let accounts: Vec<String> = (0..20).map(|i| format!("{:012}", 500_000_000_000_u64 + i)).collect();
    let entries: Vec<String> = accounts
        .iter()
        .map(|id| format!(r#"{{"account_id":"{id}","role_arn":"arn:aws:iam::{id}:role/amicopy"}}"#))
        .collect();
    world.rewrite_all_accounts(&format!(r#"{{"accounts":[{}]}}"#, entries.join(",")));
    let regions: Vec<String> = (1..=30).map(|i| format!("ap-test-{i}")).collect();
    let mut wide = request("wide", &[]);
    wide.targets = accounts
        .iter()
        .map(|account| proto::DistributionTarget {
            account_id: account.clone(),
            regions: regions.clone(),
            kms_key_ids: Default::default(),
        })
        .collect();
    let started = Instant::now();
    let created = world.create(wide).await.unwrap();
    eprintln!(
        "{database:?}: CreateDistribution with 600 targets answered in {:?}",
        started.elapsed()
    );
    assert_eq!(created.targets.len(), 600);
    assert_eq!(created.counts.as_ref().unwrap().queued, 600);
    let got = world.get(&created.distribution_id).await;
    let places: HashSet<(String, String)> = got
        .targets
        .iter()
        .map(|t| (t.account_id.clone(), t.region.clone()))
        .collect();
    assert_eq!(places.len(), 600, "every (account, Region) once");
    for target in &got.targets {
        let job = world.server.job(&target.job_id).await;
        assert_eq!(job.distribution_id, created.distribution_id);
        assert_eq!(
            (job.destination_account_id.as_str(), job.destination_region.as_str()),
            (target.account_id.as_str(), target.region.as_str())
        );
    }
    world.stop().await;
}

async fn distribution_ids_and_pages_are_checked(database: Database) {
    let mut world = World::start(database, &["--max-concurrent-copies", "0"]).await;
    let missing = world
        .client
        .get_distribution(proto::GetDistributionRequest {
            distribution_id: "not-a-uuid".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(
        missing.get_details_bad_request().unwrap().field_violations[0].field,
        "distribution_id"
    );
    let unknown = world
        .client
        .cancel_distribution(proto::CancelDistributionRequest {
            distribution_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(unknown.get_details_error_info().unwrap().reason, "DistributionNotFound");
    let watch = world
        .client
        .watch_distribution(proto::WatchDistributionRequest {
            distribution_id: uuid::Uuid::new_v4().to_string(),
            after_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(watch.code(), Code::NotFound);

    let first = world.create(request("first", &["us-west-2"])).await.unwrap();
    let second = world.create(request("second", &["us-west-2"])).await.unwrap();
    let running = world
        .client
        .retry_distribution(proto::RetryDistributionRequest {
            distribution_id: first.distribution_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(running.code(), Code::FailedPrecondition);
    assert!(running.message().contains("has not ended"), "{}", running.message());
    world
        .client
        .cancel_distribution(proto::CancelDistributionRequest {
            distribution_id: first.distribution_id.clone(),
        })
        .await
        .unwrap();
    world
        .wait_state(&first.distribution_id, DistributionState::Cancelled)
        .await;

    let page = world
        .client
        .list_distributions(proto::ListDistributionsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        page.distributions[0].distribution_id, second.distribution_id,
        "newest first"
    );
    assert!(
        page.distributions[0].targets.is_empty(),
        "a list leaves the targets out"
    );
    let next = world
        .client
        .list_distributions(proto::ListDistributionsRequest {
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next.distributions[0].distribution_id, first.distribution_id);
    let cancelled = world
        .client
        .list_distributions(proto::ListDistributionsRequest {
            states: vec![DistributionState::Cancelled as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.distributions.len(), 1);
    for bad in [
        proto::ListDistributionsRequest {
            page_size: -1,
            ..Default::default()
        },
        proto::ListDistributionsRequest {
            states: vec![42],
            ..Default::default()
        },
        proto::ListDistributionsRequest {
            page_token: "garbage".to_owned(),
            ..Default::default()
        },
    ] {
        let status = world.client.list_distributions(bad).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    world.stop().await;
}
