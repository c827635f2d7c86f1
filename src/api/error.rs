//! The one place where errors become gRPC statuses. Every status carries a
//! `google.rpc.ErrorInfo` (domain "amicopy") whose reason is EC2's error code where one applies;
//! invalid requests also carry a `google.rpc.BadRequest` with one violation per bad field.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::error;

use crate::{
    auth::PolicyDenial,
    backend::{BackendError, UnknownAccount},
    domain::{InvalidRequest, JobId, JobState, codes},
    engine::EngineError,
    store::StoreError,
};

pub use crate::domain::codes::ERROR_DOMAIN;

/// ErrorInfo reason for a job id that names no job.
const JOB_NOT_FOUND: &str = "JobNotFound";
/// ErrorInfo reason for a distribution id that names no distribution.
const DISTRIBUTION_NOT_FOUND: &str = "DistributionNotFound";
/// ErrorInfo reason for an operation the job's state does not allow (EC2's name for it).
const INCORRECT_STATE: &str = "IncorrectState";

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request broke EC2's rules.
    #[error(transparent)]
    Invalid(#[from] InvalidRequest),
    /// A CreateDistribution request broke EC2's rules for one of its targets, or the
    /// distribution's own.
    #[error("{}", .0.summary_of("CreateDistribution"))]
    InvalidDistribution(InvalidRequest),
    /// One argument of a job or distribution call was malformed (not a CopyImage field).
    #[error("{field}: {description}")]
    BadArgument {
        /// Field path in proto names.
        field: &'static str,
        /// What is wrong.
        description: String,
    },
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The tenant's policy does not allow the request.
    #[error(transparent)]
    Denied(#[from] PolicyDenial),
    /// The request names an account the operator did not configure.
    #[error(transparent)]
    UnknownAccount(#[from] UnknownAccount),
    /// The copy was refused by EC2 when it was started; the job records the failure.
    #[error("{error}")]
    CopyRefused {
        /// The failed job.
        job_id: JobId,
        /// EC2's answer.
        error: BackendError,
    },
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::Engine(EngineError::Store(error))
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Status {
        match error {
            ApiError::Invalid(invalid) => invalid_request(&invalid, "CopyImage"),
            ApiError::InvalidDistribution(invalid) => invalid_request(&invalid, "CreateDistribution"),
            ApiError::BadArgument { field, description } => {
                let mut details = ErrorDetails::new();
                details.add_bad_request_violation(field, description.clone());
                details.set_error_info(codes::INVALID_PARAMETER_VALUE, ERROR_DOMAIN, HashMap::new());
                Status::with_error_details(Code::InvalidArgument, format!("{field}: {description}"), details)
            }
            ApiError::Engine(EngineError::Store(error)) => store_status(error),
            ApiError::Engine(EngineError::Backend(error)) => backend_status(&error, HashMap::new()),
            ApiError::Engine(EngineError::AlreadyEnded { id, state }) => already_ended(id, state),
            ApiError::Engine(EngineError::DistributionRefused { id, refusal }) => with_reason(
                Code::FailedPrecondition,
                format!("distribution {id}: {refusal}"),
                INCORRECT_STATE,
                HashMap::from([("state".to_owned(), refusal.state.to_string())]),
            ),
            ApiError::Denied(denial) => with_reason(
                Code::PermissionDenied,
                format!(
                    "{}: You are not authorized to perform this operation: {denial}",
                    codes::UNAUTHORIZED_OPERATION
                ),
                codes::UNAUTHORIZED_OPERATION,
                HashMap::from([("tenant".to_owned(), denial.tenant)]),
            ),
            ApiError::UnknownAccount(unknown) => with_reason(
                Code::PermissionDenied,
                format!(
                    "{}: You are not authorized to perform this operation: {unknown}; ask the operator to add it to the accounts file",
                    codes::UNAUTHORIZED_OPERATION
                ),
                codes::UNAUTHORIZED_OPERATION,
                HashMap::from([("destination_account_id".to_owned(), unknown.account.to_string())]),
            ),
            ApiError::CopyRefused { job_id, error } => {
                backend_status(&error, HashMap::from([("job_id".to_owned(), job_id.to_string())]))
            }
        }
    }
}

fn invalid_request(invalid: &InvalidRequest, call: &str) -> Status {
    let mut details = ErrorDetails::new();
    let mut metadata = HashMap::new();
    for violation in &invalid.violations {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
        metadata
            .entry(violation.field.clone())
            .or_insert_with(|| violation.code.to_owned());
    }
    details.set_error_info(invalid.reason(), ERROR_DOMAIN, metadata);
    Status::with_error_details(Code::InvalidArgument, invalid.summary_of(call), details)
}

fn store_status(error: StoreError) -> Status {
    let (code, reason, message) = match &error {
        StoreError::NotFound(id) => (Code::NotFound, JOB_NOT_FOUND, format!("no job {id}")),
        StoreError::IdempotentParameterMismatch { token, .. } => (
            Code::AlreadyExists,
            codes::IDEMPOTENT_PARAMETER_MISMATCH,
            format!(
                "client token {token:?} was already used for a request with different parameters; \
                 use a new token for a new request"
            ),
        ),
        StoreError::Conflict(id) => (
            Code::Aborted,
            INCORRECT_STATE,
            format!("job {id} changed while the call was handled; try again"),
        ),
        StoreError::DistributionNotFound(id) => {
            (Code::NotFound, DISTRIBUTION_NOT_FOUND, format!("no distribution {id}"))
        }
        StoreError::DistributionTokenMismatch { token, .. } => (
            Code::AlreadyExists,
            codes::IDEMPOTENT_PARAMETER_MISMATCH,
            format!(
                "client token {token:?} was already used for a distribution with a different request; \
                 use a new token for a new distribution"
            ),
        ),
        StoreError::DistributionConflict(id) => (
            Code::Aborted,
            INCORRECT_STATE,
            format!("distribution {id} changed while the call was handled; try again"),
        ),
        StoreError::InvalidPageToken => {
            let mut details = ErrorDetails::new();
            details.add_bad_request_violation("page_token", "not a token from a previous response of this List call");
            details.set_error_info(codes::INVALID_PARAMETER_VALUE, ERROR_DOMAIN, HashMap::new());
            return Status::with_error_details(
                Code::InvalidArgument,
                "page_token: not a token from a previous response of this List call; start again with an empty token",
                details,
            );
        }
        StoreError::Unavailable(source) => {
            error!(error = %source, "job database unavailable");
            (
                Code::Unavailable,
                codes::UNAVAILABLE,
                "the job database is unreachable; nothing was recorded, retry later".to_owned(),
            )
        }
        StoreError::Internal(source) => {
            error!(error = %source, "internal store error");
            (
                Code::Internal,
                codes::INTERNAL_ERROR,
                "internal error in the job store; the incident was logged".to_owned(),
            )
        }
    };
    with_reason(code, message, reason, HashMap::new())
}

fn already_ended(id: JobId, state: JobState) -> Status {
    with_reason(
        Code::FailedPrecondition,
        format!("job {id} has already ended ({state}) and cannot be cancelled"),
        INCORRECT_STATE,
        HashMap::from([("state".to_owned(), state.to_string())]),
    )
}

/// The answer to a DryRun that would have succeeded: EC2 answers it as an error, and so does
/// amicopy (FAILED_PRECONDITION, reason `DryRunOperation`).
pub fn dry_run_succeeded() -> Status {
    with_reason(
        Code::FailedPrecondition,
        "DryRunOperation: request would have succeeded, but the DryRun flag is set".to_owned(),
        codes::DRY_RUN_OPERATION,
        HashMap::new(),
    )
}

/// EC2's answer as a status: its code as the reason, its message, and the gRPC code that tells a
/// client what to do about it.
pub fn backend_status(error: &BackendError, metadata: HashMap<String, String>) -> Status {
    let code = match error.code.as_str() {
        codes::DRY_RUN_OPERATION => Code::FailedPrecondition,
        codes::UNAUTHORIZED_OPERATION => Code::PermissionDenied,
        codes::INVALID_AMI_ID_NOT_FOUND => Code::NotFound,
        codes::INVALID_AMI_NAME_DUPLICATE | codes::IDEMPOTENT_PARAMETER_MISMATCH => Code::AlreadyExists,
        codes::REQUEST_LIMIT_EXCEEDED | codes::RESOURCE_LIMIT_EXCEEDED => Code::ResourceExhausted,
        _ if error.retryable => Code::Unavailable,
        code if code.starts_with("Invalid") || code.starts_with("Missing") => Code::InvalidArgument,
        _ => Code::FailedPrecondition,
    };
    with_reason(
        code,
        format!("{}: {}", error.code, error.message),
        &error.code,
        metadata,
    )
}

fn with_reason(code: Code, message: String, reason: &str, metadata: HashMap<String, String>) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// A call refused because its tenant used up its request rate: RESOURCE_EXHAUSTED with a
/// RetryInfo that says when a token is back, and EC2's reason for the same thing.
pub fn rate_limited(tenant: &str, retry_after: std::time::Duration) -> Status {
    let mut details = ErrorDetails::new();
    details.set_retry_info(Some(retry_after));
    details.set_error_info(
        codes::REQUEST_LIMIT_EXCEEDED,
        ERROR_DOMAIN,
        HashMap::from([("tenant".to_owned(), tenant.to_owned())]),
    );
    Status::with_error_details(
        Code::ResourceExhausted,
        format!(
            "request rate exceeded for tenant {tenant:?}; retry in {} ms",
            retry_after.as_millis()
        ),
        details,
    )
}

/// A WatchCopyJob or WatchDistribution refused because its tenant has `limit` streams open
/// already (the two count together).
pub fn too_many_watches(tenant: &str, limit: usize) -> Status {
    with_reason(
        Code::ResourceExhausted,
        format!(
            "tenant {tenant:?} has {limit} watch streams (WatchCopyJob and WatchDistribution) open, the most allowed; \
             close one first"
        ),
        codes::RESOURCE_LIMIT_EXCEEDED,
        HashMap::from([("limit".to_owned(), limit.to_string())]),
    )
}

/// A call shed because the server is handling as many calls as it may at once.
pub fn overloaded() -> Status {
    with_reason(
        Code::Unavailable,
        "the server is handling as many calls as it may at once; retry with backoff".to_owned(),
        codes::UNAVAILABLE,
        HashMap::new(),
    )
}
