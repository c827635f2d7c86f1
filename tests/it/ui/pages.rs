//! Each page's HTML, read as a browser without JavaScript reads it: the distributions list, a
//! distribution's grid of targets, the jobs list with its filters and pages, a job with its
//! history; and what every answer carries.

use hyper::StatusCode;

use super::{cell_id, count, element, succeeded_distribution, world};
use crate::{
    distributions::TEAM,
    on_both,
    support::{Database, is_terminal},
};

on_both!(every_page_reads_without_javascript);

async fn every_page_reads_without_javascript(database: Database) {
    let (mut world, mut browser) = world(database, &[]).await;
    let distribution = succeeded_distribution(&mut world, "pages").await;
    let id = &distribution.distribution_id;

    // The home page: the distribution, its state, its targets per state, when it was made.
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.header("content-type"), Some("text/html; charset=utf-8"));
    let row = element(&home.body, &format!("distribution-{id}"), "</tr>");
    assert!(row.contains(&format!(r#"href="/distributions/{id}""#)), "{row}");
    assert!(
        row.contains("SUCCEEDED") && row.contains("4 AVAILABLE") && row.contains("4 of 4"),
        "{row}"
    );
    assert!(
        row.contains(r#"<time datetime=""#) && row.contains(" UTC</time>"),
        "{row}"
    );
    assert!(home.body.contains(r#"data-live="/events/distributions?limit=25""#));

    // The distribution: one cell per (account, Region) with its state and image.
    let page = browser.get(&format!("/distributions/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!(r#"/distributions/{id}/events?after="#)));
    assert!(
        page.body.contains("<th scope=\"col\">us-west-2</th>")
            && page.body.contains("<th scope=\"col\">eu-west-1</th>")
    );
    assert!(page.body.contains(&format!("<code>{TEAM}</code>")) && page.body.contains("own account"));
    assert_eq!(distribution.targets.len(), 4);
    for target in &distribution.targets {
        let cell = element(&page.body, &cell_id(target), "</td>");
        assert!(cell.contains("AVAILABLE"), "{cell}");
        assert!(cell.contains(&target.image_id), "{cell} shows {}", target.image_id);
        assert!(cell.contains(&format!("/jobs/{}", target.job_id)), "{cell}");
    }
    let summary = element(&page.body, "distribution-summary", "</section>");
    assert!(
        summary.contains("SUCCEEDED") && summary.contains("4 AVAILABLE"),
        "{summary}"
    );
    assert!(summary.contains(r#"value="100.0""#), "the whole is done: {summary}");
    assert!(
        !page.body.contains("Cancel distribution"),
        "nothing to cancel once ended"
    );

    // The jobs: all four, then filtered by state and Region, then a page at a time.
    let jobs = browser.get("/jobs").await;
    assert_eq!(jobs.status, StatusCode::OK);
    for target in &distribution.targets {
        assert!(jobs.body.contains(&format!(r#"href="/jobs/{}""#, target.job_id)));
    }
    let west = browser.get("/jobs?state=available&region=us-west-2").await;
    assert_eq!(count(&west.body, r#"<a class="id" href="/jobs/"#), 2, "{}", west.body);
    assert!(west.body.contains(r#"<option value="available" selected>"#));
    assert!(west.body.contains(r#"value="us-west-2""#));
    let none = browser.get("/jobs?state=copying").await;
    assert_eq!(count(&none.body, r#"<a class="id" href="/jobs/"#), 0);
    assert!(none.body.contains("No jobs match."));
    let mut seen = Vec::new();
    let mut next = Some("/jobs?limit=3".to_owned());
    while let Some(path) = next.take() {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        seen.push(count(&page.body, r#"<a class="id" href="/jobs/"#));
        next = super::client::attribute_after(&page.body, r#"<a rel="next" href=""#)
            .map(|link| link.replace("&amp;", "&"));
    }
    assert_eq!(seen, vec![3, 1], "four jobs, three to a page");

    // A job: its fields, and its whole history as the gRPC watch tells it.
    let target = &distribution.targets[0];
    let job = browser.get(&format!("/jobs/{}", target.job_id)).await;
    assert_eq!(job.status, StatusCode::OK);
    let summary = element(&job.body, "job-summary", "</section>");
    assert!(
        summary.contains("AVAILABLE") && summary.contains(&target.image_id),
        "{summary}"
    );
    assert!(
        summary.contains("ami-0a1b2c3d4e5f60001") && summary.contains("us-east-1"),
        "{summary}"
    );
    assert!(job.body.contains(&format!(r#"href="/distributions/{id}""#)));
    let history = world.server.watch_to_end(&target.job_id).await;
    assert!(history.len() >= 3, "{history:?}");
    let rows = element(&job.body, "job-history", "</tbody>");
    assert_eq!(count(rows, "<tr id=\"event-"), history.len(), "{rows}");
    for event in &history {
        assert!(rows.contains(&format!(r#"id="event-{}""#, event.sequence)), "{rows}");
    }
    assert!(!job.body.contains("Cancel job"), "an AVAILABLE job cannot be cancelled");

    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_security_headers_and_assets_are_compiled_in() {
    let (world, mut browser) = world(Database::Sqlite, &[]).await;
    let home = browser.get("/").await;
    let policy = home
        .header("content-security-policy")
        .expect("a content security policy");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"),
        "{policy}"
    );
    assert_eq!(home.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(home.header("cache-control"), Some("no-store"));
    assert!(home.body.contains("No distributions yet"));

    let script_link = super::client::attribute_after(&home.body, r#"<script src=""#).expect("a script");
    let script = browser.get(&script_link).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
    assert!(
        script.body.contains("EventSource") && !script.body.contains("http://") && !script.body.contains("https://")
    );
    let etag = script.header("etag").expect("an ETag").to_owned();
    let mut revalidate = browser.clone();
    let request = revalidate
        .request(hyper::Method::GET, "/assets/app.js", "*/*")
        .header("if-none-match", etag)
        .body(super::client::empty())
        .unwrap();
    assert_eq!(revalidate.send(request).await.status, StatusCode::NOT_MODIFIED);
    let style = browser.get("/assets/app.css").await;
    assert_eq!(style.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(!style.body.contains("url("), "nothing fetched from elsewhere");

    assert_eq!(browser.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    assert_eq!(browser.get("/jobs/not-a-job").await.status, StatusCode::NOT_FOUND);
    let missing = browser.get(&format!("/distributions/{}", uuid_like())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("There is no distribution"), "{}", missing.body);
    let bad = browser.get("/jobs?region=mars-1").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("not a Region code"), "{}", bad.body);
    assert_eq!(browser.get("/jobs?state=lost").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(browser.get("/jobs?page=zzz").await.status, StatusCode::BAD_REQUEST);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_shows_its_progress_and_its_cancel_button() {
    let (mut world, mut browser) = world(Database::Sqlite, &["--max-concurrent-copies", "0"]).await;
    let copy = world
        .server
        .copy(crate::support::copy_request("queued-copy"))
        .await
        .expect("the copy is accepted");
    let job = browser.get(&format!("/jobs/{}", copy.job_id)).await;
    let summary = element(&job.body, "job-summary", "</section>");
    assert!(summary.contains("QUEUED"), "{summary}");
    assert!(job.body.contains("Cancel job") && job.body.contains(r#"data-confirm="Cancel job"#));
    assert!(!is_terminal(world.server.job(&copy.job_id).await.state));
    world.stop().await;
}

fn uuid_like() -> &'static str {
    "6f1c0f5e-2b7a-4c55-9a44-0d6c3f1d7e11"
}
