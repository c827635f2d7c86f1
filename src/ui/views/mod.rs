//! The web view's HTML, as maud templates: pure functions from the page's values to markup,
//! escaped by default. Pages are complete without JavaScript; the script only replaces the
//! fragments live updates bring (each fragment has the id of the element it replaces) and asks
//! for confirmations.
//!
//! Times are `<time datetime="…">` in UTC, readable as they are; the script shows them in the
//! viewer's zone.

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::domain::{DistributionState, JobState};

pub mod distribution;
pub mod distributions;
pub mod job;
pub mod jobs;
pub mod pages;

/// What the frame of every page shows of the viewer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chrome<'a> {
    /// The viewer's tenant, once known.
    pub tenant: Option<&'a str>,
    /// The session's form token, for the forms of the page.
    pub csrf: Option<&'a str>,
    /// Whether a sign-out button is shown (a browser signed in with a token).
    pub can_sign_out: bool,
}

/// Which part of the site a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Distributions, the home page.
    Distributions,
    /// Jobs.
    Jobs,
    /// Neither (sign-in, errors).
    Other,
}

/// Cache-busting suffix of the asset links: changes with the assets.
fn asset_version() -> &'static str {
    super::assets::version()
}

/// A whole page: the frame (navigation, who is looking, the confirmation dialog) around `body`.
pub fn page(title: &str, chrome: &Chrome<'_>, section: Section, body: Markup) -> Markup {
    let version = asset_version();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · amicopy" }
                link rel="stylesheet" href={ "/assets/app.css?v=" (version) };
                script src={ "/assets/app.js?v=" (version) } defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    nav aria-label="Main" {
                        a.brand href="/" { "amicopy" }
                        ul {
                            li { a href="/" aria-current=[(section == Section::Distributions).then_some("page")] { "Distributions" } }
                            li { a href="/jobs" aria-current=[(section == Section::Jobs).then_some("page")] { "Jobs" } }
                        }
                    }
                    @if let Some(tenant) = chrome.tenant {
                        div.who {
                            span { "Tenant " strong { (tenant) } }
                            @if chrome.can_sign_out {
                                form method="post" action="/sign-out" {
                                    (csrf_field(chrome.csrf))
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main id="main" { (body) }
                dialog id="confirm-dialog" aria-labelledby="confirm-question" {
                    form method="dialog" {
                        p id="confirm-question" {}
                        div.buttons {
                            button.danger id="confirm-yes" value="yes" { "Yes" }
                            button value="no" autofocus { "No, keep it" }
                        }
                    }
                }
            }
        }
    }
}

/// The hidden form field that carries the session's CSRF token.
pub fn csrf_field(csrf: Option<&str>) -> Markup {
    html! {
        @if let Some(csrf) = csrf {
            input type="hidden" name="csrf" value=(csrf);
        }
    }
}

/// A time, machine-readable and readable as UTC; the script shows it in the viewer's zone.
pub fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (at.format("%Y-%m-%d %H:%M:%S UTC")) }
    }
}

/// A job state as a badge: its name as the API spells it, and a class for its colour.
pub fn job_state(state: JobState) -> Markup {
    html! {
        span class={ "state state-" (state.as_str()) } { (state.as_str().to_uppercase()) }
    }
}

/// A distribution state as a badge.
pub fn distribution_state(state: DistributionState) -> Markup {
    html! {
        span class={ "state state-" (state.as_str()) } { (state.as_str().to_uppercase()) }
    }
}

/// A progress bar with its percentage written beside it; `label` names what progresses.
pub fn progress(percent: f64, label: &str) -> Markup {
    let percent = percent.clamp(0.0, 100.0);
    let shown = format!("{}%", percent.floor() as u32);
    html! {
        span.progress {
            progress max="100" value=(format!("{percent:.1}")) aria-label=(label) { (shown) }
            span.percent aria-hidden="true" { (shown) }
        }
    }
}

/// A form that asks before it changes anything: without JavaScript the server answers it with
/// a confirmation page; with it, a dialog asks `question` first. `danger`: the action stops
/// something.
pub fn action(path: &str, question: &str, button: &str, csrf: Option<&str>, danger: bool) -> Markup {
    html! {
        form.action method="post" action=(path) data-confirm=(question) {
            (csrf_field(csrf))
            button.danger[danger] type="submit" { (button) }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_are_machine_readable_and_read_as_utc_without_a_script() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 12, 30, 5).unwrap();
        assert_eq!(
            time(at).into_string(),
            r#"<time datetime="2026-12-06T12:30:05Z">2026-12-06 12:30:05 UTC</time>"#
        );
    }

    #[test]
    fn progress_bars_have_a_name_and_a_bounded_value() {
        let bar = progress(140.0, "Progress of x").into_string();
        assert!(
            bar.contains(r#"value="100.0""#) && bar.contains(r#"aria-label="Progress of x""#),
            "{bar}"
        );
        assert!(bar.contains(">100%<"), "{bar}");
    }

    #[test]
    fn text_from_outside_is_escaped() {
        let page = page(
            "<title>",
            &Chrome {
                tenant: Some("<b>t</b>"),
                csrf: Some("\"><script>"),
                can_sign_out: true,
            },
            Section::Other,
            html! { p { ("<script>alert(1)</script>") } },
        )
        .into_string();
        assert!(
            !page.contains("<script>alert") && page.contains("&lt;script&gt;alert(1)"),
            "{page}"
        );
        assert!(!page.contains("<b>t</b>") && !page.contains("\"><script>"), "{page}");
    }
}
