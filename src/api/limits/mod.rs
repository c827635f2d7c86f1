//! Protective limits: what keeps one tenant, or a crowd, from taking the server down.
//!
//! - [`TenantRateLimitLayer`]: a token bucket per tenant over ImageCopyService calls;
//!   RESOURCE_EXHAUSTED with a RetryInfo when it is empty. Must sit inside the authentication
//!   layer, which records the [`Caller`].
//! - [`WatchSlots`]: a cap on open WatchCopyJob streams per tenant.
//! - [`ShedAsUnavailableLayer`]: answers calls tower's `LoadShed` refused (the global
//!   concurrency limit is reached) with UNAVAILABLE at once rather than queueing them.
//! - The request timeout, message size and HTTP/2 keepalive are tonic server settings, read
//!   from [`LimitSettings`] by the app.

use std::time::Duration;

use clap::Args;

mod rate;
mod shed;
mod watches;

pub use rate::{TenantRateLimitLayer, TenantRateLimitService};
pub use shed::{ShedAsUnavailableLayer, ShedAsUnavailableService};
pub use watches::{WatchSlot, WatchSlots};

#[cfg(doc)]
use super::caller::Caller;

/// Protective limits settings.
#[derive(Args, Debug, Clone)]
pub struct LimitSettings {
    /// ImageCopyService calls each tenant may make per second, on average; 0 turns the limit
    /// off.
    #[arg(long, env = "AMICOPY_TENANT_REQUESTS_PER_SECOND", default_value_t = 20.0)]
    pub tenant_requests_per_second: f64,

    /// ImageCopyService calls each tenant may make at once before the per-second rate applies.
    #[arg(long, env = "AMICOPY_TENANT_REQUEST_BURST", default_value_t = 40)]
    pub tenant_request_burst: u32,

    /// WatchCopyJob streams each tenant may hold open at once; 0 means no cap.
    #[arg(long, env = "AMICOPY_MAX_WATCH_STREAMS_PER_TENANT", default_value_t = 100)]
    pub max_watch_streams_per_tenant: usize,

    /// Calls the server handles at once, all tenants together; more are refused with
    /// UNAVAILABLE at once. Streams count only while they start.
    #[arg(long, env = "AMICOPY_MAX_CONCURRENT_REQUESTS", default_value_t = 256)]
    pub max_concurrent_requests: usize,

    /// Seconds a call may take before it is answered CANCELLED (a stream: before its first
    /// response). A shorter grpc-timeout from the client wins.
    #[arg(long, env = "AMICOPY_REQUEST_TIMEOUT_SECONDS", default_value_t = 30.0)]
    pub request_timeout_seconds: f64,

    /// Largest request message accepted, in bytes.
    #[arg(long, env = "AMICOPY_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Seconds between HTTP/2 pings on idle connections, so dead watchers are noticed; 0 turns
    /// keepalive off.
    #[arg(long, env = "AMICOPY_HTTP2_KEEPALIVE_SECONDS", default_value_t = 30.0)]
    pub http2_keepalive_seconds: f64,

    /// Seconds to wait for a ping's answer before the connection is closed.
    #[arg(long, env = "AMICOPY_HTTP2_KEEPALIVE_TIMEOUT_SECONDS", default_value_t = 10.0)]
    pub http2_keepalive_timeout_seconds: f64,
}

impl LimitSettings {
    /// The request timeout, or the flag and what is wrong with it.
    pub fn request_timeout(&self) -> Result<Duration, (&'static str, String)> {
        positive_seconds("--request-timeout-seconds", self.request_timeout_seconds)
    }

    /// The keepalive interval and timeout; `None` when keepalive is off.
    pub fn keepalive(&self) -> Result<Option<(Duration, Duration)>, (&'static str, String)> {
        if self.http2_keepalive_seconds == 0.0 {
            return Ok(None);
        }
        Ok(Some((
            positive_seconds("--http2-keepalive-seconds", self.http2_keepalive_seconds)?,
            positive_seconds(
                "--http2-keepalive-timeout-seconds",
                self.http2_keepalive_timeout_seconds,
            )?,
        )))
    }
}

fn positive_seconds(flag: &'static str, seconds: f64) -> Result<Duration, (&'static str, String)> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err((flag, format!("must be a positive number of seconds; got {seconds}"))),
    }
}
