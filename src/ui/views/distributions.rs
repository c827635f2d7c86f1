//! The home page: the tenant's distributions, newest first, each with its state, its targets per
//! state and a bar of how many have ended. On the first page the rows are replaced live.

use maud::{Markup, html};

use super::{Chrome, Section, distribution_state, page, progress, time};
use crate::domain::Distribution;

/// The id of the rows the live list replaces.
pub const ROWS_ID: &str = "distribution-rows";

/// The distributions page. `next`: the link to the next page, if any; `live`: the stream that
/// keeps the rows current (the first page only).
pub fn list(chrome: &Chrome<'_>, distributions: &[Distribution], next: Option<&str>, live: Option<&str>) -> Markup {
    page(
        "Distributions",
        chrome,
        Section::Distributions,
        html! {
            div.heading {
                h1 { "Distributions" }
                @if live.is_some() {
                    p.live-status id="live-status" role="status" { "Updated when the page was loaded" }
                }
            }
            div.scroll data-live=[live] {
                table.list {
                    caption.visually-hidden { "Distributions, newest first" }
                    thead {
                        tr {
                            th scope="col" { "Distribution" }
                            th scope="col" { "State" }
                            th scope="col" { "Targets" }
                            th scope="col" { "Ended" }
                            th scope="col" { "Created" }
                        }
                    }
                    (rows(distributions))
                }
            }
            @if distributions.is_empty() {
                p.empty {
                    "No distributions yet. Start one with "
                    code { "amicopy copy --source-image AMI --source-region R --to R2 --to R3 --name 'NAME-{region}'" }
                    " and it appears here."
                }
            }
            @if let Some(next) = next {
                nav.pages aria-label="Pages" { a rel="next" href=(next) { "Older distributions →" } }
            }
        },
    )
}

/// The table body of `distributions`: what the live list replaces.
pub fn rows(distributions: &[Distribution]) -> Markup {
    html! {
        tbody id=(ROWS_ID) {
            @for distribution in distributions {
                @let counts = distribution.counts();
                @let id = distribution.id().to_string();
                @let ended = if counts.total() == 0 { 0.0 } else { f64::from(counts.ended()) * 100.0 / f64::from(counts.total()) };
                tr id={ "distribution-" (id) } {
                    td {
                        a.id href={ "/distributions/" (id) } { code { (id) } }
                        div.sub { (distribution.request().name) " · " (distribution.request().source_image_id) }
                    }
                    td { (distribution_state(distribution.state())) }
                    td { (counts) }
                    td {
                        (progress(ended, &format!("Targets ended of distribution {id}")))
                        span.sub { (counts.ended()) " of " (counts.total()) }
                    }
                    td { (time(distribution.created_at())) }
                }
            }
        }
    }
}
