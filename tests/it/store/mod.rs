//! The store conformance suite: every body runs once on SQLite (a fresh file in a temp dir) and
//! once on PostgreSQL (a fresh database), through `amicopy::store::connect` as the server opens
//! them. PostgreSQL tests fail when the server cannot be reached, unless
//! `AMICOPY_SKIP_POSTGRES_TESTS=1`.

mod harness;

mod claims;
mod counts;
mod distributions;
mod durability;
mod idempotency;
mod jobs;
mod retention;
mod updates;
mod upgrade;
