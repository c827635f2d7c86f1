//! Whole distributions over gRPC with the simulator, on both databases: six targets to
//! SUCCEEDED with their finishing steps, a target's missing KMS key fixed and retried, a
//! roll-back that leaves nothing behind, a cancel in the middle, and watching with resume.

use amicopy::{
    backend::Ec2Backend,
    domain::{AccountId, Region},
    proto::{self, CopyJobState, DistributionState, FailurePolicy},
};
use tonic::Code;
use tonic_types::StatusExt;

use super::{PARTNER, TEAM, World, owner, request, state_changes};
use crate::support::Database;

crate::on_both!(
    six_targets_succeed_with_their_finishing_steps_and_one_watch_sees_it_all,
    a_missing_kms_key_fails_one_target_and_a_retry_after_the_fix_touches_only_it,
    a_roll_back_deregisters_every_image_with_its_snapshots,
    a_cancel_in_the_middle_stops_every_target_that_has_not_ended,
);

const REGIONS: [&str; 3] = ["us-west-2", "eu-west-1", "eu-central-1"];
/// Regions where the catalogue's key alias/amicopy-demo exists, in every account.
const KEYED_REGIONS: [&str; 3] = ["us-west-2", "eu-west-1", "us-east-1"];

fn keys(regions: &[&str], key: &str) -> std::collections::HashMap<String, String> {
    regions.iter().map(|r| ((*r).to_owned(), key.to_owned())).collect()
}

/// Every image and snapshot the own account and TEAM hold in `regions`, by place.
fn holdings(world: &World, regions: &[&str]) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut held = Vec::new();
    for account in [super::OWN, TEAM] {
        for region in regions {
            let inventory = world.inventory(account, region);
            let images = inventory.images.into_iter().map(|image| image.image_id).collect();
            held.push((format!("{account}/{region}"), images, inventory.snapshot_ids));
        }
    }
    held
}

fn job_state(target: &proto::TargetStatus) -> CopyJobState {
    CopyJobState::try_from(target.state).unwrap()
}

