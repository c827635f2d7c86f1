//! The web view's script and style sheet, compiled into the binary (`include_str!`): nothing is
//! built with Node or fetched from elsewhere at run time. Served with an ETag, so a browser
//! revalidates them cheaply and never keeps an old one after an upgrade.

use std::sync::LazyLock;

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// The script: live updates, local times, confirmations.
const SCRIPT: &str = include_str!("assets/app.js");
/// The style sheet.
const STYLE: &str = include_str!("assets/app.css");

/// A short hash of both assets: their ETag, and the version in their links.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(SCRIPT.as_bytes())
        .chain_update(STYLE.as_bytes())
        .finalize();
    hex::encode(&digest[..8])
});

/// The assets' version, for cache-busting links.
pub fn version() -> &'static str {
    &VERSION
}

/// `GET /assets/app.js`.
pub async fn script(headers: HeaderMap) -> Response {
    serve(&headers, SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /assets/app.css`.
pub async fn style(headers: HeaderMap) -> Response {
    serve(&headers, STYLE, "text/css; charset=utf-8")
}

fn serve(headers: &HeaderMap, body: &'static str, content_type: &'static str) -> Response {
    let etag = format!("\"{}\"", version());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|sent| sent.as_bytes() == etag.as_bytes());
    let etag = HeaderValue::from_str(&etag).unwrap_or_else(|_| HeaderValue::from_static("\"amicopy\""));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, etag),
            cache,
        ],
        body,
    )
        .into_response()
}
