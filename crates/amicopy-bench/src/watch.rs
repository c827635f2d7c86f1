//! The `watch` scenario: N WatchCopyJob streams spread over a few jobs that then change state
//! (the bench cancels them), measuring each live event's delay from its `create_time` to its
//! delivery, and the server's memory per open stream from `/proc/<pid>/status`.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use tokio::sync::{Semaphore, mpsc};
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

use super::{
    Args,
    report::{Latencies, Summary},
    rpc::{copy_request, run_id},
    scrape,
};
use amicopy::proto::{self, image_copy_service_client::ImageCopyServiceClient};

/// Streams per HTTP/2 connection, below the server's default limit of concurrent streams.
const STREAMS_PER_CONNECTION: usize = 100;

/// Streams being opened at once.
const OPENING_AT_ONCE: usize = 256;

/// The streams' replica's own timings, each with the prefix of its figures in the summary: how
/// old relayed events are when it hands them to its hub, and how old live events are when its
/// streams send them.
const SERVER_DELAYS: [(&str, &str); 2] = [
    ("amicopy_watch_relay_delay_seconds", "relay"),
    ("amicopy_watch_send_delay_seconds", "send"),
];

/// How long the streams get to deliver the terminal events after the jobs are cancelled.
const DRAIN: Duration = Duration::from_secs(30);

/// The resident memory of process `pid` in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status; is --server-pid the server's process id?"))?;
    parse_vm_rss(&status).with_context(|| format!("no VmRSS line in /proc/{pid}/status"))
}

/// The `VmRSS:` figure (in kB) of a `/proc/<pid>/status` text.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

/// A protobuf timestamp as a system time (times before 1970 become 1970).
pub fn system_time(timestamp: &prost_types::Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH
        + Duration::from_secs(u64::try_from(timestamp.seconds).unwrap_or(0))
        + Duration::from_nanos(u64::try_from(timestamp.nanos).unwrap_or(0))
}

/// How long ago `created` was, as seen `now`; zero when the clocks disagree the other way.
pub fn delay_since(created: &prost_types::Timestamp, now: SystemTime) -> Duration {
    now.duration_since(system_time(created)).unwrap_or(Duration::ZERO)
}

/// Runs the scenario against `--addr`.
pub async fn run(args: &Args) -> anyhow::Result<Summary> {
    let watch_addr = args.watch_addr.as_ref().unwrap_or(&args.addr);
    let connections = args.streams.div_ceil(STREAMS_PER_CONNECTION);
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(connect(watch_addr).await?);
    }
    let mut client = ImageCopyServiceClient::new(connect(&args.addr).await?);
    let run = run_id();
    let mut jobs = Vec::with_capacity(args.watch_jobs);
    for k in 0..args.watch_jobs {
        let request = copy_request(format!("bench-watch-{run}-{k}"), String::new());
        jobs.push(client.copy_image(request).await?.into_inner().job_id);
    }
    let rss_before = args.server_pid.map(rss_kib).transpose()?;

    let (opened_tx, mut opened_rx) = mpsc::channel::<bool>(args.streams);
    let (latency_tx, mut latency_rx) = mpsc::unbounded_channel::<Delays>();
    let cancels_began = Arc::new(OnceLock::new());
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    for stream in 0..args.streams {
        let client = ImageCopyServiceClient::new(channels[stream / STREAMS_PER_CONNECTION].clone());
        let job_id = jobs[stream % jobs.len()].clone();
        tokio::spawn(watch_one(
            client,
            job_id,
            Arc::clone(&opening),
            opened_tx.clone(),
            latency_tx.clone(),
            Arc::clone(&cancels_began),
        ));
    }
    drop((opened_tx, latency_tx));
    let mut opened = 0usize;
    let mut refused = 0usize;
    for _ in 0..args.streams {
        match opened_rx.recv().await {
            Some(true) => opened += 1,
            Some(false) => refused += 1,
            None => break,
        }
    }
    // Let every stream replay its history before memory is read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = args.server_pid.map(rss_kib).transpose()?;
    let mut server_before = Vec::new();
    if let Some(addr) = &args.watch_metrics {
        for (histogram, _) in SERVER_DELAYS {
            server_before.push(scrape::histogram(addr, histogram).await?);
        }
    }

    let started = std::time::Instant::now();
    let _ = cancels_began.set(SystemTime::now());
    let mut pace = args
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| tokio::time::interval(Duration::from_secs_f64(1.0 / rate)));
    for job_id in &jobs {
        if let Some(pace) = &mut pace {
            pace.tick().await;
        }
        client
            .cancel_copy_job(proto::CancelCopyJobRequest { job_id: job_id.clone() })
            .await
            .with_context(|| format!("cannot cancel job {job_id} (it must still be copying: run the watch scenario against a server whose copies last minutes)"))?;
    }
    let mut delays = Delays::default();
    let mut completed = 0usize;
    let deadline = tokio::time::Instant::now() + DRAIN;
    while let Ok(Some(stream)) = tokio::time::timeout_at(deadline, latency_rx.recv()).await {
        delays.steady.merge(&stream.steady);
        delays.opening.merge(&stream.opening);
        completed += 1;
    }
    let mut summary = delays.steady.summary(&args.label(), args.streams, started.elapsed());
    let opening = delays.opening.summary("opening", args.streams, started.elapsed());
    summary.extra.insert("opening_events".into(), opening.count as f64);
    summary.extra.insert("opening_p99_ms".into(), opening.p99_ms);
    summary.extra.insert("opening_max_ms".into(), opening.max_ms);
    if let Some(addr) = &args.watch_metrics {
        for ((histogram, prefix), before) in SERVER_DELAYS.into_iter().zip(&server_before) {
            let after = scrape::histogram(addr, histogram).await?;
            let (events, p50) = scrape::quantile_bound(before, &after, 0.5);
            let (_, p99) = scrape::quantile_bound(before, &after, 0.99);
            summary.extra.insert(format!("{prefix}_events"), events);
            for (quantile, bound) in [("p50", p50), ("p99", p99)] {
                // JSON has no infinity: a quantile beyond the largest bucket is left out.
                if let Some(bound) = bound.filter(|bound| bound.is_finite()) {
                    summary
                        .extra
                        .insert(format!("{prefix}_{quantile}_ms_at_most"), bound * 1000.0);
                }
            }
            summary.notes.push(format!(
                "{prefix}: {histogram} of the streams' replica, scraped before and after"
            ));
        }
    }
    summary.extra.insert("streams_opened".into(), opened as f64);
    summary.extra.insert("streams_refused".into(), refused as f64);
    summary.extra.insert("streams_completed".into(), completed as f64);
    summary.extra.insert("jobs".into(), jobs.len() as f64);
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        summary.extra.insert("server_rss_before_kib".into(), before as f64);
        summary.extra.insert("server_rss_after_kib".into(), after as f64);
        summary.extra.insert(
            "server_kib_per_stream".into(),
            after.saturating_sub(before) as f64 / opened.max(1) as f64,
        );
    }
    summary.notes.push(format!(
        "latency is each live event's delay from its create_time to its delivery, of the events created once every stream was open (those created while streams were still opening are counted apart, as opening_*); {} streams over {} jobs that were cancelled once every stream was open, {}",
        args.streams,
        jobs.len(),
        args.rate.map_or("all at once".to_owned(), |rate| format!("{rate} per second"))
    ));
    summary
        .extra
        .insert("cancels_per_second".into(), args.rate.unwrap_or(0.0));
    if watch_addr != &args.addr {
        summary.extra.insert("other_replica".into(), 1.0);
        summary.notes.push(format!(
            "events written by the replica at {}, streams open on the replica at {watch_addr}",
            args.addr
        ));
    }
    Ok(summary)
}

