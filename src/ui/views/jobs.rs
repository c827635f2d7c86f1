//! The jobs page: the tenant's jobs, newest first, filtered by state and destination Region, a
//! page at a time.

use maud::{Markup, html};

use super::{Chrome, Section, job_state, page, progress, time};
use crate::{
    domain::{Job, JobState},
    ui::estimate,
};

/// The filters the page was asked for, as given (so the form shows them again).
#[derive(Debug, Clone, Default)]
pub struct Filters<'a> {
    /// A state name (`copying`), or none for any.
    pub state: Option<JobState>,
    /// A destination Region, or none for any.
    pub region: Option<&'a str>,
}

/// The jobs page. `next`: the link to the next page, if any.
pub fn list(chrome: &Chrome<'_>, filters: &Filters<'_>, jobs: &[Job], next: Option<&str>) -> Markup {
    page(
        "Jobs",
        chrome,
        Section::Jobs,
        html! {
            h1 { "Jobs" }
            form.filters method="get" action="/jobs" role="search" aria-label="Filter jobs" {
                div {
                    label for="state" { "State" }
                    select id="state" name="state" {
                        option value="" selected[filters.state.is_none()] { "any" }
                        @for state in JobState::ALL {
                            option value=(state.as_str()) selected[filters.state == Some(state)] { (state.as_str().to_uppercase()) }
                        }
                    }
                }
                div {
                    label for="region" { "Destination Region" }
                    input id="region" name="region" type="text" value=(filters.region.unwrap_or_default())
                        placeholder="any, e.g. us-west-2" autocomplete="off" spellcheck="false";
                }
                button type="submit" { "Filter" }
            }
            div.scroll {
                table.list {
                    caption.visually-hidden { "Jobs, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Job" }
                            th scope="col" { "State" }
                            th scope="col" { "From → to" }
                            th scope="col" { "Progress" }
                            th scope="col" { "Image" }
                            th scope="col" { "Created" }
                        }
                    }
                    tbody {
                        @for job in jobs {
                            @let request = job.request();
                            @let id = job.id().to_string();
                            tr {
                                td {
                                    a.id href={ "/jobs/" (id) } { code { (id) } }
                                    div.sub { (request.name) }
                                }
                                td { (job_state(job.state())) }
                                td {
                                    (request.source_region) " → "
                                    (crate::domain::distribution::label(request.destination_account.as_ref(), &request.destination_region))
                                    @if let Some(distribution) = job.distribution_id() {
                                        div.sub { a href={ "/distributions/" (distribution) } { "in a distribution" } }
                                    }
                                }
                                td { (progress(estimate::job_percent(job.state(), job.progress_percent()), &format!("Progress of job {id}"))) }
                                td { @if let Some(image) = job.image_id() { code { (image) } } }
                                td { (time(job.created_at())) }
                            }
                        }
                    }
                }
            }
            @if jobs.is_empty() {
                p.empty { "No jobs match." }
            }
            @if let Some(next) = next {
                nav.pages aria-label="Pages" { a rel="next" href=(next) { "Older jobs →" } }
            }
        },
    )
}
