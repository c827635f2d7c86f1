//! Scenarios that run the engine in this process against the simulator, to count EC2 calls:
//! `tracking` (DescribeImages calls per tick for N pending copies, against the one call per image
//! that Terraform, Ansible and Packer waiters make) and `burst` (RequestLimitExceeded answers
//! while 1,000 copies go through EC2's CopyImage quotas).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use clap::Parser as _;
use futures::{StreamExt as _, TryStreamExt as _};
use tokio_util::sync::CancellationToken;

use super::{
    Args,
    report::{Latencies, Summary},
};
use amicopy::{
    backend::{
        Ec2Backend,
        sim::{SimSettings, Simulator},
    },
    config::Config,
    domain::{CopyImageInput, CopyRequest, JobState, Region},
    engine::{Engine, EngineSettings, hub::EventHub},
    metrics::{
        Metrics,
        backend::{MeteredBackend, throttles},
    },
    store,
};

/// Jobs submitted at once while filling the engine.
const SUBMITTING_AT_ONCE: usize = 32;

/// How often the tracking scenario's copies are due.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// Simulated seconds per real second in the burst: EC2's quotas, sixty times as fast.
const BURST_TIME_FACTOR: f64 = 60.0;

/// How long the burst may take before it is reported unfinished.
const BURST_DEADLINE: Duration = Duration::from_secs(180);

/// The number of DescribeImages calls one tick may make for `n` copies in one Region.
pub fn calls_bound(n: usize, page_size: u32) -> usize {
    n.div_ceil(page_size.max(1) as usize)
}

/// The flags' defaults: EC2's quotas in the simulator, amicopyd's defaults in the engine.
pub(crate) fn defaults() -> anyhow::Result<(SimSettings, EngineSettings)> {
    let config = Config::try_parse_from(["amicopyd"])?;
    Ok((config.sim, config.engine))
}

fn request(name: String) -> anyhow::Result<CopyRequest> {
    let input = CopyImageInput {
        source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
        source_region: "us-east-1".to_owned(),
        destination_region: "us-west-2".to_owned(),
        name,
        ..Default::default()
    };
    let home = Region::parse("us-east-1").map_err(|e| anyhow::anyhow!(e.description))?;
    CopyRequest::parse(input, &home).map_err(|e| anyhow::anyhow!("{e:?}"))
}

/// An engine on a fresh SQLite store in `dir` over `backend`.
pub(crate) async fn engine(
    dir: &std::path::Path,
    backend: Arc<dyn Ec2Backend>,
    settings: EngineSettings,
) -> anyhow::Result<Arc<Engine>> {
    let store = store::connect(None, dir, Duration::from_secs(5)).await?;
    let backends = Arc::new(amicopy::backend::OwnAccountOnly(backend));
    Ok(Engine::new(store, backends, EventHub::new(), settings, "amicopy-bench"))
}

