//! The small pages: an error, the sign-in form, and the confirmation of an action asked without
//! JavaScript.

use maud::{Markup, html};

use super::{Chrome, Section, csrf_field, page};

/// An error page: what happened (`title`) and what to do (`message`).
pub fn problem(title: &str, message: &str) -> Markup {
    page(
        title,
        &Chrome::default(),
        Section::Other,
        html! {
            h1 { (title) }
            p.problem role="alert" { (message) }
            p { a href="/" { "Back to the distributions" } }
        },
    )
}

/// The sign-in form (with `--auth token`): the bearer token goes in a password field and is
/// posted to the server, which keeps it in an HttpOnly cookie; it is never put in a URL or a
/// page. `refused`: the last token tried was not accepted. `next`: where to go afterwards.
pub fn sign_in(next: &str, refused: bool) -> Markup {
    page(
        "Sign in",
        &Chrome::default(),
        Section::Other,
        html! {
            h1 { "Sign in" }
            @if refused {
                p.problem role="alert" id="sign-in-error" {
                    "That token is not accepted (unknown or revoked). Check it, or ask the operator for one."
                }
            }
            form.sign-in method="post" action="/sign-in" {
                input type="hidden" name="next" value=(next);
                label for="token" { "Bearer token" }
                input id="token" name="token" type="password" required autocomplete="off" spellcheck="false"
                    aria-describedby="token-help" aria-invalid=[refused.then_some("true")];
                p.help id="token-help" {
                    "The token your operator issued for your tenant, the one the CLI takes as "
                    code { "--token" } ". It is kept in a cookie scripts cannot read until you sign out or close the browser."
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The confirmation of an action that was posted without one (JavaScript off): `question`,
/// what happens (`consequence`), the same form again with `confirm=yes`, and the way back.
pub fn confirm(
    chrome: &Chrome<'_>,
    section: Section,
    question: &str,
    consequence: &str,
    action: &str,
    button: &str,
    back: &str,
) -> Markup {
    page(
        question,
        chrome,
        section,
        html! {
            h1 { (question) }
            p { (consequence) }
            form.confirm method="post" action=(action) {
                (csrf_field(chrome.csrf))
                input type="hidden" name="confirm" value="yes";
                div.buttons {
                    button.danger type="submit" { (button) }
                    a.button href=(back) { "No, go back" }
                }
            }
        },
    )
}
