//! A copy's course: pending, progress, available; the checks EC2 makes on the source and the
//! name; encryption and KMS keys.

use super::*;
use crate::domain::codes;

#[tokio::test(start_paused = true)]
async fn a_copy_is_pending_until_the_copy_seconds_have_passed() {
    let sim = simulator(settings());
    let image_id = copy(&sim, input("first-copy")).await.unwrap();
    assert!(image_id.starts_with("ami-") && image_id.len() == 21, "{image_id}");
    assert!(
        image_id[4..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Pending);
    advance_secs(29.0).await;
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Pending);
    advance_secs(1.0).await;
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Available);
    assert_eq!(sim.copies_started(), 1);
}

#[tokio::test(start_paused = true)]
async fn snapshot_progress_rises_from_0_to_100_for_every_snapshot() {
    let sim = simulator(settings());
    let mut multi = input("analytics-copy");
    multi.source_image_id = "ami-0a1b2c3d4e5f60007".to_owned();
    multi.source_region = "eu-west-1".to_owned();
    let image_id = copy(&sim, multi).await.unwrap();
    let image = sim
        .describe_images(&region("us-west-2"), &[image_id])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(image.snapshot_ids.len(), 3, "one snapshot per source block device");

    assert_eq!(progress(&sim, &image.snapshot_ids).await, vec![0, 0, 0]);
    advance_secs(3.0).await;
    let early = progress(&sim, &image.snapshot_ids).await;
    // 8, 200 and 50 GiB: the small volumes go faster, the largest ends last.
    assert!(early[0] > early[2] && early[2] > early[1] && early[1] > 0, "{early:?}");
    advance_secs(12.0).await;
    let middle = progress(&sim, &image.snapshot_ids).await;
    assert!(
        middle.iter().zip(&early).all(|(m, e)| m >= e),
        "{early:?} then {middle:?}"
    );
    assert!(middle[1] < 100, "{middle:?}");
    advance_secs(15.0).await;
    assert_eq!(progress(&sim, &image.snapshot_ids).await, vec![100, 100, 100]);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_source_is_not_found_naming_id_and_region() {
    let sim = simulator(settings());
    let mut missing = input("missing-source");
    missing.source_image_id = "ami-0fffffffffffffff0".to_owned();
    let error = copy(&sim, missing).await.unwrap_err();
    assert_eq!(error.code, codes::INVALID_AMI_ID_NOT_FOUND);
    assert!(!error.retryable);
    assert!(
        error.message.contains("ami-0fffffffffffffff0") && error.message.contains("us-east-1"),
        "{error}"
    );

    let mut wrong_region = input("wrong-region");
    wrong_region.source_region = "eu-west-1".to_owned();
    assert_eq!(
        copy(&sim, wrong_region).await.unwrap_err().code,
        codes::INVALID_AMI_ID_NOT_FOUND
    );
    assert_eq!(sim.copies_started(), 0);
}

#[tokio::test(start_paused = true)]
async fn copying_from_an_outpost_is_refused() {
    let sim = simulator(settings());
    let mut from_outpost = input("from-outpost");
    from_outpost.source_image_id = "ami-0a1b2c3d4e5f60004".to_owned();
    from_outpost.source_region = "us-west-2".to_owned();
    let error = copy(&sim, from_outpost).await.unwrap_err();
    assert_eq!(error.code, codes::INVALID_PARAMETER_VALUE);
    assert!(error.message.contains("Outpost"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_copy_to_an_outpost_is_always_encrypted() {
    let sim = simulator(settings());
    let mut to_outpost = input("to-outpost");
    to_outpost.source_image_id = "ami-0a1b2c3d4e5f60003".to_owned();
    to_outpost.source_region = "us-west-2".to_owned();
    to_outpost.destination_outpost_arn =
        "arn:aws:outposts:us-west-2:111122223333:outpost/op-0a1b2c3d4e5f60001".to_owned();
    let image_id = copy(&sim, to_outpost).await.unwrap();
    let image = sim.image(&region("us-west-2"), &image_id).unwrap();
    assert!(image.encrypted && image.snapshots.iter().all(|s| s.encrypted));
    assert!(image.outpost_arn.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_disabled_source_is_unavailable() {
    let sim = simulator(settings());
    let mut disabled = input("from-disabled");
    disabled.source_image_id = "ami-0a1b2c3d4e5f6000b".to_owned();
    assert_eq!(
        copy(&sim, disabled).await.unwrap_err().code,
        codes::INVALID_AMI_ID_UNAVAILABLE
    );
}

#[tokio::test(start_paused = true)]
async fn a_copy_can_be_copied_once_it_is_available() {
    let sim = simulator(settings());
    let first = copy(&sim, input("hop-one")).await.unwrap();
    let mut onward = input("hop-two");
    onward.source_image_id = first.clone();
    onward.source_region = "us-west-2".to_owned();
    onward.destination_region = "eu-west-1".to_owned();
    assert_eq!(
        copy(&sim, onward.clone()).await.unwrap_err().code,
        codes::INVALID_AMI_ID_UNAVAILABLE
    );
    advance_secs(30.0).await;
    assert!(copy(&sim, onward).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn names_are_unique_per_destination_region_until_deregistered() {
    let sim = simulator(settings());
    let first = copy(&sim, input("shared-name")).await.unwrap();
    let error = copy(&sim, input("shared-name")).await.unwrap_err();
    assert_eq!(error.code, codes::INVALID_AMI_NAME_DUPLICATE);
    assert!(error.message.contains(&first), "{error}");

    let mut elsewhere = input("shared-name");
    elsewhere.destination_region = "eu-west-1".to_owned();
    assert!(copy(&sim, elsewhere).await.is_ok(), "another Region has its own names");

    sim.deregister_image(&region("us-west-2"), &first).await.unwrap();
    assert!(
        copy(&sim, input("shared-name")).await.is_ok(),
        "a deregistered image frees its name"
    );
}

#[tokio::test(start_paused = true)]
async fn an_encrypted_source_always_makes_an_encrypted_copy() {
    let sim = simulator(settings());
    let mut encrypted_source = input("from-encrypted");
    encrypted_source.source_image_id = "ami-0a1b2c3d4e5f60002".to_owned();
    encrypted_source.encrypted = Some(false);
    let image_id = copy(&sim, encrypted_source).await.unwrap();
    let image = sim.image(&region("us-west-2"), &image_id).unwrap();
    assert!(image.encrypted);
    assert_eq!(image.snapshots.len(), 2);
    for snapshot in &image.snapshots {
        assert!(snapshot.encrypted);
        let key = snapshot.kms_key_id.as_deref().unwrap();
        assert!(
            key.starts_with("arn:aws:kms:us-west-2:111122223333:key/"),
            "default key of the destination: {key}"
        );
    }

    let plain = copy(&sim, input("from-plain")).await.unwrap();
    let image = sim.image(&region("us-west-2"), &plain).unwrap();
    assert!(!image.encrypted && image.snapshots.iter().all(|s| !s.encrypted && s.kms_key_id.is_none()));
}

#[tokio::test(start_paused = true)]
async fn a_known_kms_key_encrypts_the_copy_in_any_form() {
    let sim = simulator(settings());
    let key_arn = "arn:aws:kms:us-west-2:111122223333:key/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let forms = [
        "alias/amicopy-demo",
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        key_arn,
        "arn:aws:kms:us-west-2:111122223333:alias/amicopy-demo",
    ];
    for (i, form) in forms.iter().enumerate() {
        let mut request = input(&format!("kms-form-{i}"));
        request.encrypted = Some(true);
        request.kms_key_id = (*form).to_owned();
        let image_id = copy(&sim, request).await.unwrap();
        let image = sim.image(&region("us-west-2"), &image_id).unwrap();
        assert!(image.encrypted);
        assert_eq!(image.snapshots[0].kms_key_id.as_deref(), Some(key_arn), "{form}");
    }
    advance_secs(30.0).await;
    for i in 0..forms.len() {
        let found = sim
            .find_images_by_name(&region("us-west-2"), &format!("kms-form-{i}"))
            .await
            .unwrap();
        assert_eq!(found[0].state, ImageState::Available);
    }
}

#[tokio::test(start_paused = true)]
async fn an_unknown_kms_key_starts_the_copy_then_fails_it_naming_the_key() {
    let sim = simulator(settings());
    let mut request = input("kms-missing");
    request.encrypted = Some(true);
    request.kms_key_id = "alias/no-such-key".to_owned();
    let image_id = copy(&sim, request).await.unwrap();
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Pending);
    advance_secs(30.0).await;
    let image = sim
        .describe_images(&region("us-west-2"), &[image_id])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(image.state, ImageState::Failed);
    let reason = image.state_reason.unwrap();
    assert!(reason.code.contains("KMS"), "{reason:?}");
    assert!(reason.message.contains("alias/no-such-key"), "{reason:?}");
}

#[tokio::test(start_paused = true)]
async fn a_key_of_another_region_or_a_disabled_key_fails_the_copy() {
    let sim = simulator(settings());
    // The us-east-1 key id is unknown in us-west-2.
    let keys = ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/amicopy-disabled"];
    let mut ids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let mut request = input(&format!("bad-key-{i}"));
        request.encrypted = Some(true);
        request.kms_key_id = (*key).to_owned();
        ids.push(copy(&sim, request).await.unwrap());
    }
    advance_secs(30.0).await;
    for (id, key) in ids.iter().zip(keys) {
        let image = sim.image(&region("us-west-2"), id).unwrap();
        assert_eq!(image.state, ImageState::Failed);
        let reason = image.state_reason.unwrap();
        assert!(reason.code.starts_with("Client.InvalidKMSKey."), "{reason:?}");
        assert!(reason.message.contains(key), "{reason:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn describe_source_image_tells_owner_encryption_and_tags() {
    let sim = simulator(settings());
    let east = region("us-east-1");
    let base = sim.describe_source_image(&east, BASE).await.unwrap().unwrap();
    assert_eq!(base.owner_id, sim.account_id());
    assert!(!base.encrypted && base.outpost_arn.is_none());
    assert_eq!(base.state, ImageState::Available);
    assert!(base.tags.iter().any(|t| t.is_system()) && base.tags.iter().any(|t| !t.is_system()));

    let shared = sim
        .describe_source_image(&east, "ami-0a1b2c3d4e5f60005")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(shared.owner_id, sim.account_id());
    assert!(
        sim.describe_source_image(&east, "ami-0a1b2c3d4e5f60003")
            .await
            .unwrap()
            .is_none()
    );
    let west = sim
        .describe_source_image(&region("us-west-2"), "ami-0a1b2c3d4e5f60003")
        .await
        .unwrap();
    assert!(west.is_some());
}

async fn progress(sim: &Simulator, snapshot_ids: &[String]) -> Vec<u8> {
    sim.snapshot_progress(&region("us-west-2"), snapshot_ids)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.progress_percent.unwrap())
        .collect()
}
