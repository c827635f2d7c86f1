//! Two amicopyd replicas on one PostgreSQL database and one (simulated) EC2: every job is
//! dispatched exactly once whichever replica accepted it, and a watcher on one replica sees the
//! events the other replica writes, through LISTEN/NOTIFY (and, when a notification is lost,
//! through its replica's look at the store).

use std::{sync::Arc, time::Duration};

use amicopy::{
    backend::{
        Backends,
        sim::{SimBackends, Simulator},
    },
    engine::{Engine, hub::EventHub},
    proto::CopyJobState,
    store,
};
use amicopy_testing::presets;

use crate::support::{Database, TestStorage, copy_request, engine_copy_request};

#[tokio::test]
async fn two_replicas_share_the_work_and_each_others_events() {
    let storage = TestStorage::new(Database::Postgres).await;
    let backends = SimBackends::new(Simulator::new(presets::fast_sim()).expect("simulator"));
    let simulator = Arc::clone(backends.simulator());
    let shared: Arc<dyn Backends> = Arc::new(backends);

    // Replica A does all background work; replica B only serves calls (it claims nothing) and
    // polls its watch streams so rarely that only a NOTIFY from A can end them in time.
    let mut a = storage
        .start(&["--sim-copy-seconds", "40"], Some(Arc::clone(&shared)))
        .await;
    let mut b = storage
        .start(
            &["--track-page-size", "0", "--watch-poll-seconds", "3600"],
            Some(Arc::clone(&shared)),
        )
        .await;

    let mut jobs = Vec::new();
    for i in 0..10 {
        let server = if i % 2 == 0 { &mut a } else { &mut b };
        jobs.push(server.copy(copy_request(&format!("replicated-{i}"))).await.unwrap());
    }
    for response in &jobs {
        let events = b.watch_to_end(&response.job_id).await;
        assert_eq!(
            events.last().unwrap().state,
            CopyJobState::Available as i32,
            "{events:?}"
        );
        let on_a = a.job(&response.job_id).await;
        assert_eq!(on_a.image_id, response.image_id, "both replicas see one job");
    }
    assert_eq!(
        simulator.copies_started(),
        jobs.len() as u64,
        "each job was copied exactly once"
    );

    a.stop().await;
    b.stop().await;
    storage.cleanup().await;
}

/// A simulated EC2 that keeps at most `cap` copies in progress per Region (refusing more with
/// ResourceLimitExceeded, as EC2 does), whose copies take `seconds` of real time.
fn capped_ec2(cap: u32, seconds: f64) -> (Arc<dyn Backends>, Arc<Simulator>) {
    let mut settings = presets::fast_sim();
    settings.sim_max_concurrent_copies = cap;
    settings.sim_copy_seconds = seconds * settings.sim_time_factor;
    let backends = SimBackends::new(Simulator::new(settings).expect("simulator"));
    let simulator = Arc::clone(backends.simulator());
    (Arc::new(backends), simulator)
}

/// `count` CopyImage calls at once, spread over `servers` in turn; their answers' states.
async fn copy_at_once(servers: &[&crate::support::TestServer], prefix: &str, count: usize) -> Vec<i32> {
    let calls = (0..count).map(|i| {
        let mut client = servers[i % servers.len()].client.clone();
        let request = copy_request(&format!("{prefix}-{i}"));
        async move { client.copy_image(request).await.expect("accepted").into_inner().state }
    });
    futures::future::join_all(calls).await
}

fn count_state(states: &[i32], state: CopyJobState) -> usize {
    states.iter().filter(|&&s| s == state as i32).count()
}

// The Region's cap on copies in progress is counted in memory and admission is atomic within a
// replica: calls arriving together never start more copies than the cap, and make no CopyImage
// call that EC2 would refuse. (Counting in the store per call, as before, let every one of
// them see room.) Ticks are an hour apart, so only the calls themselves start copies.
crate::on_both!(
    one_replica_starts_no_more_copies_than_the_cap_however_many_calls_arrive_together,
    a_replica_that_missed_a_notification_catches_its_watchers_up_from_the_store,
);
async fn one_replica_starts_no_more_copies_than_the_cap_however_many_calls_arrive_together(database: Database) {
    let storage = TestStorage::new(database).await;
    let (backends, simulator) = capped_ec2(4, 600.0);
    let server = storage
        .start(
            &["--max-concurrent-copies", "4", "--tick-seconds", "3600"],
            Some(backends),
        )
        .await;

    let states = copy_at_once(&[&server], "capped", 12).await;
    assert_eq!(count_state(&states, CopyJobState::Copying), 4, "{states:?}");
    assert_eq!(count_state(&states, CopyJobState::Queued), 8, "{states:?}");
    assert_eq!(simulator.calls("CopyImage"), 4, "no call beyond the cap was made");
    assert_eq!(simulator.copies_started(), 4);

    server.stop().await;
    storage.cleanup().await;
}

