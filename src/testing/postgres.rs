//! Fresh PostgreSQL databases for tests: filled in by the store work.
