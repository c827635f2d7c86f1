//! amicopy: EC2's CopyImage as a gRPC service that carries every copy to the end.
//!
//! A tour, from the outside in:
//! - [`domain`]: the request, the job and its states; [`domain::CopyRequest::parse`] applies
//!   EC2's rules, so past it an invalid request cannot exist.
//! - [`store`]: every accepted copy is a job in PostgreSQL or SQLite; one trait, two engines.
//! - [`backend`]: EC2 behind one trait, real (aws-sdk-ec2) or simulated.

pub mod backend;
pub mod domain;
pub mod store;
pub mod testing;

/// The generated amicopy.v1 protobuf and gRPC code.
pub mod proto {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("amicopy.v1");

    /// Encoded descriptors of the amicopy.v1 protos, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("amicopy_descriptor");
}
