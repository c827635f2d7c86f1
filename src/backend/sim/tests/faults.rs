//! Seeded fault injection, copy failures and the time factor.

use super::*;
use crate::domain::codes;

/// The outcome of `calls` DescribeImages calls: the error code, or "ok".
async fn outcomes(seed: u64, calls: usize) -> Vec<String> {
    let sim = simulator(SimSettings {
        sim_seed: Some(seed),
        sim_transient_error_rate: 0.5,
        sim_describe_images_burst: 1000,
        ..settings()
    });
    let mut seen = Vec::new();
    for _ in 0..calls {
        seen.push(
            match sim.describe_images(&region("us-east-1"), &[BASE.to_owned()]).await {
                Ok(_) => "ok".to_owned(),
                Err(error) => {
                    assert!(error.retryable, "{error}");
                    error.code
                }
            },
        );
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn transient_faults_are_retryable_and_follow_the_seed() {
    let first = outcomes(7, 60).await;
    assert_eq!(first, outcomes(7, 60).await, "the same seed repeats the same faults");
    for code in [
        "ok",
        codes::REQUEST_LIMIT_EXCEEDED,
        codes::INTERNAL_ERROR,
        codes::UNAVAILABLE,
    ] {
        assert!(first.iter().any(|c| c == code), "{code} never happened: {first:?}");
    }
    assert_ne!(first, outcomes(8, 60).await);
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_may_hide_a_started_copy_that_a_retry_with_the_token_finds() {
    let mut lost_answers = 0;
    for seed in 0..40 {
        let sim = simulator(SimSettings {
            sim_seed: Some(seed),
            sim_transient_error_rate: 0.5,
            ..settings()
        });
        let mut answers = Vec::new();
        let image_id = loop {
            match sim.copy_image(&call(input("retried"), "retry-token")).await {
                Ok(id) => break id,
                Err(error) => {
                    assert!(error.retryable, "{error}");
                    answers.push(sim.copies_started());
                }
            }
        };
        assert_eq!(sim.copies_started(), 1, "retries with one token make one copy");
        assert_eq!(
            sim.find_images_by_name(&region("us-west-2"), "retried")
                .await
                .ok()
                .map_or(1, |f| f.len()),
            1
        );
        assert!(sim.image(&region("us-west-2"), &image_id).is_some());
        if answers.contains(&1) {
            lost_answers += 1;
        }
    }
    assert!(lost_answers > 0, "some faults came after the copy was made");
}

#[tokio::test(start_paused = true)]
async fn the_copy_failure_rate_fails_started_copies_with_a_reason() {
    let sim = simulator(SimSettings {
        sim_copy_failure_rate: 1.0,
        ..settings()
    });
    let image_id = copy(&sim, input("doomed")).await.unwrap();
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Pending);
    advance_secs(30.0).await;
    let image = sim.image(&region("us-west-2"), &image_id).unwrap();
    assert_eq!(image.state, ImageState::Failed);
    assert!(!image.state_reason.unwrap().message.is_empty());
    assert!(image.snapshots[0].progress_percent < 100);
}

#[tokio::test(start_paused = true)]
async fn the_time_factor_speeds_up_copies() {
    let sim = simulator(SimSettings::fast_for_tests());
    let image_id = copy(&sim, input("quick")).await.unwrap();
    advance_secs(0.9).await;
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Pending);
    advance_secs(0.1).await;
    assert_eq!(state_of(&sim, "us-west-2", &image_id).await, ImageState::Available);
}

#[test]
fn settings_out_of_range_are_refused_naming_the_flag() {
    for (settings, flag) in [
        (
            SimSettings {
                sim_transient_error_rate: 1.5,
                ..settings()
            },
            "--sim-transient-error-rate",
        ),
        (
            SimSettings {
                sim_time_factor: 0.0,
                ..settings()
            },
            "--sim-time-factor",
        ),
        (
            SimSettings {
                sim_account_id: "12".to_owned(),
                ..settings()
            },
            "--sim-account-id",
        ),
    ] {
        let error = Simulator::new(settings).unwrap_err();
        assert!(error.to_string().starts_with(flag), "{error}");
    }
}

#[test]
fn the_flags_parse_with_their_defaults() {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimSettings,
    }
    let cli = Cli::try_parse_from([
        "amicopyd",
        "--sim-deny-source-regions",
        "us-east-1,eu-west-1",
        "--sim-seed",
        "3",
    ])
    .unwrap();
    assert_eq!(cli.sim.sim_deny_source_regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(cli.sim.sim_seed, Some(3));
    assert_eq!(cli.sim.sim_copy_image_burst, 100);
    assert_eq!(cli.sim.sim_max_concurrent_copies, 300);
}
