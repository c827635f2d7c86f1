//! The finishing calls: launch and snapshot permissions added and read back, who may make them,
//! EC2's eventual consistency right after `available`, and deregistering with the snapshots.

use super::*;
use crate::{
    backend::{INVALID_SNAPSHOT_NOT_FOUND, SnapshotDeletion},
    domain::{CreateVolumePermissions, codes},
};

/// Settings without the settling window, for tests about something else.
fn settled() -> SimSettings {
    SimSettings {
        sim_settle_seconds: 0.0,
        ..settings()
    }
}

/// A copy of the base image into us-west-2 by the own account, available, and its snapshots.
async fn available_copy(world: &SimBackends, name: &str) -> (String, Vec<String>) {
    let image_id = copy_as(world.own().as_ref(), name).await.unwrap();
    advance_secs(30.0).await;
    let image = world.simulator().image(&region("us-west-2"), &image_id).unwrap();
    assert_eq!(image.state, ImageState::Available);
    (image_id, image.snapshots.into_iter().map(|s| s.snapshot_id).collect())
}

#[tokio::test(start_paused = true)]
async fn launch_permissions_read_back_and_adding_one_again_is_no_error() {
    let world = world(settled());
    let west = region("us-west-2");
    let own = world.own();
    let (image_id, _) = available_copy(&world, "to-share").await;
    assert!(own.launch_permissions(&west, &image_id).await.unwrap().is_empty());

    own.add_launch_permissions(&west, &image_id, &users(&[TEAM, OTHER]))
        .await
        .unwrap();
    own.add_launch_permissions(&west, &image_id, &users(&[TEAM]))
        .await
        .unwrap();
    let read = own.launch_permissions(&west, &image_id).await.unwrap();
    assert_eq!(read, users(&[TEAM, OTHER]).normalized());
    assert_eq!(
        world.simulator().image(&west, &image_id).unwrap().launch_permissions,
        read
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_to_add_makes_no_call() {
    let world = world(settled());
    let (image_id, snapshots) = available_copy(&world, "nothing-to-add").await;
    let west = region("us-west-2");
    world
        .own()
        .add_launch_permissions(&west, &image_id, &LaunchPermissions::default())
        .await
        .unwrap();
    world
        .own()
        .add_create_volume_permissions(&west, &snapshots[0], &[])
        .await
        .unwrap();
    assert_eq!(world.simulator().calls("ModifyImageAttribute"), 0);
    assert_eq!(world.simulator().calls("ModifySnapshotAttribute"), 0);
}

#[tokio::test(start_paused = true)]
async fn snapshot_permissions_read_back() {
    let world = world(settled());
    let west = region("us-west-2");
    let own = world.own();
    let (_, snapshots) = available_copy(&world, "snapshots-to-share").await;
    own.add_create_volume_permissions(&west, &snapshots[0], &[account(TEAM)])
        .await
        .unwrap();
    own.add_create_volume_permissions(&west, &snapshots[0], &[account(TEAM), account(OTHER)])
        .await
        .unwrap();
    let read = own.create_volume_permissions(&west, &snapshots[0]).await.unwrap();
    assert_eq!(
        read,
        CreateVolumePermissions {
            user_ids: vec![account(TEAM), account(OTHER)],
            public: false,
        }
        .normalized()
    );
}

#[tokio::test(start_paused = true)]
async fn only_the_owner_may_change_or_read_permissions() {
    let world = world(settled());
    share_base_with(&world, TEAM).await;
    let team = as_account(&world, TEAM);
    let east = region("us-east-1");
    let denied = team
        .add_launch_permissions(&east, BASE, &users(&[OTHER]))
        .await
        .unwrap_err();
    assert_eq!(
        denied.code,
        codes::UNAUTHORIZED_OPERATION,
        "shared with it, not its own"
    );
    let denied = team.launch_permissions(&east, BASE).await.unwrap_err();
    assert_eq!(denied.code, codes::UNAUTHORIZED_OPERATION);
    let snapshot = world
        .own()
        .describe_source_image(&east, BASE)
        .await
        .unwrap()
        .unwrap()
        .snapshot_ids[0]
        .clone();
    let denied = team.create_volume_permissions(&east, &snapshot).await.unwrap_err();
    assert_eq!(denied.code, codes::UNAUTHORIZED_OPERATION);

    let other = as_account(&world, OTHER);
    let hidden = other.launch_permissions(&east, BASE).await.unwrap_err();
    assert_eq!(
        hidden.code,
        codes::INVALID_AMI_ID_NOT_FOUND,
        "not shared with it: not there"
    );
    let hidden = other
        .add_create_volume_permissions(&east, &snapshot, &[account(OTHER)])
        .await
        .unwrap_err();
    assert_eq!(hidden.code, INVALID_SNAPSHOT_NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn encrypted_images_cannot_be_public_nor_aws_managed_snapshots_shared() {
    let world = world(settled());
    let west = region("us-west-2");
    let own = world.own();
    let mut encrypted = input("encrypted-copy");
    encrypted.encrypted = Some(true);
    let image_id = own.copy_image(&call(encrypted, "")).await.unwrap();
    advance_secs(30.0).await;
    let public = LaunchPermissions {
        public: true,
        ..LaunchPermissions::default()
    };
    let error = own.add_launch_permissions(&west, &image_id, &public).await.unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    let snapshot = world.simulator().image(&west, &image_id).unwrap().snapshots[0]
        .snapshot_id
        .clone();
    let error = own
        .add_create_volume_permissions(&west, &snapshot, &[account(TEAM)])
        .await
        .unwrap_err();
    assert_eq!(error.code, "InvalidParameter");
    assert!(error.message.contains("AWS Managed"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn attribute_calls_answer_not_found_then_unavailable_right_after_available() {
    let world = world(SimSettings {
        sim_settle_seconds: 4.0,
        ..settings()
    });
    let west = region("us-west-2");
    let own = world.own();
    let image_id = copy_as(own.as_ref(), "settling").await.unwrap();
    advance_secs(10.0).await;
    own.add_launch_permissions(&west, &image_id, &users(&[TEAM]))
        .await
        .expect("a pending image's attributes can be set");

    advance_secs(20.0).await;
    assert_eq!(
        state_of(world.simulator(), "us-west-2", &image_id).await,
        ImageState::Available
    );
    let snapshot = world.simulator().image(&west, &image_id).unwrap().snapshots[0]
        .snapshot_id
        .clone();
    let first = own.launch_permissions(&west, &image_id).await.unwrap_err();
    assert_eq!(first.code, codes::INVALID_AMI_ID_NOT_FOUND);
    assert!(first.is_eventual_consistency() && !first.retryable);
    let deprecate = own
        .enable_image_deprecation(&west, &image_id, chrono::Utc::now() + chrono::TimeDelta::days(30))
        .await
        .unwrap_err();
    assert_eq!(deprecate.code, codes::INVALID_AMI_ID_NOT_FOUND);
    let snapshot_error = own
        .add_create_volume_permissions(&west, &snapshot, &[account(TEAM)])
        .await
        .unwrap_err();
    assert_eq!(snapshot_error.code, INVALID_SNAPSHOT_NOT_FOUND);
    assert!(snapshot_error.is_eventual_consistency());

    advance_secs(2.5).await;
    let later = own
        .add_launch_permissions(&west, &image_id, &users(&[OTHER]))
        .await
        .unwrap_err();
    assert_eq!(later.code, codes::INVALID_AMI_ID_UNAVAILABLE);
    assert!(later.is_eventual_consistency());

    advance_secs(2.0).await;
    own.add_launch_permissions(&west, &image_id, &users(&[OTHER]))
        .await
        .unwrap();
    own.add_create_volume_permissions(&west, &snapshot, &[account(TEAM)])
        .await
        .unwrap();
    assert_eq!(
        own.launch_permissions(&west, &image_id).await.unwrap(),
        users(&[TEAM, OTHER]).normalized()
    );
}

#[tokio::test(start_paused = true)]
async fn deregistering_with_snapshots_leaves_nothing_behind() {
    let world = world(settled());
    share_base_with(&world, TEAM).await;
    let team = as_account(&world, TEAM);
    let west = region("us-west-2");
    let image_id = copy_as(team.as_ref(), "to-roll-back").await.unwrap();
    let held = world.simulator().inventory(&account(TEAM), &west);
    assert_eq!(held.images.len(), 1);
    assert_eq!(held.snapshot_ids.len(), 1);
    assert!(
        world
            .simulator()
            .inventory(&account(OWN), &west)
            .images
            .iter()
            .all(|image| image.image_id != image_id),
        "the copy is TEAM's, not the own account's"
    );

    let deletions = team.deregister_image_and_snapshots(&west, &image_id).await.unwrap();
    assert_eq!(
        deletions,
        [SnapshotDeletion {
            snapshot_id: held.snapshot_ids[0].clone(),
            return_code: SnapshotDeletion::SUCCESS.to_owned(),
        }]
    );
    assert!(deletions[0].deleted());
    assert_eq!(world.simulator().inventory(&account(TEAM), &west), Default::default());
    let gone = team.snapshot_progress(&west, &held.snapshot_ids).await.unwrap_err();
    assert_eq!(gone.code, INVALID_SNAPSHOT_NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn deregistering_without_the_flag_leaves_the_snapshots() {
    let world = world(settled());
    let west = region("us-west-2");
    let before = world.simulator().inventory(&account(OWN), &west);
    let image_id = copy_as(world.own().as_ref(), "leaky").await.unwrap();
    world.own().deregister_image(&west, &image_id).await.unwrap();
    let after = world.simulator().inventory(&account(OWN), &west);
    assert_eq!(after.images, before.images, "the image is gone");
    assert_eq!(
        after.snapshot_ids.len(),
        before.snapshot_ids.len() + 1,
        "its snapshot stays: the most common leak"
    );
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_another_image_uses_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalogue.json");
    std::fs::write(
        &path,
        r#"{"images": [
            {"image_id": "ami-0123456789abcdef0", "region": "us-east-1", "name": "first",
             "block_devices": [{"device_name": "/dev/xvda", "size_gib": 8, "snapshot_id": "snap-0123456789abcdef0"},
                               {"device_name": "/dev/sdf", "size_gib": 8, "snapshot_id": "snap-0123456789abcdef1"}]},
            {"image_id": "ami-0123456789abcdef1", "region": "us-east-1", "name": "second",
             "block_devices": [{"device_name": "/dev/xvda", "size_gib": 8, "snapshot_id": "snap-0123456789abcdef0"}]}
        ]}"#,
    )
    .unwrap();
    let world = world(SimSettings {
        sim_catalogue: Some(path),
        ..settled()
    });
    let east = region("us-east-1");
    let mut deletions = world
        .own()
        .deregister_image_and_snapshots(&east, "ami-0123456789abcdef0")
        .await
        .unwrap();
    deletions.sort_by(|a, b| a.snapshot_id.cmp(&b.snapshot_id));
    assert_eq!(deletions[0].snapshot_id, "snap-0123456789abcdef0");
    assert_eq!(deletions[0].return_code, "skipped", "the second image still uses it");
    assert!(deletions[1].deleted());
    assert_eq!(
        world.simulator().inventory(&account(OWN), &east).snapshot_ids,
        ["snap-0123456789abcdef0"]
    );
}

#[tokio::test(start_paused = true)]
async fn every_new_call_has_its_own_bucket_per_account() {
    let world = world(SimSettings {
        sim_modify_attribute_burst: 1,
        sim_modify_attribute_refill: 0.0,
        sim_describe_attribute_burst: 1,
        sim_describe_attribute_refill: 0.0,
        ..settled()
    });
    let (image_id, snapshots) = available_copy(&world, "metered-finish").await;
    let west = region("us-west-2");
    let own = world.own();
    let throttled = |r: Result<(), BackendError>| r.unwrap_err().code == codes::REQUEST_LIMIT_EXCEEDED;
    own.add_launch_permissions(&west, &image_id, &users(&[TEAM]))
        .await
        .unwrap();
    assert!(throttled(
        own.add_launch_permissions(&west, &image_id, &users(&[TEAM])).await
    ));
    own.add_create_volume_permissions(&west, &snapshots[0], &[account(TEAM)])
        .await
        .unwrap();
    own.launch_permissions(&west, &image_id).await.unwrap();
    assert!(throttled(own.launch_permissions(&west, &image_id).await.map(drop)));
    own.create_volume_permissions(&west, &snapshots[0]).await.unwrap();

    let team = as_account(&world, TEAM);
    assert_eq!(
        team.launch_permissions(&west, &image_id).await.unwrap_err().code,
        codes::UNAUTHORIZED_OPERATION,
        "another account's bucket is full: the call gets through to the owner check"
    );
}
