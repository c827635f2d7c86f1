//! Random faults and ids, from one seeded generator so a run with `--sim-seed` repeats exactly.

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{
    backend::BackendError,
    domain::{Failure, codes},
};

/// A transient error to answer with, and whether it comes after the call took effect.
#[derive(Debug)]
pub(super) struct Fault {
    /// What the caller is told.
    pub(super) error: BackendError,
    /// The call is carried out and only the answer is lost (InternalError and Unavailable
    /// only: EC2 throttles before doing anything).
    pub(super) after_effect: bool,
}

/// The simulator's dice.
#[derive(Debug)]
pub(super) struct Faults {
    rng: StdRng,
    transient_rate: f64,
    copy_failure_rate: f64,
}

impl Faults {
    /// Dice seeded with `seed`, or from the operating system when there is none.
    pub(super) fn new(seed: Option<u64>, transient_rate: f64, copy_failure_rate: f64) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Self {
            rng,
            transient_rate,
            copy_failure_rate,
        }
    }

    /// A transient error for one call, at the configured rate.
    pub(super) fn transient(&mut self, operation: &str) -> Option<Fault> {
        if self.transient_rate <= 0.0 || !self.rng.random_bool(self.transient_rate) {
            return None;
        }
        let (code, message) = match self.rng.random_range(0..3) {
            0 => (codes::REQUEST_LIMIT_EXCEEDED, "Request limit exceeded."),
            1 => (
                codes::INTERNAL_ERROR,
                "An internal error has occurred. (simulated by --sim-transient-error-rate)",
            ),
            _ => (
                codes::UNAVAILABLE,
                "The service is unavailable. Please try again shortly. (simulated by --sim-transient-error-rate)",
            ),
        };
        let after_effect = code != codes::REQUEST_LIMIT_EXCEEDED && self.rng.random_bool(0.5);
        tracing::debug!(operation, code, after_effect, "simulated transient fault");
        Some(Fault {
            error: BackendError::from_code(code, message),
            after_effect,
        })
    }

    /// Whether a copy just started will fail, and when: a share (0..1) of its duration.
    pub(super) fn copy_failure(&mut self, snapshot_id: &str) -> Option<(f64, Failure)> {
        if self.copy_failure_rate <= 0.0 || !self.rng.random_bool(self.copy_failure_rate) {
            return None;
        }
        let share = self.rng.random_range(0.1..0.9);
        let reason = Failure::new(
            "Server.InternalError",
            format!("Copy of snapshot {snapshot_id} failed: internal error (simulated by --sim-copy-failure-rate)"),
        );
        Some((share, reason))
    }

    /// A new resource id: `prefix-` and 17 lowercase hex digits.
    pub(super) fn id(&mut self, prefix: &str) -> String {
        let value: u128 = self.rng.random();
        format!("{prefix}-{:017x}", value & ((1u128 << 68) - 1))
    }
}
