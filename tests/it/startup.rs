//! Start-up of the real `amicopyd` binary when something is wrong: the process ends at once with
//! one line that says what to check, and never prints a password.

use std::{process::Stdio, time::Duration};

use tokio::process::Command;

/// Runs amicopyd with `args` and returns its exit success and everything it wrote to stderr.
async fn run_to_exit(args: &[&str]) -> (bool, String) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let child = Command::new(env!("CARGO_BIN_EXE_amicopyd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("amicopyd starts");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("amicopyd gives up in time")
        .expect("amicopyd output");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_unreachable_database_ends_start_up_with_one_line_and_no_password() {
    let (success, stderr) = run_to_exit(&[
        "--database-url",
        "postgres://amicopy:s3cret-pw@127.0.0.1:1/jobs",
        "--database-timeout-seconds",
        "2",
    ])
    .await;
    assert!(!success, "amicopyd must not start without its database");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| line.contains("cannot open the job database"))
        .collect();
    assert_eq!(lines.len(), 1, "one line names the problem: {stderr}");
    assert!(lines[0].contains("127.0.0.1:1/jobs"), "the URL is named: {stderr}");
    assert!(lines[0].contains("check that"), "the line says what to check: {stderr}");
    assert!(!stderr.contains("s3cret-pw"), "the password never appears: {stderr}");
}

#[tokio::test]
async fn an_invalid_setting_ends_start_up_naming_the_flag() {
    let (success, stderr) = run_to_exit(&["--region", "middle-earth"]).await;
    assert!(!success);
    assert!(stderr.contains("--region"), "{stderr}");
}
