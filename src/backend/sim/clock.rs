//! Simulated time: real (tokio) time since the simulator started, multiplied by the time factor.

use tokio::time::Instant;

/// Reads simulated seconds. Built on `tokio::time::Instant`, so tests move it with
/// `tokio::time::advance`.
#[derive(Debug, Clone, Copy)]
pub(super) struct SimClock {
    start: Instant,
    factor: f64,
}

impl SimClock {
    /// A clock at simulated second 0 now, running `factor` times as fast as real time.
    pub(super) fn new(factor: f64) -> Self {
        Self {
            start: Instant::now(),
            factor,
        }
    }

    /// Simulated seconds since the simulator started.
    pub(super) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * self.factor
    }

    /// Simulated seconds per real second.
    pub(super) fn factor(&self) -> f64 {
        self.factor
    }
}
