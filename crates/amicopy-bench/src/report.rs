//! Latency recording and the numbers a scenario reports: throughput and percentiles from an
//! HdrHistogram, printed for people and saved as JSON for `scripts/bench.sh`'s table.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency recorded exactly (one minute, in microseconds); longer ones are clamped.
const MAX_MICROS: u64 = 60_000_000;

/// Latencies of one scenario, in microseconds, at 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
    errors: u64,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// An empty record.
    pub fn new() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_MICROS, 3)
                .expect("constant bounds: 1 µs to one minute at 3 significant digits"),
            errors: 0,
        }
    }

    /// Records one successful call that took `elapsed`.
    pub fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_MICROS);
        self.histogram.saturating_record(micros);
    }

    /// Records one failed call (not part of the latency figures).
    pub fn record_error(&mut self) {
        self.errors += 1;
    }

    /// Adds another worker's record to this one.
    pub fn merge(&mut self, other: &Latencies) {
        // Both share the same bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
        self.errors += other.errors;
    }

    /// Successful calls recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The summary of this record over a run that lasted `elapsed`.
    pub fn summary(&self, scenario: &str, concurrency: usize, elapsed: Duration) -> Summary {
        let ms = |quantile: f64| self.histogram.value_at_quantile(quantile) as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64();
        let count = self.count();
        Summary {
            scenario: scenario.to_owned(),
            concurrency,
            count,
            errors: self.errors,
            seconds,
            throughput: if seconds > 0.0 { count as f64 / seconds } else { 0.0 },
            p50_ms: if count == 0 { 0.0 } else { ms(0.50) },
            p90_ms: if count == 0 { 0.0 } else { ms(0.90) },
            p99_ms: if count == 0 { 0.0 } else { ms(0.99) },
            max_ms: self.histogram.max() as f64 / 1000.0,
            notes: Vec::new(),
            extra: Default::default(),
        }
    }
}

/// What one scenario measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The scenario's name.
    pub scenario: String,
    /// Concurrent workers (or streams).
    pub concurrency: usize,
    /// Successful operations.
    pub count: u64,
    /// Failed operations.
    pub errors: u64,
    /// How long the measured part lasted.
    pub seconds: f64,
    /// Successful operations per second.
    pub throughput: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile latency, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Largest latency, milliseconds.
    pub max_ms: f64,
    /// Conditions the reader must know (raised quotas, what was counted).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Scenario-specific figures (bytes per stream, calls per tick, ...).
    #[serde(default)]
    pub extra: std::collections::BTreeMap<String, f64>,
}

impl Summary {
    /// A human-readable report, several lines.
    pub fn human(&self) -> String {
        let mut text = format!(
            "{}: {} ok, {} errors in {:.1}s at concurrency {}: {:.0}/s; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
            self.scenario,
            self.count,
            self.errors,
            self.seconds,
            self.concurrency,
            self.throughput,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        );
        for (key, value) in &self.extra {
            text.push_str(&format!("\n  {key}: {value}"));
        }
        for note in &self.notes {
            text.push_str(&format!("\n  note: {note}"));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut latencies = Latencies::new();
        for ms in 1..=100 {
            latencies.record(Duration::from_millis(ms));
        }
        let summary = latencies.summary("accept", 4, Duration::from_secs(2));
        assert_eq!(summary.count, 100);
        assert!((summary.throughput - 50.0).abs() < 1e-9);
        assert!((summary.p50_ms - 50.0).abs() < 0.1, "{summary:?}");
        assert!((summary.p90_ms - 90.0).abs() < 0.1, "{summary:?}");
        assert!((summary.p99_ms - 99.0).abs() < 0.1, "{summary:?}");
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
    }

    #[test]
    fn merged_workers_count_calls_and_errors_of_both() {
        let mut a = Latencies::new();
        a.record(Duration::from_millis(1));
        a.record_error();
        let mut b = Latencies::new();
        b.record(Duration::from_millis(9));
        b.record_error();
        a.merge(&b);
        let summary = a.summary("reads", 2, Duration::from_secs(1));
        assert_eq!((summary.count, summary.errors), (2, 2));
        assert!((summary.max_ms - 9.0).abs() < 0.01);
    }

    #[test]
    fn an_empty_run_reports_zeros_not_garbage() {
        let summary = Latencies::new().summary("accept", 1, Duration::ZERO);
        assert_eq!(summary.count, 0);
        assert_eq!(summary.throughput, 0.0);
        assert_eq!(summary.p99_ms, 0.0);
    }

    #[test]
    fn latencies_beyond_a_minute_are_clamped_not_lost() {
        let mut latencies = Latencies::new();
        latencies.record(Duration::from_secs(3600));
        latencies.record(Duration::ZERO);
        let summary = latencies.summary("watch", 1, Duration::from_secs(1));
        assert_eq!(summary.count, 2);
        assert!(summary.max_ms >= 59_000.0 && summary.max_ms <= 60_100.0, "{summary:?}");
    }
}
