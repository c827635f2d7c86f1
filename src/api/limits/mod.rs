//! Protective limits: what keeps one tenant, or a crowd, from taking the server down.
//!
//! - [`TenantRateLimitLayer`]: a token bucket per tenant over ImageCopyService and
//!   DistributionService calls;
//!   RESOURCE_EXHAUSTED with a RetryInfo when it is empty. Must sit inside the authentication
//!   layer, which records the [`Caller`].
//! - [`WatchSlots`]: a cap on open watch streams (WatchCopyJob and WatchDistribution) per tenant.
//! - [`ShedAsUnavailableLayer`]: answers calls tower's `LoadShed` refused (the global
//!   concurrency limit is reached) with UNAVAILABLE at once rather than queueing them.
//! - The request timeout, message size and HTTP/2 keepalive are tonic server settings, read
//!   from [`LimitSettings`] by the app.

use std::time::Duration;

use clap::Args;

use crate::flags;

mod rate;
mod shed;
mod watches;

pub use rate::{TenantRateLimitLayer, TenantRateLimitService};
pub use shed::{ShedAsUnavailableLayer, ShedAsUnavailableService};
pub use watches::{WatchSlot, WatchSlots};

#[cfg(doc)]
use crate::auth::Caller;

/// Protective limits settings.
#[derive(Args, Debug, Clone)]
pub struct LimitSettings {
    /// ImageCopyService and DistributionService calls each tenant may make per second, on
    /// average; 0 turns the limit off.
    #[arg(long, env = "AMICOPY_TENANT_REQUESTS_PER_SECOND", default_value = "20", value_parser = flags::non_negative, allow_negative_numbers = true)]
    pub tenant_requests_per_second: f64,

    /// ImageCopyService and DistributionService calls each tenant may make at once before the
    /// per-second rate applies.
    #[arg(long, env = "AMICOPY_TENANT_REQUEST_BURST", default_value = "40", value_parser = flags::positive_count, allow_negative_numbers = true)]
    pub tenant_request_burst: u32,

    /// Watch streams (WatchCopyJob and WatchDistribution together) each tenant may hold open at
    /// once; 0 means no cap.
    #[arg(long, env = "AMICOPY_MAX_WATCH_STREAMS_PER_TENANT", default_value_t = 100)]
    pub max_watch_streams_per_tenant: usize,

    /// Calls the server handles at once, all tenants together; more are refused with
    /// UNAVAILABLE at once. Streams count only while they start.
    #[arg(long, env = "AMICOPY_MAX_CONCURRENT_REQUESTS", default_value = "256", value_parser = positive_usize, allow_negative_numbers = true)]
    pub max_concurrent_requests: usize,

    /// Seconds a call may take before it is answered CANCELLED (a stream: before its first
    /// response). A shorter grpc-timeout from the client wins.
    #[arg(value_name = "SECONDS", long = "request-timeout-seconds", env = "AMICOPY_REQUEST_TIMEOUT_SECONDS", default_value = "30", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub request_timeout: Duration,

    /// Largest request message accepted, in bytes.
    #[arg(long, env = "AMICOPY_MAX_MESSAGE_BYTES", default_value = "4194304", value_parser = positive_usize, allow_negative_numbers = true)]
    pub max_message_bytes: usize,

    /// Seconds between HTTP/2 pings on idle connections, so dead watchers are noticed; 0 turns
    /// keepalive off.
    #[arg(value_name = "SECONDS", long = "http2-keepalive-seconds", env = "AMICOPY_HTTP2_KEEPALIVE_SECONDS", default_value = "30", value_parser = flags::seconds, allow_negative_numbers = true)]
    pub http2_keepalive: Duration,

    /// Seconds to wait for a ping's answer before the connection is closed.
    #[arg(value_name = "SECONDS", long = "http2-keepalive-timeout-seconds", env = "AMICOPY_HTTP2_KEEPALIVE_TIMEOUT_SECONDS", default_value = "10", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub http2_keepalive_timeout: Duration,
}

impl LimitSettings {
    /// The keepalive interval and timeout; `None` when keepalive is off.
    pub fn keepalive(&self) -> Option<(Duration, Duration)> {
        (!self.http2_keepalive.is_zero()).then_some((self.http2_keepalive, self.http2_keepalive_timeout))
    }
}

/// A count of one or more.
fn positive_usize(text: &str) -> Result<usize, String> {
    flags::positive_count(text).map(|count| count as usize)
}
