//! amicopy: EC2's CopyImage as a gRPC service that carries every copy to the end.
//!
//! A tour, from the outside in:
//! - [`app`] builds the server (store, backend, listener), serves it with health and
//!   reflection, and shuts it down in order; [`config`] holds every setting;
//!   [`data_dir_lock`] keeps a SQLite database to one process.
//! - [`auth`] authenticates every call (bearer tokens or client certificates) as a tower layer,
//!   serves TLS, and holds the per-tenant policy CopyImage is checked against.
//! - [`api`] implements `amicopy.v1.ImageCopyService`: calls become domain requests and engine
//!   calls; [`api::error`] is the one place errors become gRPC statuses.
//! - [`engine`] carries jobs to the end: dispatch within EC2's limits, batched tracking,
//!   cancellation, leases shared by replicas, live events for watchers.
//! - [`store`] keeps every job and its events in PostgreSQL or SQLite; one trait, two engines.
//! - [`backend`] is EC2 behind one trait: real (aws-sdk-ec2) or simulated.
//! - [`domain`] holds the request, the job and its states; [`domain::CopyRequest::parse`]
//!   applies EC2's rules, so past it an invalid request cannot exist.
//! - [`metrics`] counts calls, EC2 calls, store latency and jobs for Prometheus, with wrappers
//!   around the store and backend traits; [`api::limits`] keeps callers within bounds.
//! - [`ratelimit`] is the token bucket EC2's request rates are modelled with; [`testing`] starts
//!   real components (PostgreSQL databases, moto) for tests and benchmarks.
//! - [`bench`] is the load generator behind `amicopy-bench` and `scripts/bench.sh`.
//!
//! Dependencies point inward: api → engine → store/backend → domain.

pub mod api;
pub mod app;
pub mod auth;
pub mod backend;
pub mod bench;
pub mod config;
pub mod data_dir_lock;
pub mod domain;
pub mod engine;
pub mod metrics;
pub mod ratelimit;
pub mod store;
pub mod telemetry;
pub mod testing;

/// The generated amicopy.v1 protobuf and gRPC code.
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("amicopy.v1");

    /// Encoded descriptors of the amicopy.v1 protos, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("amicopy_descriptor");
}
