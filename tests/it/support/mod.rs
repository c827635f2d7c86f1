//! Starts amicopy the way a user meets it, for integration tests: the real server on an
//! ephemeral loopback port, a real tonic client, a fresh database (SQLite in a temp dir, or a
//! fresh PostgreSQL database), the simulator at a fast time factor unless a test says otherwise.
#![allow(dead_code)]

pub mod auth;
pub mod binary;
pub mod proxy;
pub mod tls;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use amicopy::{
    app::App,
    auth::TokenStore,
    backend::{Backends, accounts::Accounts},
    config::Config,
    proto::{self, image_copy_service_client::ImageCopyServiceClient},
};
use amicopy_testing::postgres::TestDatabase;
use clap::Parser;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// How long any test waits for a job before failing.
pub const JOB_DEADLINE: Duration = Duration::from_secs(60);

/// Which database a test runs on ("engine" is only ever the job engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file in a fresh temp dir.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// Runs each async test body once on SQLite and once on PostgreSQL, as the tests
/// `sqlite::NAME` and `postgres::NAME` of the calling module, each on a two-worker runtime.
///
/// `on_both!(a, b)` takes bodies `async fn(Database)` that start what they need themselves;
/// `on_both!(store: a, b)` takes bodies `async fn(&Harness)` and hands each a fresh store (see
/// `store::harness`).
#[macro_export]
macro_rules! on_both {
    (store: $($name:ident),* $(,)?) => {
        $crate::on_both!(@tests $($name: |database| $crate::store::harness::run(database, |h| Box::pin(super::$name(h)))),*);
    };
    (@tests $($name:ident: |$database:ident| $body:expr),*) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let $database = $crate::support::Database::Sqlite;
                $body.await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let $database = $crate::support::Database::Postgres;
                $body.await
            })*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both!(@tests $($name: |database| super::$name(database)),*);
    };
}

/// Flags that make the simulator and the engine fast: a simulated copy takes 1 s. Tests poll
/// faster than a tenant may call, so the per-tenant rate limit is off unless a test sets it.
pub const FAST: &[&str] = &[
    "--tenant-requests-per-second",
    "0",
    "--sim-time-factor",
    "20",
    "--sim-copy-seconds",
    "20",
    "--tick-seconds",
    "0.05",
    "--track-min-interval-seconds",
    "0.05",
    "--track-max-interval-seconds",
    "1",
    "--retry-base-seconds",
    "0.02",
    "--retry-max-seconds",
    "0.2",
    "--lease-seconds",
    "5",
    "--watch-poll-seconds",
    "1",
];

/// A running server and a client connected to it.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where it serves Prometheus metrics, when started with `--metrics-listen`.
    pub metrics_addr: Option<SocketAddr>,
    /// Where it serves the web view, when started with `--ui-listen`.
    pub ui_addr: Option<SocketAddr>,
    /// A client for it.
    pub client: ImageCopyServiceClient<Channel>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    /// Keeps the SQLite directory alive.
    pub data_dir: Arc<TempDir>,
    /// The PostgreSQL database, when there is one.
    pub database: Option<Arc<TestDatabase>>,
    /// The bearer tokens, when the server runs with `--auth token`.
    pub tokens: Option<TokenStore>,
}

/// A database for one or more servers of a test.
pub struct TestStorage {
    /// Temp dir for SQLite.
    pub data_dir: Arc<TempDir>,
    /// PostgreSQL database, if chosen.
    pub database: Option<Arc<TestDatabase>>,
}

