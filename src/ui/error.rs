//! The one place the web view's errors become HTTP answers: a status and a page that says what
//! happened and what to do, never an internal cause (those are logged).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use tracing::{error, warn};

use super::{session, views};
use crate::{engine::EngineError, store::StoreError};

/// Everything a web view handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A browser that has not signed in (with `--auth token`): sent to the sign-in page, which
    /// returns it to `next` afterwards. `clear` ends a session whose token is no longer
    /// accepted.
    #[error("sign in first")]
    SignIn {
        /// The page to return to.
        next: String,
        /// Whether the session cookie must be cleared.
        clear: bool,
    },
    /// A request that did not authenticate and is not a browser's page view (a script, a live
    /// stream, a request without a client certificate).
    #[error("{message}")]
    Unauthenticated {
        /// What to send.
        message: String,
        /// Whether bearer tokens are what is expected (`WWW-Authenticate: Bearer`).
        bearer: bool,
    },
    /// No such job or distribution for this viewer (another tenant's is not found either).
    #[error("{0}")]
    NotFound(String),
    /// A malformed query or form.
    #[error("{0}")]
    BadRequest(String),
    /// A state-changing request that another site may have made.
    #[error("{0}")]
    Forbidden(String),
    /// The job's or distribution's state does not allow the action.
    #[error("{0}")]
    Refused(String),
    /// The viewer has as many live streams open as their tenant may.
    #[error("{0}")]
    TooManyStreams(String),
    /// The job database cannot be reached now.
    #[error("the job database cannot be reached right now; try again in a moment")]
    Unavailable,
    /// Anything else; the cause was logged.
    #[error("something went wrong on the server; the cause is in its log")]
    Internal,
}

impl From<StoreError> for UiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(id) => Self::NotFound(format!("There is no job {id} here.")),
            StoreError::DistributionNotFound(id) => Self::NotFound(format!("There is no distribution {id} here.")),
            StoreError::InvalidPageToken => Self::BadRequest(
                "That page link is not one this server made; start again from the first page.".to_owned(),
            ),
            StoreError::Unavailable(cause) => {
                warn!(error = %cause, "web view: job database unavailable");
                Self::Unavailable
            }
            other => {
                error!(error = %other, "web view: store error");
                Self::Internal
            }
        }
    }
}

impl From<EngineError> for UiError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Store(error) => error.into(),
            EngineError::AlreadyEnded { id, state } => Self::Refused(format!(
                "Job {id} has already ended ({}); there is nothing to cancel.",
                state.as_str().to_uppercase()
            )),
            EngineError::DistributionRefused { id, refusal } => Self::Refused(format!("Distribution {id}: {refusal}.")),
            EngineError::Backend(error) => Self::Refused(format!("EC2 refused: {error}")),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            Self::SignIn { next, clear } => {
                let mut response = Redirect::to(&format!("/sign-in?next={}", encode_path(next))).into_response();
                if *clear {
                    response
                        .headers_mut()
                        .append(header::SET_COOKIE, session::clear_cookie(false));
                }
                return response;
            }
            Self::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, "Not signed in"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "Not understood"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "Refused"),
            Self::Refused(_) => (StatusCode::CONFLICT, "Not possible now"),
            Self::TooManyStreams(_) => (StatusCode::TOO_MANY_REQUESTS, "Too many live views"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Server error"),
        };
        let mut response = (status, views::pages::problem(title, &self.to_string())).into_response();
        match &self {
            Self::Unauthenticated { bearer: true, .. } => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unavailable | Self::TooManyStreams(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

/// `path` as a query value: the characters a path may hold that a query value may not, escaped.
fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => encoded.push(byte as char),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_path_survives_the_sign_in_link() {
        assert_eq!(
            encode_path("/jobs?state=copying&page=a+b"),
            "/jobs%3Fstate%3Dcopying%26page%3Da%2Bb"
        );
    }

    #[test]
    fn another_tenants_job_and_a_missing_one_read_the_same() {
        let id = crate::domain::JobId::new();
        let error = UiError::from(StoreError::NotFound(id));
        assert!(matches!(&error, UiError::NotFound(message) if message.contains(&id.to_string())));
        assert_eq!(error.into_response().status(), StatusCode::NOT_FOUND);
    }
}
