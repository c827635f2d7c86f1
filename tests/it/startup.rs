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

/// Starts amicopyd on `data_dir` (SQLite, the simulator) listening on `port`.
fn spawn_on_data_dir(data_dir: &std::path::Path, port: u16, stderr: Stdio) -> tokio::process::Child {
    Command::new(env!("CARGO_BIN_EXE_amicopyd"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("amicopyd starts")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}

/// Waits until something accepts connections on `port`.
async fn wait_listening(port: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "amicopyd never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_second_process_on_one_data_dir_refuses_naming_it_and_the_holder_and_a_kill_frees_it() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut first = spawn_on_data_dir(data_dir.path(), port, Stdio::null());
    wait_listening(port).await;
    let holder = first.id().expect("pid");

    let second = spawn_on_data_dir(data_dir.path(), free_port(), Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(60), second.wait_with_output())
        .await
        .expect("the second process gives up in time")
        .expect("output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a second amicopyd ran beside the first: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|line| line.contains("in use by")).collect();
    assert_eq!(lines.len(), 1, "one line names the problem: {stderr}");
    assert!(
        lines[0].contains(&data_dir.path().display().to_string()),
        "the data dir is named: {stderr}"
    );
    assert!(
        lines[0].contains(&format!("pid {holder}")),
        "the holder is named: {stderr}"
    );

    // SIGKILL: the kernel releases the lock with the process, so a restart is never blocked.
    first.start_kill().expect("SIGKILL");
    first.wait().await.expect("reaped");
    let port = free_port();
    let mut restarted = spawn_on_data_dir(data_dir.path(), port, Stdio::null());
    wait_listening(port).await;
    assert!(
        restarted.try_wait().expect("status").is_none(),
        "the restart after a kill runs"
    );
    restarted.start_kill().expect("stop");
    restarted.wait().await.expect("reaped");
}
