//! Upgrading a database made by the first release: the migrations after the first one keep every
//! job and every event (SQLite rebuilds `jobs` to widen its state check, and must not lose the
//! events that cascade from it), and the upgraded rows take the new columns.

use std::{path::Path, time::Duration};

use amicopy::{
    domain::{JobId, JobState},
    store,
};
use amicopy_testing::postgres::{TestDatabase, postgres_tests_skipped};
use chrono::Utc;
use sqlx::migrate::Migrator;

/// The first release's migration for `engine`, alone in a directory of its own.
async fn first_release(engine: &str, dir: &Path) -> Migrator {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
    let first = std::fs::read_dir(&source)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .min()
        .expect("a first migration");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(&first, dir.join(first.file_name().unwrap())).unwrap();
    Migrator::new(dir).await.expect("the first migration reads")
}

const OLD_JOB: &str = "INSERT INTO jobs (
        id, tenant, request_hash, source_image_id, source_region, destination_region, name,
        destination_kind, copy_image_tags, tag_specifications, state, image_id, progress_percent,
        attempts, next_attempt_at, created_at, updated_at, version, last_event_sequence)
    VALUES ($1, 'acme', 'hash', 'ami-0a1b2c3d4e5f60001', 'us-east-1', 'us-west-2', 'from-release-1',
        'region', $2, '[]', 'copying', 'ami-00000000000000001', 40, 1, $3, $3, $3, 3, 2)";

const OLD_EVENT: &str = "INSERT INTO job_events (job_id, sequence, state, image_id, detail, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)";

/// Checks the upgraded store: the old job and its two events are there, and a new transition
/// writes the new columns.
async fn check_upgraded(store: &dyn store::JobStore, id: JobId) {
    let job = store.get_job_any_tenant(id).await.expect("the old job is kept");
    assert_eq!(job.state(), JobState::Copying);
    assert_eq!(job.image_id(), Some("ami-00000000000000001"));
    assert_eq!(job.progress_percent(), Some(40));
    assert_eq!(job.request().destination_account, None);
    assert!(job.snapshot_ids().is_empty());
    let events = store.list_events(id, 0, 10).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.sequence, e.detail.as_str()))
            .collect::<Vec<_>>(),
        [(1, "job accepted"), (2, "copy started: ami-00000000000000001")],
        "every event is kept"
    );
    let available = job
        .copy_available(vec!["snap-0123456789abcdef0".to_owned()], Utc::now())
        .unwrap();
    let stored = store.update_job(available.job(), available.event()).await.unwrap();
    assert_eq!(stored.state(), JobState::Available);
    assert_eq!(stored.snapshot_ids(), ["snap-0123456789abcdef0"]);
    assert_eq!(store.list_events(id, 0, 10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_sqlite_database_of_the_first_release_upgrades_with_every_job_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("amicopy.db").display());
    let id = JobId::new();
    {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("PRAGMA foreign_keys = ON").execute(&pool).await.unwrap();
        first_release("sqlite", &dir.path().join("v1"))
            .await
            .run(&pool)
            .await
            .unwrap();
        let now = Utc::now().timestamp_micros();
        sqlx::query(OLD_JOB)
            .bind(id.to_string())
            .bind(false)
            .bind(now)
            .execute(&pool)
            .await
            .unwrap();
        for (sequence, state, image, detail) in [
            (1, "queued", None, "job accepted"),
            (
                2,
                "copying",
                Some("ami-00000000000000001"),
                "copy started: ami-00000000000000001",
            ),
        ] {
            sqlx::query(OLD_EVENT)
                .bind(id.to_string())
                .bind(sequence)
                .bind(state)
                .bind(image)
                .bind(detail)
                .bind(now)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }
    let store = store::connect(None, dir.path(), Duration::from_secs(10))
        .await
        .expect("the store upgrades the database");
    check_upgraded(&*store, id).await;
}

#[tokio::test]
async fn a_postgres_database_of_the_first_release_upgrades_with_every_job_and_event() {
    if postgres_tests_skipped() {
        return;
    }
    let database = TestDatabase::create().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = JobId::new();
    {
        let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
        first_release("postgres", &dir.path().join("v1"))
            .await
            .run(&pool)
            .await
            .unwrap();
        let now = Utc::now();
        sqlx::query(OLD_JOB)
            .bind(id.as_uuid())
            .bind(false)
            .bind(now)
            .execute(&pool)
            .await
            .unwrap();
        for (sequence, state, image, detail) in [
            (1_i64, "queued", None, "job accepted"),
            (
                2,
                "copying",
                Some("ami-00000000000000001"),
                "copy started: ami-00000000000000001",
            ),
        ] {
            sqlx::query(OLD_EVENT)
                .bind(id.as_uuid())
                .bind(sequence)
                .bind(state)
                .bind(image)
                .bind(detail)
                .bind(now)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }
    let store = store::connect(Some(&database.url), dir.path(), Duration::from_secs(10))
        .await
        .expect("the store upgrades the database");
    check_upgraded(&*store, id).await;
    drop(store);
    database.drop_database().await.unwrap();
}
