//! Several accounts in one world: who sees and may copy whose image, and what each account has
//! to itself (names, request buckets, concurrent copies); the registry over them.

use super::*;
use crate::{
    backend::accounts::AccountsSettings,
    domain::{OrganizationArn, OrganizationalUnitArn, codes},
};

const ORGANIZATION: &str = "arn:aws:organizations::111122223333:organization/o-amicopysim";
const UNIT: &str = "arn:aws:organizations::111122223333:ou/o-amicopysim/ou-root-platform1";

#[tokio::test(start_paused = true)]
async fn a_private_source_is_neither_visible_nor_copyable_by_another_account() {
    let world = world(settings());
    let team = as_account(&world, TEAM);
    let east = region("us-east-1");
    assert_eq!(team.describe_source_image(&east, BASE).await.unwrap(), None);
    assert!(
        team.describe_images(&east, &[BASE.to_owned()])
            .await
            .unwrap()
            .is_empty()
    );
    let error = copy_as(team.as_ref(), "not-mine").await.unwrap_err();
    assert_eq!(error.code, codes::INVALID_AMI_ID_NOT_FOUND, "{error}");
    assert!(error.message.contains(BASE), "{error}");
    assert_eq!(world.simulator().copies_started(), 0);
}

#[tokio::test(start_paused = true)]
async fn launch_permission_shows_the_image_but_copying_needs_its_snapshots_too() {
    let world = world(settings());
    let own = world.own();
    let team = as_account(&world, TEAM);
    let east = region("us-east-1");
    own.add_launch_permissions(&east, BASE, &users(&[TEAM])).await.unwrap();

    let seen = team.describe_source_image(&east, BASE).await.unwrap().unwrap();
    assert_eq!(seen.owner_id, OWN);
    assert_eq!(seen.snapshot_ids.len(), 1);
    let error = copy_as(team.as_ref(), "half-shared").await.unwrap_err();
    assert_eq!(error.code, "InvalidRequest");
    assert!(
        error.message.contains(&seen.snapshot_ids[0]) && error.message.contains(TEAM),
        "{error}"
    );

    own.add_create_volume_permissions(&east, &seen.snapshot_ids[0], &[account(TEAM)])
        .await
        .unwrap();
    let image_id = copy_as(team.as_ref(), "shared-copy").await.unwrap();
    let west = region("us-west-2");
    let copy = world.simulator().image(&west, &image_id).unwrap();
    assert_eq!(copy.owner_id, TEAM, "the copy belongs to the account that made it");
    assert!(
        own.describe_images(&west, std::slice::from_ref(&image_id))
            .await
            .unwrap()
            .is_empty(),
        "the service's own account does not see the other account's copy"
    );
    assert_eq!(team.describe_images(&west, &[image_id]).await.unwrap().len(), 1);
    assert!(
        as_account(&world, OTHER)
            .describe_source_image(&east, BASE)
            .await
            .unwrap()
            .is_none(),
        "sharing with one account shares with no other"
    );
}

#[tokio::test(start_paused = true)]
async fn organization_unit_and_public_permissions_share_too() {
    let in_organization = SimAccountSettings {
        organization_arn: Some(OrganizationArn::parse(ORGANIZATION).unwrap()),
        ..SimAccountSettings::default()
    };
    let in_unit = SimAccountSettings {
        organizational_unit_arns: vec![OrganizationalUnitArn::parse(UNIT).unwrap()],
        ..SimAccountSettings::default()
    };
    let world = world_with(settings(), vec![entry(TEAM, in_organization), entry(OTHER, in_unit)]);
    let own = world.own();
    let east = region("us-east-1");
    let west_image = "ami-0a1b2c3d4e5f60003";
    let west = region("us-west-2");
    let sees = |id: &'static str, region: Region, image: &'static str| {
        let backend = as_account(&world, id);
        async move { backend.describe_source_image(&region, image).await.unwrap().is_some() }
    };

    let by_organization = LaunchPermissions {
        organization_arns: vec![OrganizationArn::parse(ORGANIZATION).unwrap()],
        ..LaunchPermissions::default()
    };
    own.add_launch_permissions(&east, BASE, &by_organization).await.unwrap();
    assert!(sees(TEAM, east.clone(), BASE).await);
    assert!(!sees(OTHER, east.clone(), BASE).await, "OTHER is in no organization");

    let by_unit = LaunchPermissions {
        organizational_unit_arns: vec![OrganizationalUnitArn::parse(UNIT).unwrap()],
        ..LaunchPermissions::default()
    };
    own.add_launch_permissions(&west, west_image, &by_unit).await.unwrap();
    assert!(sees(OTHER, west.clone(), west_image).await);
    assert!(!sees(TEAM, west.clone(), west_image).await);

    let public = LaunchPermissions {
        public: true,
        ..LaunchPermissions::default()
    };
    own.add_launch_permissions(&west, west_image, &public).await.unwrap();
    assert!(sees(TEAM, west, west_image).await, "public: everyone");
}

