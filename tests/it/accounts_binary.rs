//! Cross-account copies through the real `amicopyd` binary: against moto with nothing but the
//! SDK's standard `AWS_ENDPOINT_URL` (so EC2, STS AssumeRole and KMS all reach moto the way
//! they would reach an emulator or a VPC endpoint), and the accounts file re-read on a real
//! SIGHUP.
//!
//! What moto does not model, the simulator's tests (`accounts.rs`) cover: EnableImageDeprecation
//! (moto answers 500, so no deprecation is asked for here), sharing rules between accounts (moto's
//! preloaded AMIs are visible to every account, so `share_source` is off), and eventual
//! consistency after `available`.

use std::{path::Path, time::Duration};

use amicopy::proto::{self, CopyJobState, image_copy_service_client::ImageCopyServiceClient};
use amicopy_testing::moto::{MotoServer, moto_tests_skipped};
use aws_config::sts::AssumeRoleProvider;
use tokio::process::Child;
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

use crate::support::{
    binary::{connect, free_port, spawn_amicopyd},
    copy_request, is_terminal,
};

/// The configured account copies go to.
const TEAM: &str = "222233334444";
/// An account the copies are shared with.
const PARTNER: &str = "333344445555";
/// How long the test waits for the server or a job.
const DEADLINE: Duration = Duration::from_secs(90);

fn accounts_json(ids: &[&str], share_source: bool) -> String {
    let entries: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"account_id":"{id}","role_arn":"arn:aws:iam::{id}:role/amicopy","share_source":{share_source}}}"#
            )
        })
        .collect();
    format!(r#"{{"accounts":[{}]}}"#, entries.join(","))
}

fn spawn(port: u16, data_dir: &Path, accounts_file: &Path, env: &[(&str, String)]) -> Child {
    let data_dir = data_dir.display().to_string();
    let accounts_file = accounts_file.display().to_string();
    let args = [
        "--data-dir",
        &data_dir,
        "--accounts-file",
        &accounts_file,
        "--sim-time-factor",
        "20",
        "--sim-copy-seconds",
        "20",
    ];
    spawn_amicopyd(port, &args, env)
}

