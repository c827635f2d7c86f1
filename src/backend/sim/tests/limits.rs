//! Request rates, concurrent copies, deregistration, DescribeImages' batching and eventual
//! consistency.

use super::*;
use crate::domain::codes;

#[tokio::test(start_paused = true)]
async fn copy_image_is_throttled_per_region_and_refills() {
    let sim = simulator(SimSettings {
        sim_copy_image_burst: 2,
        sim_copy_image_refill: 1.0,
        ..settings()
    });
    copy(&sim, input("rate-1")).await.unwrap();
    copy(&sim, input("rate-2")).await.unwrap();
    let error = copy(&sim, input("rate-3")).await.unwrap_err();
    assert_eq!(error.code, codes::REQUEST_LIMIT_EXCEEDED);
    assert!(error.retryable);

    let mut europe = input("rate-3");
    europe.destination_region = "eu-west-1".to_owned();
    assert!(copy(&sim, europe).await.is_ok(), "each Region has its own bucket");

    advance_secs(1.0).await;
    assert!(copy(&sim, input("rate-3")).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn buckets_refill_by_simulated_time() {
    let sim = simulator(SimSettings {
        sim_time_factor: 10.0,
        sim_copy_image_burst: 1,
        sim_copy_image_refill: 1.0,
        ..settings()
    });
    copy(&sim, input("fast-1")).await.unwrap();
    assert!(copy(&sim, input("fast-2")).await.is_err());
    advance_secs(0.1).await;
    assert!(
        copy(&sim, input("fast-2")).await.is_ok(),
        "one simulated second is a tenth of a real one"
    );
}

#[tokio::test(start_paused = true)]
async fn every_call_has_its_own_bucket() {
    let sim = simulator(SimSettings {
        sim_describe_images_burst: 1,
        sim_describe_snapshots_burst: 1,
        sim_deregister_image_burst: 1,
        ..settings()
    });
    let west = region("us-west-2");
    let image_id = copy(&sim, input("metered")).await.unwrap();
    let snapshots = sim
        .describe_images(&west, std::slice::from_ref(&image_id))
        .await
        .unwrap()[0]
        .snapshot_ids
        .clone();
    let throttled = |r: Result<(), BackendError>| r.unwrap_err().code == codes::REQUEST_LIMIT_EXCEEDED;
    assert!(throttled(sim.find_images_by_name(&west, "metered").await.map(drop)));
    assert!(throttled(sim.describe_source_image(&west, &image_id).await.map(drop)));
    assert!(sim.snapshot_progress(&west, &snapshots).await.is_ok());
    assert!(throttled(sim.snapshot_progress(&west, &snapshots).await.map(drop)));
    assert!(sim.deregister_image(&west, &image_id).await.is_ok());
    advance_secs(1.0).await;
    assert!(
        sim.describe_images(&west, &[image_id]).await.is_ok(),
        "20 per second refill"
    );
}

#[tokio::test(start_paused = true)]
async fn too_many_copies_in_progress_is_resource_limit_exceeded() {
    let sim = simulator(SimSettings {
        sim_max_concurrent_copies: 2,
        ..settings()
    });
    let first = copy(&sim, input("busy-1")).await.unwrap();
    copy(&sim, input("busy-2")).await.unwrap();
    let error = copy(&sim, input("busy-3")).await.unwrap_err();
    assert_eq!(error.code, codes::RESOURCE_LIMIT_EXCEEDED);

    let mut europe = input("busy-3");
    europe.destination_region = "eu-west-1".to_owned();
    assert!(copy(&sim, europe).await.is_ok(), "the limit is per destination Region");

    sim.deregister_image(&region("us-west-2"), &first).await.unwrap();
    copy(&sim, input("busy-3"))
        .await
        .expect("a deregistered copy frees its slot");
    assert!(copy(&sim, input("busy-4")).await.is_err());
    advance_secs(30.0).await;
    copy(&sim, input("busy-4"))
        .await
        .expect("finished copies free their slots");
}

#[tokio::test(start_paused = true)]
async fn deregistering_a_pending_copy_stops_it() {
    let sim = simulator(settings());
    let west = region("us-west-2");
    let image_id = copy(&sim, input("to-stop")).await.unwrap();
    advance_secs(15.0).await;
    sim.deregister_image(&west, &image_id).await.unwrap();
    advance_secs(30.0).await;
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Deregistered);
    let image = sim.image(&west, &image_id).unwrap();
    assert_eq!(
        image.snapshots[0].progress_percent, 50,
        "progress stopped at deregistration"
    );
    let again = sim.deregister_image(&west, &image_id).await.unwrap_err();
    assert_eq!(again.code, codes::INVALID_AMI_ID_NOT_FOUND);
}

#[tokio::test(start_paused = true)]
async fn deregistering_an_unknown_or_foreign_image_is_refused() {
    let sim = simulator(settings());
    let error = sim
        .deregister_image(&region("us-west-2"), "ami-0fffffffffffffff0")
        .await
        .unwrap_err();
    assert_eq!(error.code, codes::INVALID_AMI_ID_NOT_FOUND);
    let foreign = sim
        .deregister_image(&region("us-east-1"), "ami-0a1b2c3d4e5f60005")
        .await
        .unwrap_err();
    assert_eq!(foreign.code, codes::UNAUTHORIZED_OPERATION);
}

#[tokio::test(start_paused = true)]
async fn describe_images_answers_many_ids_and_leaves_out_unknown_ones() {
    let sim = simulator(settings());
    let a = copy(&sim, input("batch-a")).await.unwrap();
    let b = copy(&sim, input("batch-b")).await.unwrap();
    let ids = vec![a.clone(), "ami-0fffffffffffffff0".to_owned(), b.clone()];
    let images = sim.describe_images(&region("us-west-2"), &ids).await.unwrap();
    let found: Vec<&str> = images.iter().map(|i| i.image_id.as_str()).collect();
    assert_eq!(found, [a.as_str(), b.as_str()]);
    assert!(
        images
            .iter()
            .all(|i| i.creation_date.is_some() && !i.snapshot_ids.is_empty())
    );

    let unknown = sim
        .snapshot_progress(&region("us-west-2"), &["snap-0fffffffffffffff0".to_owned()])
        .await
        .unwrap_err();
    assert_eq!(unknown.code, "InvalidSnapshot.NotFound");
}

#[tokio::test(start_paused = true)]
async fn a_new_image_is_invisible_during_the_visibility_delay() {
    let sim = simulator(SimSettings {
        sim_visibility_delay_seconds: 5.0,
        ..settings()
    });
    let west = region("us-west-2");
    let image_id = copy(&sim, input("eventually")).await.unwrap();
    assert!(
        sim.describe_images(&west, std::slice::from_ref(&image_id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(sim.find_images_by_name(&west, "eventually").await.unwrap().is_empty());
    advance_secs(5.0).await;
    assert_eq!(
        sim.describe_images(&west, std::slice::from_ref(&image_id))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        sim.find_images_by_name(&west, "eventually").await.unwrap()[0].image_id,
        image_id
    );
}

#[tokio::test(start_paused = true)]
async fn find_images_by_name_sees_only_the_accounts_images() {
    let sim = simulator(settings());
    let east = region("us-east-1");
    let shared = sim.find_images_by_name(&east, "vendor-hardened-linux").await.unwrap();
    assert!(shared.is_empty(), "another account's image is not ours");
    let own = sim.find_images_by_name(&east, "amicopy-base-al2023").await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].image_id, BASE);
}
