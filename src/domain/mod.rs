//! The copy service's own vocabulary: plain types that are valid by construction.
//!
//! A [`CopyRequest`] can only be built by [`CopyRequest::parse`], which applies every EC2 rule
//! that can be checked without asking EC2 and reports all violations at once. Past this module an
//! invalid request cannot exist. A [`Job`] moves only through the transitions of [`lifecycle`],
//! each of which returns the next job and its event, or refuses. A [`Distribution`] publishes
//! one AMI to many (account, Region) targets, each an ordinary job; [`distribution`] holds its
//! request, its aggregate state machine and its moves. Nothing here knows about gRPC, SQL or AWS.

mod account;
pub mod codes;
mod deprecation;
pub mod distribution;
mod fields;
mod job;
pub mod lifecycle;
mod request;
mod sharing;
mod validate;

pub use account::{AccountId, INVALID_USER_ID_MALFORMED};
pub use deprecation::{DeprecateAt, round_to_minute};
pub use distribution::{Counts, Distribution, DistributionId, DistributionRequest, DistributionState, FailurePolicy};
pub use fields::FieldError;
pub use fields::{AmiName, ClientToken, ImageId, KmsKeyId, OutpostArn, Region, ResourceType, Tag};
pub use job::{Failure, Job, JobEvent, JobId, StoredJob};
pub use lifecycle::{AttemptFailure, Change, CopyEnd, JobState, Refused, RetryPlan, Step, Steps, Stop};
pub use request::{
    CopyImageInput, CopyRequest, Destination, LaunchPermissionsInput, TagSpecification, TagSpecificationInput,
};
pub use sharing::{CreateVolumePermissions, LaunchPermissions, OrganizationArn, OrganizationalUnitArn};
pub use validate::{FieldViolation, InvalidRequest};
