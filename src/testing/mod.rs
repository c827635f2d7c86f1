//! Helpers for tests and benchmarks that need real components: a fresh PostgreSQL database per
//! test, and moto's EC2 server on a free loopback port. Compiled into the library so that unit
//! tests, integration tests and the load generator share one implementation.

pub mod moto;
pub mod postgres;
