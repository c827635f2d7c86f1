//! Copy jobs through the CLI: waiting to success, failures with EC2's code, bad requests with
//! every field named, an unreachable server, JSON parsed back, and get, ls, cancel, retry.

use amicopy::proto::{self, CopyJobState};

use super::{SLOW, assert_plain, copy_args, run, run_at};
use crate::support::{Database, copy_request, start};

fn state(job: &proto::CopyJob) -> CopyJobState {
    CopyJobState::try_from(job.state).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_wait_ends_available_with_a_summary_and_exit_0() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let mut args = copy_args("cli-first-copy", "us-west-2");
    args.push("--wait");
    let run = run(&server, &args).await;
    run.expect_code(0);
    assert_plain(&run);

    let job_id = run.first_line().to_owned();
    let job = server.job(&job_id).await;
    assert_eq!(state(&job), CopyJobState::Available);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("us-west-2 COPYING")),
        "one plain line per event:\n{}",
        run.stdout
    );
    assert!(
        lines.iter().any(|l| l.contains("us-west-2 AVAILABLE")),
        "{}",
        run.stdout
    );
    let header = lines
        .iter()
        .position(|l| l.starts_with("ACCOUNT"))
        .expect("a summary table");
    let row = lines[header + 1];
    for cell in ["own", "us-west-2", "AVAILABLE", job.image_id.as_str()] {
        assert!(row.contains(cell), "{cell} missing from the summary row {row:?}");
    }
    assert_eq!(lines.last().unwrap(), &format!("job {job_id} AVAILABLE"));
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_copy_exits_1_with_ec2s_code() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let mut args = copy_args("cli-kms-copy", "us-west-2");
    args.extend(["--encrypted", "--kms-key", "alias/nope", "--wait"]);
    let run = run(&server, &args).await;
    run.expect_code(1);
    assert_plain(&run);
    assert!(run.stderr.contains("InvalidKMSKey.NotFound"), "{}", run.stderr);
    assert!(run.stderr.contains("alias/nope"), "{}", run.stderr);

    // The job the server recorded is named, and it is the failed one.
    let job_id = run
        .stderr
        .split_whitespace()
        .skip_while(|w| *w != "job")
        .nth(1)
        .expect("the failed job's id");
    let job = server.job(job_id).await;
    assert_eq!(state(&job), CopyJobState::Failed);
    assert_eq!(job.failure_code, "InvalidKMSKey.NotFound");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_exits_2_naming_every_field_with_ec2s_code() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let run = run(
        &server,
        &[
            "copy",
            "--source-image",
            "ami-123",
            "--source-region",
            "mars-1",
            "--to",
            "us-west-2",
            "--name",
            "x",
            "--tag",
            "aws:team=platform",
        ],
    )
    .await;
    run.expect_code(2);
    assert_plain(&run);
    assert_eq!(run.stdout, "", "no id for a refused request");
    for line in [
        "source_image_id: InvalidAMIID.Malformed:",
        "source_region: InvalidRegion:",
        "name: InvalidAMIName.Malformed:",
        "tag_specifications[0].tags[0].key: InvalidTagKey.Malformed:",
        "tag_specifications[1].tags[0].key: InvalidTagKey.Malformed:",
    ] {
        assert!(
            run.stderr.lines().any(|l| l.trim_start().starts_with(line)),
            "{line} is not a line of:\n{}",
            run.stderr
        );
    }
    let jobs = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(jobs.jobs.is_empty(), "nothing was recorded");

    let usage = super::run(&server, &["copy", "--source-image", SOURCE]).await;
    usage.expect_code(2);
    assert!(usage.stderr.contains("--source-region"), "{}", usage.stderr);
    server.stop().await;
    storage.cleanup().await;
}

