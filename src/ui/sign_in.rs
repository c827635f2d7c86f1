//! Signing in and out (with `--auth token`): the sign-in form takes the bearer token and the
//! server keeps it in the session cookie ([`super::session`]); it never appears in a URL, a page
//! or a log. With other modes there is nothing to sign in to.

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use tracing::{debug, info};

use super::{browse::html, csrf, error::UiError, session, state::Shared, viewer::Viewer, views};
use crate::auth::Authenticator;

/// The query of the sign-in page.
#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    /// Where to go after signing in.
    #[serde(default)]
    pub next: Option<String>,
}

/// The sign-in form as posted.
#[derive(Deserialize)]
pub struct SignInForm {
    /// The bearer token.
    #[serde(default)]
    token: String,
    /// Where to go after signing in.
    #[serde(default)]
    next: String,
}

/// The sign-out form as posted.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    /// The session's form token.
    #[serde(default)]
    csrf: String,
}

/// `GET /sign-in`: the form, or the home page when there is nothing to sign in to.
pub async fn form(State(state): State<Shared>, Query(query): Query<SignInQuery>) -> Response {
    if !matches!(state.authenticator, Authenticator::Token(_)) {
        return Redirect::to("/").into_response();
    }
    html(views::pages::sign_in(&local_path(query.next.as_deref()), false))
}

/// `POST /sign-in`: a token the tokens file accepts becomes the session; another is refused
/// without being repeated.
pub async fn submit(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<SignInForm>,
) -> Result<Response, UiError> {
    let Authenticator::Token(tokens) = &state.authenticator else {
        return Ok(Redirect::to("/").into_response());
    };
    // No session yet to derive a form token from: only the origin protects this form, which is
    // enough to stop another site from signing the browser in as someone else.
    csrf::same_origin(&headers, &uri, state.tls)?;
    let next = local_path(Some(&form.next));
    let token = form.token.trim();
    match tokens.tenant_for(token) {
        Some(tenant) => {
            info!(tenant, "web view sign-in");
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session::set_cookie(token.as_bytes(), state.tls));
            Ok(response)
        }
        None => {
            debug!("web view sign-in refused: unknown token");
            let mut response = html(views::pages::sign_in(&next, true));
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            Ok(response)
        }
    }
}

/// `POST /sign-out`: ends the session.
pub async fn sign_out(
    State(state): State<Shared>,
    viewer: Viewer,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<SignOutForm>,
) -> Result<Response, UiError> {
    viewer.check_form(&headers, &uri, state.tls, &form.csrf)?;
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::clear_cookie(state.tls));
    Ok(response)
}

/// `next` when it is a path of this site, else the home page: a sign-in link cannot send the
/// browser elsewhere.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains(['\\', '\r', '\n']) => {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_returned_to() {
        assert_eq!(local_path(Some("/jobs?state=copying")), "/jobs?state=copying");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
