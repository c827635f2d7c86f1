//! One distribution: its state as a whole (counts, a progress bar, the time left), its actions,
//! and a grid of its targets by account and Region, each cell with the target's state, percent,
//! image id and failure reason. Live updates replace the summary, the actions and single cells.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::{Chrome, Section, action, distribution_state, job_state, page, progress, time};
use crate::{
    domain::{DistributionState, FailurePolicy, JobState},
    ui::{
        estimate,
        model::{DistributionView, TargetView},
    },
};

/// The id of the summary the live view replaces.
pub const SUMMARY_ID: &str = "distribution-summary";
/// The id of the actions the live view replaces.
pub const ACTIONS_ID: &str = "distribution-actions";

/// The distribution page; `live` is the stream that keeps it current.
pub fn page_of(chrome: &Chrome<'_>, view: &DistributionView, now: DateTime<Utc>, live: &str) -> Markup {
    let id = view.id.to_string();
    page(
        &format!("Distribution {id}"),
        chrome,
        Section::Distributions,
        html! {
            nav.crumbs aria-label="Breadcrumb" { a href="/" { "Distributions" } " / " }
            div.heading {
                h1 { "Distribution " code.id { (id) } }
                p.live-status id="live-status" role="status" { "Updated when the page was loaded" }
            }
            div data-live=(live) {
                (summary(view, now))
                (actions(view, chrome.csrf))
                h2 id="targets-heading" { "Targets" }
                (grid(view))
            }
        },
    )
}

/// The state as a whole: what the live view replaces after every event.
pub fn summary(view: &DistributionView, now: DateTime<Utc>) -> Markup {
    let percent = view.percent();
    html! {
        section.summary id=(SUMMARY_ID) aria-label="Summary" {
            dl {
                div { dt { "State" } dd { (distribution_state(view.state)) } }
                div { dt { "Progress" } dd {
                    (progress(percent, "Progress of the whole distribution"))
                    @if let Some(left) = view.time_left(now) {
                        span.left { " about " (estimate::human(left)) " left" }
                    }
                } }
                div { dt { "Targets" } dd { (view.counts()) } }
                div { dt { "Source" } dd { code { (view.source_image_id) } " in " (view.source_region) } }
                div { dt { "Name" } dd { code { (view.name) } } }
                div { dt { "On failure" } dd { (match view.policy {
                    FailurePolicy::Continue => "the other targets continue",
                    FailurePolicy::RollBack => "everything is rolled back",
                }) } }
                div { dt { "Created" } dd { (time(view.created_at)) } }
                div { dt { "Updated" } dd { (time(view.updated_at)) } }
            }
        }
    }
}

/// Cancel (while running) and retry (once ended with failed or cancelled targets), each behind
/// a confirmation.
pub fn actions(view: &DistributionView, csrf: Option<&str>) -> Markup {
    let id = view.id.to_string();
    let retryable = matches!(
        view.state,
        DistributionState::PartiallySucceeded | DistributionState::Failed | DistributionState::Cancelled
    ) && {
        let counts = view.counts();
        counts.failed + counts.cancelled > 0
    };
    html! {
        div.actions id=(ACTIONS_ID) {
            @if view.state == DistributionState::Running {
                (action(
                    &format!("/distributions/{id}/cancel"),
                    &format!("Cancel distribution {id}? Every target that has not ended is cancelled; AVAILABLE ones keep their images."),
                    "Cancel distribution",
                    csrf,
                    true,
                ))
            }
            @if retryable {
                (action(
                    &format!("/distributions/{id}/retry"),
                    &format!("Retry distribution {id}? Every FAILED and CANCELLED target gets a new job; AVAILABLE ones are kept."),
                    "Retry failed targets",
                    csrf,
                    false,
                ))
            }
        }
    }
}

/// The targets by account (rows) and Region (columns).
pub fn grid(view: &DistributionView) -> Markup {
    let regions = view.regions();
    html! {
        div.scroll {
            table.grid aria-labelledby="targets-heading" {
                thead {
                    tr {
                        th scope="col" { "Account" }
                        @for region in &regions { th scope="col" { (region) } }
                    }
                }
                tbody {
                    @for account in view.accounts() {
                        tr {
                            th scope="row" {
                                @match &account {
                                    Some(account) => code { (account) },
                                    None => "own account",
                                }
                            }
                            @for region in &regions {
                                @match view.target(account.as_ref(), region) {
                                    Some(target) => (cell(target)),
                                    None => td.none { span.visually-hidden { "no target" } "—" },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One target's cell: what the live view replaces after the target's events.
pub fn cell(target: &TargetView) -> Markup {
    let label = target.label();
    html! {
        td.cell id=(target.dom_id()) data-state=(target.state.as_str()) {
            (job_state(target.state))
            @if target.state == JobState::Copying {
                (progress(target.percent(), &format!("Copy progress of {label}")))
            }
            @if let Some(image) = &target.image_id {
                div.image { code { (image) } @if target.rolled_back { " (rolled back)" } }
            }
            @if let Some(failure) = &target.failure {
                p.failure { (failure) }
            }
            div.sub {
                a href={ "/jobs/" (target.job_id) } aria-label={ "Job of " (label) } { "job" }
                @if target.generation > 1 { " · try " (target.generation) }
            }
        }
    }
}