const SOURCE: &str = super::SOURCE_IMAGE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_exits_3_after_retrying() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = run_at(&endpoint, &["ls", "--retries", "2"]).await;
    run.expect_code(3);
    assert_plain(&run);
    assert_eq!(
        run.stderr.matches("UNAVAILABLE").count(),
        3,
        "two retries said, then the error:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("Is amicopyd running at {endpoint}?")),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_is_one_object_per_event_then_the_final_state() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let mut args = copy_args("cli-json-copy", "us-west-2");
    args.extend(["--wait", "--output", "json"]);
    let run = run(&server, &args).await;
    run.expect_code(0);
    let lines = run.json_lines();
    let (last, events) = lines.split_last().expect("lines");
    assert_eq!(last["kind"], "job");
    assert_eq!(last["state"], "AVAILABLE");
    let job_id = last["job_id"].as_str().unwrap();
    let job = server.job(job_id).await;
    assert_eq!(last["image_id"], job.image_id.as_str());
    assert_eq!(last["request"]["name"], "cli-json-copy");
    assert_eq!(last["snapshot_ids"].as_array().unwrap().len(), job.snapshot_ids.len());
    let sequences: Vec<u64> = events
        .iter()
        .map(|e| {
            assert_eq!(e["kind"], "job_event", "{e}");
            assert_eq!(e["job_id"], job_id);
            e["sequence"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        sequences,
        (1..=sequences.len() as u64).collect::<Vec<_>>(),
        "every event, in order"
    );
    assert_eq!(events.last().unwrap()["state"], "AVAILABLE");
    assert!(
        events.iter().any(|e| e["progress_percent"].is_u64()),
        "progress is reported"
    );

    let got = super::run(&server, &["get", job_id, "-o", "json"]).await;
    got.expect_code(0);
    assert_eq!(got.json_lines()[0]["image_id"], job.image_id.as_str());
    let listed = super::run(&server, &["ls", "-o", "json"]).await;
    listed.expect_code(0);
    assert!(listed.json_lines().iter().any(|j| j["job_id"] == job_id));

    let refused = super::run(&server, &["get", "6f1c0f5e-2b7a-4c55-9a44-0d6c3f1d7e11", "-o", "json"]).await;
    refused.expect_code(2);
    assert_eq!(refused.json_lines()[0]["kind"], "usage_error");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ls_cancel_and_retry_a_job() {
    let (mut server, storage) = start(Database::Sqlite, SLOW).await;
    let created = run(&server, &copy_args("cli-slow-copy", "us-west-2")).await;
    created.expect_code(0);
    let job_id = created.first_line().to_owned();
    assert!(
        created.stderr.contains(&format!("amicopy watch {job_id}")),
        "{}",
        created.stderr
    );
    server.wait_for(&job_id, |j| state(j) == CopyJobState::Copying).await;

    let got = run(&server, &["get", &job_id]).await;
    got.expect_code(0);
    assert!(got.stdout.contains("COPYING"), "{}", got.stdout);
    let listed = run(&server, &["ls", "--state", "copying", "--region", "us-west-2"]).await;
    listed.expect_code(0);
    assert!(listed.stdout.starts_with("ID"), "{}", listed.stdout);
    assert!(listed.stdout.contains(&job_id), "{}", listed.stdout);
    let elsewhere = run(&server, &["ls", "--region", "eu-west-1"]).await;
    assert!(!elsewhere.stdout.contains(&job_id), "{}", elsewhere.stdout);

    let not_yet = run(&server, &["retry", &job_id]).await;
    not_yet.expect_code(2);
    assert!(
        not_yet.stderr.contains("only a FAILED or CANCELLED job"),
        "{}",
        not_yet.stderr
    );

    let cancelled = run(&server, &["cancel", &job_id, "--wait"]).await;
    cancelled.expect_code(0);
    assert!(
        cancelled.stdout.contains(&format!("job {job_id} CANCELLED")),
        "{}",
        cancelled.stdout
    );
    assert_eq!(state(&server.job(&job_id).await), CopyJobState::Cancelled);
    let again = run(&server, &["cancel", &job_id]).await;
    again.expect_code(1);
    assert!(again.stderr.contains("IncorrectState"), "{}", again.stderr);

    let retried = run(&server, &["retry", &job_id]).await;
    retried.expect_code(0);
    let new_id = retried.first_line().to_owned();
    assert_ne!(new_id, job_id);
    let old = server.job(&job_id).await;
    let new = server.job(&new_id).await;
    let (old_request, new_request) = (old.request.unwrap(), new.request.unwrap());
    assert_eq!(new_request.name, old_request.name, "the same request");
    assert_eq!(new_request.source_image_id, old_request.source_image_id);
    assert_eq!(new.destination_region, "us-west-2");
    assert_ne!(new_request.client_token, old_request.client_token);

    let unknown = run(&server, &["watch", "6f1c0f5e-2b7a-4c55-9a44-0d6c3f1d7e11"]).await;
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("no job or distribution"), "{}", unknown.stderr);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_makes_no_job_and_watch_replays_a_finished_one() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let mut args = copy_args("cli-dry-run", "us-west-2");
    args.push("--dry-run");
    let dry = run(&server, &args).await;
    dry.expect_code(0);
    assert!(
        dry.stdout.contains("us-west-2: would succeed (DryRunOperation)"),
        "{}",
        dry.stdout
    );
    let jobs = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(jobs.jobs.is_empty(), "a dry run records nothing");

    // Several targets: each is dry-run as the copy it would be, the name template expanded.
    let mut args = copy_args("cli-dry-{region}", "us-west-2");
    args.extend(["--to", "eu-west-1", "--dry-run"]);
    let dry = run(&server, &args).await;
    dry.expect_code(0);
    for region in ["us-west-2", "eu-west-1"] {
        assert!(
            dry.stdout
                .contains(&format!("{region}: would succeed (DryRunOperation)")),
            "{}",
            dry.stdout
        );
    }
    let mut args = copy_args("cli-dry-{region}", "us-west-2");
    args.extend(["--to", "mars-1", "--dry-run"]);
    let dry = run(&server, &args).await;
    dry.expect_code(2);
    assert!(dry.stdout.contains("mars-1: would fail"), "{}", dry.stdout);

    let job = server.copy(copy_request("cli-replayed")).await.unwrap();
    server.wait_terminal(&job.job_id).await;
    let watched = run(&server, &["watch", &job.job_id]).await;
    watched.expect_code(0);
    assert!(
        watched.stdout.contains("QUEUED: job accepted"),
        "history first:\n{}",
        watched.stdout
    );
    assert!(watched.stdout.contains(&job.image_id), "{}", watched.stdout);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_help_describe_the_commands() {
    let mut bash = super::amicopy();
    bash.args(["completions", "bash"]);
    let bash = super::Run::of(bash).await;
    bash.expect_code(0);
    for word in ["distribute", "--cancel-on-interrupt", "--deprecate-in"] {
        assert!(bash.stdout.contains(word), "{word} is not completed");
    }
    let mut help = super::amicopy();
    help.args(["retry", "--help"]);
    let help = super::Run::of(help).await;
    help.expect_code(0);
    assert!(
        help.stdout.contains("a new CopyImage with the same request"),
        "{}",
        help.stdout
    );
}
