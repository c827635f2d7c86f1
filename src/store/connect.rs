//! Opening the store the configuration names: the URL's scheme picks the engine, and the
//! schema is migrated before the store is handed out.

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use sqlx::{postgres::PgConnectOptions, sqlite::SqliteConnectOptions};

use super::{JobStore, StoreError, postgres::PgStore, sqlite::SqliteStore};

/// The SQLite file in the data directory when no URL is given.
const DEFAULT_FILE: &str = "amicopy.db";

/// Which database a store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// SQLite (`sqlite:`; also the default without a URL).
    Sqlite,
}

impl DatabaseKind {
    /// The kind a URL's scheme names; `None` for a scheme no store speaks.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Opens the job store and migrates it.
///
/// - `None`: SQLite in `data_dir/amicopy.db` (the directory is created if needed);
/// - `sqlite://PATH` (or `sqlite:PATH`): that SQLite file, created if missing;
/// - `postgres://…` or `postgresql://…`: PostgreSQL.
///
/// Start-up connects at once, so a database that cannot be reached fails within `timeout`
/// with [`StoreError::Unavailable`]; `timeout` also bounds every later wait for a connection.
pub async fn connect(url: Option<&str>, data_dir: &Path, timeout: Duration) -> Result<Arc<dyn JobStore>, StoreError> {
    let store: Arc<dyn JobStore> = match url {
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::Internal(format!("cannot create the data directory {}: {e}", data_dir.display()).into())
            })?;
            let options = SqliteConnectOptions::new().filename(data_dir.join(DEFAULT_FILE));
            Arc::new(SqliteStore::connect(options, timeout).await?)
        }
        Some(url) if DatabaseKind::of_url(url) == Some(DatabaseKind::Sqlite) => {
            let options = SqliteConnectOptions::from_str(url).map_err(StoreError::from_sqlx)?;
            Arc::new(SqliteStore::connect(options, timeout).await?)
        }
        Some(url) if DatabaseKind::of_url(url) == Some(DatabaseKind::Postgres) => {
            let options = PgConnectOptions::from_str(url).map_err(StoreError::from_sqlx)?;
            Arc::new(PgStore::connect(options, timeout).await?)
        }
        Some(url) => {
            return Err(StoreError::Internal(
                format!(
                    "unsupported database URL {}: use postgres://, postgresql:// or sqlite://",
                    redact_url(url)
                )
                .into(),
            ));
        }
    };
    Ok(store)
}

/// The URL with its password (in the user info or a `password=` parameter) replaced by `***`,
/// fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}{authority}{}", redact_password_parameter(tail))
}

/// Replaces the value of every `password=` query parameter.
fn redact_password_parameter(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_passwords_and_keeps_the_rest() {
        let cases = [
            (
                "postgres://amicopy:s3cr:et@db.internal:5432/jobs",
                "postgres://amicopy:***@db.internal:5432/jobs",
            ),
            (
                "postgresql://u:p@h/d?sslmode=require",
                "postgresql://u:***@h/d?sslmode=require",
            ),
            (
                "postgres://u@h/d?password=hunter2&sslmode=disable",
                "postgres://u@h/d?password=***&sslmode=disable",
            ),
            ("postgres://u:p%40ss@h", "postgres://u:***@h"),
            ("postgres://h/d", "postgres://h/d"),
            (
                "sqlite:///var/lib/amicopy/amicopy.db",
                "sqlite:///var/lib/amicopy/amicopy.db",
            ),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    #[tokio::test]
    async fn an_unknown_scheme_is_refused_with_the_schemes_that_work() {
        let dir = tempfile::tempdir().unwrap();
        let error = match connect(Some("mysql://u:pw@h/d"), dir.path(), Duration::from_secs(1)).await {
            Err(error) => error.to_string(),
            Ok(_) => panic!("a mysql URL was accepted"),
        };
        assert!(error.contains("postgres://") && error.contains("sqlite://"), "{error}");
        assert!(!error.contains("pw"), "password leaked: {error}");
    }
}
