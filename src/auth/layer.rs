//! A tower layer that authenticates every call before it reaches a service.
//!
//! An authenticated call gets a [`Caller`] in its request extensions and its tenant recorded on
//! the call's span; any other call is answered UNAUTHENTICATED with a message that says what to
//! send. Health checks and server reflection stay open. Tokens are never logged.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tonic::{
    body::Body,
    codegen::http,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};
use tower::{Layer, Service};
use tracing::debug;

use super::{Authenticator, caller::Caller, mtls::tenant_of_certificate};
use crate::domain::codes;

/// gRPC path prefixes served to anyone: health checks and server reflection.
pub const OPEN_PATHS: &[&str] = &["/grpc.health.v1.Health/", "/grpc.reflection."];

/// Installs [`AuthService`] around every gRPC service.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    authenticator: Arc<Authenticator>,
}

impl AuthLayer {
    /// A layer that authenticates calls with `authenticator`.
    pub fn new(authenticator: Authenticator) -> Self {
        Self {
            authenticator: Arc::new(authenticator),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: Arc::clone(&self.authenticator),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if OPEN_PATHS.iter().any(|open| request.uri().path().starts_with(open)) {
            return Box::pin(self.inner.call(request));
        }
        match authenticate(&self.authenticator, &request) {
            Ok(caller) => {
                tracing::Span::current().record("tenant", caller.tenant.as_str());
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(rejection) => {
                debug!(reason = rejection.log_reason, "call not authenticated");
                let response = auth_failure(rejection.message, rejection.scheme).into_http::<Body>();
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }
}

/// Why a call is refused: what the caller is told, and a short reason for the log.
struct Rejection {
    message: &'static str,
    scheme: &'static str,
    log_reason: &'static str,
}

fn authenticate<B>(authenticator: &Authenticator, request: &http::Request<B>) -> Result<Caller, Rejection> {
    match authenticator {
        Authenticator::None => Ok(Caller::unauthenticated()),
        Authenticator::Token(tokens) => {
            let token = bearer_token(request.headers()).ok_or(Rejection {
                message: "this server needs a bearer token: send `authorization: Bearer <token>` metadata",
                scheme: "bearer",
                log_reason: "no bearer token",
            })?;
            tokens
                .tenant_for(token)
                .map(|tenant| Caller { tenant })
                .ok_or(Rejection {
                    message: "the bearer token is not accepted (unknown or revoked): send \
                              `authorization: Bearer <token>` with a token the operator issued",
                    scheme: "bearer",
                    log_reason: "unknown bearer token",
                })
        }
        Authenticator::Mtls => {
            let certificates = request
                .extensions()
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(TlsConnectInfo::peer_certs);
            let tenant = certificates
                .as_deref()
                .and_then(|chain| chain.first())
                .and_then(|leaf| tenant_of_certificate(leaf.as_ref()));
            tenant.map(|tenant| Caller { tenant }).ok_or(Rejection {
                message: "this server needs a client certificate signed by its client CA whose first DNS \
                          name (or subject CN) names the tenant",
                scheme: "mtls",
                log_reason: "no usable client certificate",
            })
        }
    }
}

/// The token of an `authorization: Bearer <token>` header; the scheme is case-insensitive. The
/// web view reads scripts' tokens with it too.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The answer to a call that did not authenticate: UNAUTHENTICATED with an ErrorInfo whose
/// reason is EC2's [`codes::AUTH_FAILURE`], the scheme the server expects (`bearer` or `mtls`) in
/// its metadata, and `message` saying what to send.
pub fn auth_failure(message: &str, scheme: &str) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let mut details = ErrorDetails::new();
    details.set_error_info(
        codes::AUTH_FAILURE,
        codes::ERROR_DOMAIN,
        std::collections::HashMap::from([("scheme".to_owned(), scheme.to_owned())]),
    );
    tonic::Status::with_error_details(tonic::Code::Unauthenticated, message.to_owned(), details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_a_bearer_scheme_with_a_token_is_read() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&http::HeaderMap::new()), None);
    }
}
