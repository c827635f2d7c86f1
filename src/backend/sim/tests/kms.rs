//! Every account's KMS keys: DescribeKey's answers, the accounts file's extra keys, and
//! encrypted sources copied by another account only with their key shared (never `aws/ebs`).

use super::*;
use crate::backend::{KmsKeyLookup, KmsKeyState};

async fn describe(backend: &dyn Ec2Backend, region_code: &str, key: &str) -> KmsKeyLookup {
    backend.describe_kms_key(&region(region_code), key).await.unwrap()
}

fn found(lookup: KmsKeyLookup) -> crate::backend::KmsKey {
    match lookup {
        KmsKeyLookup::Found(key) => key,
        KmsKeyLookup::Missing => panic!("the key should exist"),
    }
}

#[tokio::test(start_paused = true)]
async fn every_account_holds_the_catalogue_keys_under_ids_of_its_own() {
    let world = world(settings());
    let own = found(describe(world.own().as_ref(), "us-east-1", "alias/amicopy-demo").await);
    assert_eq!(own.key_id, "1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_eq!(own.account_id, OWN);
    assert_eq!(own.region.as_str(), "us-east-1");
    assert_eq!(
        own.arn,
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert_eq!(own.state, KmsKeyState::Enabled);
    assert!(!own.aws_managed);

    let team = as_account(&world, TEAM);
    let theirs = found(describe(team.as_ref(), "us-east-1", "alias/amicopy-demo").await);
    assert_eq!(theirs.account_id, TEAM);
    assert_ne!(theirs.key_id, own.key_id);
    assert!(
        theirs.arn.starts_with("arn:aws:kms:us-east-1:222233334444:key/"),
        "{}",
        theirs.arn
    );
    let multi = found(describe(team.as_ref(), "eu-west-1", "alias/amicopy-multi-region").await);
    assert!(multi.key_id.starts_with("mrk-"), "{}", multi.key_id);
    assert_eq!(
        found(describe(team.as_ref(), "us-east-1", &theirs.arn).await),
        theirs,
        "by ARN too"
    );
}

#[tokio::test(start_paused = true)]
async fn describe_key_tells_disabled_missing_and_aws_managed_apart() {
    let world = world(settings());
    let own = world.own();
    let disabled = found(describe(own.as_ref(), "us-west-2", "alias/amicopy-disabled").await);
    assert_eq!(disabled.state, KmsKeyState::Disabled);
    let leaving = found(describe(own.as_ref(), "us-west-2", "alias/amicopy-pending-deletion").await);
    assert_eq!(leaving.state, KmsKeyState::PendingDeletion);
    assert_eq!(
        describe(own.as_ref(), "us-east-1", "alias/nope").await,
        KmsKeyLookup::Missing
    );
    assert_eq!(
        describe(own.as_ref(), "eu-central-1", "alias/amicopy-demo").await,
        KmsKeyLookup::Missing,
        "the catalogue has no such key in that Region"
    );
    let other_region = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(
        describe(own.as_ref(), "us-west-2", other_region).await,
        KmsKeyLookup::Missing,
        "KMS is regional: an ARN of another Region is not found here"
    );
    let managed = found(describe(own.as_ref(), "us-west-2", "alias/aws/ebs").await);
    assert!(managed.aws_managed && managed.state == KmsKeyState::Enabled);

    let denied = as_account(&world, TEAM)
        .describe_kms_key(&region("us-east-1"), other_region)
        .await
        .unwrap_err();
    assert_eq!(
        denied.code, "AccessDeniedException",
        "the own key is not shared with TEAM"
    );
    assert!(!denied.retryable);
    assert_eq!(world.simulator().calls("DescribeKey"), 7);
}

#[tokio::test(start_paused = true)]
async fn the_accounts_file_gives_an_account_extra_keys_its_copies_can_use() {
    let team_keys = SimAccountSettings {
        kms_keys: [(region("eu-west-1"), vec!["alias/team-key".to_owned()])].into(),
        ..SimAccountSettings::default()
    };
    let world = world_with(settings(), vec![entry(TEAM, team_keys)]);
    share_base_with(&world, TEAM).await;
    let team = as_account(&world, TEAM);
    let key = found(describe(team.as_ref(), "eu-west-1", "alias/team-key").await);
    assert_eq!(
        describe(world.own().as_ref(), "eu-west-1", "alias/team-key").await,
        KmsKeyLookup::Missing
    );

    let into_ireland = |name: &str| {
        let mut to_ireland = input(name);
        to_ireland.destination_region = "eu-west-1".to_owned();
        to_ireland.encrypted = Some(true);
        to_ireland.kms_key_id = "alias/team-key".to_owned();
        StartCopy {
            request: CopyRequest::parse(to_ireland, &region("eu-west-1")).unwrap(),
            client_token: String::new(),
            dry_run: false,
        }
    };
    let theirs = team.copy_image(&into_ireland("team-encrypted")).await.unwrap();
    let ours = world.own().copy_image(&into_ireland("own-encrypted")).await.unwrap();
    advance_secs(30.0).await;
    let ireland = region("eu-west-1");
    let theirs = world.simulator().image(&ireland, &theirs).unwrap();
    assert_eq!(theirs.state, ImageState::Available);
    assert_eq!(theirs.snapshots[0].kms_key_id.as_deref(), Some(key.arn.as_str()));
    let ours = world.simulator().image(&ireland, &ours).unwrap();
    assert_eq!(ours.state, ImageState::Failed, "the own account has no such key");
    assert_eq!(ours.state_reason.unwrap().code, "Client.InvalidKMSKey.NotFound");
}

/// A catalogue of three encrypted images shared with TEAM: one under a key shared with TEAM,
/// one under a key that is not, one under `aws/ebs`; and a key pending deletion.
const ENCRYPTED: &str = r#"{"images": [
    {"image_id": "ami-0123456789abcdef1", "region": "us-east-1", "name": "under-shared-key", "encrypted": true,
     "kms_key_id": "alias/shared", "shared_with": ["222233334444"],
     "block_devices": [{"device_name": "/dev/xvda", "size_gib": 8}]},
    {"image_id": "ami-0123456789abcdef2", "region": "us-east-1", "name": "under-private-key", "encrypted": true,
     "kms_key_id": "alias/private", "shared_with": ["222233334444"],
     "block_devices": [{"device_name": "/dev/xvda", "size_gib": 8}]},
    {"image_id": "ami-0123456789abcdef3", "region": "us-east-1", "name": "under-aws-ebs", "encrypted": true,
     "shared_with": ["222233334444"],
     "block_devices": [{"device_name": "/dev/xvda", "size_gib": 8}]}
  ],
  "kms_keys": [
    {"region": "us-east-1", "key_id": "11111111-1111-4111-8111-111111111111", "aliases": ["alias/shared"],
     "shared_with": ["222233334444"]},
    {"region": "us-east-1", "key_id": "22222222-2222-4222-8222-222222222222", "aliases": ["alias/private"]},
    {"region": "us-west-2", "key_id": "33333333-3333-4333-8333-333333333333", "aliases": ["alias/leaving"],
     "pending_deletion": true}
  ]}"#;

