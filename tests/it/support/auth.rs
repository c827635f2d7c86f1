//! Helpers for authentication tests: two tenants' bearer tokens, a tokens file listing them by
//! hash, a server that demands them, and requests that carry them.

use std::path::Path;

use amicopy::proto;
use sha2::{Digest, Sha256};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use super::{Database, TestServer, TestStorage};

/// Tenant a's bearer token.
pub const TOKEN_A: &str = "token-of-tenant-a-3f9c1e";
/// Tenant b's bearer token.
pub const TOKEN_B: &str = "token-of-tenant-b-77d20a";

/// Writes a tokens file listing `entries` (tenant, token) by hash.
pub fn write_tokens(path: &Path, entries: &[(&str, &str)]) {
    let tokens: Vec<serde_json::Value> = entries
        .iter()
        .map(|(tenant, token)| {
            serde_json::json!({ "tenant": tenant, "sha256": hex::encode(Sha256::digest(token.as_bytes())) })
        })
        .collect();
    std::fs::write(path, serde_json::json!({ "tokens": tokens }).to_string()).unwrap();
}

/// A server with `--auth token` for tenants a and b, plus `extra` flags.
pub async fn token_server(database: Database, extra: &[&str]) -> (TestServer, TestStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    write_tokens(&tokens, &[("a", TOKEN_A), ("b", TOKEN_B)]);
    let mut flags = vec!["--auth", "token", "--auth-tokens-file", tokens.to_str().unwrap()];
    flags.extend_from_slice(extra);
    let storage = TestStorage::new(database).await;
    let server = storage.start(&flags, None).await;
    (server, storage, dir)
}

/// `message` with `authorization: Bearer <token>`.
pub fn bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// Asserts an UNAUTHENTICATED answer with ErrorInfo AuthFailure whose message says `says`.
pub fn assert_auth_failure(status: &Status, says: &str) {
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!((info.domain.as_str(), info.reason.as_str()), ("amicopy", "AuthFailure"));
    assert!(
        status.message().contains(says),
        "{:?} should say {says:?}",
        status.message()
    );
}

/// A ListCopyJobs call with `token`.
pub fn list(token: &str) -> Request<proto::ListCopyJobsRequest> {
    bearer(proto::ListCopyJobsRequest::default(), token)
}