#[tokio::test(start_paused = true)]
async fn the_catalogue_image_shared_by_another_account_still_works_for_the_own_account() {
    let world = world(settings());
    let mut shared = input("vendor-copy");
    shared.source_image_id = "ami-0a1b2c3d4e5f60005".to_owned();
    let image_id = world.own().copy_image(&call(shared.clone(), "")).await.unwrap();
    assert_eq!(
        world
            .simulator()
            .image(&region("us-west-2"), &image_id)
            .unwrap()
            .owner_id,
        OWN
    );
    let error = as_account(&world, TEAM)
        .copy_image(&call(shared, ""))
        .await
        .unwrap_err();
    assert_eq!(
        error.code,
        codes::INVALID_AMI_ID_NOT_FOUND,
        "shared with the own account only"
    );
}

#[tokio::test(start_paused = true)]
async fn names_are_unique_per_account() {
    let world = world(settings());
    share_base_with(&world, TEAM).await;
    let team = as_account(&world, TEAM);
    copy_as(world.own().as_ref(), "same-name").await.unwrap();
    copy_as(team.as_ref(), "same-name").await.unwrap();
    let error = copy_as(team.as_ref(), "same-name").await.unwrap_err();
    assert_eq!(error.code, codes::INVALID_AMI_NAME_DUPLICATE);
    let own_found = world
        .own()
        .find_images_by_name(&region("us-west-2"), "same-name")
        .await
        .unwrap();
    assert_eq!(own_found.len(), 1, "each account finds its own image by name");
}

#[tokio::test(start_paused = true)]
async fn request_buckets_and_the_concurrency_cap_are_per_account() {
    let world = world(SimSettings {
        sim_copy_image_burst: 2,
        sim_copy_image_refill: 0.0,
        sim_max_concurrent_copies: 1,
        ..settings()
    });
    share_base_with(&world, TEAM).await;
    let own = world.own();
    let team = as_account(&world, TEAM);
    copy_as(own.as_ref(), "own-1").await.unwrap();
    let busy = copy_as(own.as_ref(), "own-2").await.unwrap_err();
    assert_eq!(busy.code, codes::RESOURCE_LIMIT_EXCEEDED);
    let throttled = copy_as(own.as_ref(), "own-3").await.unwrap_err();
    assert_eq!(throttled.code, codes::REQUEST_LIMIT_EXCEEDED);

    copy_as(team.as_ref(), "team-1").await.unwrap();
    let team_busy = copy_as(team.as_ref(), "team-2").await.unwrap_err();
    assert_eq!(
        team_busy.code,
        codes::RESOURCE_LIMIT_EXCEEDED,
        "its own cap, its own bucket"
    );
}

#[tokio::test(start_paused = true)]
async fn client_tokens_are_per_account() {
    let world = world(settings());
    share_base_with(&world, TEAM).await;
    let own = world
        .own()
        .copy_image(&call(input("tokened"), "token-1"))
        .await
        .unwrap();
    let team = as_account(&world, TEAM)
        .copy_image(&call(input("tokened"), "token-1"))
        .await
        .unwrap();
    assert_ne!(own, team, "another account's token is not a replay");
}

#[tokio::test(start_paused = true)]
async fn the_registry_hands_out_configured_accounts_only() {
    let world = world(settings());
    let unknown = world.for_account(&account("999988887777")).err().unwrap();
    assert!(
        unknown.to_string().contains("999988887777 is not configured"),
        "{unknown}"
    );
    assert!(world.account(&account(TEAM)).is_some_and(|entry| entry.share_source));
    assert!(world.account(&account("999988887777")).is_none());
    assert_eq!(world.known_own_account_id(), Some(account(OWN)));
    assert_eq!(world.own_account_id().await.unwrap(), account(OWN));
    let own_by_id = world.for_account(&account(OWN)).unwrap();
    copy_as(own_by_id.as_ref(), "by-id").await.unwrap();
    assert_eq!(
        world
            .own()
            .find_images_by_name(&region("us-west-2"), "by-id")
            .await
            .unwrap()
            .len(),
        1,
        "the own account by its id is the own account"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reloaded_accounts_file_adds_accounts_and_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.json");
    let write = |body: &str| std::fs::write(&path, format!(r#"{{"accounts":[{body}]}}"#)).unwrap();
    write(r#"{"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy"}"#);
    let accounts = AccountsSettings {
        accounts_file: Some(path.clone()),
    }
    .load()
    .unwrap();
    let world = SimBackends::new(Simulator::with_accounts(settings(), accounts.clone()).unwrap());
    let ireland = region("eu-west-1");
    assert!(world.for_account(&account(OTHER)).is_err());
    let team = as_account(&world, TEAM);
    let missing = team.describe_kms_key(&ireland, "alias/team-key").await.unwrap();
    assert_eq!(missing, crate::backend::KmsKeyLookup::Missing);

    write(
        r#"{"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy",
            "sim_kms_keys":{"eu-west-1":["alias/team-key"]}},
           {"account_id":"333344445555","role_arn":"arn:aws:iam::333344445555:role/amicopy"}"#,
    );
    assert_eq!(accounts.reload().unwrap(), 2);
    assert!(
        world.for_account(&account(OTHER)).is_ok(),
        "a new account is reachable at once"
    );
    let found = team.describe_kms_key(&ireland, "alias/team-key").await.unwrap();
    assert!(
        matches!(&found, crate::backend::KmsKeyLookup::Found(key) if key.account_id == TEAM),
        "the operator fixed the missing key by editing the file: {found:?}"
    );
}