#[tokio::test(start_paused = true)]
async fn an_encrypted_source_needs_its_key_shared_and_aws_ebs_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalogue.json");
    std::fs::write(&path, ENCRYPTED).unwrap();
    let world = world(SimSettings {
        sim_catalogue: Some(path),
        ..settings()
    });
    let team = as_account(&world, TEAM);
    let copy_of = |source: &str, name: &str| {
        let mut from = input(name);
        from.source_image_id = source.to_owned();
        call(from, "")
    };
    team.copy_image(&copy_of("ami-0123456789abcdef1", "from-shared-key"))
        .await
        .unwrap();

    let private = team
        .copy_image(&copy_of("ami-0123456789abcdef2", "from-private-key"))
        .await
        .unwrap_err();
    assert_eq!(private.code, "InvalidRequest");
    assert!(
        private.message.contains("22222222-2222-4222-8222-222222222222") && private.message.contains("not shared"),
        "{private}"
    );

    let managed = team
        .copy_image(&copy_of("ami-0123456789abcdef3", "from-aws-ebs"))
        .await
        .unwrap_err();
    assert_eq!(managed.code, "InvalidRequest");
    assert!(managed.message.contains("AWS managed key"), "{managed}");

    let shared = found(
        describe(
            team.as_ref(),
            "us-east-1",
            "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-111111111111",
        )
        .await,
    );
    assert_eq!(
        shared.account_id, OWN,
        "a key shared with the account can be described by its ARN"
    );

    let leaving = found(describe(world.own().as_ref(), "us-west-2", "alias/leaving").await);
    assert_eq!(leaving.state, KmsKeyState::PendingDeletion);
    let mut into_leaving = input("into-leaving");
    into_leaving.source_image_id = "ami-0123456789abcdef1".to_owned();
    into_leaving.encrypted = Some(true);
    into_leaving.kms_key_id = "alias/leaving".to_owned();
    let image_id = world.own().copy_image(&call(into_leaving, "")).await.unwrap();
    advance_secs(30.0).await;
    let failed = world.simulator().image(&region("us-west-2"), &image_id).unwrap();
    assert_eq!(failed.state, ImageState::Failed);
    assert!(failed.state_reason.unwrap().message.contains("pending deletion"));
}