// Across replicas the count is as fresh as each replica's last tick, so the cap can be overshot
// by what the other replicas admit meanwhile — at most (replicas − 1) × the cap — and EC2's own
// quota refuses the overshoot with ResourceLimitExceeded. That costs a refused call, never a job:
// the refused copies wait and every job ends AVAILABLE, each copied exactly once.
#[tokio::test]
async fn two_replicas_overshoot_the_cap_by_at_most_one_replicas_share_and_lose_no_job() {
    let storage = TestStorage::new(Database::Postgres).await;
    let (backends, simulator) = capped_ec2(4, 1.0);
    let cap = ["--max-concurrent-copies", "4"];
    // The first ticks come 10 s after start-up, well after the calls; jobs that find the Region
    // full wait a tick, so the replicas started after them take them up 10 s later.
    let slow = [&cap[..], &["--tick-seconds", "10"]].concat();
    let a = storage.start(&slow, Some(Arc::clone(&backends))).await;
    let b = storage.start(&slow, Some(Arc::clone(&backends))).await;

    let states = copy_at_once(&[&a, &b], "shared-cap", 24).await;
    // A replica that counts before the other's admissions commit admits its own 4; one that
    // counts after sees them and admits none.
    let calls = simulator.calls("CopyImage");
    assert!(
        (4..=8).contains(&calls),
        "{calls} CopyImage calls: each replica makes at most the cap's, not knowing the other's"
    );
    assert_eq!(simulator.copies_started(), 4, "EC2 refused the overshoot");
    assert_eq!(count_state(&states, CopyJobState::Copying), 4, "{states:?}");
    assert_eq!(count_state(&states, CopyJobState::Failed), 0, "{states:?}");
    a.stop().await;
    b.stop().await;

    // Ticking replicas carry every job to the end.
    let mut a = storage.start(&cap, Some(Arc::clone(&backends))).await;
    let b = storage.start(&cap, Some(Arc::clone(&backends))).await;
    let jobs = a
        .client
        .list_copy_jobs(amicopy::proto::ListCopyJobsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .jobs;
    assert_eq!(jobs.len(), 24);
    for job in &jobs {
        let ended = a.wait_terminal(&job.job_id).await;
        assert_eq!(ended.state, CopyJobState::Available as i32, "{ended:?}");
    }
    assert_eq!(simulator.copies_started(), 24, "each job was copied exactly once");
    a.stop().await;
    b.stop().await;
    storage.cleanup().await;
}

// Replica R's watchers are told of events written elsewhere only by NOTIFY; when one is lost,
// R's own look at the store (one query for every watched job) hands them the missing events.
// Here R runs no change feed at all: every event the writer makes is one R was not told of.
async fn a_replica_that_missed_a_notification_catches_its_watchers_up_from_the_store(database: Database) {
    let storage = TestStorage::new(database).await;
    let url = storage.database.as_ref().map(|database| database.url.clone());
    let open = || store::connect(url.as_deref(), storage.data_dir.path(), Duration::from_secs(5));
    // Copies last long enough to be cancelled.
    let (backends, _) = capped_ec2(100, 600.0);
    let engine = |store, name| {
        Engine::new(
            store,
            Arc::clone(&backends),
            EventHub::new(),
            presets::fast_engine(),
            name,
        )
    };
    let writer = engine(open().await.unwrap(), "writer");
    let reader = engine(open().await.unwrap(), "reader");

    let mut jobs = Vec::new();
    for name in ["watched-a", "watched-b", "unwatched"] {
        jobs.push(writer.submit("acme", engine_copy_request(name)).await.unwrap());
    }
    let mut watched: Vec<_> = jobs[..2].iter().map(|job| reader.hub().subscribe(job.id())).collect();
    let history = |job| writer.store().list_events(job, 0, 100);

    // A new watcher reads its history itself; the replica learns where each watched job stands.
    reader.catch_up_watchers().await.unwrap();
    assert_eq!(
        reader.catch_up_watchers().await.unwrap(),
        0,
        "nothing new, nothing read"
    );

    let seen = history(jobs[0].id()).await.unwrap().last().unwrap().sequence;
    writer.cancel("acme", jobs[0].id()).await.unwrap();
    writer.cancel("acme", jobs[2].id()).await.unwrap();
    let written = history(jobs[0].id()).await.unwrap();
    assert!(written.len() as u64 > seen, "the cancel wrote an event: {written:?}");
    assert!(
        watched[0].events_after(seen).is_none_or(|events| events.is_empty()),
        "the reader was not told yet"
    );

    assert_eq!(
        reader.catch_up_watchers().await.unwrap(),
        1,
        "only the watched job that moved"
    );
    tokio::time::timeout(Duration::from_secs(5), watched[0].changed())
        .await
        .expect("its watchers are woken");
    let handed = watched[0].events_after(seen).expect("the new events, in memory");
    assert_eq!(
        handed,
        written[seen as usize..].to_vec(),
        "every missing event, in order"
    );
    assert_eq!(reader.catch_up_watchers().await.unwrap(), 0, "caught up");
    drop(watched);
    storage.cleanup().await;
}
