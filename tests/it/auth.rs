//! Authentication, tenancy and policy over a real gRPC connection: bearer tokens (missing,
//! wrong, revoked on reload, reloaded by a real SIGHUP), tenants that never see each other's
//! jobs, the per-tenant policy for real calls and DryRuns, and refusing to start open on a
//! non-loopback address. TLS is in `auth_tls.rs`, the log in `auth_log.rs`.

use std::{process::Stdio, time::Duration};

use amicopy::{app::App, auth::reload::reload_logged, config::Config, proto};
use clap::Parser;
use tokio::io::AsyncBufReadExt;
use tonic::Code;
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest,
};
use tonic_types::StatusExt;

use crate::support::{
    Database,
    auth::{TOKEN_A, TOKEN_B, assert_auth_failure, bearer, list, token_server, write_tokens},
    copy_request,
};

#[tokio::test]
async fn calls_without_a_known_token_are_unauthenticated_and_told_what_to_send() {
    let (mut server, storage, _dir) = token_server(Database::Sqlite, &[]).await;
    let missing = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap_err();
    assert_auth_failure(&missing, "authorization: Bearer");
    let wrong = server.client.list_copy_jobs(list("not-a-token")).await.unwrap_err();
    assert_auth_failure(&wrong, "not accepted");
    let unrecorded = server
        .client
        .copy_image(bearer(copy_request("wrong-token"), "nope"))
        .await
        .unwrap_err();
    assert_eq!(unrecorded.code(), Code::Unauthenticated);
    assert!(
        server
            .client
            .list_copy_jobs(list(TOKEN_A))
            .await
            .unwrap()
            .into_inner()
            .jobs
            .is_empty()
    );

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health checks need no token");
    let ask = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([ask]))
        .await
        .expect("reflection needs no token")
        .into_inner();
    assert!(answers.message().await.expect("a reflection answer").is_some());
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn a_revoked_token_stops_working_once_the_file_is_reloaded() {
    let (mut server, storage, dir) = token_server(Database::Sqlite, &[]).await;
    let tokens = server.tokens.clone().expect("token server");
    server
        .client
        .list_copy_jobs(list(TOKEN_B))
        .await
        .expect("b is accepted");

    std::fs::write(dir.path().join("tokens.json"), "{ not json").unwrap();
    reload_logged(&tokens);
    server
        .client
        .list_copy_jobs(list(TOKEN_B))
        .await
        .expect("a bad file keeps the old tokens");

    write_tokens(&dir.path().join("tokens.json"), &[("a", TOKEN_A)]);
    server
        .client
        .list_copy_jobs(list(TOKEN_B))
        .await
        .expect("nothing changes before the reload");
    reload_logged(&tokens);
    let revoked = server.client.list_copy_jobs(list(TOKEN_B)).await.unwrap_err();
    assert_auth_failure(&revoked, "revoked");
    server
        .client
        .list_copy_jobs(list(TOKEN_A))
        .await
        .expect("a is still accepted");
    server.stop().await;
    storage.cleanup().await;
}

crate::on_both!(tenants_never_see_each_others_jobs);

