//! The integration tests: the service as a user meets it, over gRPC, with real components.
//!
//! One binary with a module per former test file, so `cargo test` links the tests once (on a
//! 2-core machine each extra test binary is an extra link of the whole dependency tree).
//! [`support`] starts the service; [`on_both!`] runs a test body on SQLite and on PostgreSQL.
//! The OTLP export test needs `--features otel` and stays a binary of its own
//! (`tests/otel_export.rs`).

mod support;

mod accounts;
mod accounts_binary;
mod adoption;
mod api;
mod auth;
mod auth_log;
mod auth_tls;
mod cli;
mod crash_recovery;
mod database_outage;
mod distributions;
mod ec2_accounts_moto;
mod ec2_moto;
mod lifecycle;
mod operations;
mod replicas;
mod startup;
mod store;
mod tracking;
mod ui;
