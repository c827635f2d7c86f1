//! Helpers for amicopy's tests and benchmarks that need real components: a fresh PostgreSQL
//! database per test ([`postgres`]), moto's EC2 server on a free loopback port ([`moto`]), and
//! settings that make the engine and the simulator fast ([`presets`]).
//!
//! A crate of its own, outside the service's build: the integration tests (`tests/it`) and the
//! load generator (`amicopy-bench`) share it, and nothing of it (nor its dependencies) is part of
//! `amicopyd` or the `amicopy` library's API.

pub mod moto;
pub mod postgres;
pub mod presets;
