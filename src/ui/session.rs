//! The browser's session cookie, `amicopy_session`: HttpOnly (no script reads it), SameSite=Strict
//! (no other site's page sends it), Secure when the web view is served over TLS, and without an
//! expiry (it ends with the browser session).
//!
//! With `--auth token` it holds the bearer token the viewer signed in with (hex-encoded, so any
//! token fits in a cookie), and every request is authenticated with it exactly as a gRPC call
//! with that token would be: a token revoked by SIGHUP stops working at once, and nothing is kept
//! on the server. With `--auth none` or `--auth mtls` it holds a random value given to the browser
//! on its first visit, which only ties forms to the browser (see [`super::csrf`]). Either way it is
//! the secret the session's CSRF token is derived from.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use rand::RngCore;

use super::state::Shared;
use crate::auth::Authenticator;

/// The cookie's name.
pub const COOKIE: &str = "amicopy_session";

/// The session secret a request carried (or was just given), in the request's extensions.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The secret's bytes: the bearer token with `--auth token`, random bytes otherwise; empty
    /// before a token sign-in.
    secret: Vec<u8>,
}

impl Session {
    /// The session's secret; empty when there is none.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The bearer token the viewer signed in with (with `--auth token`).
    pub fn token(&self) -> Option<&str> {
        std::str::from_utf8(&self.secret).ok().filter(|token| !token.is_empty())
    }
}

/// Reads the session cookie into the request's extensions; without `--auth token`, gives a
/// browser that has none a fresh random one.
pub async fn middleware(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let carried = cookie(request.headers(), COOKIE).and_then(|value| hex::decode(value).ok());
    let token_mode = matches!(state.authenticator, Authenticator::Token(_));
    let (session, issued) = match carried {
        Some(secret) if !secret.is_empty() => (Session { secret }, false),
        _ if token_mode => (Session::default(), false),
        _ => {
            let mut secret = vec![0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            (Session { secret }, true)
        }
    };
    let set_cookie = issued.then(|| set_cookie(session.secret(), state.tls));
    request.extensions_mut().insert(session);
    let mut response = next.run(request).await;
    if let Some(value) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The `Set-Cookie` value that keeps `secret` as the session.
pub fn set_cookie(secret: &[u8], tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let value = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
        hex::encode(secret)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("amicopy_session=; Path=/"))
}

/// The `Set-Cookie` value that ends the session.
pub fn clear_cookie(tls: bool) -> HeaderValue {
    if tls {
        HeaderValue::from_static("amicopy_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure")
    } else {
        HeaderValue::from_static("amicopy_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; amicopy_session=abcd"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, COOKIE), Some("abcd"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_tls() {
        let plain = set_cookie(b"tok;en", false);
        let plain = plain.to_str().unwrap();
        assert_eq!(plain, "amicopy_session=746f6b3b656e; Path=/; HttpOnly; SameSite=Strict");
        assert!(set_cookie(b"x", true).to_str().unwrap().ends_with("; Secure"));
        assert!(clear_cookie(true).to_str().unwrap().contains("Max-Age=0"));
    }
}
