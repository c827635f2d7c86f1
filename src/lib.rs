//! amicopy: EC2's CopyImage as a gRPC service that carries every copy to the end.
//!
//! A tour, from the outside in:
//! - [`app`] builds the server (store, backend, listener), serves it with health and
//!   reflection, and shuts it down in order; [`config`] holds every setting, parsed into typed
//!   values by [`flags`] when it is read; [`telemetry`] starts logging and trace export;
//!   [`data_dir_lock`] keeps a SQLite database to one process.
//! - [`auth`] authenticates every call (bearer tokens or client certificates) as a tower layer,
//!   names its [`auth::Caller`], serves TLS, and holds the per-tenant policy CopyImage is checked
//!   against.
//! - [`api`] implements `amicopy.v1.ImageCopyService` and `amicopy.v1.DistributionService`
//!   ([`api::distributions`]): calls become domain requests and engine calls; [`api::error`] is
//!   the one place errors become gRPC statuses.
//! - [`engine`] carries jobs to the end: dispatch within EC2's limits, batched tracking,
//!   cancellation, leases shared by replicas, live events for watchers; and distributions, whose
//!   targets are ordinary jobs, cancelled or rolled back together when asked.
//! - [`store`] keeps every job and distribution and their events in PostgreSQL or SQLite; one
//!   trait, two engines (on PostgreSQL, concurrent writes of jobs share commits);
//!   [`store::retention`] deletes finished work older than `--job-retention-days`, a small batch
//!   at a time.
//! - [`backend`] is EC2 behind one trait, one backend per AWS account ([`backend::Backends`]):
//!   real (aws-sdk-ec2, a role assumed in each configured account) or simulated (every account
//!   in one simulated world).
//! - [`domain`] holds the request and the job; [`domain::CopyRequest::parse`] applies EC2's
//!   rules, so past it an invalid request cannot exist, and [`domain::lifecycle`] is every state
//!   a job can be in and every way it may move: the engine decides when, the lifecycle what.
//!   [`domain::distribution`] does the same for a distribution: its request, its aggregate state
//!   machine, its moves.
//! - [`metrics`] counts calls, EC2 calls, store latency and jobs for Prometheus, with wrappers
//!   around the store and backend traits; [`api::limits`] keeps callers within bounds.
//! - [`ratelimit`] is the token bucket EC2's request rates are modelled with.
//! - [`ui`] is the web view (`--ui-listen`): server-rendered pages of the tenant's distributions
//!   and jobs, kept live from the engine's event hub, with cancel and retry through the engine
//!   calls the API makes, authenticated as gRPC calls are.
//!
//! Dependencies point inward: api → engine → store/backend → domain, with no cycle between
//! rooms (api → auth, config → telemetry, never back); ui stands beside api (ui → engine, auth). Outside the service's build, in the
//! workspace: `crates/amicopy-testing` starts real components (fresh PostgreSQL databases, moto)
//! for the tests and benchmarks, `crates/amicopy-bench` is the load generator behind
//! `amicopy-bench` and `scripts/bench.sh`, `crates/amicopy-fuzz` holds the fuzz targets, and
//! `tests/it` is the service as a user meets it. Beside `amicopyd`, the package builds
//! `amicopy`, the command-line client (`src/bin/amicopy/`), which talks to the server over the
//! same gRPC API.

pub mod api;
pub mod app;
pub mod auth;
pub mod backend;
pub mod config;
pub mod data_dir_lock;
pub mod domain;
pub mod engine;
pub mod flags;
pub mod metrics;
pub mod ratelimit;
pub mod store;
pub mod telemetry;
pub mod ui;

/// The generated amicopy.v1 protobuf and gRPC code.
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("amicopy.v1");

    /// Encoded descriptors of the amicopy.v1 protos, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("amicopy_descriptor");
}
