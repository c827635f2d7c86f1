//! Actions through the pages: each is asked about first (a confirmation page when the form comes
//! without `confirm=yes`, as it does without JavaScript), then goes through the engine call the
//! gRPC API makes, and the page shows the result. With `--max-concurrent-copies 0` every copy
//! waits QUEUED, so nothing ends before the test acts on it.

use amicopy::proto::{self, DistributionState};
use hyper::StatusCode;

use super::{element, world};
use crate::{
    distributions::request,
    support::{Database, copy_request},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_cancelled_from_its_page_after_a_confirmation() {
    let (mut world, mut browser) = world(Database::Sqlite, &["--max-concurrent-copies", "0"]).await;
    let copy = world
        .server
        .copy(copy_request("to-cancel"))
        .await
        .expect("a queued job");
    let path = format!("/jobs/{}", copy.job_id);
    let page = browser.get(&path).await;
    let csrf = page.csrf();
    let action = format!("{path}/cancel");
    assert!(page.body.contains(&format!(r#"action="{action}""#)));

    // Without a confirmation: a page that asks, and nothing changes.
    let asked = browser.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked.body.contains(&format!("Cancel job {}?", copy.job_id)),
        "{}",
        asked.body
    );
    assert!(asked.body.contains(r#"name="confirm" value="yes""#) && asked.body.contains(&csrf));
    assert!(asked.body.contains(&format!(r#"href="{path}""#)), "a way back");
    assert_eq!(
        world.server.job(&copy.job_id).await.state,
        proto::CopyJobState::Queued as i32
    );

    // Confirmed: cancelled through the engine, and back to the job's page.
    let done = browser.post(&action, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.header("location"), Some(path.as_str()));
    let job = world
        .server
        .wait_for(&copy.job_id, |job| job.state == proto::CopyJobState::Cancelled as i32)
        .await;
    assert_eq!(job.state, proto::CopyJobState::Cancelled as i32);
    let after = browser.get(&path).await;
    assert!(element(&after.body, "job-summary", "</section>").contains("CANCELLED"));
    assert!(!after.body.contains("Cancel job"));

    // Again: refused as the gRPC call is, with why.
    let again = browser.post(&action, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.body.contains("already ended"), "{}", again.body);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_is_cancelled_and_retried_from_its_page() {
    let (mut world, mut browser) = world(Database::Sqlite, &["--max-concurrent-copies", "0"]).await;
    let created = world
        .create(request("cancel-retry", &["us-west-2", "eu-west-1"]))
        .await
        .expect("the distribution is accepted");
    let id = created.distribution_id.clone();
    let path = format!("/distributions/{id}");
    let page = browser.get(&path).await;
    assert!(page.body.contains("Cancel distribution") && !page.body.contains("Retry failed targets"));
    let csrf = page.csrf();

    let asked = browser.post(&format!("{path}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.body.contains(&format!("Cancel distribution {id}?")));
    assert_eq!(
        world.get(&id).await.state,
        DistributionState::Running as i32,
        "not before confirming"
    );
    let done = browser
        .post(&format!("{path}/cancel"), &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    world.wait_state(&id, DistributionState::Cancelled).await;

    let page = browser.get(&path).await;
    assert!(element(&page.body, "distribution-summary", "</section>").contains("CANCELLED"));
    assert!(page.body.contains("Retry failed targets") && !page.body.contains("Cancel distribution"));
    let retried = browser
        .post(&format!("{path}/retry"), &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    let running = world.wait_state(&id, DistributionState::Running).await;
    assert!(
        running.targets.iter().all(|target| target.generation == 2),
        "{running:#?}"
    );
    let page = browser.get(&path).await;
    assert!(page.body.contains("try 2"), "the cells show the new jobs");

    // Retrying a running distribution is refused as the gRPC call is.
    let refused = browser
        .post(&format!("{path}/retry"), &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("has not ended"), "{}", refused.body);
    world.stop().await;
}
