//! Prometheus metrics, scraped over HTTP from the metrics listener.

use std::{net::SocketAddr, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;

use crate::support::{Database, JOB_DEADLINE, copy_request, start};

/// GETs `path` from `addr` with a raw HTTP/1.1 request; returns the status line and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("metrics listener");
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

/// The body of `/metrics` at `addr`.
pub async fn scrape(addr: SocketAddr) -> String {
    http_get(addr, "/metrics").await.1
}

/// The value of the first series line that starts with `series`, if any.
fn value(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn every_series_is_scraped_from_the_metrics_listener() {
    let (mut server, storage) = start(
        Database::Sqlite,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-refresh-seconds",
            "0.05",
            "--sim-copy-seconds",
            "1000000",
            // One copy at a time into a Region: the second job stays QUEUED.
            "--max-concurrent-copies",
            "1",
            // Tracking runs out of DescribeImages tokens at once: throttles to count.
            "--sim-describe-images-burst",
            "1",
            "--sim-describe-images-refill",
            "0.0001",
        ],
    )
    .await;
    let metrics = server.metrics_addr.expect("a metrics listener");
    let copying = server.copy(copy_request("in flight")).await.unwrap().job_id;
    server.copy(copy_request("queued")).await.unwrap();
    let mut watch = server
        .client
        .watch_copy_job(amicopy::proto::WatchCopyJobRequest {
            job_id: copying,
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    watch.next().await.expect("history").expect("an event");

    let expected: &[(&str, f64)] = &[
        (
            r#"amicopy_rpc_requests_total{method="amicopy.v1.ImageCopyService/CopyImage",code="Ok"}"#,
            2.0,
        ),
        (
            r#"amicopy_rpc_duration_seconds_count{method="amicopy.v1.ImageCopyService/CopyImage",code="Ok"}"#,
            2.0,
        ),
        (r#"amicopy_jobs{state="copying"}"#, 1.0),
        (r#"amicopy_jobs{state="queued"}"#, 1.0),
        (r#"amicopy_jobs{state="failed"}"#, 0.0),
        (r#"amicopy_queue_depth{region="us-west-2"}"#, 1.0),
        (r#"amicopy_copies_in_flight{region="us-west-2"}"#, 1.0),
        (r#"amicopy_ec2_calls_total{operation="CopyImage"}"#, 1.0),
        (r#"amicopy_ec2_throttles_total{operation="DescribeImages"}"#, 1.0),
        ("amicopy_watch_streams_open", 1.0),
        (r#"amicopy_store_duration_seconds_count{operation="create_job"}"#, 2.0),
        // No other replica here: nothing relayed, but the series is there.
        ("amicopy_watch_relay_delay_seconds_count", 0.0),
        ("amicopy_watch_send_delay_seconds_count", 0.0),
    ];
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    loop {
        let (status, scrape) = http_get(metrics, "/metrics").await;
        assert!(status.contains("200"), "{status}");
        let missing: Vec<_> = expected
            .iter()
            .filter(|(series, at_least)| !value(&scrape, series).is_some_and(|v| v >= *at_least))
            .collect();
        if missing.is_empty() {
            assert_eq!(value(&scrape, r#"amicopy_jobs{state="failed"}"#), Some(0.0));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never scraped {missing:?} in:\n{scrape}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    drop(watch);
    let (status, _) = http_get(metrics, "/elsewhere").await;
    assert!(status.contains("404"), "{status}");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn many_watchers_of_one_job_are_fed_without_a_store_read_per_event() {
    const WATCHERS: usize = 40;
    let (mut server, storage) = start(
        Database::Sqlite,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--sim-copy-seconds",
            "60",
            // Only notifications wake the streams: no polling reads.
            "--watch-poll-seconds",
            "3600",
        ],
    )
    .await;
    let metrics = server.metrics_addr.expect("a metrics listener");
    let job_id = server.copy(copy_request("watched by many")).await.unwrap().job_id;
    let reads = watch_to_end_together(server.client.clone(), &mut server, &job_id, metrics, WATCHERS).await;
    assert!(
        reads.0 < reads.1 / 2.0,
        "{} event reads for {WATCHERS} watchers, one per event would be {}",
        reads.0,
        reads.1
    );
    // Each watcher's live events were timed as they were sent: at least the terminal one each.
    let timed = value(&scrape(metrics).await, "amicopy_watch_send_delay_seconds_count").unwrap_or(0.0);
    assert!(
        timed >= WATCHERS as f64,
        "{timed} live events timed for {WATCHERS} watchers"
    );
    server.stop().await;
    storage.cleanup().await;
}

// The safety net for lost notifications is one query per poll for every watched job, not a read
// per stream: 40 idle streams over 4 jobs, polled every 0.2 s for 2 s, cost about ten queries
// (per stream it would be 400 reads).
#[tokio::test]
async fn idle_watchers_cost_one_store_query_per_poll_not_one_read_per_stream() {
    const JOBS: usize = 4;
    const WATCHERS_PER_JOB: usize = 10;
    let (mut server, storage) = start(
        Database::Sqlite,
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--sim-copy-seconds",
            "600",
            "--watch-poll-seconds",
            "0.2",
        ],
    )
    .await;
    let metrics = server.metrics_addr.expect("a metrics listener");
    let mut streams = Vec::new();
    for job in 0..JOBS {
        let job_id = server.copy(copy_request(&format!("idle {job}"))).await.unwrap().job_id;
        for _ in 0..WATCHERS_PER_JOB {
            let request = amicopy::proto::WatchCopyJobRequest {
                job_id: job_id.clone(),
                after_sequence: 0,
            };
            let mut stream = server.client.watch_copy_job(request).await.unwrap().into_inner();
            stream.next().await.expect("the history's first event").unwrap();
            streams.push(stream);
        }
    }
    let count = |scrape: &str, operation: &str| {
        value(
            scrape,
            &format!(r#"amicopy_store_duration_seconds_count{{operation="{operation}"}}"#),
        )
        .unwrap_or(0.0)
    };
    let before = scrape(metrics).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = scrape(metrics).await;
    let polls = count(&after, "newest_event_sequences") - count(&before, "newest_event_sequences");
    let reads = count(&after, "list_events") - count(&before, "list_events");
    assert!(
        (3.0..=20.0).contains(&polls),
        "{polls} polling queries in 2 s at one per 0.2 s"
    );
    assert!(reads < 10.0, "{reads} event reads by {} idle streams", streams.len());
    drop(streams);
    server.stop().await;
    storage.cleanup().await;
}

// Events another replica writes reach this replica's watchers through NOTIFY; the replica reads
// each announced event once for all its watchers of the job, not once per watcher.
#[tokio::test]
async fn watchers_on_another_replica_are_fed_one_read_per_announcement() {
    const WATCHERS: usize = 40;
    let storage = crate::support::TestStorage::new(Database::Postgres).await;
    let backends: std::sync::Arc<dyn amicopy::backend::Backends> =
        std::sync::Arc::new(amicopy::backend::sim::SimBackends::new(
            amicopy::backend::sim::Simulator::new(amicopy_testing::presets::fast_sim()).expect("simulator"),
        ));
    let mut writer = storage
        .start(&["--sim-copy-seconds", "60"], Some(std::sync::Arc::clone(&backends)))
        .await;
    let reader = storage
        .start(
            &[
                "--metrics-listen",
                "127.0.0.1:0",
                "--track-page-size",
                "0",
                "--watch-poll-seconds",
                "3600",
            ],
            Some(backends),
        )
        .await;
    let metrics = reader.metrics_addr.expect("a metrics listener");
    let job_id = writer.copy(copy_request("watched elsewhere")).await.unwrap().job_id;
    let reads = watch_to_end_together(reader.client.clone(), &mut writer, &job_id, metrics, WATCHERS).await;
    assert!(
        reads.0 < reads.1 / 2.0,
        "{} event reads on the watchers' replica for {WATCHERS} watchers, one per event would be {}",
        reads.0,
        reads.1
    );
    // Every relayed event was timed; the stream's first read took the history, so at least the
    // terminal event came through NOTIFY.
    let timed = value(&scrape(metrics).await, "amicopy_watch_relay_delay_seconds_count").unwrap_or(0.0);
    assert!(timed >= 1.0, "{timed} relayed events timed");
    writer.stop().await;
    reader.stop().await;
    storage.cleanup().await;
}

/// Opens `watchers` streams of `job_id` through `client` and follows them to the job's end,
/// checks that each saw every event once, in order (as `server` tells them), and answers with
/// the event reads the metrics at `metrics` counted and the reads one per watcher per event
/// would have made.
async fn watch_to_end_together(
    client: amicopy::proto::image_copy_service_client::ImageCopyServiceClient<tonic::transport::Channel>,
    server: &mut crate::support::TestServer,
    job_id: &str,
    metrics: SocketAddr,
    watchers: usize,
) -> (f64, f64) {
    let mut streams = tokio::task::JoinSet::new();
    for _ in 0..watchers {
        let mut client = client.clone();
        let job_id = job_id.to_owned();
        streams.spawn(async move {
            let request = amicopy::proto::WatchCopyJobRequest {
                job_id,
                after_sequence: 0,
            };
            let mut stream = client.watch_copy_job(request).await.unwrap().into_inner();
            let mut sequences = Vec::new();
            while let Some(message) = stream.next().await {
                sequences.push(message.unwrap().event.unwrap().sequence);
            }
            sequences
        });
    }
    let all = tokio::time::timeout(JOB_DEADLINE, streams.join_all())
        .await
        .expect("every stream ends");
    let events = server.watch_to_end(job_id).await;
    let expected: Vec<u64> = events.iter().map(|event| event.sequence).collect();
    assert!(expected.len() >= 5, "the job made progress events: {events:?}");
    for sequences in &all {
        assert_eq!(sequences, &expected, "every watcher saw every event once, in order");
    }
    let reads = value(
        &scrape(metrics).await,
        r#"amicopy_store_duration_seconds_count{operation="list_events"}"#,
    )
    .unwrap_or(0.0);
    (reads, (watchers * expected.len()) as f64)
}
