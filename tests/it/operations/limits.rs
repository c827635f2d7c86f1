//! Protective limits as a client meets them.

use std::time::Duration;

use amicopy::proto;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{Database, JOB_DEADLINE, TestServer, copy_request, proxy::TcpProxy, start};

/// A copy that stays COPYING for the length of any test.
const SLOW_COPIES: &[&str] = &["--sim-copy-seconds", "1000000"];

fn get(job_id: &str) -> proto::GetCopyJobRequest {
    proto::GetCopyJobRequest {
        job_id: job_id.to_owned(),
    }
}

#[tokio::test]
async fn a_tenant_over_its_request_rate_is_told_when_to_retry() {
    // A refill this slow never brings a token back within the test.
    let (mut server, storage) = start(
        Database::Sqlite,
        &["--tenant-requests-per-second", "0.0001", "--tenant-request-burst", "2"],
    )
    .await;
    let unknown = "6f1c0f5e-2b7a-4c55-9a44-0d6c3f1d7e11";
    for _ in 0..2 {
        let status = server.client.get_copy_job(get(unknown)).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "the burst is served: {status:?}");
    }
    let status = server.client.get_copy_job(get(unknown)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let retry = status.get_details_retry_info().expect("a RetryInfo detail");
    assert!(
        retry.retry_delay.is_some_and(|delay| delay > Duration::ZERO),
        "{retry:?}"
    );
    let info = status.get_details_error_info().expect("an ErrorInfo detail");
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("RequestLimitExceeded", "amicopy")
    );
    assert!(
        status.metadata().get("x-request-id").is_some(),
        "a refused call still has its request id"
    );
    server.stop().await;
    storage.cleanup().await;
}

async fn open_watch(
    server: &mut TestServer,
    job_id: &str,
) -> Result<tonic::Streaming<proto::WatchCopyJobResponse>, tonic::Status> {
    server
        .client
        .watch_copy_job(proto::WatchCopyJobRequest {
            job_id: job_id.to_owned(),
            after_sequence: 0,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_tenant_at_its_watch_cap_is_refused_until_a_stream_closes() {
    let mut flags = vec!["--max-watch-streams-per-tenant", "1"];
    flags.extend_from_slice(SLOW_COPIES);
    let (mut server, storage) = start(Database::Sqlite, &flags).await;
    let job = server.copy(copy_request("watched")).await.unwrap().job_id;

    let mut first = open_watch(&mut server, &job).await.expect("the first watch opens");
    first.next().await.expect("history").expect("an event");
    let refused = open_watch(&mut server, &job).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(
        refused.get_details_error_info().expect("ErrorInfo").reason,
        "ResourceLimitExceeded"
    );

    drop(first);
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    loop {
        match open_watch(&mut server, &job).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the closed stream's slot never came back"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("unexpected {status:?}"),
        }
    }
    server.stop().await;
    storage.cleanup().await;
}

/// Holds SQLite's write lock, so every write of the server waits for it.
async fn lock_database(data_dir: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::{Connection, Executor};
    let url = format!("sqlite://{}", data_dir.join("amicopy.db").display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("second connection");
    connection.execute("BEGIN IMMEDIATE").await.expect("write lock");
    connection
}

#[tokio::test]
async fn calls_over_the_concurrency_limit_are_shed_with_unavailable() {
    let mut flags = vec![
        "--max-concurrent-requests",
        "1",
        "--database-timeout-seconds",
        "120",
        "--request-timeout-seconds",
        "120",
    ];
    flags.extend_from_slice(SLOW_COPIES);
    let (mut server, storage) = start(Database::Sqlite, &flags).await;
    let lock = lock_database(storage.data_dir.path()).await;

    let mut blocked_client = server.client.clone();
    let blocked = tokio::spawn(async move { blocked_client.copy_image(copy_request("waits")).await });
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    let shed = loop {
        let status = server.client.get_copy_job(get("not-a-uuid")).await.unwrap_err();
        if status.code() == Code::Unavailable {
            break status;
        }
        // Until the blocked call holds the only slot, this one is served (and refused as bad).
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(tokio::time::Instant::now() < deadline, "no call was ever shed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(shed.get_details_error_info().expect("ErrorInfo").reason, "Unavailable");

    drop(lock);
    let copied = blocked
        .await
        .unwrap()
        .expect("the waiting call completes once the lock is gone");
    assert!(!copied.into_inner().job_id.is_empty());
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn a_call_that_outlives_the_request_timeout_is_cancelled() {
    let mut flags = vec!["--database-timeout-seconds", "120", "--request-timeout-seconds", "0.2"];
    flags.extend_from_slice(SLOW_COPIES);
    let (mut server, storage) = start(Database::Sqlite, &flags).await;
    let lock = lock_database(storage.data_dir.path()).await;
    let status = server.copy(copy_request("too slow")).await.unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    drop(lock);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused() {
    let (mut server, storage) = start(Database::Sqlite, &["--max-message-bytes", "1024"]).await;
    let mut request = copy_request("big");
    request.description = "x".repeat(4096);
    let status = server.copy(request).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn a_watcher_whose_connection_went_silent_is_dropped_by_keepalive() {
    let (mut server, storage) = start(
        Database::Sqlite,
        &[
            SLOW_COPIES[0],
            SLOW_COPIES[1],
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-refresh-seconds",
            "0.05",
            "--http2-keepalive-seconds",
            "0.5",
            "--http2-keepalive-timeout-seconds",
            "0.5",
        ],
    )
    .await;
    let metrics = server.metrics_addr.expect("a metrics listener");
    let job_id = server
        .copy(copy_request("watched through a dead link"))
        .await
        .unwrap()
        .job_id;
    let proxy = TcpProxy::start(server.addr).await;
    let mut client =
        proto::image_copy_service_client::ImageCopyServiceClient::connect(format!("http://{}", proxy.addr))
            .await
            .unwrap();
    let mut stream = client
        .watch_copy_job(proto::WatchCopyJobRequest {
            job_id,
            after_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner();
    stream.next().await.expect("the history arrives").unwrap();
    wait_for_open_streams(metrics, 1.0).await;

    proxy.freeze();
    // Nothing closes the connection: only the server's unanswered pings can end the stream.
    wait_for_open_streams(metrics, 0.0).await;
    drop(stream);
    server.stop().await;
    storage.cleanup().await;
}

async fn wait_for_open_streams(metrics: std::net::SocketAddr, wanted: f64) {
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    loop {
        let scrape = super::metrics::scrape(metrics).await;
        let open = scrape
            .lines()
            .find(|line| line.starts_with("amicopy_watch_streams_open"))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<f64>().ok());
        if open == Some(wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "open watch streams stayed {open:?}, not {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
