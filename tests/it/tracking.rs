//! How many EC2 calls the engine spends tracking copies, driven tick by tick against the
//! simulator and a real SQLite store: one DescribeImages call per destination Region per page of
//! running copies, never one per image, and every running copy looked at on every tick.

use std::{sync::Arc, time::Duration};

use amicopy::{
    backend::{
        Ec2Backend, OwnAccountOnly,
        sim::{SimSettings, Simulator},
    },
    domain::{CopyImageInput, CopyRequest, JobState, Region},
    engine::{Engine, EngineSettings, hub::EventHub},
    store,
};
use amicopy_testing::presets;

const PAGE_SIZE: u32 = 10;

fn request(name: &str, destination: &str) -> CopyRequest {
    let input = CopyImageInput {
        source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
        source_region: "us-east-1".to_owned(),
        destination_region: destination.to_owned(),
        name: name.to_owned(),
        ..Default::default()
    };
    CopyRequest::parse(input, &Region::parse("us-east-1").unwrap()).unwrap()
}

#[tokio::test]
async fn a_tick_describes_every_running_copy_in_one_call_per_region_and_page() {
    let data_dir = tempfile::tempdir().unwrap();
    let store = store::connect(None, data_dir.path(), Duration::from_secs(5))
        .await
        .unwrap();
    // Copies that stay pending for the whole test.
    let simulator = Arc::new(
        Simulator::new(SimSettings {
            sim_copy_seconds: 3600.0,
            ..presets::fast_sim()
        })
        .unwrap(),
    );
    let backend: Arc<dyn Ec2Backend> = simulator.clone();
    let backends = Arc::new(OwnAccountOnly(backend));
    let settings = EngineSettings {
        // Ticks are driven by the test: the next look is due long after it ends.
        tick: Duration::from_secs(600),
        track_page_size: PAGE_SIZE,
        ..presets::fast_engine()
    };
    let engine = Engine::new(store, backends, EventHub::new(), settings, "tracking-test");

    let mut running = 0;
    for (region, copies) in [("us-west-2", 35), ("eu-west-1", 7)] {
        for i in 0..copies {
            let job = engine
                .submit("acme", request(&format!("tracked-{region}-{i}"), region))
                .await
                .unwrap();
            assert_eq!(job.state(), JobState::Copying);
            running += 1;
        }
    }

    // A new copy's first look is due --track-min-interval-seconds after it started (50 ms in
    // the fast preset): wait until every one is.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = simulator.calls("DescribeImages");
    let report = engine.tick().await.unwrap();
    assert_eq!(report.tracked, running, "every running copy is looked at");
    let calls = simulator.calls("DescribeImages") - before;
    // Pages of 10 over 42 copies claimed oldest first: 35 in us-west-2 then 7 in eu-west-1, so
    // pages hold (10 w), (10 w), (10 w), (5 w + 5 eu), (2 eu): 6 calls, against 42 for one per image.
    assert!(calls <= 6, "{calls} DescribeImages calls for {running} copies");
    assert!(calls >= 5, "both Regions and every page were described: {calls}");

    let before = simulator.calls("DescribeImages");
    let report = engine.tick().await.unwrap();
    assert_eq!(report.tracked, 0, "copies just looked at wait for the next tick");
    assert_eq!(simulator.calls("DescribeImages"), before);
}

#[tokio::test]
async fn a_region_whose_describe_calls_are_throttled_is_looked_at_less_and_less() {
    let data_dir = tempfile::tempdir().unwrap();
    let store = store::connect(None, data_dir.path(), Duration::from_secs(5))
        .await
        .unwrap();
    // EC2's DescribeImages bucket all but empty: nearly every tracking call is throttled.
    let simulator = Arc::new(
        Simulator::new(SimSettings {
            sim_copy_seconds: 3600.0,
            sim_describe_images_burst: 1,
            sim_describe_images_refill: 0.001,
            ..presets::fast_sim()
        })
        .unwrap(),
    );
    let backend: Arc<dyn Ec2Backend> = simulator.clone();
    let settings = EngineSettings {
        tick: Duration::from_millis(10),
        ..presets::fast_engine()
    };
    let engine = Engine::new(
        store,
        Arc::new(OwnAccountOnly(backend)),
        EventHub::new(),
        settings,
        "throttled",
    );
    for i in 0..3 {
        let job = engine
            .submit("acme", request(&format!("throttled-{i}"), "us-west-2"))
            .await
            .unwrap();
        assert_eq!(job.state(), JobState::Copying);
    }
    let before = simulator.calls("DescribeImages");
    let mut ticks = 0;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        engine.tick().await.unwrap();
        ticks += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let calls = simulator.calls("DescribeImages") - before;
    // Backing off from 20 ms doubling to the 200 ms cap makes about a dozen calls in 2 s; a
    // look on every tick would make one per tick.
    assert!(calls >= 2, "the Region was still looked at: {calls} calls");
    assert!(
        calls <= 20,
        "{calls} DescribeImages calls in {ticks} ticks: no backing off"
    );
}
