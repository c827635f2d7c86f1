//! Fresh PostgreSQL databases for tests: each test gets its own `amicopy_test_<uuid>` database,
//! created through an admin connection and dropped (even with sessions still open) at the end.

use std::str::FromStr;

use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};
use uuid::Uuid;

/// The environment variable naming the admin URL test databases are created through.
pub const ADMIN_URL_VAR: &str = "TEST_DATABASE_URL";

/// The admin URL when [`ADMIN_URL_VAR`] is not set: the local server, user postgres, trust auth.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The environment variable that, set to `1`, lets PostgreSQL tests skip themselves on machines
/// without a server. Anywhere else (CI) a missing server fails the tests.
pub const SKIP_VAR: &str = "AMICOPY_SKIP_POSTGRES_TESTS";

/// Whether PostgreSQL tests were asked to skip ([`SKIP_VAR`] is `1`).
pub fn postgres_tests_skipped() -> bool {
    std::env::var(SKIP_VAR).is_ok_and(|value| value == "1")
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    /// URL of the new database, for the code under test.
    pub url: String,
    /// Its name.
    pub name: String,
    admin: PgConnectOptions,
}

impl TestDatabase {
    /// Creates an empty database on the server named by [`ADMIN_URL_VAR`] (default
    /// [`DEFAULT_ADMIN_URL`]). The error says how to point the tests at a server or skip them.
    pub async fn create() -> Result<Self, sqlx::Error> {
        let admin_url = std::env::var(ADMIN_URL_VAR).unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let admin = PgConnectOptions::from_str(&admin_url)?;
        let name = format!("amicopy_test_{}", Uuid::new_v4().simple());
        let mut connection = PgConnection::connect_with(&admin).await.map_err(|error| {
            sqlx::Error::Configuration(
                format!(
                    "cannot reach the PostgreSQL server for tests at {}: {error}; start one (user with \
                     CREATEDB, e.g. postgres with trust auth on 127.0.0.1:5432), set {ADMIN_URL_VAR} to \
                     an admin URL, or set {SKIP_VAR}=1 to skip PostgreSQL tests",
                    amicopy::store::redact_url(&admin_url)
                )
                .into(),
            )
        })?;
        connection
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await?;
        connection.close().await?;
        let url = database_url(&admin_url, &name);
        Ok(Self { url, name, admin })
    }

    /// Drops the database, closing any sessions still connected to it.
    pub async fn drop_database(self) -> Result<(), sqlx::Error> {
        let mut connection = PgConnection::connect_with(&self.admin).await?;
        connection
            .execute(format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name).as_str())
            .await?;
        connection.close().await
    }
}

/// The admin URL with its database replaced by `name`, query parameters kept.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let after_scheme = base.find("://").map_or(0, |at| at + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_swaps_only_the_database() {
        assert_eq!(
            database_url(DEFAULT_ADMIN_URL, "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(database_url("postgres://u:p@h", "t1"), "postgres://u:p@h/t1");
        assert_eq!(
            database_url("postgres://u:p@h/admin?sslmode=disable", "t1"),
            "postgres://u:p@h/t1?sslmode=disable"
        );
    }
}
