//! How the CLI reaches the server: bearer tokens (flag and environment), TLS with a private CA,
//! mutual TLS, and retries that wait as long as the server's RetryInfo says.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{RUN_DEADLINE, Run, amicopy, copy_args, endpoint, run, terminal::STEADY};
use crate::support::{
    Database, TestStorage,
    auth::{TOKEN_A, token_server},
    copy_request,
    proxy::TcpProxy,
    start,
    tls::TestPki,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_token_comes_from_the_flag_or_the_environment() {
    let (server, storage, _dir) = token_server(Database::Sqlite, &[]).await;
    let refused = run(&server, &["ls"]).await;
    refused.expect_code(2);
    assert!(refused.stderr.contains("AuthFailure"), "{}", refused.stderr);

    let mut args = copy_args("cli-token-copy", "us-west-2");
    args.extend(["--token", TOKEN_A]);
    let copied = run(&server, &args).await;
    copied.expect_code(0);
    let job_id = copied.first_line().to_owned();

    let mut command = amicopy();
    command
        .args(["get", &job_id, "--endpoint", &endpoint(&server)])
        .env("AMICOPY_TOKEN", TOKEN_A);
    let got = Run::of(command).await;
    got.expect_code(0);
    assert!(got.stdout.contains(&job_id), "{}", got.stdout);

    let mut help = amicopy();
    help.args(["--help"]).env("AMICOPY_TOKEN", TOKEN_A);
    let help = Run::of(help).await;
    assert!(!help.stdout.contains(TOKEN_A), "--help never shows the token");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_mutual_tls_with_a_client_certificate() {
    let pki = TestPki::new();
    let storage = TestStorage::new(Database::Sqlite).await;
    let flags = pki.server_flags(true);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = storage.start(&flags, None).await;
    let https = format!("https://localhost:{}", server.addr.port());
    let ca = pki.ca_path.to_str().unwrap();
    let (cert, key) = pki.client_pem_files("tenant-a");

    let mut args = copy_args("cli-mtls-copy", "us-west-2");
    args.extend([
        "--endpoint",
        &https,
        "--ca-cert",
        ca,
        "--client-cert",
        cert.to_str().unwrap(),
        "--client-key",
        key.to_str().unwrap(),
    ]);
    let mut command = amicopy();
    command.args(&args);
    let copied = Run::of(command).await;
    copied.expect_code(0);

    // Without the client certificate the server refuses the handshake or the call.
    let mut command = amicopy();
    command.args(["ls", "--endpoint", &https, "--ca-cert", ca, "--retries", "0"]);
    let refused = Run::of(command).await;
    assert_ne!(refused.code, 0, "{refused:?}");

    // The system's roots do not trust the test CA.
    let mut command = amicopy();
    command.args(["ls", "--endpoint", &https, "--retries", "0"]);
    let untrusted = Run::of(command).await;
    untrusted.expect_code(3);

    // TLS flags with a plaintext endpoint are a usage error.
    let mut command = amicopy();
    command.args(["ls", "--endpoint", "http://localhost:1", "--ca-cert", ca]);
    Run::of(command).await.expect_code(2);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_call_is_retried_after_the_servers_retry_info_delay() {
    // One call per two seconds, no burst to speak of.
    let (mut server, storage) = start(
        Database::Sqlite,
        &["--tenant-requests-per-second", "0.5", "--tenant-request-burst", "1"],
    )
    .await;
    let job = server.copy(copy_request("cli-rate-limited")).await.unwrap();
    let started = Instant::now();
    // One retry only: backoff alone (a quarter second) would be refused again.
    let got = run(&server, &["get", &job.job_id, "--retries", "1"]).await;
    got.expect_code(0);
    assert!(got.stderr.contains("RESOURCE_EXHAUSTED"), "{}", got.stderr);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "waited {:?}, less than the RetryInfo delay",
        started.elapsed()
    );
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_cut_off_resumes_after_the_last_event_seen() {
    let (server, storage) = start(Database::Sqlite, STEADY).await;
    let proxy = TcpProxy::start(server.addr).await;
    let mut args = copy_args("cli-resumed-watch", "us-west-2");
    args.extend(["--wait", "--output", "json"]);
    let mut child = amicopy()
        .args(&args)
        .args(["--endpoint", &format!("http://{}", proxy.addr)])
        .spawn()
        .expect("amicopy starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    let read = async {
        while let Some(line) = stdout.next_line().await.expect("stdout") {
            let copying = line.contains("\"state\":\"COPYING\"");
            lines.push(line);
            if copying {
                // Mid-copy: the link goes away and comes back.
                proxy.cut();
                tokio::time::sleep(Duration::from_millis(300)).await;
                proxy.restore();
                break;
            }
        }
        while let Some(line) = stdout.next_line().await.expect("stdout") {
            lines.push(line);
        }
    };
    tokio::time::timeout(RUN_DEADLINE, read)
        .await
        .expect("amicopy ends in time");
    let status = child.wait().await.unwrap();
    let printed = lines.join("\n");
    assert_eq!(status.code(), Some(0), "{printed}");

    let values: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let resumed = values
        .iter()
        .find(|v| v["kind"] == "reconnecting")
        .unwrap_or_else(|| panic!("the cut was not seen:\n{printed}"));
    let copying = values
        .iter()
        .find(|v| v["kind"] == "job_event" && v["state"] == "COPYING")
        .and_then(|v| v["sequence"].as_u64())
        .unwrap_or_else(|| panic!("no COPYING event:\n{printed}"));
    assert!(
        resumed["after_sequence"].as_u64().unwrap() >= copying,
        "the watch resumed after the COPYING event it had shown: {resumed}"
    );
    let sequences: Vec<u64> = values
        .iter()
        .filter(|v| v["kind"] == "job_event")
        .map(|v| v["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=sequences.len() as u64).collect::<Vec<_>>(),
        "every event once, none lost, none repeated:\n{printed}"
    );
    assert_eq!(values.last().unwrap()["state"], "AVAILABLE");
    server.stop().await;
    storage.cleanup().await;
}
