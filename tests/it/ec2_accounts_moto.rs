//! Copies into other accounts through the real SDK ([`SdkBackends`]) against moto: an account's
//! backend assumes its role with STS, and EC2, STS and KMS are all reached through the SDK
//! config's endpoint (what `AWS_ENDPOINT_URL` sets), not `--ec2-endpoint-url`.
//!
//! What moto 5.2 models and these tests rely on: STS AssumeRole of
//! `arn:aws:iam::ACCOUNT:role/X` returns credentials that act as ACCOUNT (and GetCallerIdentity
//! says so); a copy made with them belongs to that account and only it sees it; its preloaded
//! AMIs exist in every account and Region; ModifyImageAttribute / DescribeImageAttribute
//! (launch permissions of every kind), ModifySnapshotAttribute / DescribeSnapshotAttribute
//! (createVolumePermission), and KMS CreateKey, CreateAlias, DescribeKey, DisableKey and
//! ScheduleKeyDeletion, each per account and Region.
//!
//! What moto does not model, and the simulator's tests (`backend::sim::tests`) cover instead:
//! - EnableImageDeprecation answers HTTP 500, and DescribeImages never reports DeprecationTime.
//! - DeregisterImage ignores DeleteAssociatedSnapshots: the snapshots stay.
//! - Sharing rules: moto does not refuse copying another account's AMI without launch or
//!   snapshot permission, and does not check that an encrypted source's key is shared.
//! - Eventual consistency: attribute calls succeed at once after CopyImage.
//! - Role trust policies and external ids: any role ARN can be assumed.
//! - `alias/aws/ebs` is reported as a customer managed key.
//!
//! Every test starts its own moto and is bounded in time; they fail when moto is missing,
//! unless `AMICOPY_SKIP_MOTO_TESTS=1`.

use std::{sync::Arc, time::Duration};

use amicopy::{
    backend::{
        Backends, Ec2Backend, KmsKeyLookup, KmsKeyState, StartCopy,
        accounts::{AccountEntry, Accounts, SimAccountSettings},
        ec2::SdkBackends,
    },
    domain::{AccountId, CopyImageInput, CopyRequest, LaunchPermissions, OrganizationArn, Region},
};
use amicopy_testing::moto::{MotoServer, moto_tests_skipped};
use aws_config::sts::AssumeRoleProvider;

/// moto's default account: what the static test credentials act as.
const OWN: &str = "123456789012";
/// The configured account copies go to.
const TEAM: &str = "222233334444";
/// An account permissions are granted to.
const PARTNER: &str = "333344445555";
const SOURCE_REGION: &str = "us-east-1";
const DESTINATION_REGION: &str = "us-west-2";
/// Longest a whole test may take, moto's start included.
const TEST_BOUND: Duration = Duration::from_secs(90);

