//! Fuzz targets for everything amicopyd reads from outside: CopyImage requests (structured, and as
//! raw gRPC message bodies), settings (flags and the `--config` file), bearer token files and
//! policy files.
//!
//! - [`targets`]: one function per input path, panicking when a property fails;
//! - [`input`]: fuzzer bytes → a structured CopyImage request;
//! - [`oracle`]: EC2's rules restated independently, to check that every refused request names
//!   exactly its bad fields.
//!
//! `src/bin/fuzz.rs` runs a target under AFL++ (`scripts/fuzz.sh`); `tests/` run every target
//! under proptest and send arbitrary bodies to a real server.

pub mod input;
pub mod oracle;
pub mod targets;

pub use targets::Target;
