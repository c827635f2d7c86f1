//! One store per test on a fresh database, and the requests and jobs the tests record.

use std::{sync::Arc, time::Duration};

use amicopy::{
    domain::{Change, CopyImageInput, CopyRequest, Job, JobId, Region, StoredJob},
    store::{self, Created, JobStore},
};
use amicopy_testing::postgres::{TestDatabase, postgres_tests_skipped};
use chrono::{DateTime, Utc};
use tempfile::TempDir;

use crate::support::Database;

/// How long the store waits for a connection.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A store on a fresh database, and what it takes to open that database again.
pub struct Harness {
    /// The store under test.
    pub store: Arc<dyn JobStore>,
    /// The database it is on.
    pub database: Database,
    dir: TempDir,
    postgres: Option<TestDatabase>,
}

impl Harness {
    /// A store on a fresh database, or `None` when PostgreSQL tests are skipped.
    pub async fn new(database: Database) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let postgres = match database {
            Database::Sqlite => None,
            Database::Postgres if postgres_tests_skipped() => return None,
            Database::Postgres => Some(TestDatabase::create().await.expect("a fresh PostgreSQL database")),
        };
        let url = postgres.as_ref().map(|db| db.url.clone());
        let store = store::connect(url.as_deref(), dir.path(), TIMEOUT)
            .await
            .expect("store opens");
        Some(Self {
            store,
            database,
            dir,
            postgres,
        })
    }

    /// Opens the same database again, as a restarted process or another replica would.
    pub async fn open_again(&self) -> Arc<dyn JobStore> {
        let url = self.postgres.as_ref().map(|db| db.url.clone());
        store::connect(url.as_deref(), self.dir.path(), TIMEOUT)
            .await
            .expect("store opens again")
    }

    async fn finish(self) {
        drop(self.store);
        if let Some(postgres) = self.postgres {
            postgres.drop_database().await.expect("drop test database");
        }
    }
}

/// A test body.
pub type Body = for<'a> fn(&'a Harness) -> futures::future::BoxFuture<'a, ()>;

/// Runs `body` on a fresh store on `database`.
pub async fn run(database: Database, body: Body) {
    let Some(harness) = Harness::new(database).await else {
        eprintln!("skipped: AMICOPY_SKIP_POSTGRES_TESTS=1");
        return;
    };
    body(&harness).await;
    harness.finish().await;
}

/// Now at the store's precision.
pub fn now() -> DateTime<Utc> {
    at(Utc::now())
}

/// `time` at the store's precision.
pub fn at(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap()
}

/// `now` plus `seconds` (negative for the past).
pub fn secs(now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    now + chrono::Duration::seconds(seconds)
}

/// A valid request from `input`, with the test's defaults for what it leaves empty.
pub fn parse(mut input: CopyImageInput) -> CopyRequest {
    if input.source_image_id.is_empty() {
        input.source_image_id = "ami-0a1b2c3d4e5f60001".to_owned();
    }
    if input.source_region.is_empty() {
        input.source_region = "us-east-1".to_owned();
    }
    CopyRequest::parse(input, &Region::parse("us-west-2").unwrap()).expect("a valid request")
}

/// A plain copy named `name` into us-west-2, with `token` when given.
pub fn request(name: &str, token: Option<&str>) -> CopyRequest {
    parse(CopyImageInput {
        name: name.to_owned(),
        client_token: token.unwrap_or_default().to_owned(),
        ..Default::default()
    })
}

/// A job to record for `tenant`, accepted at `now`, without a lease.
pub fn new_job(tenant: &str, request: CopyRequest, now: DateTime<Utc>) -> Change {
    Job::accept(JobId::new(), tenant, request, now, None)
}

/// Records a job that must be new.
pub async fn create(store: &dyn JobStore, new: Change) -> Job {
    match store.create_job(&new).await.expect("job recorded") {
        Created::New(job) => job,
        Created::Existing(job) => panic!("expected a new job, got existing {}", job.id()),
    }
}

/// `job` with fields set as `edit` says, whatever its state allows: the store's conformance
/// tests write rows the way any engine version might, not only through today's transitions.
pub fn edited(job: &Job, edit: impl FnOnce(&mut StoredJob)) -> Job {
    let mut stored = job.to_stored();
    edit(&mut stored);
    Job::restore(stored)
}
