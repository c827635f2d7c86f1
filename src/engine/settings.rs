//! The job engine's knobs, as command-line flags and environment variables, parsed into typed
//! values when they are read (see [`crate::flags`]).

use std::time::Duration;

use crate::flags;

/// How the engine paces, retries and limits copies.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineSettings {
    /// Seconds between engine ticks (dispatching queued copies, tracking running ones).
    #[arg(value_name = "SECONDS", long = "tick-seconds", env = "AMICOPY_TICK_SECONDS", default_value = "1", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub tick: Duration,
    /// Images per DescribeImages call when tracking copies, and jobs claimed per tick per kind;
    /// 0 makes a replica that serves calls but does no background work.
    #[arg(long, env = "AMICOPY_TRACK_PAGE_SIZE", default_value = "100")]
    pub track_page_size: u32,
    /// Seconds a replica holds a job it works on before another replica may take it over.
    #[arg(value_name = "SECONDS", long = "lease-seconds", env = "AMICOPY_LEASE_SECONDS", default_value = "30", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub lease: Duration,
    /// CopyImage calls per job before it fails with the last retryable error.
    #[arg(long, env = "AMICOPY_MAX_ATTEMPTS", default_value = "8", value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub max_attempts: u32,
    /// First retry delay in seconds; doubles with every attempt, with jitter.
    #[arg(value_name = "SECONDS", long = "retry-base-seconds", env = "AMICOPY_RETRY_BASE_SECONDS", default_value = "1", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub retry_base: Duration,
    /// Longest retry delay in seconds.
    #[arg(value_name = "SECONDS", long = "retry-max-seconds", env = "AMICOPY_RETRY_MAX_SECONDS", default_value = "60", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub retry_max: Duration,
    /// CopyImage calls the engine may make at once per destination Region (EC2's bucket: 100).
    #[arg(long, env = "AMICOPY_COPY_BURST", default_value = "100", value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub copy_burst: u32,
    /// CopyImage calls per second the bucket refills per destination Region (EC2's: 1).
    #[arg(long, env = "AMICOPY_COPY_REFILL_PER_SECOND", default_value = "1", value_parser = flags::positive, allow_negative_numbers = true)]
    pub copy_refill_per_second: f64,
    /// Copies in progress at once per destination Region (EC2's quota: 300); 0 pauses every
    /// copy, so jobs wait QUEUED.
    #[arg(long, env = "AMICOPY_MAX_CONCURRENT_COPIES", default_value = "300")]
    pub max_concurrent_copies: u32,
    /// Fewest seconds between two looks at one running copy; also the smallest delay in seeing
    /// its end (the pace adapts between this and --track-max-interval-seconds, seeing a copy's
    /// end within 2 % of its duration).
    #[arg(value_name = "SECONDS", long = "track-min-interval-seconds", env = "AMICOPY_TRACK_MIN_INTERVAL_SECONDS", default_value = "2", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub track_min_interval: Duration,
    /// Most seconds a running copy goes without a look while its pace is not known (no progress
    /// reported yet); once it is, looks are spaced by the time left to its expected end.
    #[arg(value_name = "SECONDS", long = "track-max-interval-seconds", env = "AMICOPY_TRACK_MAX_INTERVAL_SECONDS", default_value = "120", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub track_max_interval: Duration,
    /// Seconds a new image may stay invisible to DescribeImages (EC2's eventual consistency)
    /// before the copy is considered lost.
    #[arg(value_name = "SECONDS", long = "visibility-grace-seconds", env = "AMICOPY_VISIBILITY_GRACE_SECONDS", default_value = "300", value_parser = flags::seconds, allow_negative_numbers = true)]
    pub visibility_grace: Duration,
}

#[cfg(test)]
impl EngineSettings {
    /// Settings for unit tests: fast ticks and retries, EC2's limits.
    pub(crate) fn fast_for_tests() -> Self {
        Self {
            tick: Duration::from_millis(50),
            track_page_size: 100,
            lease: Duration::from_secs(5),
            max_attempts: 8,
            retry_base: Duration::from_millis(20),
            retry_max: Duration::from_millis(200),
            copy_burst: 100,
            copy_refill_per_second: 1.0,
            max_concurrent_copies: 300,
            visibility_grace: Duration::from_secs(10),
            track_min_interval: Duration::from_millis(50),
            track_max_interval: Duration::from_secs(1),
        }
    }
}
