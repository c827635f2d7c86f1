//! Bearer tokens: a JSON file lists the SHA-256 hash of each accepted token and the tenant it
//! acts for, so the file never holds a usable secret. A presented token is hashed and compared
//! with every entry in constant time.
//!
//! ```json
//! { "tokens": [ { "tenant": "team-a", "sha256": "<64 hex digits>", "name": "ci pipeline" } ] }
//! ```
//!
//! `name` is an optional label for people. Make a hash with `printf %s "$TOKEN" | sha256sum`.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

/// Longest tenant name accepted, in bytes.
pub const MAX_TENANT_LEN: usize = 128;

/// Why a tokens file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("cannot read the tokens file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON, or an entry is invalid.
    #[error("invalid tokens file {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the entry's position.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    tokens: Vec<TokenLine>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenLine {
    tenant: String,
    sha256: String,
    /// A label for people; not used by the server.
    #[serde(default, rename = "name")]
    _name: Option<String>,
}

/// One accepted token: its hash and its tenant.
#[derive(Debug, Clone)]
struct TokenEntry {
    hash: [u8; 32],
    tenant: String,
}

/// The accepted tokens, shared by every call and replaced whole by [`TokenStore::reload`].
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
    entries: Arc<RwLock<Arc<[TokenEntry]>>>,
}

impl TokenStore {
    /// Reads the tokens file at `path`.
    pub fn load(path: PathBuf) -> Result<Self, TokenFileError> {
        let entries = read_entries(&path)?;
        Ok(Self {
            path,
            entries: Arc::new(RwLock::new(entries)),
        })
    }

    /// The file the tokens come from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file and replaces the tokens with its entries, returning how many there
    /// are. On an error the tokens in use stay as they were.
    pub fn reload(&self) -> Result<usize, TokenFileError> {
        let entries = read_entries(&self.path)?;
        let count = entries.len();
        match self.entries.write() {
            Ok(mut current) => *current = entries,
            Err(poisoned) => *poisoned.into_inner() = entries,
        }
        Ok(count)
    }

    /// The tenant `token` acts for, or `None` when no entry matches. Every entry is compared,
    /// each in constant time, whether or not an earlier one matched.
    pub fn tenant_for(&self, token: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let entries = match self.entries.read() {
            Ok(entries) => Arc::clone(&entries),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (position, entry) in entries.iter().enumerate() {
            let matched = entry.hash.ct_eq(&digest) & !found;
            index.conditional_assign(&(position as u64), matched);
            found |= matched;
        }
        bool::from(found)
            .then(|| usize::try_from(index).ok())
            .flatten()
            .and_then(|position| entries.get(position))
            .map(|entry| entry.tenant.clone())
    }
}

/// Whether `tenant` is a usable tenant name: 1 to [`MAX_TENANT_LEN`] visible ASCII characters.
pub fn valid_tenant(tenant: &str) -> bool {
    !tenant.is_empty() && tenant.len() <= MAX_TENANT_LEN && tenant.bytes().all(|b| b.is_ascii_graphic())
}

fn read_entries(path: &Path) -> Result<Arc<[TokenEntry]>, TokenFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |message: String| TokenFileError::Invalid {
        path: path.to_owned(),
        message,
    };
    let file: TokenFile = serde_json::from_str(&text).map_err(|e| invalid(shape_error(&e)))?;
    file.tokens
        .into_iter()
        .enumerate()
        .map(|(position, line)| {
            if !valid_tenant(&line.tenant) {
                return Err(invalid(format!(
                    "tokens[{position}].tenant must be 1 to {MAX_TENANT_LEN} visible ASCII characters"
                )));
            }
            let mut hash = [0u8; 32];
            hex::decode_to_slice(line.sha256.trim(), &mut hash).map_err(|_| {
                invalid(format!(
                    "tokens[{position}].sha256 must be 64 hex digits (printf %s TOKEN | sha256sum)"
                ))
            })?;
            Ok(TokenEntry {
                hash,
                tenant: line.tenant,
            })
        })
        .collect()
}

/// Where and how the file's JSON is wrong, without serde's text: it quotes the values it did
/// not expect, and a misplaced value may be a token.
fn shape_error(error: &serde_json::Error) -> String {
    format!(
        "not the expected JSON ({:?} error at line {}, column {}); expected \
         {{\"tokens\": [{{\"tenant\": \"NAME\", \"sha256\": \"64 hex digits\"}}]}}",
        error.classify(),
        error.line(),
        error.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }

    fn write(dir: &tempfile::TempDir, body: &str) -> PathBuf {
        let path = dir.path().join("tokens.json");
        std::fs::write(&path, body).unwrap();
        path
    }

    #[test]
    fn a_listed_token_names_its_tenant_and_others_none() {
        let dir = tempfile::tempdir().unwrap();
        let body = format!(
            r#"{{"tokens":[{{"tenant":"a","sha256":"{}"}},{{"tenant":"b","sha256":"{}","name":"ci"}}]}}"#,
            hash("alpha"),
            hash("beta")
        );
        let store = TokenStore::load(write(&dir, &body)).unwrap();
        assert_eq!(store.tenant_for("alpha").as_deref(), Some("a"));
        assert_eq!(store.tenant_for("beta").as_deref(), Some("b"));
        assert_eq!(store.tenant_for("gamma"), None);
        assert_eq!(store.tenant_for(""), None);
    }

    #[test]
    fn a_bad_file_on_reload_keeps_the_previous_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            &format!(r#"{{"tokens":[{{"tenant":"a","sha256":"{}"}}]}}"#, hash("alpha")),
        );
        let store = TokenStore::load(path.clone()).unwrap();
        std::fs::write(&path, r#"{"tokens":[{"tenant":"a","sha256":"not-hex"}]}"#).unwrap();
        let error = store.reload().unwrap_err().to_string();
        assert!(error.contains("tokens[0].sha256"), "{error}");
        assert_eq!(store.tenant_for("alpha").as_deref(), Some("a"));
    }

    #[test]
    fn entries_need_a_tenant_and_a_full_hash() {
        let dir = tempfile::tempdir().unwrap();
        let short = write(&dir, r#"{"tokens":[{"tenant":"a","sha256":"abcd"}]}"#);
        assert!(TokenStore::load(short).is_err());
        let no_tenant = write(
            &dir,
            &format!(r#"{{"tokens":[{{"tenant":"","sha256":"{}"}}]}}"#, hash("x")),
        );
        assert!(TokenStore::load(no_tenant).unwrap_err().to_string().contains("tenant"));
        let unknown_field = write(&dir, r#"{"tokens":[],"token":"plain"}"#);
        assert!(TokenStore::load(unknown_field).is_err());
        let misplaced = write(&dir, r#"{"tokens":"plain-secret"}"#);
        let error = TokenStore::load(misplaced).unwrap_err().to_string();
        assert!(error.contains("line 1") && !error.contains("plain-secret"), "{error}");
    }
}