async fn six_targets_succeed_with_their_finishing_steps_and_one_watch_sees_it_all(database: Database) {
    let mut world = World::start(database, &[]).await;
    let deprecate_at = chrono::Utc::now() + chrono::Duration::days(30);
    let mut request = request("golden", &REGIONS);
    request.launch_permissions = Some(proto::LaunchPermissions {
        user_ids: vec![PARTNER.to_owned()],
        ..Default::default()
    });
    request.snapshot_user_ids = vec![PARTNER.to_owned()];
    request.deprecate_time = Some(prost_types::Timestamp {
        seconds: deprecate_at.timestamp(),
        nanos: 0,
    });
    let created = world.create(request).await.unwrap();
    assert_eq!(created.state, DistributionState::Running as i32);
    assert_eq!(created.counts.as_ref().unwrap().total, 6);
    assert_eq!(created.targets.len(), 6);
    assert_eq!(created.targets[4].name, format!("golden-eu-west-1-{TEAM}"));
    assert_eq!(created.targets[0].name, format!("golden-us-west-2-{}", super::OWN));
    assert!(
        created
            .targets
            .iter()
            .all(|t| job_state(t) == CopyJobState::Queued && t.generation == 1)
    );

    let events = world.watch(&created.distribution_id, 0).await;
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        sequences,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "no gaps, no repeats"
    );
    let states = state_changes(&events);
    assert_eq!(states.first().unwrap().0, DistributionState::Running);
    assert_eq!(
        states.last().unwrap().0,
        DistributionState::Succeeded,
        "the stream ends at the end"
    );
    let available: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(proto::watch_distribution_response::Event::TargetEvent(t))
                if t.event.as_ref().unwrap().state == CopyJobState::Available as i32 =>
            {
                Some((t.account_id.clone(), t.region.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        available.len(),
        6,
        "each target's AVAILABLE, tagged with its place: {available:?}"
    );

    let done = world.get(&created.distribution_id).await;
    assert_eq!(done.state, DistributionState::Succeeded as i32);
    assert_eq!(done.counts.as_ref().unwrap().available, 6);
    assert_eq!(done.last_sequence, events.len() as u64);
    for target in &done.targets {
        assert_eq!(job_state(target), CopyJobState::Available, "{target:?}");
        let region = Region::parse(&target.region).unwrap();
        let image = world.sim.image(&region, &target.image_id).expect("the image exists");
        assert_eq!(image.owner_id, owner(target));
        assert_eq!(image.name, target.name);
        assert!(
            image
                .launch_permissions
                .user_ids
                .iter()
                .any(|id| id.as_str() == PARTNER)
        );
        assert!(image.deprecation_time.is_some(), "deprecated: {image:?}");
        let view = world.sim.as_account(&AccountId::parse(owner(target)).unwrap());
        for snapshot in &image.snapshots {
            let shared = view
                .create_volume_permissions(&region, &snapshot.snapshot_id)
                .await
                .unwrap();
            assert!(shared.user_ids.iter().any(|id| id.as_str() == PARTNER));
        }
        let job = world.server.job(&target.job_id).await;
        assert_eq!(
            job.distribution_id, done.distribution_id,
            "the job names its distribution"
        );
    }

    let resumed = world.watch(&created.distribution_id, 5).await;
    assert_eq!(
        resumed,
        events[5..].to_vec(),
        "a resumed watch goes on where it stopped"
    );
    assert!(
        world
            .watch(&created.distribution_id, done.last_sequence)
            .await
            .is_empty()
    );
    world.stop().await;
}

async fn a_missing_kms_key_fails_one_target_and_a_retry_after_the_fix_touches_only_it(database: Database) {
    let mut world = World::start(database, &[]).await;
    let mut request = request("keyed", &KEYED_REGIONS);
    request.encrypted = Some(true);
    request.targets[0].kms_key_ids = keys(&KEYED_REGIONS, "alias/amicopy-demo");
    request.targets[1].kms_key_ids = keys(&KEYED_REGIONS, "alias/amicopy-demo");
    request.targets[1]
        .kms_key_ids
        .insert("eu-west-1".to_owned(), "alias/team-key".to_owned());
    let created = world.create(request).await.unwrap();
    let partial = world
        .wait_state(&created.distribution_id, DistributionState::PartiallySucceeded)
        .await;
    let counts = partial.counts.as_ref().unwrap();
    assert_eq!((counts.available, counts.failed), (5, 1));
    let failed = &partial.targets[4];
    assert_eq!(
        (failed.account_id.as_str(), failed.region.as_str()),
        (TEAM, "eu-west-1")
    );
    assert_eq!(job_state(failed), CopyJobState::Failed);
    assert_eq!(failed.failure_code, "InvalidKMSKey.NotFound");
    assert!(
        failed.failure_message.contains("alias/team-key") && failed.failure_message.contains("eu-west-1"),
        "the reason names the key and the Region: {}",
        failed.failure_message
    );

    // The operator creates the key in that account and Region.
    world.rewrite_accounts(r#""sim_kms_keys": {"eu-west-1": ["alias/team-key"]}"#);
    let retried = world
        .client
        .retry_distribution(proto::RetryDistributionRequest {
            distribution_id: created.distribution_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .distribution
        .unwrap();
    assert_eq!(retried.state, DistributionState::Running as i32);
    assert_eq!(retried.targets[4].generation, 2);
    assert_ne!(retried.targets[4].job_id, failed.job_id);
    let succeeded = world
        .wait_state(&created.distribution_id, DistributionState::Succeeded)
        .await;
    for (before, after) in partial.targets.iter().zip(&succeeded.targets) {
        assert_eq!(job_state(after), CopyJobState::Available, "{after:?}");
        if before.job_id != failed.job_id {
            assert_eq!(
                (&after.job_id, &after.image_id, after.generation),
                (&before.job_id, &before.image_id, 1),
                "the good targets are untouched"
            );
        }
    }
    let images = world.inventory(TEAM, "eu-west-1").images;
    assert_eq!(images.len(), 1, "one image for the retried target: {images:?}");
    assert_eq!(images[0].image_id, succeeded.targets[4].image_id);
    let old_job = world.server.job(&failed.job_id).await;
    assert_eq!(
        old_job.state,
        CopyJobState::Failed as i32,
        "the first job stays as history"
    );

    let again = world
        .client
        .retry_distribution(proto::RetryDistributionRequest {
            distribution_id: created.distribution_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(again.get_details_error_info().unwrap().reason, "IncorrectState");
    assert!(again.message().contains("nothing to retry"), "{}", again.message());
    world.stop().await;
}

async fn a_roll_back_deregisters_every_image_with_its_snapshots(database: Database) {
    let mut world = World::start(database, &[]).await;
    let mut request = request("rolled", &KEYED_REGIONS);
    request.failure_policy = FailurePolicy::RollBack as i32;
    request.encrypted = Some(true);
    request.snapshot_user_ids = vec![PARTNER.to_owned()];
    request.targets[0].kms_key_ids = keys(&KEYED_REGIONS, "alias/amicopy-demo");
    request.targets[1].kms_key_ids = keys(&KEYED_REGIONS, "alias/amicopy-demo");
    // Snapshots under the AWS managed key cannot be shared: this target's copy is made, then its
    // finishing step fails for good, and the whole distribution is rolled back.
    request.targets[1]
        .kms_key_ids
        .insert("us-east-1".to_owned(), "alias/aws/ebs".to_owned());
    let before = holdings(&world, &KEYED_REGIONS);
    let created = world.create(request).await.unwrap();
    let rolled = world
        .wait_state(&created.distribution_id, DistributionState::RolledBack)
        .await;
    let failed = &rolled.targets[5];
    assert_eq!(job_state(failed), CopyJobState::Failed);
    assert!(!failed.image_id.is_empty(), "the copy was made before its step failed");
    for target in &rolled.targets {
        assert!(
            target.image_id.is_empty() || target.rolled_back,
            "every image made is marked rolled back: {target:?}"
        );
    }
    assert_eq!(
        holdings(&world, &KEYED_REGIONS),
        before,
        "no image and no snapshot of the distribution is left, in any account or Region"
    );
    let states = state_changes(&world.watch(&created.distribution_id, 0).await);
    let order: Vec<DistributionState> = states.iter().map(|(state, _)| *state).collect();
    assert_eq!(order.first(), Some(&DistributionState::Running));
    assert_eq!(order.last(), Some(&DistributionState::RolledBack));
    assert!(order.contains(&DistributionState::RollingBack));
    let steps: Vec<&String> = states
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d.starts_with("rolled back: "))
        .collect();
    assert!(!steps.is_empty(), "each target's roll-back is told: {states:?}");
    assert!(
        steps
            .iter()
            .any(|d| d.contains(&failed.image_id) && d.contains("snapshots")),
        "{steps:?}"
    );

    let retry = world
        .client
        .retry_distribution(proto::RetryDistributionRequest {
            distribution_id: created.distribution_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(retry.code(), Code::FailedPrecondition);
    assert!(retry.message().contains("rolled back"), "{}", retry.message());
    world.stop().await;
}

async fn a_cancel_in_the_middle_stops_every_target_that_has_not_ended(database: Database) {
    let mut world = World::start(database, &["--sim-copy-seconds", "2000"]).await;
    let before = holdings(&world, &REGIONS);
    let created = world.create(request("cancelled", &REGIONS)).await.unwrap();
    world
        .wait_for(&created.distribution_id, |d| d.counts.as_ref().unwrap().copying >= 3)
        .await;
    let cancel = proto::CancelDistributionRequest {
        distribution_id: created.distribution_id.clone(),
    };
    let cancelling = world
        .client
        .cancel_distribution(cancel.clone())
        .await
        .unwrap()
        .into_inner()
        .distribution
        .unwrap();
    assert!(
        [
            DistributionState::Cancelling as i32,
            DistributionState::Cancelled as i32
        ]
        .contains(&cancelling.state),
        "{cancelling:?}"
    );
    let cancelled = world
        .wait_state(&created.distribution_id, DistributionState::Cancelled)
        .await;
    assert_eq!(cancelled.counts.as_ref().unwrap().cancelled, 6);
    let images = |holdings: Vec<(String, Vec<String>, Vec<String>)>| -> Vec<(String, Vec<String>)> {
        holdings.into_iter().map(|(place, images, _)| (place, images)).collect()
    };
    assert_eq!(
        images(holdings(&world, &REGIONS)),
        images(before),
        "every pending copy was deregistered"
    );
    let again = world.client.cancel_distribution(cancel).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(again.get_details_error_info().unwrap().reason, "IncorrectState");
    let order: Vec<DistributionState> = state_changes(&world.watch(&created.distribution_id, 0).await)
        .into_iter()
        .map(|(state, _)| state)
        .collect();
    assert_eq!(
        order,
        vec![
            DistributionState::Running,
            DistributionState::Cancelling,
            DistributionState::Cancelled
        ]
    );
    world.stop().await;
}
