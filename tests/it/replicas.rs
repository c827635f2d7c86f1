//! Two amicopyd replicas on one PostgreSQL database and one (simulated) EC2: every job is
//! dispatched exactly once whichever replica accepted it, and a watcher on one replica sees the
//! events the other replica writes, through LISTEN/NOTIFY.

use std::sync::Arc;

use amicopy::{
    backend::{
        Backends,
        sim::{SimBackends, Simulator},
    },
    proto::CopyJobState,
};
use amicopy_testing::presets;

use crate::support::{Database, TestStorage, copy_request};

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