async fn connect(addr: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(addr.to_owned())?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("cannot connect to amicopyd at {addr}"))
}

/// One stream's delivery delays, split at the moment the cancels began: before it, the server
/// was still opening other streams (and replaying their history), which is not the load the
/// target is set for.
#[derive(Default)]
struct Delays {
    /// Events created once every stream was open.
    steady: Latencies,
    /// Events created after this stream opened but while others were still opening.
    opening: Latencies,
}

impl Delays {
    /// Records the delay of an event created at `created` and delivered `now`, with the steady
    /// ones when it was created once the cancels began (`cancels_began`, unset until then).
    fn record(&mut self, created: &prost_types::Timestamp, now: SystemTime, cancels_began: Option<SystemTime>) {
        let steady = cancels_began.is_some_and(|began| system_time(created) >= began);
        let latencies = if steady { &mut self.steady } else { &mut self.opening };
        latencies.record(delay_since(created, now));
    }
}

/// Opens one stream, reports that it is open, then records the delay of every event created
/// after it was opened, until the stream ends.
async fn watch_one(
    mut client: ImageCopyServiceClient<Channel>,
    job_id: String,
    opening: Arc<Semaphore>,
    opened: mpsc::Sender<bool>,
    done: mpsc::UnboundedSender<Delays>,
    cancels_began: Arc<OnceLock<SystemTime>>,
) {
    let permit = opening.acquire_owned().await;
    let opened_at = SystemTime::now();
    let request = proto::WatchCopyJobRequest {
        job_id,
        after_sequence: 0,
    };
    let mut stream = match client.watch_copy_job(request).await {
        Ok(response) => response.into_inner(),
        Err(_) => {
            let _ = opened.send(false).await;
            return;
        }
    };
    drop(permit);
    let _ = opened.send(true).await;
    let mut delays = Delays::default();
    while let Some(message) = stream.next().await {
        let Ok(message) = message else {
            delays.steady.record_error();
            break;
        };
        let now = SystemTime::now();
        // History replayed on opening is not a delivery delay; only live events count.
        if let Some(created) = message.event.and_then(|event| event.create_time)
            && system_time(&created) > opened_at
        {
            delays.record(&created, now, cancels_began.get().copied());
        }
    }
    let _ = done.send(delays);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resident_size_is_read_from_proc_status() {
        let status = "Name:\tamicopyd\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn delay_is_measured_from_the_event_time_and_never_negative() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let created = prost_types::Timestamp {
            seconds: 999,
            nanos: 750_000_000,
        };
        assert_eq!(delay_since(&created, now), Duration::from_millis(250));
        let future = prost_types::Timestamp {
            seconds: 1_001,
            nanos: 0,
        };
        assert_eq!(delay_since(&future, now), Duration::ZERO);
    }

    #[test]
    fn events_made_before_the_cancels_began_are_counted_apart() {
        let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
        let began = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(101);
        let mut delays = Delays::default();
        delays.record(&at(99), now, None);
        delays.record(&at(99), now, Some(began));
        delays.record(&at(100), now, Some(began));
        delays.record(&at(101), now, Some(began));
        assert_eq!((delays.opening.count(), delays.steady.count()), (2, 2));
    }
}
