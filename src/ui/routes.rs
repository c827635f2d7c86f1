//! Every path of the web view, and what every answer carries: security headers (a content
//! security policy that allows only the web view's own script, style and connections; no
//! framing; no referrer to other sites) and a log line without anything secret (method, path without its query,
//! status).

use std::time::Instant;

use axum::{
    Router,
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use tracing::debug;

use super::{actions, assets, browse, error::UiError, live, session, sign_in, state::Shared};

/// The content security policy of every answer: the page's own script and style only, live
/// streams and forms to itself only, never in a frame.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The web view's router over `state`.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(browse::distributions))
        .route("/distributions/{id}", get(browse::distribution))
        .route("/distributions/{id}/events", get(live::distribution::events))
        .route("/distributions/{id}/cancel", post(actions::cancel_distribution))
        .route("/distributions/{id}/retry", post(actions::retry_distribution))
        .route("/events/distributions", get(live::distributions::events))
        .route("/jobs", get(browse::jobs))
        .route("/jobs/{id}", get(browse::job))
        .route("/jobs/{id}/events", get(live::job::events))
        .route("/jobs/{id}/cancel", post(actions::cancel_job))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/assets/app.js", get(assets::script))
        .route("/assets/app.css", get(assets::style))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), session::middleware))
        .layer(middleware::from_fn(headers_and_log))
        .with_state(state)
}

async fn not_found() -> UiError {
    UiError::NotFound("There is no page here.".to_owned())
}

/// Adds the security headers to every answer and logs it.
async fn headers_and_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not no-referrer: with it a browser sends `Origin: null` on form posts, and the
        // same-origin check needs the real origin.
        (header::REFERRER_POLICY, "same-origin"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    debug!(
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "web view request answered"
    );
    response
}
