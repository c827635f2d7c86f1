//! Distributions through the real aws-sdk-ec2 backend against moto, on both databases: the
//! service's own account and a second one reached through STS AssumeRole, in three Regions.
//!
//! What moto cannot do, so these tests leave it out and the simulator's tests
//! (`distributions::lifecycle`) cover it: EnableImageDeprecation (moto answers HTTP 500, so no
//! `deprecate_time` here), and DeregisterImage's DeleteAssociatedSnapshots (moto ignores it:
//! a roll-back's images go, their snapshots stay, so only the images are checked here).

use std::sync::Arc;

use amicopy::{
    backend::{
        Backends,
        accounts::{AccountEntry, Accounts, SimAccountSettings},
    },
    domain::{AccountId, Region},
    proto::{self, DistributionState, FailurePolicy, distribution_service_client::DistributionServiceClient},
};
use amicopy_testing::moto::{MotoServer, moto_tests_skipped};

use super::{PARTNER, TEAM};
use crate::support::{Database, JOB_DEADLINE, TestServer, TestStorage};

crate::on_both!(
    a_distribution_through_the_sdk_succeeds_in_both_accounts_with_its_permissions,
    a_roll_back_through_the_sdk_deregisters_every_image,
);

/// moto's default account: what the static test credentials act as.
const MOTO_OWN: &str = "123456789012";
const REGIONS: [&str; 3] = ["us-west-2", "eu-west-1", "eu-central-1"];

/// moto, a server on its SDK backends with [`TEAM`] configured, and a client; `None` when moto
/// tests are skipped.
async fn start(database: Database) -> Option<(MotoServer, Arc<dyn Backends>, TestServer, TestStorage)> {
    let moto = match MotoServer::start().await {
        Ok(moto) => moto,
        Err(error) if moto_tests_skipped() => {
            eprintln!("skipping: {error}");
            return None;
        }
        Err(error) => panic!("{error}"),
    };
    let accounts = Accounts::fixed(vec![AccountEntry {
        account_id: AccountId::parse(TEAM).unwrap(),
        role_arn: format!("arn:aws:iam::{TEAM}:role/amicopy"),
        external_id: None,
        share_source: false,
        sim: SimAccountSettings::default(),
    }]);
    let backends: Arc<dyn Backends> = Arc::new(moto.backends(accounts));
    let storage = TestStorage::new(database).await;
    let server = storage.start(&[], Some(Arc::clone(&backends))).await;
    Some((moto, backends, server, storage))
}

async fn request(moto: &MotoServer, name: &str) -> proto::CreateDistributionRequest {
    let source = moto.source_image_id("us-east-1").await.expect("moto has a source AMI");
    let regions: Vec<String> = REGIONS.map(str::to_owned).to_vec();
    proto::CreateDistributionRequest {
        source_image_id: source,
        source_region: "us-east-1".to_owned(),
        name: format!("{name}-{{region}}-{{account}}"),
        targets: vec![
            proto::DistributionTarget {
                regions: regions.clone(),
                ..Default::default()
            },
            proto::DistributionTarget {
                account_id: TEAM.to_owned(),
                regions,
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

async fn run_to_end(server: &TestServer, request: proto::CreateDistributionRequest) -> proto::Distribution {
    let mut client = DistributionServiceClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let created = client.create_distribution(request).await.unwrap().into_inner();
    let id = created.distribution.unwrap().distribution_id;
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    loop {
        let distribution = client
            .get_distribution(proto::GetDistributionRequest {
                distribution_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .distribution
            .unwrap();
        let state = DistributionState::try_from(distribution.state).unwrap();
        if ![
            DistributionState::Running,
            DistributionState::Cancelling,
            DistributionState::RollingBack,
        ]
        .contains(&state)
        {
            return distribution;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ended: {distribution:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn account_of(backends: &dyn Backends, target: &proto::TargetStatus) -> Arc<dyn amicopy::backend::Ec2Backend> {
    if target.account_id.is_empty() {
        backends.own()
    } else {
        backends
            .for_account(&AccountId::parse(&target.account_id).unwrap())
            .unwrap()
    }
}

async fn a_distribution_through_the_sdk_succeeds_in_both_accounts_with_its_permissions(database: Database) {
    let Some((moto, backends, mut server, storage)) = start(database).await else {
        return;
    };
    let mut request = request(&moto, "sdk-golden").await;
    request.launch_permissions = Some(proto::LaunchPermissions {
        user_ids: vec![PARTNER.to_owned()],
        ..Default::default()
    });
    request.snapshot_user_ids = vec![PARTNER.to_owned()];
    let done = run_to_end(&server, request).await;
    assert_eq!(done.state, DistributionState::Succeeded as i32, "{done:#?}");
    assert_eq!(
        done.targets[0].name,
        format!("sdk-golden-us-west-2-{MOTO_OWN}"),
        "the own account's id, learned from STS"
    );
    for target in &done.targets {
        let backend = account_of(&*backends, target);
        let region = Region::parse(&target.region).unwrap();
        let launch = backend.launch_permissions(&region, &target.image_id).await.unwrap();
        assert!(
            launch.user_ids.iter().any(|id| id.as_str() == PARTNER),
            "{target:?}: {launch:?}"
        );
        let job = server.job(&target.job_id).await;
        assert!(!job.snapshot_ids.is_empty());
        for snapshot in &job.snapshot_ids {
            let shared = backend.create_volume_permissions(&region, snapshot).await.unwrap();
            assert!(shared.user_ids.iter().any(|id| id.as_str() == PARTNER), "{snapshot}");
        }
    }
    server.stop().await;
    storage.cleanup().await;
}

async fn a_roll_back_through_the_sdk_deregisters_every_image(database: Database) {
    let Some((moto, backends, server, storage)) = start(database).await else {
        return;
    };
    let mut request = request(&moto, "sdk-rolled").await;
    request.failure_policy = FailurePolicy::RollBack as i32;
    request.encrypted = Some(true);
    // No such key in TEAM's eu-west-1: that target fails its checks; the others are rolled back.
    request.targets[1].kms_key_ids = [("eu-west-1".to_owned(), "alias/no-such-key".to_owned())].into();
    let done = run_to_end(&server, request).await;
    assert_eq!(done.state, DistributionState::RolledBack as i32, "{done:#?}");
    let failed = &done.targets[4];
    assert_eq!(failed.failure_code, "InvalidKMSKey.NotFound");
    let mut made = 0;
    for target in done.targets.iter().filter(|t| !t.image_id.is_empty()) {
        made += 1;
        assert!(target.rolled_back, "{target:?}");
        let region = Region::parse(&target.region).unwrap();
        let left = account_of(&*backends, target)
            .describe_images(&region, std::slice::from_ref(&target.image_id))
            .await
            .unwrap();
        assert!(left.is_empty(), "{} is still there: {left:?}", target.image_id);
    }
    assert!(made > 0, "some copies were made before the roll-back: {done:#?}");
    server.stop().await;
    storage.cleanup().await;
}
