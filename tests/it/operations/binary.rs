//! The real `amicopyd` binary: what it logs (never a secret) and how it reads a settings file.

use std::{process::Stdio, time::Duration};

use amicopy::proto::{self, image_copy_service_client::ImageCopyServiceClient};
use amicopy_testing::postgres::TestDatabase;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, ChildStderr, Command},
};

const DB_PASSWORD: &str = "hunter2-db-secret";
const BEARER_TOKEN: &str = "tok-bearer-secret-4242";

fn amicopyd(args: &[&str], data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amicopyd"));
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Reads stderr until a line contains `needle`; returns every line read.
async fn read_until(stderr: &mut BufReader<ChildStderr>, needle: &str, log: &mut String) {
    let read = async {
        let mut line = String::new();
        loop {
            line.clear();
            if stderr.read_line(&mut line).await.expect("stderr") == 0 {
                panic!("amicopyd ended before logging {needle:?}:\n{log}");
            }
            log.push_str(&line);
            if line.contains(needle) {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .unwrap_or_else(|_| panic!("amicopyd never logged {needle:?}:\n{log}"));
}

/// The gRPC address in the JSON "amicopyd serving" line.
fn serving_address(log: &str) -> String {
    let line = log
        .lines()
        .find(|l| l.contains("amicopyd serving"))
        .expect("serving line");
    let value: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    value["address"].as_str().expect("address field").to_owned()
}

#[tokio::test]
async fn logs_carry_request_ids_and_never_a_password_or_bearer_token() {
    let database = TestDatabase::create().await.expect("a fresh PostgreSQL database");
    // PostgreSQL here trusts local users, so the password is accepted and ignored.
    let url = database
        .url
        .replacen("postgres@", &format!("postgres:{DB_PASSWORD}@"), 1);
    assert!(url.contains(DB_PASSWORD), "the password is in the URL: {url}");
    let data_dir = tempfile::tempdir().unwrap();
    let mut child: Child = amicopyd(&["--log-format", "json", "--database-url", &url], data_dir.path())
        .spawn()
        .expect("amicopyd starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    read_until(&mut stderr, "amicopyd serving", &mut log).await;

    let mut client = ImageCopyServiceClient::connect(format!("http://{}", serving_address(&log)))
        .await
        .expect("client connects");
    let mut request = tonic::Request::new(proto::GetCopyJobRequest {
        job_id: "6f1c0f5e-2b7a-4c55-9a44-0d6c3f1d7e11".to_owned(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {BEARER_TOKEN}").parse().unwrap());
    request
        .metadata_mut()
        .insert("x-request-id", "req-logged-1".parse().unwrap());
    let _ = client.get_copy_job(request).await;
    read_until(&mut stderr, "call answered", &mut log).await;

    child.kill().await.unwrap();
    let mut rest = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut line = String::new();
        while stderr.read_line(&mut line).await.unwrap_or(0) > 0 {
            rest.push_str(&line);
            line.clear();
        }
    })
    .await;
    log.push_str(&rest);

    let answered = log
        .lines()
        .find(|l| l.contains("call answered"))
        .expect("the call is logged");
    assert!(
        answered.contains("req-logged-1"),
        "the request id is a field: {answered}"
    );
    assert!(!log.contains(DB_PASSWORD), "the database password leaked:\n{log}");
    assert!(!log.contains(BEARER_TOKEN), "the bearer token leaked:\n{log}");
    database.drop_database().await.expect("drop test database");
}

#[tokio::test]
async fn a_settings_file_is_applied_under_the_flags() {
    let data_dir = tempfile::tempdir().unwrap();
    let file = data_dir.path().join("amicopy.json");
    std::fs::write(
        &file,
        r#"{"region": "eu-west-1", "log-format": "json", "backend": "sim"}"#,
    )
    .unwrap();
    let mut child = amicopyd(&["--config", file.to_str().unwrap()], data_dir.path())
        .spawn()
        .expect("amicopyd starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    read_until(&mut stderr, "amicopyd serving", &mut log).await;
    child.kill().await.unwrap();
    let line = log.lines().find(|l| l.contains("amicopyd serving")).unwrap();
    let value: serde_json::Value = serde_json::from_str(line).expect("the file's log format applies");
    assert_eq!(value["region"], "eu-west-1", "{line}");
}

#[tokio::test]
async fn a_bad_settings_file_stops_start_up_with_one_line_per_mistake() {
    let data_dir = tempfile::tempdir().unwrap();
    let file = data_dir.path().join("amicopy.json");
    std::fs::write(
        &file,
        r#"{"listen": "not an address", "tenant-request-burst": -3, "colour": "blue"}"#,
    )
    .unwrap();
    let output = amicopyd(&["--config", file.to_str().unwrap()], data_dir.path())
        .output()
        .await
        .expect("amicopyd runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "one line per mistake:\n{stderr}");
    for key in ["listen", "tenant-request-burst", "colour"] {
        assert!(
            lines.iter().any(|l| l.contains(key) && l.contains("amicopy.json")),
            "{key} is named with the file:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn help_documents_every_flag_with_its_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_amicopyd"))
        .arg("--help")
        .output()
        .await
        .expect("amicopyd --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--config",
        "--metrics-listen",
        "--tenant-requests-per-second",
        "--max-watch-streams-per-tenant",
        "--max-concurrent-requests",
        "--request-timeout-seconds",
        "--max-message-bytes",
        "--http2-keepalive-seconds",
        "--job-retention-days",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
    }
    assert!(help.contains("[default: 20]"), "defaults are shown:\n{help}");
    assert!(
        help.contains("AMICOPY_TENANT_REQUESTS_PER_SECOND"),
        "env vars are shown"
    );
}

#[tokio::test]
async fn an_invalid_setting_stops_start_up_with_one_line_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, env) in [
        (vec!["--tick-seconds", "-1"], None),
        (vec!["--watch-poll-seconds", "abc"], None),
        (vec!["--lease-seconds", "0"], None),
        (vec!["--job-retention-days", "0"], None),
        (vec!["--ec2-endpoint-url", "localhost:5000"], None),
        (vec![], Some(("AMICOPY_TICK_SECONDS", "-1"))),
    ] {
        let mut command = amicopyd(&args, dir.path());
        if let Some((name, value)) = env {
            command.env(name, value);
        }
        let output = tokio::time::timeout(Duration::from_secs(30), command.output())
            .await
            .expect("amicopyd stops at once")
            .expect("amicopyd runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        let flag = args.first().copied().unwrap_or("--tick-seconds");
        assert!(
            first.starts_with("error: invalid value") && first.contains(flag),
            "{args:?} {env:?}: the first line names the flag: {stderr}"
        );
    }
}
