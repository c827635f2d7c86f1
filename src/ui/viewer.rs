//! Who is looking: every page, stream and action of the web view authenticates exactly as a gRPC
//! call does, with the same authenticator. `--auth none`: the default tenant. `--auth token`: an
//! `Authorization: Bearer` header (scripts) or the token the browser signed in with, kept in the
//! session cookie ([`super::session`]); either is looked up in the same tokens file, so a token
//! revoked by SIGHUP stops working here too. `--auth mtls`: the client certificate of the
//! connection, its tenant named as for gRPC.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Uri, header, request::Parts},
};

use super::{csrf, error::UiError, session::Session, state::Shared, views::Chrome};
use crate::auth::{Authenticator, DEFAULT_TENANT, layer::bearer_token};

/// What the connection a request came on proved: the tenant its client certificate names, when
/// the web view is served over TLS and the client presented one.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The client certificate's tenant.
    pub client_tenant: Option<String>,
}

/// How a viewer authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Nobody is asked (`--auth none`).
    Open,
    /// A bearer token in the `Authorization` header (a script).
    Header,
    /// The bearer token the browser signed in with.
    Session,
    /// A client certificate.
    Certificate,
}

/// The authenticated viewer of one request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The tenant whose jobs and distributions the viewer sees, and the only ones.
    pub tenant: String,
    /// How they proved it.
    pub proof: Proof,
    /// The token the session's forms carry; `None` for a script authenticated by its header.
    pub csrf: Option<String>,
}

impl Viewer {
    /// What the page's frame shows of the viewer.
    pub fn chrome(&self) -> Chrome<'_> {
        Chrome {
            tenant: Some(&self.tenant),
            csrf: self.csrf.as_deref(),
            can_sign_out: self.proof == Proof::Session,
        }
    }

    /// Refuses a state-changing request that another site may have made (see [`csrf`]): one from
    /// another origin, or whose form token is not the session's. A script authenticated by its
    /// `Authorization` header needs no form token.
    pub fn check_form(&self, headers: &HeaderMap, uri: &Uri, tls: bool, sent: &str) -> Result<(), UiError> {
        if self.proof == Proof::Header {
            return Ok(());
        }
        csrf::same_origin(headers, uri, tls)?;
        csrf::check(self.csrf.as_deref(), sent)
    }
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<Session>().cloned().unwrap_or_default();
        let csrf = csrf::token(session.secret());
        match &state.authenticator {
            Authenticator::None => Ok(Self {
                tenant: DEFAULT_TENANT.to_owned(),
                proof: Proof::Open,
                csrf,
            }),
            Authenticator::Mtls => {
                let tenant = parts
                    .extensions
                    .get::<Connection>()
                    .and_then(|connection| connection.client_tenant.clone());
                tenant
                    .map(|tenant| Self {
                        tenant,
                        proof: Proof::Certificate,
                        csrf,
                    })
                    .ok_or_else(|| UiError::Unauthenticated {
                        message: "This server needs a client certificate signed by its client CA whose first DNS \
                                  name (or subject CN) names the tenant."
                            .to_owned(),
                        bearer: false,
                    })
            }
            Authenticator::Token(tokens) => {
                if let Some(token) = bearer_token(&parts.headers) {
                    return tokens
                        .tenant_for(token)
                        .map(|tenant| Self {
                            tenant,
                            proof: Proof::Header,
                            csrf: None,
                        })
                        .ok_or_else(|| UiError::Unauthenticated {
                            message: "The bearer token is not accepted (unknown or revoked): send \
                                      `Authorization: Bearer <token>` with a token the operator issued."
                                .to_owned(),
                            bearer: true,
                        });
                }
                let signed_in = session.token().and_then(|token| tokens.tenant_for(token));
                match signed_in {
                    Some(tenant) => Ok(Self {
                        tenant,
                        proof: Proof::Session,
                        csrf,
                    }),
                    None => Err(sign_in_needed(parts, session.token().is_some())),
                }
            }
        }
    }
}

/// A browser viewing a page is sent to sign in; anything else (a live stream, a script, a form
/// post) is told it is not authenticated. `expired`: the session's token is no longer accepted.
fn sign_in_needed(parts: &Parts, expired: bool) -> UiError {
    let page_view = parts.method == axum::http::Method::GET
        && parts
            .headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if page_view {
        return UiError::SignIn {
            next: parts.uri.path_and_query().map_or("/", |path| path.as_str()).to_owned(),
            clear: expired,
        };
    }
    UiError::Unauthenticated {
        message: if expired {
            "The token this browser signed in with is no longer accepted; sign in again.".to_owned()
        } else {
            "Sign in first (the sign-in page is /sign-in), or send `Authorization: Bearer <token>`.".to_owned()
        },
        bearer: true,
    }
}
