//! Prometheus metrics: what the service counts, the wrappers that count it, and the HTTP
//! listener that serves `/metrics` in the OpenMetrics text format.
//!
//! [`Metrics`] owns one registry per server (so several servers in one test process never share
//! series). Calls are counted by [`rpc::RpcMetricsLayer`], EC2 calls by [`backend::MeteredBackend`],
//! store calls by [`store::MeteredStore`]; job gauges are refreshed from the store by
//! [`refresh_job_gauges`]. Nothing here touches the API, the engine or the database directly.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clap::Args;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::{domain::JobState, store::JobStore};

pub mod backend;
pub mod rpc;
pub mod server;
pub mod store;

/// Metrics settings.
#[derive(Args, Debug, Clone)]
pub struct MetricsSettings {
    /// Address of the HTTP listener that serves Prometheus metrics at /metrics (for example
    /// 127.0.0.1:9090). Off unless set.
    #[arg(long, env = "AMICOPY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Seconds between store reads that refresh the job gauges (jobs by state, queue depth and
    /// copies in flight per Region).
    #[arg(value_name = "SECONDS", long = "metrics-refresh-seconds", env = "AMICOPY_METRICS_REFRESH_SECONDS", default_value = "15", value_parser = crate::flags::positive_seconds, allow_negative_numbers = true)]
    pub metrics_refresh: std::time::Duration,
}

/// Labels of RPC series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// The gRPC method path without its leading slash, e.g. `amicopy.v1.ImageCopyService/CopyImage`.
    pub method: String,
    /// The gRPC status code name, e.g. `Ok`, `ResourceExhausted`.
    pub code: String,
}

/// Labels of series per operation (EC2 API call or store method).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// The operation, e.g. `CopyImage` or `claim_jobs`.
    pub operation: String,
}

/// Labels of job gauges by state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// The job state, as stored (`queued`, `copying`, ...).
    pub state: String,
}

/// Labels of job gauges by destination Region.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabels {
    /// The destination Region.
    pub region: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Records in `histogram` how old something recorded at `recorded` is now (zero if the clock says
/// it is from the future).
pub fn observe_age(histogram: &Histogram, recorded: chrono::DateTime<chrono::Utc>) {
    let age = chrono::Utc::now() - recorded;
    histogram.observe(age.to_std().unwrap_or_default().as_secs_f64());
}

/// Every series amicopyd exports. Cheap to clone: each metric is shared.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Calls answered, by method and gRPC code.
    pub rpc_requests: Family<RpcLabels, Counter>,
    /// Call latency until the response headers, by method and gRPC code.
    pub rpc_duration: HistogramFamily<RpcLabels>,
    /// Jobs per state.
    pub jobs: Family<StateLabels, Gauge>,
    /// QUEUED jobs per destination Region.
    pub queue_depth: Family<RegionLabels, Gauge>,
    /// COPYING jobs per destination Region.
    pub copies_in_flight: Family<RegionLabels, Gauge>,
    /// EC2 API calls made, by operation.
    pub ec2_calls: Family<OperationLabels, Counter>,
    /// EC2 API calls refused with RequestLimitExceeded, by operation.
    pub ec2_throttles: Family<OperationLabels, Counter>,
    /// Open watch streams (WatchCopyJob and WatchDistribution).
    pub watch_streams: Gauge,
    /// Store call latency, by store method.
    pub store_duration: HistogramFamily<OperationLabels>,
    /// How old events another replica wrote are when this replica hands them to its watchers.
    pub watch_relay_delay: Histogram,
    /// How old live events are when a WatchCopyJob stream hands them to gRPC.
    pub watch_send_delay: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered under the `amicopy_` prefix.
    pub fn new() -> Self {
        let rpc_requests = Family::<RpcLabels, Counter>::default();
        let rpc_duration: HistogramFamily<RpcLabels> = Family::new_with_constructor(latency_histogram);
        let jobs = Family::<StateLabels, Gauge>::default();
        let queue_depth = Family::<RegionLabels, Gauge>::default();
        let copies_in_flight = Family::<RegionLabels, Gauge>::default();
        let ec2_calls = Family::<OperationLabels, Counter>::default();
        let ec2_throttles = Family::<OperationLabels, Counter>::default();
        let watch_streams = Gauge::default();
        let store_duration: HistogramFamily<OperationLabels> = Family::new_with_constructor(latency_histogram);
        let watch_relay_delay = latency_histogram();
        let watch_send_delay = latency_histogram();

        let mut registry = Registry::with_prefix("amicopy");
        registry.register(
            "rpc_requests",
            "gRPC calls answered, by method and code",
            rpc_requests.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "gRPC call latency until the response starts, by method and code",
            rpc_duration.clone(),
        );
        registry.register("jobs", "Jobs per state (refreshed from the store)", jobs.clone());
        registry.register(
            "queue_depth",
            "QUEUED jobs per destination Region (refreshed from the store)",
            queue_depth.clone(),
        );
        registry.register(
            "copies_in_flight",
            "COPYING jobs per destination Region (refreshed from the store)",
            copies_in_flight.clone(),
        );
        registry.register("ec2_calls", "EC2 API calls made, by operation", ec2_calls.clone());
        registry.register(
            "ec2_throttles",
            "EC2 API calls refused with RequestLimitExceeded, by operation",
            ec2_throttles.clone(),
        );
        registry.register(
            "watch_streams_open",
            "Open watch streams (WatchCopyJob and WatchDistribution)",
            watch_streams.clone(),
        );
        registry.register(
            "store_duration_seconds",
            "Job store call latency, by method",
            store_duration.clone(),
        );
        registry.register(
            "watch_relay_delay_seconds",
            "Age of an event another replica wrote (from its record time, before its commit) when this \
             replica, told by NOTIFY, hands it to its watchers",
            watch_relay_delay.clone(),
        );
        registry.register(
            "watch_send_delay_seconds",
            "Age of a live event (from its record time, before its commit) when a WatchCopyJob \
             stream hands it to gRPC",
            watch_send_delay.clone(),
        );
        Self {
            registry: Arc::new(registry),
            rpc_requests,
            rpc_duration,
            jobs,
            queue_depth,
            copies_in_flight,
            ec2_calls,
            ec2_throttles,
            watch_streams,
            store_duration,
            watch_relay_delay,
            watch_send_delay,
        }
    }

    /// Every series in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            warn!(%error, "cannot encode metrics");
        }
        text
    }

    /// Sets the job gauges from one store read.
    pub async fn refresh_jobs(&self, store: &dyn JobStore) -> Result<(), crate::store::StoreError> {
        let counts = store.count_by_state().await?;
        for state in JobState::ALL {
            let total: u64 = counts.iter().filter(|c| c.state == state).map(|c| c.count).sum();
            let labels = StateLabels {
                state: state.as_str().to_owned(),
            };
            self.jobs.get_or_create(&labels).set(gauge_value(total));
        }
        for (family, state) in [
            (&self.queue_depth, JobState::Queued),
            (&self.copies_in_flight, JobState::Copying),
        ] {
            family.clear();
            for count in counts.iter().filter(|c| c.state == state) {
                let labels = RegionLabels {
                    region: count.destination_region.clone(),
                };
                family.get_or_create(&labels).set(gauge_value(count.count));
            }
        }
        Ok(())
    }
}

fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Refreshes the job gauges from `store` every `every` until `shutdown`.
pub async fn refresh_job_gauges(
    metrics: Metrics,
    store: Arc<dyn JobStore>,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        if let Err(error) = metrics.refresh_jobs(&*store).await {
            warn!(%error, "cannot refresh the job gauges");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests;
