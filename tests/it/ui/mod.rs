//! The web view (`--ui-listen`) as a browser and a script meet it: a real server (the simulator
//! with a second account, as for the distribution tests) with its web view on a loopback port,
//! talked to over real HTTP with hyper's client. What a page shows is read from its HTML (no
//! JavaScript needed); live updates from its event stream. The same scenario in a real headless
//! Chromium is `tests/browser/` (run by `.ci/run`).

mod actions;
mod client;
mod live;
mod pages;
mod security;

use amicopy::proto::{self, DistributionState};

use crate::{
    distributions::{World, request},
    support::Database,
};

pub use client::Browser;

/// A world (server, simulator with [`TEAM`]) whose server also serves the web view, started with
/// `extra` flags.
pub async fn world(database: Database, extra: &[&str]) -> (World, Browser) {
    let mut flags = vec!["--ui-listen", "127.0.0.1:0"];
    flags.extend_from_slice(extra);
    let world = World::start(database, &flags).await;
    let browser = Browser::new(world.server.ui_addr.expect("the web view listens"));
    (world, browser)
}

/// A distribution of the base image into us-west-2 and eu-west-1 of the own account and
/// [`TEAM`] (four targets), created and carried to SUCCEEDED.
pub async fn succeeded_distribution(world: &mut World, name: &str) -> proto::Distribution {
    let created = world
        .create(request(name, &["us-west-2", "eu-west-1"]))
        .await
        .expect("the distribution is accepted");
    world
        .wait_state(&created.distribution_id, DistributionState::Succeeded)
        .await
}

/// How many times `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The id of a target's cell in the distribution page.
pub fn cell_id(target: &proto::TargetStatus) -> String {
    if target.account_id.is_empty() {
        format!("target-own-{}", target.region)
    } else {
        format!("target-{}-{}", target.account_id, target.region)
    }
}

/// The text of the element with `id` in `html`, up to its end tag `close` (a rough cut that is
/// enough for the cells and rows of these pages).
pub fn element<'a>(html: &'a str, id: &str, close: &str) -> &'a str {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no element {id} in the page"));
    let end = html[start..].find(close).map_or(html.len(), |end| start + end);
    &html[start..end]
}
