//! Settings that make the engine and the simulator fast for tests: a tick every 50 ms, retries
//! after 20 ms, and a simulated copy that takes one real second. They live here rather than in
//! the service so that no preset for tests is part of its API, and they are made through the
//! flags (the service's stable surface), as `amicopyd` would parse them.

use amicopy::{backend::sim::SimSettings, config::Config, engine::EngineSettings};
use clap::Parser as _;

/// The engine with fast ticks and retries, a short lease and visibility grace, and EC2's limits.
pub fn fast_engine() -> EngineSettings {
    parse(&[
        "--tick-seconds",
        "0.05",
        "--track-min-interval-seconds",
        "0.05",
        "--track-max-interval-seconds",
        "1",
        "--lease-seconds",
        "5",
        "--retry-base-seconds",
        "0.02",
        "--retry-max-seconds",
        "0.2",
        "--visibility-grace-seconds",
        "10",
    ])
    .engine
}

/// The simulator fast and faultless: time runs 20 times as fast and a copy takes 20 simulated
/// seconds (one real second).
pub fn fast_sim() -> SimSettings {
    parse(&["--sim-time-factor", "20", "--sim-copy-seconds", "20"]).sim
}

fn parse(flags: &[&str]) -> Config {
    let argv = std::iter::once("amicopyd").chain(flags.iter().copied());
    Config::try_parse_from(argv).expect("the presets are valid flags")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_presets_are_fast() {
        let engine = fast_engine();
        assert_eq!(engine.tick, std::time::Duration::from_millis(50));
        assert_eq!(engine.retry_base, std::time::Duration::from_millis(20));
        assert_eq!(
            engine.max_attempts, 8,
            "EC2's limits and the retry count stay the defaults"
        );
        assert_eq!(engine.max_concurrent_copies, 300);
        let sim = fast_sim();
        assert_eq!(
            sim.sim_copy_seconds / sim.sim_time_factor,
            1.0,
            "a copy takes one real second"
        );
        assert_eq!(sim.sim_transient_error_rate, 0.0);
    }
}
