//! Protection of the web view's state-changing requests (every POST) against cross-site request
//! forgery, in three layers:
//!
//! 1. The session cookie is `SameSite=Strict`, so another site's page cannot make the browser
//!    send it (with `--auth token` such a request is not even signed in).
//! 2. A POST whose `Origin` is not the web view's own, or that the browser marks as coming from
//!    another site (`Sec-Fetch-Site`), is refused.
//! 3. Every form carries a token derived from the session's secret (an HMAC-SHA256 of it), which
//!    another site can neither read nor compute; a POST without the right one is refused. This is
//!    what protects `--auth none` and `--auth mtls`, where the browser would authenticate a
//!    forged request by itself (there is no cookie to withhold, or the client certificate goes
//!    with every request).
//!
//! A script that authenticates with an `Authorization: Bearer` header needs no token: a browser
//! never adds that header to another site's request.

use axum::http::{HeaderMap, Uri, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::UiError;

/// What the HMAC of the session secret is computed over.
const PURPOSE: &[u8] = b"amicopy web view: csrf token v1";

/// The form token of a session with `secret`; `None` without a secret.
pub fn token(secret: &[u8]) -> Option<String> {
    if secret.is_empty() {
        return None;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(PURPOSE);
    Some(hex::encode(mac.finalize().into_bytes()))
}

/// Refuses a request that another site's page made: an `Origin` other than the web view's own
/// (`scheme://host` of the request), or `Sec-Fetch-Site` saying another site.
pub fn same_origin(headers: &HeaderMap, uri: &Uri, tls: bool) -> Result<(), UiError> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(UiError::Forbidden(format!(
            "this request came from another site ({site}); use the web view's own forms"
        )));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = uri
        .authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()));
    let scheme = if tls { "https" } else { "http" };
    let expected = host.map(|host| format!("{scheme}://{host}"));
    if expected
        .as_deref()
        .is_some_and(|expected| origin.as_bytes() == expected.as_bytes())
    {
        Ok(())
    } else {
        Err(UiError::Forbidden(
            "this request came from another origin; use the web view's own forms".to_owned(),
        ))
    }
}

/// Checks the token a form sent against the session's.
pub fn check(expected: Option<&str>, sent: &str) -> Result<(), UiError> {
    match expected {
        Some(expected) if !sent.is_empty() && bool::from(expected.as_bytes().ct_eq(sent.as_bytes())) => Ok(()),
        _ => Err(UiError::Forbidden(
            "the form's security token is missing or out of date; reload the page and try again".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn tokens_are_per_secret_and_need_one() {
        let a = token(b"secret-a").unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(token(b"secret-a").unwrap(), a, "stable for a session");
        assert_ne!(token(b"secret-b").unwrap(), a);
        assert_eq!(token(b""), None);
        assert!(check(Some(&a), &a).is_ok());
        assert!(check(Some(&a), "").is_err());
        assert!(check(Some(&a), &token(b"secret-b").unwrap()).is_err());
        assert!(check(None, "").is_err());
    }

    #[test]
    fn only_the_own_origin_may_post() {
        let uri: Uri = "/jobs/x/cancel".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers, &uri, false).is_ok(), "no Origin: a script");
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&headers, &uri, false).is_ok());
        assert!(same_origin(&headers, &uri, true).is_err(), "the scheme counts");
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(
            same_origin(&headers, &uri, false).is_err(),
            "an opaque origin is not ours"
        );
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(
            same_origin(&headers, &uri, false).is_err(),
            "another port is another origin"
        );
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(same_origin(&headers, &uri, false).is_err());
    }
}
