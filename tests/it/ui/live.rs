//! The live pages' event streams: every event of a distribution's or a job's history arrives as
//! one message with the event's sequence as its id, a dropped connection resumes after the last
//! id seen (`Last-Event-ID`) without losing or repeating one, the stream ends after the last
//! event, and the list of distributions follows distributions as they are created.

use amicopy::proto::DistributionState;
use hyper::StatusCode;

use super::{cell_id, world};
use crate::{
    distributions::request,
    support::{Database, copy_request},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distribution_stream_resumes_after_the_last_event_seen() {
    let (mut world, mut browser) = world(Database::Sqlite, &[]).await;
    let created = world
        .create(request("live", &["us-west-2", "eu-west-1"]))
        .await
        .expect("the distribution is accepted");
    let id = created.distribution_id.clone();
    let path = format!("/distributions/{id}/events?after=0");

    // Read a few events from the start, then drop the connection.
    let (status, mut events) = browser.events(&path, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = events.next().await.expect("an event");
        seen.push(event);
    }
    drop(events);

    // Reconnect as a browser does, with the id of the last event seen.
    let last = seen.last().and_then(|event| event.id).expect("events have ids");
    let (status, mut events) = browser.events(&path, Some(last)).await;
    assert_eq!(status, StatusCode::OK);
    seen.extend(events.until_end().await);

    let end = seen.pop().expect("an end message");
    assert!(end.is_end() && end.id.is_none(), "{end:?}");
    let ids: Vec<u64> = seen.iter().map(|event| event.id.expect("an id")).collect();
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(ids, expected, "every event once, in order");

    let finished = world.wait_state(&id, DistributionState::Succeeded).await;
    assert_eq!(
        ids.last().copied(),
        Some(finished.last_sequence),
        "up to the newest event"
    );
    // Every target's cell was replaced along the way, the last time as AVAILABLE.
    for target in &finished.targets {
        let cell = cell_id(target);
        let last_cell = seen
            .iter()
            .rev()
            .find_map(|event| event.replacement(&cell))
            .unwrap_or_else(|| panic!("no update of {cell}"));
        assert!(
            last_cell.contains("AVAILABLE") && last_cell.contains(&target.image_id),
            "{last_cell}"
        );
    }
    let summary = seen
        .last()
        .and_then(|event| event.replacement("distribution-summary"))
        .expect("every message replaces the summary");
    assert!(
        summary.contains("SUCCEEDED") && summary.contains("4 AVAILABLE"),
        "{summary}"
    );

    // Asked again after the end, the stream says there is nothing more (a browser stops).
    let (status, _) = browser.events(&path, Some(finished.last_sequence)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stream_appends_each_event_once_and_ends_with_the_job() {
    let (mut world, mut browser) = world(Database::Sqlite, &[]).await;
    let copy = world
        .server
        .copy(copy_request("live-job"))
        .await
        .expect("the copy is accepted");
    let path = format!("/jobs/{}/events?after=1", copy.job_id);
    let (status, mut events) = browser.events(&path, None).await;
    assert_eq!(status, StatusCode::OK);
    let first = events.next().await.expect("an event");
    drop(events);
    let (_, mut events) = browser.events(&path, first.id).await;
    let mut seen = vec![first];
    seen.extend(events.until_end().await);
    assert!(seen.pop().expect("an end message").is_end());

    let history = world.server.watch_to_end(&copy.job_id).await;
    let ids: Vec<u64> = seen.iter().filter_map(|event| event.id).collect();
    let expected: Vec<u64> = history.iter().map(|event| event.sequence).filter(|&s| s > 1).collect();
    assert_eq!(ids, expected, "every event after the first, once, in order");
    for (event, told) in seen.iter().zip(history.iter().skip(1)) {
        let row = event.appended("job-history").expect("each event appends a row");
        assert!(
            row.contains(&format!(r#"id="event-{}""#, told.sequence)) && row.contains(&told.detail),
            "{row}"
        );
    }
    let summary = seen
        .last()
        .and_then(|event| event.replacement("job-summary"))
        .expect("a summary");
    assert!(summary.contains("AVAILABLE"), "{summary}");
    let actions = seen
        .last()
        .and_then(|event| event.replacement("job-actions"))
        .expect("the actions");
    assert!(!actions.contains("Cancel job"), "{actions}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distribution_list_shows_a_new_distribution_without_a_reload() {
    let (mut world, mut browser) = world(Database::Sqlite, &[]).await;
    let (status, mut events) = browser.events("/events/distributions", None).await;
    assert_eq!(status, StatusCode::OK);
    let first = events.next().await.expect("the rows as they are");
    let rows = first.replacement("distribution-rows").expect("rows");
    assert!(!rows.contains("<tr"), "none yet: {rows}");

    let created = world
        .create(request("listed", &["us-west-2"]))
        .await
        .expect("the distribution is accepted");
    let mut shown = String::new();
    while !(shown.contains(&created.distribution_id) && shown.contains("SUCCEEDED")) {
        let event = events.next().await.expect("an update");
        shown = event.replacement("distribution-rows").expect("rows").to_owned();
    }
    assert!(shown.contains("2 AVAILABLE"), "{shown}");
    world.stop().await;
}