/// A started moto, or `None` when moto tests are skipped.
async fn moto() -> Option<MotoServer> {
    match MotoServer::start().await {
        Ok(moto) => Some(moto),
        Err(error) if moto_tests_skipped() => {
            eprintln!("skipping: {error}");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

/// Runs a test body, failing it when it takes longer than [`TEST_BOUND`].
async fn bounded(body: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_BOUND, body)
        .await
        .expect("the test took longer than its bound");
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

fn region(code: &str) -> Region {
    Region::parse(code).unwrap()
}

fn role_of(id: &str) -> String {
    format!("arn:aws:iam::{id}:role/amicopy")
}

/// The accounts file: TEAM, reached through its role with an external id.
fn accounts() -> Accounts {
    Accounts::fixed(vec![AccountEntry {
        account_id: account(TEAM),
        role_arn: role_of(TEAM),
        external_id: Some("amicopy-tests".to_owned()),
        share_source: true,
        sim: SimAccountSettings::default(),
    }])
}

/// Every account on `moto`, and TEAM's backend.
fn backends(moto: &MotoServer) -> (SdkBackends, Arc<dyn Ec2Backend>) {
    let backends = moto.backends(accounts());
    let team = backends.for_account(&account(TEAM)).unwrap();
    (backends, team)
}

/// A copy of moto's first preloaded AMI from us-east-1 into us-west-2.
async fn copy_into_west(moto: &MotoServer, backend: &dyn Ec2Backend, name: &str) -> String {
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let input = CopyImageInput {
        source_image_id: source,
        source_region: SOURCE_REGION.into(),
        destination_region: DESTINATION_REGION.into(),
        name: name.into(),
        ..CopyImageInput::default()
    };
    let copy = StartCopy {
        request: CopyRequest::parse(input, &region(SOURCE_REGION)).unwrap(),
        client_token: format!("token-{name}"),
        dry_run: false,
    };
    backend.copy_image(&copy).await.unwrap()
}

/// A KMS client acting as `id` in `region_code`, for setting keys up.
async fn kms_as(moto: &MotoServer, id: &str, region_code: &str) -> aws_sdk_kms::Client {
    let role = AssumeRoleProvider::builder(role_of(id))
        .session_name("amicopy-test-setup")
        .configure(&moto.sdk_config())
        .build()
        .await;
    let config = aws_sdk_kms::config::Builder::from(&moto.sdk_config())
        .credentials_provider(role)
        .region(aws_sdk_kms::config::Region::new(region_code.to_owned()))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

#[tokio::test]
async fn a_copy_made_in_a_configured_account_is_seen_there_and_not_from_the_own_account() {
    let Some(moto) = moto().await else { return };
    bounded(async {
        let (backends, team) = backends(&moto);
        let own = backends.own();
        let west = region(DESTINATION_REGION);
        let image_id = copy_into_west(&moto, team.as_ref(), "team-copy").await;

        let seen = team
            .describe_images(&west, std::slice::from_ref(&image_id))
            .await
            .unwrap();
        assert_eq!(seen.len(), 1, "the account that copied sees its copy");
        let source = team.describe_source_image(&west, &image_id).await.unwrap().unwrap();
        assert_eq!(source.owner_id, TEAM, "and owns it");
        assert_eq!(team.find_images_by_name(&west, "team-copy").await.unwrap().len(), 1);

        assert!(
            own.describe_images(&west, std::slice::from_ref(&image_id))
                .await
                .unwrap()
                .is_empty(),
            "the service's own account does not see it"
        );
        assert!(own.find_images_by_name(&west, "team-copy").await.unwrap().is_empty());
        assert_eq!(own.describe_source_image(&west, &image_id).await.unwrap(), None);

        assert_eq!(backends.own_account_id().await.unwrap(), account(OWN));
        assert_eq!(backends.known_own_account_id(), Some(account(OWN)));
        assert!(
            Arc::ptr_eq(&team, &backends.for_account(&account(TEAM)).unwrap()),
            "one backend per account, reused"
        );
    })
    .await;
}

#[tokio::test]
async fn launch_and_snapshot_permissions_added_through_the_backend_read_back() {
    let Some(moto) = moto().await else { return };
    bounded(async {
        let (_backends, team) = backends(&moto);
        let west = region(DESTINATION_REGION);
        let image_id = copy_into_west(&moto, team.as_ref(), "to-share").await;
        assert!(team.launch_permissions(&west, &image_id).await.unwrap().is_empty());

        let wanted = LaunchPermissions {
            user_ids: vec![account(PARTNER)],
            organization_arns: vec![
                OrganizationArn::parse("arn:aws:organizations::111122223333:organization/o-abcde12345").unwrap(),
            ],
            organizational_unit_arns: Vec::new(),
            public: true,
        };
        team.add_launch_permissions(&west, &image_id, &wanted).await.unwrap();
        team.add_launch_permissions(&west, &image_id, &wanted)
            .await
            .expect("adding a permission that exists is not an error");
        let read = team.launch_permissions(&west, &image_id).await.unwrap();
        assert!(read.includes(&wanted), "{read:?}");
        assert_eq!(read.normalized(), wanted.clone().normalized());

        let snapshots = team
            .describe_images(&west, std::slice::from_ref(&image_id))
            .await
            .unwrap()[0]
            .snapshot_ids
            .clone();
        assert!(!snapshots.is_empty());
        for snapshot in &snapshots {
            team.add_create_volume_permissions(&west, snapshot, &[account(PARTNER)])
                .await
                .unwrap();
            let read = team.create_volume_permissions(&west, snapshot).await.unwrap();
            assert_eq!(read.user_ids, [account(PARTNER)], "{snapshot}");
            assert!(!read.public);
        }
    })
    .await;
}

#[tokio::test]
async fn kms_describe_key_finds_a_key_of_the_account_and_region_only() {
    let Some(moto) = moto().await else { return };
    bounded(async {
        let (backends, team) = backends(&moto);
        let kms = kms_as(&moto, TEAM, DESTINATION_REGION).await;
        let created = kms.create_key().send().await.unwrap();
        let key_id = created.key_metadata().unwrap().key_id().to_owned();
        kms.create_alias()
            .alias_name("alias/team-key")
            .target_key_id(&key_id)
            .send()
            .await
            .unwrap();

        let west = region(DESTINATION_REGION);
        let KmsKeyLookup::Found(key) = team.describe_kms_key(&west, "alias/team-key").await.unwrap() else {
            panic!("the key was created in this account and Region");
        };
        assert_eq!(key.key_id, key_id);
        assert_eq!(key.account_id, TEAM);
        assert_eq!(key.region, west);
        assert_eq!(key.arn, format!("arn:aws:kms:{DESTINATION_REGION}:{TEAM}:key/{key_id}"));
        assert_eq!(key.state, KmsKeyState::Enabled);

        let missing = |lookup: KmsKeyLookup| assert_eq!(lookup, KmsKeyLookup::Missing);
        missing(team.describe_kms_key(&west, "alias/no-such-key").await.unwrap());
        missing(
            team.describe_kms_key(&region(SOURCE_REGION), "alias/team-key")
                .await
                .unwrap(),
        );
        missing(backends.own().describe_kms_key(&west, "alias/team-key").await.unwrap());

        kms.disable_key().key_id(&key_id).send().await.unwrap();
        let KmsKeyLookup::Found(disabled) = team.describe_kms_key(&west, &key.arn).await.unwrap() else {
            panic!("a disabled key still exists");
        };
        assert_eq!(disabled.state, KmsKeyState::Disabled);
        kms.schedule_key_deletion()
            .key_id(&key_id)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap();
        let KmsKeyLookup::Found(leaving) = team.describe_kms_key(&west, &key_id).await.unwrap() else {
            panic!("a key pending deletion still exists");
        };
        assert_eq!(leaving.state, KmsKeyState::PendingDeletion);
    })
    .await;
}