/// Submits `n` copies named `prefix-i`, a few at a time.
pub(crate) async fn submit_all(engine: &Arc<Engine>, prefix: &str, n: usize) -> anyhow::Result<()> {
    futures::stream::iter(0..n)
        .map(|i| {
            let engine = Arc::clone(engine);
            let name = format!("{prefix}-{i}");
            async move { anyhow::Ok(engine.submit("bench", request(name)?).await?) }
        })
        .buffer_unordered(SUBMITTING_AT_ONCE)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// For each N in `--tracking-sizes`: N copies pending in one Region, one tick, and the
/// DescribeImages calls it made against ceil(N / page size) and against N.
pub async fn tracking(args: &Args) -> anyhow::Result<Vec<Summary>> {
    let mut summaries = Vec::new();
    for &n in &args.tracking_sizes {
        let (mut sim, mut settings) = defaults()?;
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        // Copies that stay pending, and starting quotas out of the way: only tracking is counted.
        sim.sim_copy_seconds = 1e9;
        sim.sim_max_concurrent_copies = n32;
        sim.sim_copy_image_burst = n32;
        settings.tick = std::time::Duration::from_secs(3600);
        // Every running copy due once at the measured tick: looked at every LOOK_EVERY, which is
        // longer than the tick takes, so a copy looked at is not due again within it.
        settings.track_min_interval = LOOK_EVERY;
        settings.track_max_interval = LOOK_EVERY;
        settings.track_page_size = args.page_size;
        settings.copy_burst = n32;
        settings.max_concurrent_copies = n32;
        let simulator = Arc::new(Simulator::new(sim)?);
        let metrics = Metrics::new();
        let metered = Arc::new(MeteredBackend::new(simulator.clone(), metrics.clone()));
        let dir = tempfile::tempdir()?;
        let engine = engine(dir.path(), metered, settings).await?;
        submit_all(&engine, "tracked", n).await?;

        tokio::time::sleep(LOOK_EVERY + Duration::from_millis(100)).await;
        let images_before = simulator.calls("DescribeImages");
        let snapshots_before = simulator.calls("DescribeSnapshots");
        let started = Instant::now();
        let report = engine.tick().await?;
        let elapsed = started.elapsed();
        let mut latencies = Latencies::new();
        latencies.record(elapsed);
        let mut summary = latencies.summary(&format!("tracking-{n}"), 1, elapsed);
        let calls = simulator.calls("DescribeImages") - images_before;
        summary.count = calls;
        summary.extra.insert("pending_copies".into(), n as f64);
        summary.extra.insert("tracked".into(), report.tracked as f64);
        summary.extra.insert("describe_images_calls".into(), calls as f64);
        summary.extra.insert(
            "describe_snapshots_calls".into(),
            (simulator.calls("DescribeSnapshots") - snapshots_before) as f64,
        );
        summary
            .extra
            .insert("bound_ceil_n_over_page".into(), calls_bound(n, args.page_size) as f64);
        summary.extra.insert("per_image_waiter_calls".into(), n as f64);
        summary.extra.insert("page_size".into(), f64::from(args.page_size));
        summary
            .extra
            .insert("request_limit_exceeded".into(), throttles(&metrics) as f64);
        summary.notes.push(format!(
            "one tick over {n} pending copies in us-west-2, simulator at EC2's DescribeImages quota (burst 100, 20/s)"
        ));
        summaries.push(summary);
    }
    Ok(summaries)
}

/// `--burst-copies` copies submitted at once to an engine at amicopyd's default limits (EC2's
/// quotas) over a simulator at EC2's quotas, run until every copy is done: how many calls the
/// simulator answered RequestLimitExceeded.
pub async fn burst(args: &Args) -> anyhow::Result<Summary> {
    let (mut sim, mut settings) = defaults()?;
    sim.sim_time_factor = BURST_TIME_FACTOR;
    // The engine keeps EC2's quotas in real seconds; the simulator's buckets refill at the same
    // real rate once its clock runs sixty times as fast.
    settings.copy_refill_per_second *= BURST_TIME_FACTOR;
    settings.tick = std::time::Duration::from_millis(50);
    let simulator = Arc::new(Simulator::new(sim)?);
    let metrics = Metrics::new();
    let metered = Arc::new(MeteredBackend::new(simulator.clone(), metrics.clone()));
    let dir = tempfile::tempdir()?;
    let engine = engine(dir.path(), metered, settings).await?;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(Arc::clone(&engine).run(shutdown.clone()));

    let started = Instant::now();
    submit_all(&engine, "burst", args.burst_copies).await?;
    let unfinished = [JobState::Queued, JobState::Copying, JobState::Cancelling];
    let mut left = u64::MAX;
    while started.elapsed() < BURST_DEADLINE {
        left = engine.store().count_jobs(None, "us-west-2", &unfinished).await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    running.await.context("engine task")?;
    let available = engine
        .store()
        .count_jobs(None, "us-west-2", &[JobState::Available])
        .await?;

    let mut latencies = Latencies::new();
    latencies.record(elapsed);
    let mut summary = latencies.summary(&args.label(), args.burst_copies, elapsed);
    summary.count = available;
    summary.errors = left;
    summary
        .extra
        .insert("request_limit_exceeded".into(), throttles(&metrics) as f64);
    summary
        .extra
        .insert("copies_submitted".into(), args.burst_copies as f64);
    summary.extra.insert("copies_available".into(), available as f64);
    summary.extra.insert("copies_unfinished".into(), left as f64);
    summary
        .extra
        .insert("copy_image_calls".into(), simulator.calls("CopyImage") as f64);
    summary
        .extra
        .insert("describe_images_calls".into(), simulator.calls("DescribeImages") as f64);
    summary.notes.push(format!(
        "{} copies submitted at once; engine and simulator at EC2's quotas (CopyImage burst 100, 1/s; 300 concurrent; DescribeImages 100, 20/s) with simulated time {BURST_TIME_FACTOR}x",
        args.burst_copies
    ));
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amicopy::{backend::StartCopy, domain::codes};

    #[test]
    fn the_bound_is_one_call_per_started_page() {
        assert_eq!(calls_bound(100, 100), 1);
        assert_eq!(calls_bound(101, 100), 2);
        assert_eq!(calls_bound(5000, 100), 50);
        assert_eq!(calls_bound(1, 1000), 1);
    }

    #[tokio::test]
    async fn throttling_is_counted_as_the_simulator_answers_it() {
        let sim = SimSettings {
            sim_copy_image_burst: 1,
            ..amicopy_testing::presets::fast_sim()
        };
        let metrics = Metrics::new();
        let metered = MeteredBackend::new(Arc::new(Simulator::new(sim).unwrap()), metrics.clone());
        let copy = |name: &str| StartCopy {
            request: request(name.to_owned()).unwrap(),
            client_token: format!("token-{name}"),
            dry_run: false,
        };
        metered.copy_image(&copy("first")).await.unwrap();
        let error = metered.copy_image(&copy("second")).await.unwrap_err();
        assert_eq!(error.code, codes::REQUEST_LIMIT_EXCEEDED);
        assert_eq!(throttles(&metrics), 1);
    }
}