impl TestStorage {
    /// Fresh storage on the given database.
    pub async fn new(database: Database) -> Self {
        init_logging();
        let postgres = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(Arc::new(
                TestDatabase::create().await.expect("a fresh PostgreSQL database"),
            )),
        };
        Self {
            data_dir: Arc::new(tempfile::tempdir().expect("temp dir")),
            database: postgres,
        }
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "amicopyd".to_owned(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--data-dir".to_owned(),
            self.data_dir.path().display().to_string(),
        ];
        if let Some(database) = &self.database {
            args.extend(["--database-url".to_owned(), database.url.clone()]);
        }
        args
    }

    /// Starts a server on this storage with the fast settings plus `extra` flags (later flags
    /// win), optionally with backends shared with other servers.
    pub async fn start(&self, extra: &[&str], backends: Option<Arc<dyn Backends>>) -> TestServer {
        let mut args = self.args();
        args.extend(FAST.iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let config = Config::try_parse_from(&args).expect("valid test flags");
        let app = match backends {
            Some(backends) => App::build_with_backends(config, backends, Accounts::none()).await,
            None => App::build(config).await,
        }
        .expect("server starts");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let ui_addr = app.ui_addr();
        let tokens = app.tokens();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { app.run(shutdown).await.expect("server runs") }
        });
        // A TLS server gets a plaintext client that never connects; tests make their own.
        let client = if extra.contains(&"--tls-cert") {
            ImageCopyServiceClient::new(
                tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .expect("endpoint")
                    .connect_lazy(),
            )
        } else {
            ImageCopyServiceClient::connect(format!("http://{addr}"))
                .await
                .expect("client connects")
        };
        TestServer {
            addr,
            metrics_addr,
            ui_addr,
            client,
            shutdown,
            task,
            data_dir: Arc::clone(&self.data_dir),
            database: self.database.clone(),
            tokens,
        }
    }

    /// Drops the PostgreSQL database, if any.
    pub async fn cleanup(self) {
        if let Some(database) = self.database.and_then(Arc::into_inner) {
            database.drop_database().await.expect("drop test database");
        }
    }
}

/// Starts a server with fresh storage.
pub async fn start(database: Database, extra: &[&str]) -> (TestServer, TestStorage) {
    let storage = TestStorage::new(database).await;
    let server = storage.start(extra, None).await;
    (server, storage)
}

impl TestServer {
    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("server stops in time")
            .expect("server task ends cleanly");
    }

    /// Submits a copy and returns the response.
    pub async fn copy(&mut self, request: proto::CopyImageRequest) -> Result<proto::CopyImageResponse, tonic::Status> {
        self.client.copy_image(request).await.map(tonic::Response::into_inner)
    }

    /// The job as stored now.
    pub async fn job(&mut self, job_id: &str) -> proto::CopyJob {
        self.client
            .get_copy_job(proto::GetCopyJobRequest {
                job_id: job_id.to_owned(),
            })
            .await
            .expect("job exists")
            .into_inner()
            .job
            .expect("job in response")
    }

    /// Polls the job until `done` holds, or fails the test after [`JOB_DEADLINE`].
    pub async fn wait_for(&mut self, job_id: &str, done: impl Fn(&proto::CopyJob) -> bool) -> proto::CopyJob {
        let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
        loop {
            let job = self.job(job_id).await;
            if done(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job_id} never got there; last seen {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls the job until it is in a terminal state.
    pub async fn wait_terminal(&mut self, job_id: &str) -> proto::CopyJob {
        self.wait_for(job_id, |job| is_terminal(job.state)).await
    }

    /// Watches a job to its end and returns every event.
    pub async fn watch_to_end(&mut self, job_id: &str) -> Vec<proto::CopyJobEvent> {
        let mut stream = self
            .client
            .watch_copy_job(proto::WatchCopyJobRequest {
                job_id: job_id.to_owned(),
                after_sequence: 0,
            })
            .await
            .expect("watch starts")
            .into_inner();
        let mut events = Vec::new();
        let collect = async {
            while let Some(message) = stream.next().await {
                events.push(message.expect("stream item").event.expect("event"));
            }
        };
        tokio::time::timeout(JOB_DEADLINE, collect)
            .await
            .expect("watch ends in time");
        events
    }
}

/// Whether a wire state is terminal.
pub fn is_terminal(state: i32) -> bool {
    [
        proto::CopyJobState::Available as i32,
        proto::CopyJobState::Failed as i32,
        proto::CopyJobState::Cancelled as i32,
    ]
    .contains(&state)
}

/// A valid copy of the simulator's us-east-1 base image into us-west-2.
pub fn copy_request(name: &str) -> proto::CopyImageRequest {
    proto::CopyImageRequest {
        source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
        source_region: "us-east-1".to_owned(),
        destination_region: "us-west-2".to_owned(),
        name: name.to_owned(),
        ..Default::default()
    }
}

/// [`copy_request`] as the engine takes it, for tests that drive an engine directly.
pub fn engine_copy_request(name: &str) -> amicopy::domain::CopyRequest {
    let input = amicopy::api::convert::copy_input(copy_request(name));
    let region = amicopy::domain::Region::parse("us-east-1").expect("a Region");
    amicopy::domain::CopyRequest::parse(input, &region).expect("a valid request")
}

/// Test logs only when TEST_LOG is set.
pub fn init_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info,amicopy=debug")
            .with_test_writer()
            .try_init();
    }
}
