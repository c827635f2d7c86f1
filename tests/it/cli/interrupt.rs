//! Ctrl-C (a real SIGINT to the CLI process) during `--wait`: it stops watching and leaves the
//! copy running, printing the command that resumes the watch; with `--cancel-on-interrupt` it
//! cancels the copy and follows it to CANCELLED.

use amicopy::proto::CopyJobState;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{RUN_DEADLINE, SLOW, amicopy, copy_args, endpoint};
use crate::support::{Database, TestServer, start};

/// Starts `copy --wait` (plus `extra`), reads its output until the copy is COPYING, sends SIGINT,
/// and answers the exit code, the job id and everything printed.
async fn interrupt_a_copy(server: &TestServer, name: &str, extra: &[&str]) -> (i32, String, String, String) {
    let mut args = copy_args(name, "us-west-2");
    args.push("--wait");
    args.extend(extra);
    let mut child = amicopy()
        .args(&args)
        .args(["--endpoint", &endpoint(server)])
        .spawn()
        .expect("amicopy starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let read = async {
        while let Some(line) = stdout.next_line().await.expect("stdout") {
            printed.push_str(&line);
            printed.push('\n');
            if line.contains(" COPYING") {
                return;
            }
        }
        panic!("amicopy ended before the copy started:\n{printed}");
    };
    tokio::time::timeout(RUN_DEADLINE, read)
        .await
        .expect("the copy starts in time");
    let job_id = printed.lines().next().unwrap().to_owned();

    let pid = child.id().expect("a pid").to_string();
    let sent = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(sent.success());
    let rest = async {
        while let Some(line) = stdout.next_line().await.expect("stdout") {
            printed.push_str(&line);
            printed.push('\n');
        }
    };
    tokio::time::timeout(RUN_DEADLINE, rest)
        .await
        .expect("amicopy ends after Ctrl-C");
    let output = tokio::time::timeout(RUN_DEADLINE, child.wait_with_output())
        .await
        .expect("amicopy ends after Ctrl-C")
        .expect("amicopy output");
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code().expect("an exit code"), job_id, printed, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_watching_leaves_the_copy_running_and_says_how_to_resume() {
    let (mut server, storage) = start(Database::Sqlite, SLOW).await;
    let (code, job_id, stdout, stderr) = interrupt_a_copy(&server, "cli-interrupted", &[]).await;
    assert_eq!(code, 130, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let resume = format!("amicopy watch {job_id} --endpoint {}", endpoint(&server));
    assert!(stderr.contains(&resume), "{stderr}");
    let job = server.job(&job_id).await;
    assert_eq!(
        CopyJobState::try_from(job.state).unwrap(),
        CopyJobState::Copying,
        "the copy goes on"
    );
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_with_cancel_on_interrupt_cancels_and_follows_to_cancelled() {
    let (mut server, storage) = start(Database::Sqlite, SLOW).await;
    let (code, job_id, stdout, stderr) = interrupt_a_copy(&server, "cli-cancelled", &["--cancel-on-interrupt"]).await;
    assert_eq!(
        code, 1,
        "a cancelled copy is not a success\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(&format!("Cancelling job {job_id}")), "{stdout}");
    assert!(stdout.contains(&format!("job {job_id} CANCELLED")), "{stdout}");
    let job = server.job(&job_id).await;
    assert_eq!(CopyJobState::try_from(job.state).unwrap(), CopyJobState::Cancelled);
    server.stop().await;
    storage.cleanup().await;
}
