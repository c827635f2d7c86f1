//! Copies into other accounts and their finishing steps, over gRPC against the simulator: the
//! simulator models what moto does not (sharing rules between accounts, deprecation, EC2's
//! eventual consistency right after `available`), so these tests read the results back from the
//! simulated world itself.

use std::{path::Path, sync::Arc};

use amicopy::{
    backend::{
        Backends,
        accounts::Accounts,
        sim::{SimBackends, SimSettings, Simulator},
    },
    domain::{AccountId, Region},
    proto::{self, CopyJobState},
};
use amicopy_testing::presets;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{Database, TestServer, TestStorage, copy_request};

/// The account copies go to.
const TEAM: &str = "222233334444";
/// A third account the copies are shared with.
const PARTNER: &str = "333344445555";

crate::on_both!(
    a_copy_into_another_account_is_shared_deprecated_and_then_available,
    a_finishing_step_refused_for_good_fails_the_job_and_keeps_its_image,
    a_private_source_that_is_not_shared_is_refused_before_copying,
    a_kms_key_missing_in_the_destination_account_is_refused_until_the_operator_adds_it,
);

/// The accounts file: TEAM, with `share_source` as given, and `extra` JSON keys for it.
fn write_accounts(path: &Path, share_source: bool, extra: &str) {
    let body = format!(
        r#"{{"accounts":[{{"account_id":"{TEAM}","role_arn":"arn:aws:iam::{TEAM}:role/amicopy","share_source":{share_source}{extra}}}]}}"#
    );
    std::fs::write(path, body).expect("accounts file written");
}

/// A server on fresh storage whose simulated world has the accounts of `accounts_file`, and that
/// world, to read results back from.
async fn server_with_accounts(
    database: Database,
    accounts_file: &Path,
) -> (TestServer, TestStorage, SimBackends, Accounts) {
    let accounts = Accounts::load(accounts_file.to_path_buf()).expect("accounts file");
    // Half a second of eventual consistency after `available`, so the finishing steps meet it
    // (and retry well within their eight tries).
    let settings = SimSettings {
        sim_settle_seconds: 10.0,
        ..presets::fast_sim()
    };
    let world = SimBackends::new(Simulator::with_accounts(settings, accounts.clone()).expect("simulator"));
    let storage = TestStorage::new(database).await;
    let shared: Arc<dyn Backends> = Arc::new(world.clone());
    let server = storage.start(&[], Some(shared)).await;
    (server, storage, world, accounts)
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).expect("an account id")
}

fn west() -> Region {
    Region::parse("us-west-2").expect("a Region")
}

fn into_team(name: &str) -> proto::CopyImageRequest {
    proto::CopyImageRequest {
        destination_account_id: TEAM.to_owned(),
        ..copy_request(name)
    }
}

async fn a_copy_into_another_account_is_shared_deprecated_and_then_available(database: Database) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.json");
    write_accounts(&file, true, "");
    let (mut server, storage, world, _) = server_with_accounts(database, &file).await;

    let deprecate_at = chrono::Utc::now() + chrono::Duration::days(90);
    let request = proto::CopyImageRequest {
        launch_permissions: Some(proto::LaunchPermissions {
            user_ids: vec![PARTNER.to_owned()],
            ..Default::default()
        }),
        snapshot_user_ids: vec![PARTNER.to_owned()],
        deprecate_time: Some(prost_types::Timestamp {
            seconds: deprecate_at.timestamp(),
            nanos: 0,
        }),
        ..into_team("shared-with-partner")
    };
    let response = server.copy(request).await.expect("accepted");
    let events = server.watch_to_end(&response.job_id).await;
    assert!(
        world.simulator().calls("ModifyImageAttribute") >= 2,
        "EC2's eventual consistency right after `available` was met and retried"
    );
    let states: Vec<i32> = events.iter().map(|e| e.state).collect();
    let finishing = CopyJobState::Finishing as i32;
    let available = CopyJobState::Available as i32;
    assert_eq!(states.last(), Some(&available), "{events:#?}");
    assert!(
        states.contains(&finishing),
        "FINISHING comes between COPYING and AVAILABLE: {events:#?}"
    );
    let details: Vec<&str> = events.iter().map(|e| e.detail.as_str()).collect();
    for step in [
        "shared ami-0a1b2c3d4e5f60001 and its 1 snapshot(s) with account 222233334444",
        "is visible to account 222233334444",
        "launch permissions granted",
        "createVolumePermission granted to 333344445555",
        "is deprecated from",
    ] {
        assert!(
            details.iter().any(|d| d.contains(step)),
            "no event says {step:?}: {details:#?}"
        );
    }
    let first_finishing = states.iter().position(|s| *s == finishing).unwrap();
    assert!(
        states[first_finishing..]
            .iter()
            .all(|s| *s == finishing || *s == available),
        "every step after the copy is a FINISHING event: {events:#?}"
    );

    let job = server.job(&response.job_id).await;
    assert_eq!(job.destination_account_id, TEAM);
    assert_eq!(job.snapshot_ids.len(), 1, "{job:?}");

    // What EC2 (the simulated world) now has: the AMI is the team account's, shared and
    // deprecated; the service's own account does not see it.
    let team = world.for_account(&account(TEAM)).unwrap();
    let granted = team.launch_permissions(&west(), &job.image_id).await.unwrap();
    assert_eq!(granted.user_ids, vec![account(PARTNER)]);
    let volumes = team
        .create_volume_permissions(&west(), &job.snapshot_ids[0])
        .await
        .unwrap();
    assert_eq!(volumes.user_ids, vec![account(PARTNER)]);
    let image = team
        .describe_images(&west(), std::slice::from_ref(&job.image_id))
        .await
        .unwrap();
    let deprecation = image[0].deprecation_time.expect("deprecated");
    assert_eq!(deprecation, amicopy::domain::round_to_minute(deprecate_at));
    let own = world
        .own()
        .describe_images(&west(), std::slice::from_ref(&job.image_id))
        .await
        .unwrap();
    assert!(own.is_empty(), "the copy is in the team account only: {own:?}");

    server.stop().await;
    storage.cleanup().await;
}