/// Tenant b sees none of tenant a's jobs on any call; the same ClientToken makes one job each.
async fn tenants_never_see_each_others_jobs(database: Database) {
    let (mut server, storage, _dir) = token_server(database, &[]).await;
    let mut request = copy_request("tenant-a-copy");
    request.client_token = "shared-client-token".to_owned();
    let a_job = server
        .client
        .copy_image(bearer(request.clone(), TOKEN_A))
        .await
        .unwrap()
        .into_inner()
        .job_id;
    let again = server
        .client
        .copy_image(bearer(request.clone(), TOKEN_A))
        .await
        .unwrap()
        .into_inner()
        .job_id;
    assert_eq!(a_job, again, "a's token is idempotent within a");

    let client = &mut server.client;
    let get = client
        .get_copy_job(bearer(proto::GetCopyJobRequest { job_id: a_job.clone() }, TOKEN_B))
        .await;
    assert_eq!(get.unwrap_err().code(), Code::NotFound);
    let watch = proto::WatchCopyJobRequest {
        job_id: a_job.clone(),
        after_sequence: 0,
    };
    assert_eq!(
        client.watch_copy_job(bearer(watch, TOKEN_B)).await.unwrap_err().code(),
        Code::NotFound
    );
    let cancel = client
        .cancel_copy_job(bearer(proto::CancelCopyJobRequest { job_id: a_job.clone() }, TOKEN_B))
        .await;
    assert_eq!(cancel.unwrap_err().code(), Code::NotFound);
    assert!(
        client
            .list_copy_jobs(list(TOKEN_B))
            .await
            .unwrap()
            .into_inner()
            .jobs
            .is_empty()
    );

    // One EC2 account holds both tenants' AMIs, so b's copy needs its own name; in one tenant the
    // same token with another name would be IdempotentParameterMismatch.
    request.name = "tenant-b-copy".to_owned();
    let b_job = client
        .copy_image(bearer(request, TOKEN_B))
        .await
        .unwrap()
        .into_inner()
        .job_id;
    assert_ne!(a_job, b_job, "the same ClientToken in another tenant is another job");
    let a_jobs = client.list_copy_jobs(list(TOKEN_A)).await.unwrap().into_inner().jobs;
    assert_eq!(
        a_jobs.iter().map(|j| j.job_id.as_str()).collect::<Vec<_>>(),
        [a_job.as_str()]
    );
    let a_job_seen = client
        .get_copy_job(bearer(proto::GetCopyJobRequest { job_id: a_job.clone() }, TOKEN_A))
        .await;
    assert!(a_job_seen.is_ok(), "a still sees its own job");
    let cancelled = client
        .cancel_copy_job(bearer(proto::CancelCopyJobRequest { job_id: a_job }, TOKEN_A))
        .await;
    assert!(cancelled.is_ok() || cancelled.unwrap_err().code() == Code::FailedPrecondition);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn the_policy_decides_real_calls_and_dry_runs_alike() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"tenants":{"a":{"destination_regions":["us-west-2"]},"b":{"destination_regions":["eu-west-1"]}}}"#,
    )
    .unwrap();
    let (mut server, storage, _tokens) =
        token_server(Database::Sqlite, &["--policy-file", policy.to_str().unwrap()]).await;
    let client = &mut server.client;

    client
        .copy_image(bearer(copy_request("allowed-copy"), TOKEN_A))
        .await
        .expect("a may copy to us-west-2");
    let denied = client
        .copy_image(bearer(copy_request("denied-copy"), TOKEN_B))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(denied.get_details_error_info().unwrap().reason, "UnauthorizedOperation");
    assert!(
        denied.message().contains("us-west-2") && denied.message().contains("eu-west-1"),
        "{}",
        denied.message()
    );
    assert!(
        client
            .list_copy_jobs(list(TOKEN_B))
            .await
            .unwrap()
            .into_inner()
            .jobs
            .is_empty(),
        "a denial records nothing"
    );

    let mut dry = copy_request("dry-copy");
    dry.dry_run = true;
    let would = client.copy_image(bearer(dry.clone(), TOKEN_A)).await.unwrap_err();
    assert_eq!(
        (would.code(), would.get_details_error_info().unwrap().reason.as_str()),
        (Code::FailedPrecondition, "DryRunOperation")
    );
    let would_not = client.copy_image(bearer(dry, TOKEN_B)).await.unwrap_err();
    assert_eq!(
        (
            would_not.code(),
            would_not.get_details_error_info().unwrap().reason.as_str()
        ),
        (Code::PermissionDenied, "UnauthorizedOperation")
    );
    assert_eq!(
        client
            .list_copy_jobs(list(TOKEN_A))
            .await
            .unwrap()
            .into_inner()
            .jobs
            .len(),
        1
    );
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn an_open_server_on_a_non_loopback_address_does_not_start() {
    let data_dir = tempfile::tempdir().unwrap();
    let config = Config::try_parse_from([
        "amicopyd",
        "--listen",
        "0.0.0.0:0",
        "--data-dir",
        data_dir.path().to_str().unwrap(),
    ])
    .unwrap();
    let error = App::build(config).await.err().expect("refused").to_string();
    assert!(
        error.contains("--allow-unauthenticated") && error.contains("0.0.0.0:0"),
        "{error}"
    );

    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_amicopyd"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(data_dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("AMICOPY_AUTH")
        .env_remove("AMICOPY_ALLOW_UNAUTHENTICATED")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "amicopyd must not serve open on 0.0.0.0");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("--allow-unauthenticated"))
        .collect();
    assert_eq!(lines.len(), 1, "one line names the flag: {stderr}");
}

#[tokio::test]
async fn sighup_makes_the_running_binary_reread_its_tokens_file() {
    use tokio::io::BufReader;

    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    write_tokens(&tokens, &[("a", TOKEN_A)]);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_amicopyd"))
        .args(["--listen", "127.0.0.1:0", "--auth", "token", "--auth-tokens-file"])
        .arg(&tokens)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .args(["--log-format", "json"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().expect("running").to_string();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    wait_for(&mut lines, "amicopyd serving").await;

    write_tokens(&tokens, &[("a", TOKEN_A), ("b", TOKEN_B)]);
    let sent = tokio::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
    let reloaded = wait_for(&mut lines, "tokens file reloaded").await;
    assert!(reloaded.contains(r#""entries":2"#), "{reloaded}");

    child.kill().await.unwrap();
}

/// The first line of `lines` that contains `needle`, waiting at most a minute.
async fn wait_for<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>, needle: &str) -> String {
    let found = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(needle) {
                return line;
            }
        }
        panic!("amicopyd ended before logging {needle:?}");
    };
    tokio::time::timeout(Duration::from_secs(60), found)
        .await
        .expect(needle)
}