async fn wait_terminal(client: &mut ImageCopyServiceClient<Channel>, job_id: &str) -> proto::CopyJob {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let job = client
            .get_copy_job(proto::GetCopyJobRequest {
                job_id: job_id.to_owned(),
            })
            .await
            .expect("job exists")
            .into_inner()
            .job
            .expect("job");
        if is_terminal(job.state) {
            return job;
        }
        assert!(tokio::time::Instant::now() < deadline, "job never ended: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// moto's own SDK config, acting as `account` through STS AssumeRole.
async fn config_as(moto: &MotoServer, account: &str, region: &str) -> aws_config::SdkConfig {
    let role = AssumeRoleProvider::builder(format!("arn:aws:iam::{account}:role/amicopy"))
        .session_name("amicopy-test")
        .configure(&moto.sdk_config())
        .build()
        .await;
    moto.sdk_config()
        .into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(role))
        .region(aws_config::Region::new(region.to_owned()))
        .build()
}

#[tokio::test]
async fn the_binary_copies_into_another_account_through_aws_endpoint_url_and_shares_the_copy() {
    let moto = match MotoServer::start().await {
        Ok(moto) => moto,
        Err(error) if moto_tests_skipped() => return eprintln!("skipping: {error}"),
        Err(error) => panic!("{error}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.json");
    std::fs::write(&accounts, accounts_json(&[TEAM], false)).unwrap();
    let team_west = config_as(&moto, TEAM, "us-west-2").await;
    let kms = aws_sdk_kms::Client::new(&team_west);
    let key = kms.create_key().send().await.unwrap();
    kms.create_alias()
        .alias_name("alias/team-key")
        .target_key_id(key.key_metadata().unwrap().key_id())
        .send()
        .await
        .unwrap();

    // Only the SDK's standard settings: no --ec2-endpoint-url.
    let mut env = moto.aws_env();
    env.push(("AMICOPY_BACKEND", "ec2".to_owned()));
    let port = free_port();
    let mut server = spawn(port, &dir.path().join("data"), &accounts, &env);
    let mut client = ImageCopyServiceClient::new(connect(port).await);

    let source = moto.source_image_id("us-east-1").await.unwrap();
    let request = |name: &str, key: &str| proto::CopyImageRequest {
        source_image_id: source.clone(),
        destination_account_id: TEAM.to_owned(),
        encrypted: Some(true),
        kms_key_id: key.to_owned(),
        launch_permissions: Some(proto::LaunchPermissions {
            user_ids: vec![PARTNER.to_owned()],
            ..Default::default()
        }),
        snapshot_user_ids: vec![PARTNER.to_owned()],
        ..copy_request(name)
    };

    let refused = client
        .copy_image(request("wrong-key", "alias/no-such-key"))
        .await
        .unwrap_err();
    assert_eq!(
        refused.get_details_error_info().unwrap().reason,
        "InvalidKMSKey.NotFound",
        "{refused:?}"
    );
    assert!(refused.message().contains("account 222233334444"), "{refused:?}");

    let response = client
        .copy_image(request("team-copy", "alias/team-key"))
        .await
        .expect("accepted")
        .into_inner();
    let job = wait_terminal(&mut client, &response.job_id).await;
    assert_eq!(job.state, CopyJobState::Available as i32, "{job:?}");
    assert_eq!(job.destination_account_id, TEAM);

    let team_ec2 = aws_sdk_ec2::Client::new(&team_west);
    let seen = team_ec2
        .describe_images()
        .image_ids(&job.image_id)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.images().len(), 1, "the team account has the copy");
    let own_ec2 = moto.client("us-west-2");
    let own = own_ec2.describe_images().image_ids(&job.image_id).send().await;
    assert!(
        own.map(|answer| answer.images().is_empty()).unwrap_or(true),
        "the service's own account does not see it"
    );
    let launch = team_ec2
        .describe_image_attribute()
        .image_id(&job.image_id)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .unwrap();
    let users: Vec<&str> = launch.launch_permissions().iter().filter_map(|p| p.user_id()).collect();
    assert_eq!(users, [PARTNER]);
    for snapshot in &job.snapshot_ids {
        let volumes = team_ec2
            .describe_snapshot_attribute()
            .snapshot_id(snapshot)
            .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
            .send()
            .await
            .unwrap();
        let users: Vec<&str> = volumes
            .create_volume_permissions()
            .iter()
            .filter_map(|p| p.user_id())
            .collect();
        assert_eq!(users, [PARTNER], "{snapshot}");
    }
    assert!(!job.snapshot_ids.is_empty());
    server.kill().await.ok();
}

#[tokio::test]
async fn a_sighup_rereads_the_accounts_file() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.json");
    std::fs::write(&accounts, accounts_json(&[], true)).unwrap();
    let port = free_port();
    let mut server = spawn(port, &dir.path().join("data"), &accounts, &[]);
    let mut client = ImageCopyServiceClient::new(connect(port).await);
    let into_team = |name: &str| proto::CopyImageRequest {
        destination_account_id: TEAM.to_owned(),
        ..copy_request(name)
    };
    let refused = client.copy_image(into_team("before")).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    std::fs::write(&accounts, accounts_json(&[TEAM], true)).unwrap();
    let pid = server.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let response = loop {
        match client.copy_image(into_team("after")).await {
            Ok(response) => break response.into_inner(),
            Err(status) if status.code() == Code::PermissionDenied => {
                assert!(tokio::time::Instant::now() < deadline, "the file was never re-read");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    };
    let job = wait_terminal(&mut client, &response.job_id).await;
    assert_eq!(job.state, CopyJobState::Available as i32, "{job:?}");
    assert!(server.try_wait().unwrap().is_none(), "SIGHUP did not end the process");
    server.kill().await.ok();
}
