//! EnableImageDeprecation: EC2's rules for the time, and DescribeImages reporting it.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::*;
use crate::domain::codes;

fn settled() -> SimSettings {
    SimSettings {
        sim_settle_seconds: 0.0,
        ..settings()
    }
}

async fn deprecated_at(world: &SimBackends, region_code: &str, image_id: &str) -> Option<DateTime<Utc>> {
    world
        .own()
        .describe_images(&region(region_code), &[image_id.to_owned()])
        .await
        .unwrap()[0]
        .deprecation_time
}

#[tokio::test(start_paused = true)]
async fn the_time_is_rounded_to_the_minute_recorded_and_reported() {
    let world = world(settled());
    let west = region("us-west-2");
    let image_id = copy_as(world.own().as_ref(), "to-deprecate").await.unwrap();
    advance_secs(30.0).await;
    assert_eq!(deprecated_at(&world, "us-west-2", &image_id).await, None);

    let minute = (Utc::now() + TimeDelta::days(90))
        .duration_trunc(TimeDelta::minutes(1))
        .unwrap();
    world
        .own()
        .enable_image_deprecation(&west, &image_id, minute + TimeDelta::seconds(40))
        .await
        .unwrap();
    let reported = deprecated_at(&world, "us-west-2", &image_id).await;
    assert_eq!(reported, Some(minute + TimeDelta::minutes(1)), "40 s round up");
    assert_eq!(
        world.simulator().image(&west, &image_id).unwrap().deprecation_time,
        reported
    );

    world
        .own()
        .enable_image_deprecation(&west, &image_id, minute + TimeDelta::seconds(10))
        .await
        .unwrap();
    assert_eq!(
        deprecated_at(&world, "us-west-2", &image_id).await,
        Some(minute),
        "a second call replaces the time"
    );
}

#[tokio::test(start_paused = true)]
async fn a_time_in_the_past_or_over_ten_years_ahead_is_refused() {
    let world = world(settled());
    let east = region("us-east-1");
    let own = world.own();
    let past = own
        .enable_image_deprecation(&east, BASE, Utc::now() - TimeDelta::hours(1))
        .await
        .unwrap_err();
    assert_eq!(past.code, codes::INVALID_PARAMETER_VALUE);
    assert!(past.message.contains("in the past"), "{past}");
    assert!(!past.retryable);
    let far = own
        .enable_image_deprecation(&east, BASE, Utc::now() + TimeDelta::days(3700))
        .await
        .unwrap_err();
    assert!(far.message.contains("10 years"), "{far}");
    assert_eq!(deprecated_at(&world, "us-east-1", BASE).await, None, "nothing recorded");
    own.enable_image_deprecation(&east, BASE, Utc::now() + TimeDelta::days(3000))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_public_image_at_most_two_years_after_it_was_created() {
    let world = world(settled());
    let east = region("us-east-1");
    let own = world.own();
    let public = LaunchPermissions {
        public: true,
        ..LaunchPermissions::default()
    };
    own.add_launch_permissions(&east, BASE, &public).await.unwrap();
    let created = world.simulator().image(&east, BASE).unwrap().creation_date;
    // The catalogue's images were made in January 2024: two years after is already past.
    let latest = created + TimeDelta::days(730);
    let error = own
        .enable_image_deprecation(&east, BASE, Utc::now().max(latest) + TimeDelta::days(1))
        .await
        .unwrap_err();
    assert_eq!(error.code, codes::INVALID_PARAMETER_VALUE);
    assert!(error.message.contains("2 years"), "{error}");

    let fresh = copy_as(own.as_ref(), "fresh-public").await.unwrap();
    advance_secs(30.0).await;
    let west = region("us-west-2");
    own.add_launch_permissions(&west, &fresh, &public).await.unwrap();
    own.enable_image_deprecation(&west, &fresh, Utc::now() + TimeDelta::days(700))
        .await
        .unwrap();
    let too_late = own
        .enable_image_deprecation(&west, &fresh, Utc::now() + TimeDelta::days(800))
        .await
        .unwrap_err();
    assert!(too_late.message.contains("2 years"), "{too_late}");
}

#[tokio::test(start_paused = true)]
async fn only_the_owner_may_deprecate() {
    let world = world(settled());
    share_base_with(&world, TEAM).await;
    let error = as_account(&world, TEAM)
        .enable_image_deprecation(&region("us-east-1"), BASE, Utc::now() + TimeDelta::days(1))
        .await
        .unwrap_err();
    assert_eq!(error.code, codes::UNAUTHORIZED_OPERATION);
}
