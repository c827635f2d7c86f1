//! The job engine's knobs, as command-line flags and environment variables.

use std::time::Duration;

/// How the engine paces, retries and limits copies.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineSettings {
    /// Seconds between engine ticks (dispatching queued copies, tracking running ones).
    #[arg(long, env = "AMICOPY_TICK_SECONDS", default_value_t = 1.0)]
    pub tick_seconds: f64,
    /// Images per DescribeImages call when tracking copies, and jobs claimed per tick per kind.
    #[arg(long, env = "AMICOPY_TRACK_PAGE_SIZE", default_value_t = 100)]
    pub track_page_size: u32,
    /// Seconds a replica holds a job it works on before another replica may take it over.
    #[arg(long, env = "AMICOPY_LEASE_SECONDS", default_value_t = 30.0)]
    pub lease_seconds: f64,
    /// CopyImage calls per job before it fails with the last retryable error.
    #[arg(long, env = "AMICOPY_MAX_ATTEMPTS", default_value_t = 8)]
    pub max_attempts: u32,
    /// First retry delay in seconds; doubles with every attempt, with jitter.
    #[arg(long, env = "AMICOPY_RETRY_BASE_SECONDS", default_value_t = 1.0)]
    pub retry_base_seconds: f64,
    /// Longest retry delay in seconds.
    #[arg(long, env = "AMICOPY_RETRY_MAX_SECONDS", default_value_t = 60.0)]
    pub retry_max_seconds: f64,
    /// CopyImage calls the engine may make at once per destination Region (EC2's bucket: 100).
    #[arg(long, env = "AMICOPY_COPY_BURST", default_value_t = 100)]
    pub copy_burst: u32,
    /// CopyImage calls per second the bucket refills per destination Region (EC2's: 1).
    #[arg(long, env = "AMICOPY_COPY_REFILL_PER_SECOND", default_value_t = 1.0)]
    pub copy_refill_per_second: f64,
    /// Copies in progress at once per destination Region (EC2's quota: 300).
    #[arg(long, env = "AMICOPY_MAX_CONCURRENT_COPIES", default_value_t = 300)]
    pub max_concurrent_copies: u32,
    /// Seconds a new image may stay invisible to DescribeImages (EC2's eventual consistency)
    /// before the copy is considered lost.
    #[arg(long, env = "AMICOPY_VISIBILITY_GRACE_SECONDS", default_value_t = 300.0)]
    pub visibility_grace_seconds: f64,
}

impl EngineSettings {
    /// Time between ticks.
    pub fn tick(&self) -> Duration {
        secs(self.tick_seconds)
    }

    /// How long a lease lasts.
    pub fn lease(&self) -> Duration {
        secs(self.lease_seconds)
    }

    /// First retry delay.
    pub fn retry_base(&self) -> Duration {
        secs(self.retry_base_seconds)
    }

    /// Longest retry delay.
    pub fn retry_max(&self) -> Duration {
        secs(self.retry_max_seconds)
    }

    /// How long a new image may be missing.
    pub fn visibility_grace(&self) -> Duration {
        secs(self.visibility_grace_seconds)
    }

    /// Settings for tests: fast ticks and retries, EC2's limits.
    #[cfg(test)]
    pub(crate) fn fast_for_tests() -> Self {
        Self {
            tick_seconds: 0.05,
            track_page_size: 100,
            lease_seconds: 5.0,
            max_attempts: 8,
            retry_base_seconds: 0.02,
            retry_max_seconds: 0.2,
            copy_burst: 100,
            copy_refill_per_second: 1.0,
            max_concurrent_copies: 300,
            visibility_grace_seconds: 10.0,
        }
    }
}

fn secs(value: f64) -> Duration {
    Duration::try_from_secs_f64(value).unwrap_or(Duration::ZERO)
}
