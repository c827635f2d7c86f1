//! One job: its fields and where it stands (progress and time left while copying), its cancel
//! action, and its event history. Live updates replace the summary and the actions and append
//! each new event to the history.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{Chrome, Section, action, job_state, page, progress, time};
use crate::{
    domain::{JobEvent, JobState},
    ui::{estimate, model::JobView},
};

/// The id of the summary the live view replaces.
pub const SUMMARY_ID: &str = "job-summary";
/// The id of the actions the live view replaces.
pub const ACTIONS_ID: &str = "job-actions";
/// The id of the history the live view appends to.
pub const HISTORY_ID: &str = "job-history";

/// The job page with its `history`; `live` is the stream that keeps it current.
pub fn page_of(chrome: &Chrome<'_>, view: &JobView, history: &[JobEvent], now: DateTime<Utc>, live: &str) -> Markup {
    let id = view.id.to_string();
    page(
        &format!("Job {id}"),
        chrome,
        Section::Jobs,
        html! {
            nav.crumbs aria-label="Breadcrumb" {
                a href="/jobs" { "Jobs" } " / "
                @if let Some(distribution) = view.distribution_id {
                    a href={ "/distributions/" (distribution) } { "its distribution" }
                }
            }
            div.heading {
                h1 { "Job " code.id { (id) } }
                p.live-status id="live-status" role="status" { "Updated when the page was loaded" }
            }
            div data-live=(live) {
                (summary(view, now))
                (actions(view, chrome.csrf))
                h2 id="history-heading" { "History" }
                div.scroll {
                    table.list aria-labelledby="history-heading" {
                        thead {
                            tr {
                                th scope="col" { "#" }
                                th scope="col" { "When" }
                                th scope="col" { "State" }
                                th scope="col" { "Progress" }
                                th scope="col" { "What happened" }
                            }
                        }
                        tbody id=(HISTORY_ID) {
                            @for event in history { (event_row(event)) }
                        }
                    }
                }
            }
        },
    )
}

/// The job's fields and where it stands: what the live view replaces after every event.
pub fn summary(view: &JobView, now: DateTime<Utc>) -> Markup {
    html! {
        section.summary id=(SUMMARY_ID) aria-label="Summary" {
            dl {
                div { dt { "State" } dd { (job_state(view.state)) } }
                div { dt { "Progress" } dd {
                    (progress(view.percent(), "Progress of the job"))
                    @if let Some(left) = view.time_left(now) {
                        span.left { " about " (estimate::human(left)) " left" }
                    }
                } }
                div { dt { "Image" } dd { @match &view.image_id { Some(image) => code { (image) }, None => "not yet" } } }
                @if let Some(failure) = &view.failure {
                    div { dt { @if view.state == JobState::Failed { "Failure" } @else { "Last problem" } } dd.failure { (failure) } }
                }
                div { dt { "Source" } dd { code { (view.source_image_id) } " in " (view.source_region) } }
                div { dt { "Destination" } dd { (view.destination()) } }
                div { dt { "Name" } dd { code { (view.name) } } }
                div { dt { "Attempts" } dd { (view.attempts) } }
                div { dt { "Created" } dd { (time(view.created_at)) } }
                div { dt { "Updated" } dd { (time(view.updated_at)) } }
            }
        }
    }
}

/// Cancel, while the job has not ended, behind a confirmation.
pub fn actions(view: &JobView, csrf: Option<&str>) -> Markup {
    let id = view.id.to_string();
    let cancellable = !view.state.is_terminal() && view.state != JobState::Cancelling;
    html! {
        div.actions id=(ACTIONS_ID) {
            @if cancellable {
                (action(
                    &format!("/jobs/{id}/cancel"),
                    &format!("Cancel job {id}? Its copy is stopped and any image it made is deregistered."),
                    "Cancel job",
                    csrf,
                    true,
                ))
            }
        }
    }
}

/// One event of the history: what the live view appends.
pub fn event_row(event: &JobEvent) -> Markup {
    html! {
        tr id={ "event-" (event.sequence) } {
            td { (event.sequence) }
            td { (time(event.created_at)) }
            td { (job_state(event.state)) }
            td { @if let Some(percent) = event.progress_percent { (percent) "%" } }
            td { (event.detail) }
        }
    }
}
