//! Losing the job database at run time: calls answer UNAVAILABLE with a message a person can act
//! on, health turns NOT_SERVING, and both recover on their own when the database is back. The
//! database is real PostgreSQL; the loss is a cut TCP proxy in front of it.

use std::{net::SocketAddr, time::Duration};

use amicopy_testing::postgres::postgres_tests_skipped;
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use tonic_types::StatusExt;

use crate::support::{Database, JOB_DEADLINE, TestServer, TestStorage, copy_request, proxy::TcpProxy};

/// The test database's URL rewritten to go through a proxy, and the address the proxy forwards to.
async fn through_proxy(url: &str) -> (SocketAddr, impl Fn(SocketAddr) -> String) {
    let (scheme_user, rest) = url.split_once('@').expect("URL names a host after '@'");
    let (host_port, database) = rest.split_once('/').expect("URL names a database");
    let upstream = tokio::net::lookup_host(host_port)
        .await
        .expect("database host resolves")
        .next()
        .expect("database host has an address");
    let (scheme_user, database) = (scheme_user.to_owned(), database.to_owned());
    (upstream, move |proxy: SocketAddr| {
        format!("{scheme_user}@{proxy}/{database}")
    })
}

async fn health(server: &TestServer) -> ServingStatus {
    let Ok(channel) = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .expect("endpoint")
        .connect()
        .await
    else {
        return ServingStatus::Unknown;
    };
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "amicopy.v1.ImageCopyService".to_owned(),
        })
        .await;
    answer
        .ok()
        .and_then(|answer| ServingStatus::try_from(answer.into_inner().status).ok())
        .unwrap_or(ServingStatus::Unknown)
}

async fn wait_for_health(server: &TestServer, wanted: ServingStatus) {
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    while health(server).await != wanted {
        assert!(tokio::time::Instant::now() < deadline, "health never became {wanted:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_lost_database_makes_calls_unavailable_and_both_recover_when_it_returns() {
    if postgres_tests_skipped() {
        return;
    }
    let storage = TestStorage::new(Database::Postgres).await;
    let url = storage.database.as_ref().expect("a PostgreSQL database").url.clone();
    let (upstream, rewrite) = through_proxy(&url).await;
    let proxy = TcpProxy::start(upstream).await;
    let proxied = rewrite(proxy.addr);
    let mut server = storage
        .start(&["--database-url", &proxied, "--database-timeout-seconds", "1"], None)
        .await;
    wait_for_health(&server, ServingStatus::Serving).await;
    let before = server
        .copy(copy_request("before-the-outage"))
        .await
        .expect("copy before the outage");

    proxy.cut();
    let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
    let status = loop {
        match server.copy(copy_request("during-the-outage")).await {
            Err(status) if status.code() == Code::Unavailable => break status,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "calls never became UNAVAILABLE: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert!(
        status.message().contains("database"),
        "the message says what is wrong: {status:?}"
    );
    assert_eq!(
        status.get_details_error_info().expect("ErrorInfo").reason,
        "Unavailable"
    );
    wait_for_health(&server, ServingStatus::NotServing).await;

    proxy.restore();
    wait_for_health(&server, ServingStatus::Serving).await;
    let after = server
        .copy(copy_request("after-the-outage"))
        .await
        .expect("copy after the outage");
    for job_id in [&before.job_id, &after.job_id] {
        let job = server.wait_terminal(job_id).await;
        assert_eq!(job.state, amicopy::proto::CopyJobState::Available as i32, "{job:?}");
    }
    server.stop().await;
    storage.cleanup().await;
}
