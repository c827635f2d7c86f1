//! ClientToken idempotency, DryRun and permission denial.

use super::*;
use crate::domain::codes;

#[tokio::test(start_paused = true)]
async fn same_token_same_params_returns_the_first_image() {
    let sim = simulator(settings());
    let first = sim.copy_image(&call(input("token-copy"), "token-1")).await.unwrap();
    let again = sim.copy_image(&call(input("token-copy"), "token-1")).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(sim.copies_started(), 1, "a replay starts nothing");
    advance_secs(30.0).await;
    let later = sim.copy_image(&call(input("token-copy"), "token-1")).await.unwrap();
    assert_eq!(first, later, "also after the copy ended");
}

#[tokio::test(start_paused = true)]
async fn same_token_other_params_is_mismatch() {
    let sim = simulator(settings());
    sim.copy_image(&call(input("token-copy"), "token-1")).await.unwrap();
    let mut other = input("token-copy");
    other.description = "changed".to_owned();
    let error = sim.copy_image(&call(other, "token-1")).await.unwrap_err();
    assert_eq!(error.code, codes::IDEMPOTENT_PARAMETER_MISMATCH);
    assert!(!error.retryable);
    assert_eq!(sim.copies_started(), 1);
}

#[tokio::test(start_paused = true)]
async fn tokens_are_scoped_to_the_destination_region() {
    let sim = simulator(settings());
    let west = sim.copy_image(&call(input("scoped"), "token-1")).await.unwrap();
    let mut to_europe = input("scoped");
    to_europe.destination_region = "eu-west-1".to_owned();
    let europe = sim.copy_image(&call(to_europe, "token-1")).await.unwrap();
    assert_ne!(west, europe);
    assert_eq!(sim.copies_started(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_empty_token_gives_no_idempotency() {
    let sim = simulator(settings());
    copy(&sim, input("untokened")).await.unwrap();
    let error = copy(&sim, input("untokened")).await.unwrap_err();
    assert_eq!(
        error.code,
        codes::INVALID_AMI_NAME_DUPLICATE,
        "a second call is a second copy"
    );
}

#[tokio::test(start_paused = true)]
async fn dry_run_answers_dry_run_operation_and_creates_nothing() {
    let sim = simulator(settings());
    let mut dry = call(input("dry"), "token-dry");
    dry.dry_run = true;
    let error = sim.copy_image(&dry).await.unwrap_err();
    assert!(error.is_dry_run_success(), "{error}");
    assert_eq!(sim.copies_started(), 0);
    assert!(
        sim.find_images_by_name(&region("us-west-2"), "dry")
            .await
            .unwrap()
            .is_empty()
    );
    let real = sim.copy_image(&call(input("dry"), "token-dry")).await;
    assert!(real.is_ok(), "the DryRun used neither the name nor the token: {real:?}");
}

#[tokio::test(start_paused = true)]
async fn a_denied_source_region_is_unauthorized_even_in_dry_run() {
    let sim = simulator(SimSettings {
        sim_deny_source_regions: vec!["us-east-1".to_owned()],
        ..settings()
    });
    let mut dry = call(input("denied"), "");
    dry.dry_run = true;
    assert_eq!(
        sim.copy_image(&dry).await.unwrap_err().code,
        codes::UNAUTHORIZED_OPERATION
    );
    let error = copy(&sim, input("denied")).await.unwrap_err();
    assert_eq!(error.code, codes::UNAUTHORIZED_OPERATION);
    assert!(!error.retryable);

    let mut from_west = input("allowed");
    from_west.source_image_id = "ami-0a1b2c3d4e5f60003".to_owned();
    from_west.source_region = "us-west-2".to_owned();
    assert!(copy(&sim, from_west).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn dry_run_is_throttled_before_it_is_answered() {
    let sim = simulator(SimSettings {
        sim_copy_image_burst: 1,
        ..settings()
    });
    copy(&sim, input("spends-the-token")).await.unwrap();
    let mut dry = call(input("dry-throttled"), "");
    dry.dry_run = true;
    let error = sim.copy_image(&dry).await.unwrap_err();
    assert_eq!(error.code, codes::REQUEST_LIMIT_EXCEEDED);
}
