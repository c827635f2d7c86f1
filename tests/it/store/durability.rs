//! What outlives a process: restarts, other replicas' changes, start-up against a fresh or an
//! unreachable database.

use std::time::Duration;

use amicopy::{
    domain::JobState,
    store::{self, Announcement, StoreError},
};
use amicopy_testing::postgres::{TestDatabase, postgres_tests_skipped};
use futures::StreamExt;
use sqlx::Connection;

use crate::{
    store::harness::{Harness, create, edited, new_job, now, request},
    support::Database,
};

crate::on_both!(store:
    everything_survives_a_restart,
    the_change_feed_reports_updates_from_other_processes
);

async fn everything_survives_a_restart(h: &Harness) {
    let first = create(
        &*h.store,
        new_job("acme", request("durable", Some("tok-durable")), now()),
    )
    .await;
    let copying = edited(&first, |j| {
        j.state = JobState::Copying;
        j.image_id = Some("ami-0123456789abcdef0".to_owned());
    });
    let copying = h.store.update_job(&copying, Some("copy started")).await.unwrap();
    let second = create(&*h.store, new_job("globex", request("durable too", None), now())).await;
    let events = h.store.list_events(first.id(), 0, 10).await.unwrap();

    let reopened = h.open_again().await;
    assert_eq!(reopened.get_job_any_tenant(first.id()).await.unwrap(), copying);
    assert_eq!(reopened.get_tenant_job("globex", second.id()).await.unwrap(), second);
    assert_eq!(reopened.list_events(first.id(), 0, 10).await.unwrap(), events);
    let retried = reopened
        .create_job(&new_job("acme", request("durable", Some("tok-durable")), now()))
        .await
        .unwrap();
    assert_eq!(retried.job().id(), first.id(), "client tokens outlive restarts");
}

async fn the_change_feed_reports_updates_from_other_processes(h: &Harness) {
    let feed = h.store.change_feed().await.unwrap();
    let Some(mut feed) = feed else {
        assert_eq!(h.database, Database::Sqlite, "only SQLite has no change feed");
        return;
    };
    let other = h.open_again().await;
    let job = create(&*other, new_job("acme", request("announced", None), now())).await;
    let job = edited(&job, |j| j.state = JobState::Copying);
    let job = other.update_job(&job, Some("copy started")).await.unwrap();
    job_without_event(&*other, job.clone()).await;

    let wanted = Announcement::Job(job.id(), 2);
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        let mut seen = Vec::new();
        while let Some(item) = feed.next().await {
            let item = item.expect("feed item");
            seen.push(item);
            if item == wanted {
                return seen;
            }
        }
        panic!("the feed ended; saw {seen:?}");
    })
    .await
    .expect("the notification arrives");
    assert_eq!(
        seen,
        vec![Announcement::Job(job.id(), 1), Announcement::Job(job.id(), 2)],
        "one notification per event, in order"
    );
}

async fn job_without_event(store: &dyn store::JobStore, job: amicopy::domain::Job) {
    let job = edited(&job, |j| j.progress_percent = Some(10));
    store.update_job(&job, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_starting_together_migrate_a_fresh_postgres_database() {
    if postgres_tests_skipped() {
        return;
    }
    let database = TestDatabase::create().await.expect("a fresh PostgreSQL database");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = tokio::join!(
        store::connect(Some(&database.url), dir.path(), Duration::from_secs(20)),
        store::connect(Some(&database.url), dir.path(), Duration::from_secs(20)),
    );
    let (a, b) = (a.expect("replica a starts"), b.expect("replica b starts"));
    let job = create(&*a, new_job("acme", request("migrated", None), now())).await;
    assert_eq!(b.get_job_any_tenant(job.id()).await.unwrap(), job);
    drop((a, b));
    database.drop_database().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_postgres_fails_fast_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://amicopy:secret@127.0.0.1:1/amicopy";
    let opened = tokio::time::timeout(
        Duration::from_secs(60),
        store::connect(Some(url), dir.path(), Duration::from_millis(500)),
    )
    .await
    .expect("start-up gives up instead of hanging");
    match opened {
        Err(error @ StoreError::Unavailable(_)) => {
            let message = error.to_string();
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(!message.contains("secret"), "no password: {message}");
        }
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

/// Connections are checked with a round trip only after sitting idle a while (checking each on
/// every use doubled the round trips of one-query calls). A connection whose server session ended
/// while it sat idle must still be found out and replaced, not handed to a call.
#[tokio::test]
async fn a_connection_whose_session_ended_while_idle_is_replaced_before_use() {
    if postgres_tests_skipped() {
        return;
    }
    let database = TestDatabase::create().await.expect("a fresh PostgreSQL database");
    let dir = tempfile::tempdir().unwrap();
    let store = store::connect(Some(&database.url), dir.path(), Duration::from_secs(20))
        .await
        .expect("store opens");
    let job = create(&*store, new_job("acme", request("outlives its session", None), now())).await;
    let mut admin = sqlx::PgConnection::connect(&database.url).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'amicopyd'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(ended.iter().any(|ended| *ended), "the store's idle sessions were ended");
    for _ in 0..ended.len() + 1 {
        assert_eq!(
            store
                .get_job_any_tenant(job.id())
                .await
                .expect("a fresh connection answers"),
            job
        );
    }
    admin.close().await.unwrap();
    drop(store);
    database.drop_database().await.unwrap();
}