async fn a_finishing_step_refused_for_good_fails_the_job_and_keeps_its_image(database: Database) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"tenants":{"*":{"public_launch":true}}}"#).unwrap();
    let storage = TestStorage::new(database).await;
    let mut server = storage
        .start(&["--policy-file", &policy.display().to_string()], None)
        .await;
    // The encrypted source makes an encrypted copy, which EC2 will not make public.
    let response = server
        .copy(proto::CopyImageRequest {
            source_image_id: "ami-0a1b2c3d4e5f60002".to_owned(),
            launch_permissions: Some(proto::LaunchPermissions {
                public: true,
                ..Default::default()
            }),
            ..copy_request("public-but-encrypted")
        })
        .await
        .expect("accepted: the source's encryption is learnt only from EC2");
    let job = server.wait_terminal(&response.job_id).await;
    assert_eq!(job.state, CopyJobState::Failed as i32, "{job:?}");
    assert_eq!(job.failure_code, "InvalidParameter", "{job:?}");
    assert!(job.failure_message.contains("cannot be made public"), "{job:?}");
    assert!(!job.image_id.is_empty(), "the AMI is never forgotten");
    assert_eq!(job.image_id, response.image_id);
    let events = server.watch_to_end(&response.job_id).await;
    assert!(
        events.iter().any(|e| e.state == CopyJobState::Finishing as i32),
        "it failed while finishing: {events:#?}"
    );
    server.stop().await;
    storage.cleanup().await;
}

async fn a_private_source_that_is_not_shared_is_refused_before_copying(database: Database) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.json");
    write_accounts(&file, false, "");
    let (mut server, storage, world, _) = server_with_accounts(database, &file).await;

    let status = server.copy(into_team("not-shared")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.reason, "InvalidAMIID.NotFound");
    assert!(
        status.message().contains("not visible to account 222233334444") && status.message().contains("share_source"),
        "the message says what to do: {status:?}"
    );
    let job = server.job(&info.metadata["job_id"]).await;
    assert_eq!(job.state, CopyJobState::Failed as i32);
    assert_eq!(job.attempts, 0, "no CopyImage call was made");
    assert_eq!(world.simulator().copies_started(), 0);
    server.stop().await;
    storage.cleanup().await;
}

async fn a_kms_key_missing_in_the_destination_account_is_refused_until_the_operator_adds_it(database: Database) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.json");
    write_accounts(&file, true, "");
    let (mut server, storage, world, accounts) = server_with_accounts(database, &file).await;
    let encrypted = |name: &str| proto::CopyImageRequest {
        encrypted: Some(true),
        kms_key_id: "alias/team-key".to_owned(),
        ..into_team(name)
    };

    let started = std::time::Instant::now();
    let status = server.copy(encrypted("keyless")).await.unwrap_err();
    let info = status.get_details_error_info().unwrap();
    assert_eq!(info.reason, "InvalidKMSKey.NotFound", "{status:?}");
    for named in ["alias/team-key", "account 222233334444", "us-west-2"] {
        assert!(status.message().contains(named), "{named} missing from {status:?}");
    }
    assert!(started.elapsed().as_secs() < 30, "refused in seconds, not after a copy");
    assert_eq!(world.simulator().copies_started(), 0, "no CopyImage call was made");

    // The operator creates the key in the account (here: the simulator's accounts file) and
    // reloads the file, as SIGHUP does.
    write_accounts(&file, true, r#","sim_kms_keys":{"us-west-2":["alias/team-key"]}"#);
    accounts.reload().expect("the fixed file reloads");
    let response = server.copy(encrypted("keyed")).await.expect("accepted now");
    let job = server.wait_terminal(&response.job_id).await;
    assert_eq!(job.state, CopyJobState::Available as i32, "{job:?}");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn an_account_that_is_not_configured_or_not_allowed_is_refused_and_nothing_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.json");
    write_accounts(&file, true, "");
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"tenants":{"*":{"destination_accounts":["444455556666"]}}}"#,
    )
    .unwrap();
    let (mut server, storage, _, _) = server_with_accounts(Database::Sqlite, &file).await;
    let status = server
        .copy(proto::CopyImageRequest {
            destination_account_id: "999988887777".to_owned(),
            ..copy_request("nowhere")
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(status.get_details_error_info().unwrap().reason, "UnauthorizedOperation");
    assert!(
        status.message().contains("999988887777 is not configured"),
        "{status:?}"
    );

    let public = server
        .copy(proto::CopyImageRequest {
            launch_permissions: Some(proto::LaunchPermissions {
                public: true,
                ..Default::default()
            }),
            ..copy_request("for-everyone")
        })
        .await
        .unwrap_err();
    assert_eq!(public.code(), Code::PermissionDenied, "{public:?}");
    assert!(public.message().contains("public_launch"), "{public:?}");
    let listed = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.jobs.is_empty(), "nothing was recorded: {listed:?}");
    server.stop().await;

    // A tenant whose policy lists other accounts may not copy into TEAM though it is configured.
    let policy_flag = policy.display().to_string();
    let mut limited = storage.start(&["--policy-file", &policy_flag], None).await;
    let status = limited.copy(into_team("not-allowed")).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("copy into account 222233334444"),
        "{status:?}"
    );
    limited.stop().await;
    storage.cleanup().await;
}
