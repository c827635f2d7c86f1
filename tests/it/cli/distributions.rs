//! Distributions through the CLI: several `--to` make one, `distribute -f` reads a plan, a failed
//! target makes the exit code 4, JSON parses back, retry and get, and two bars in a terminal.

use amicopy::proto::{self, DistributionState};

use super::{
    SOURCE_IMAGE, assert_plain, copy_args, endpoint, run,
    terminal::{STEADY, bar_percent, run_in_terminal},
};
use crate::support::{Database, TestServer, proxy::TcpProxy, start};

/// `copy` of the simulator's base image to us-west-2 and eu-west-1, named per Region.
fn two_regions(name: &str) -> Vec<String> {
    [
        "copy",
        "--source-image",
        SOURCE_IMAGE,
        "--source-region",
        "us-east-1",
        "--to",
        "us-west-2",
        "--to",
        "eu-west-1",
        "--name",
        name,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

async fn cli(server: &TestServer, args: &[String]) -> super::Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(server, &args).await
}

async fn distribution(server: &TestServer, id: &str) -> proto::Distribution {
    let mut client = proto::distribution_service_client::DistributionServiceClient::connect(endpoint(server))
        .await
        .unwrap();
    client
        .get_distribution(proto::GetDistributionRequest {
            distribution_id: id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .distribution
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_wait_to_succeeded_with_a_table_of_images_and_exit_0() {
    let (server, storage) = start(Database::Sqlite, &[]).await;
    let mut args = two_regions("cli-dist-{region}");
    args.push("--wait".to_owned());
    let run = cli(&server, &args).await;
    run.expect_code(0);
    assert_plain(&run);
    let id = run.first_line().to_owned();
    let distribution = distribution(&server, &id).await;
    assert_eq!(distribution.state, DistributionState::Succeeded as i32);
    assert_eq!(distribution.targets.len(), 2);

    let lines: Vec<&str> = run.stdout.lines().collect();
    for region in ["us-west-2", "eu-west-1"] {
        assert!(
            lines.iter().any(|l| l.contains(&format!(" {region} COPYING"))),
            "plain lines for {region}:\n{}",
            run.stdout
        );
    }
    let header = lines
        .iter()
        .position(|l| l.starts_with("ACCOUNT"))
        .expect("a summary table");
    for target in &distribution.targets {
        assert!(!target.image_id.is_empty());
        let row = lines[header + 1..]
            .iter()
            .find(|l| l.contains(&target.region))
            .unwrap_or_else(|| panic!("no row for {}:\n{}", target.region, run.stdout));
        assert!(row.contains(&target.image_id) && row.contains("AVAILABLE"), "{row}");
    }
    assert_eq!(
        lines.last().unwrap(),
        &format!("distribution {id} SUCCEEDED (2 available)")
    );
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failed_target_exits_4_with_ec2s_code_and_retry_keeps_the_available_one() {
    let (server, storage) = start(Database::Sqlite, &[]).await;
    let mut args = two_regions("cli-partial-{region}");
    args.extend(["--encrypted", "--kms-key", "eu-west-1=alias/nope", "--wait"].map(str::to_owned));
    let run = cli(&server, &args).await;
    run.expect_code(4);
    assert_plain(&run);
    let id = run.first_line().to_owned();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains("eu-west-1 FAILED") && l.contains("InvalidKMSKey.NotFound")),
        "the failure as it happened:\n{}",
        run.stdout
    );
    let failed_row = run
        .stdout
        .lines()
        .find(|l| l.starts_with("own") && l.contains("eu-west-1"))
        .expect("a summary row for the failed target");
    assert!(failed_row.contains("InvalidKMSKey.NotFound"), "{failed_row}");
    let before = distribution(&server, &id).await;
    assert_eq!(before.state, DistributionState::PartiallySucceeded as i32);
    let available = before.targets.iter().find(|t| t.region == "us-west-2").unwrap().clone();

    let retried = cli(&server, &["retry".to_owned(), id.clone(), "--wait".to_owned()]).await;
    retried.expect_code(4);
    assert!(
        !retried.stdout.contains("us-west-2 QUEUED"),
        "the watch starts after the retry, and the available target is kept:\n{}",
        retried.stdout
    );
    let after = distribution(&server, &id).await;
    let failed = after.targets.iter().find(|t| t.region == "eu-west-1").unwrap();
    assert_eq!(failed.generation, 2, "a new job for the failed target");
    let kept = after.targets.iter().find(|t| t.region == "us-west-2").unwrap();
    assert_eq!(
        (kept.job_id.as_str(), kept.image_id.as_str()),
        (available.job_id.as_str(), available.image_id.as_str())
    );

    let got = cli(&server, &["get".to_owned(), id.clone()]).await;
    got.expect_code(0);
    assert!(got.stdout.contains("PARTIALLY_SUCCEEDED"), "{}", got.stdout);
    assert!(got.stdout.contains(&kept.image_id), "{}", got.stdout);
    let listed = cli(
        &server,
        &["ls".to_owned(), "--state".to_owned(), "partially-succeeded".to_owned()],
    )
    .await;
    listed.expect_code(0);
    assert!(listed.stdout.contains(&id), "{}", listed.stdout);
    assert!(
        !listed.stdout.contains(&kept.job_id),
        "a distribution's jobs are not listed without --all"
    );
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_file_makes_a_distribution_and_json_reads_back_as_a_plan() {
    let (server, storage) = start(Database::Sqlite, &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "source_image_id: {SOURCE_IMAGE}\nsource_region: us-east-1\nname: \"cli-plan-{{region}}\"\n\
             tag_specifications:\n  - resource_type: image\n    tags: [{{key: team, value: platform}}]\n\
             targets:\n  - regions: [us-west-2, eu-west-1]\nfailure_policy: CONTINUE\n"
        ),
    )
    .unwrap();
    let plan_path = plan.to_str().unwrap().to_owned();
    let run = cli(
        &server,
        &["distribute", "-f", &plan_path, "--wait", "--output", "json"].map(str::to_owned),
    )
    .await;
    run.expect_code(0);
    let lines = run.json_lines();
    let (last, events) = lines.split_last().unwrap();
    assert_eq!(last["kind"], "distribution");
    assert_eq!(last["state"], "SUCCEEDED");
    assert_eq!(last["counts"]["available"], 2);
    let sequences: Vec<u64> = events.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{sequences:?}");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "target_event" && e["region"] == "eu-west-1")
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "state_change" && e["state"] == "SUCCEEDED")
    );

    // The request in the output is a plan again: the same distribution from it.
    let again = dir.path().join("again.json");
    std::fs::write(&again, last["request"].to_string()).unwrap();
    let id = last["distribution_id"].as_str().unwrap();
    let replayed = cli(
        &server,
        &["distribute", "-f", again.to_str().unwrap()].map(str::to_owned),
    )
    .await;
    replayed.expect_code(0);
    assert_eq!(
        replayed.first_line(),
        id,
        "the same client token names the same distribution"
    );

    std::fs::write(&plan, "source_image_id: ami-1\ntargetz: []\n").unwrap();
    let typo = cli(&server, &["distribute", "-f", &plan_path].map(str::to_owned)).await;
    typo.expect_code(2);
    assert!(typo.stderr.contains("targetz"), "{}", typo.stderr);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_shows_the_aggregate_line_two_bars_and_a_row_per_target() {
    let (server, storage) = start(Database::Sqlite, STEADY).await;
    let mut args: Vec<String> = copy_args("cli-terminal-{region}", "us-west-2")
        .into_iter()
        .map(str::to_owned)
        .collect();
    args.extend(["--to", "eu-west-1", "--wait", "--endpoint", &endpoint(&server)].map(str::to_owned));
    let terminal = tokio::task::spawn_blocking(move || run_in_terminal(args))
        .await
        .unwrap();
    let last = terminal.screens.last().unwrap();
    assert_eq!(terminal.code, 0, "{last}");

    // While it ran: both bars part-way on the same screen.
    let both_moving = terminal.screens.iter().any(|screen| {
        ["us-west-2", "eu-west-1"].iter().all(|region| {
            screen
                .lines()
                .filter(|l| l.contains(region))
                .filter_map(bar_percent)
                .any(|p| (1..100).contains(&p))
        })
    });
    assert!(
        both_moving,
        "never two bars part-way:\n{}",
        terminal.screens.join("\n----\n")
    );

    let lines: Vec<&str> = last.lines().collect();
    let aggregate = lines
        .iter()
        .position(|l| l.starts_with("SUCCEEDED 100%"))
        .unwrap_or_else(|| panic!("no aggregate line:\n{last}"));
    for (offset, region) in [(1, "us-west-2"), (2, "eu-west-1")] {
        let bar = lines[aggregate + offset];
        assert!(bar.contains(region) && bar_percent(bar) == Some(100), "{last}");
    }
    assert_eq!(lines.iter().filter(|l| bar_percent(l).is_some()).count(), 2, "{last}");
    assert!(!last.contains("COPYING"), "an earlier draw was left behind:\n{last}");
    let header = lines
        .iter()
        .position(|l| l.starts_with("ACCOUNT"))
        .expect("a summary table");
    for region in ["us-west-2", "eu-west-1"] {
        let row = lines[header + 1..]
            .iter()
            .find(|l| l.contains(region))
            .expect("a row per target");
        assert!(row.contains("AVAILABLE") && row.contains("ami-"), "{row}");
    }
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_watch_cut_off_resumes_after_the_distributions_sequence() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let (server, storage) = start(Database::Sqlite, STEADY).await;
    let proxy = TcpProxy::start(server.addr).await;
    let mut args = two_regions("cli-resumed-{region}");
    args.extend(["--wait", "--output", "json", "--endpoint"].map(str::to_owned));
    args.push(format!("http://{}", proxy.addr));
    let mut child = super::amicopy().args(&args).spawn().expect("amicopy starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    let read = async {
        while let Some(line) = stdout.next_line().await.expect("stdout") {
            let copying = line.contains("\"state\":\"COPYING\"");
            lines.push(line);
            if copying {
                proxy.cut();
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                proxy.restore();
                break;
            }
        }
        while let Some(line) = stdout.next_line().await.expect("stdout") {
            lines.push(line);
        }
    };
    tokio::time::timeout(super::RUN_DEADLINE, read)
        .await
        .expect("amicopy ends in time");
    let status = child.wait().await.unwrap();
    let printed = lines.join("\n");
    assert_eq!(status.code(), Some(0), "{printed}");
    let values: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        values.iter().any(|v| v["kind"] == "reconnecting"),
        "the cut was not seen:\n{printed}"
    );
    let sequences: Vec<u64> = values
        .iter()
        .filter(|v| v["kind"] == "target_event" || v["kind"] == "state_change")
        .map(|v| v["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        sequences,
        (1..=sequences.len() as u64).collect::<Vec<_>>(),
        "every event once, in the distribution's order:\n{printed}"
    );
    assert_eq!(values.last().unwrap()["state"], "SUCCEEDED");
    server.stop().await;
    storage.cleanup().await;
}
