//! SDK errors as [`BackendError`]s: EC2's own code and message when EC2 answered, a transport
//! code when it did not, and in each case whether retrying can help and whether the call may
//! have taken effect unseen.

use aws_sdk_ec2::{
    config::http::HttpResponse,
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
};

use crate::{backend::BackendError, domain::codes};

/// Code for an answer that could not be read (truncated, not EC2's XML).
pub(super) const INVALID_RESPONSE: &str = "InvalidResponse";
/// Code for a request the SDK could not build; it was never sent.
pub(super) const REQUEST_NOT_BUILT: &str = "RequestConstructionFailed";

/// Sorts an SDK error into EC2's code and message, retryable or permanent.
pub(super) fn from_sdk_error<E>(error: SdkError<E, HttpResponse>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let message = error.message().unwrap_or_default().to_owned();
            match error.code() {
                // DryRunOperation and UnauthorizedOperation travel as codes, unchanged: the
                // caller reads them.
                Some(code) => BackendError::from_code(code, message),
                // An answer without an EC2 error body (a proxy, a load balancer): the status
                // says whether it is worth retrying.
                None => BackendError {
                    code: format!("Http{status}"),
                    message: format!(
                        "EC2 answered HTTP {status} without an error code: {}",
                        DisplayErrorContext(&error)
                    ),
                    retryable: status >= 500 || status == 429,
                    outcome_unknown: false,
                },
            }
        }
        SdkError::TimeoutError(_) => {
            BackendError::transport(BackendError::TIMEOUT, DisplayErrorContext(&error).to_string())
        }
        SdkError::DispatchFailure(failure) => {
            let code = if failure.is_timeout() {
                BackendError::TIMEOUT
            } else {
                BackendError::CONNECTION
            };
            BackendError::transport(code, DisplayErrorContext(&error).to_string())
        }
        SdkError::ResponseError(_) => invalid_response(DisplayErrorContext(&error).to_string()),
        SdkError::ConstructionFailure(_) => BackendError {
            code: REQUEST_NOT_BUILT.to_owned(),
            message: DisplayErrorContext(&error).to_string(),
            retryable: false,
            outcome_unknown: false,
        },
        _ => BackendError::transport(BackendError::CONNECTION, DisplayErrorContext(&error).to_string()),
    }
}

/// An answer that arrived but could not be understood: EC2 may have acted on the call.
pub(super) fn invalid_response(message: impl Into<String>) -> BackendError {
    BackendError {
        code: INVALID_RESPONSE.to_owned(),
        message: message.into(),
        retryable: true,
        outcome_unknown: true,
    }
}

/// Whether EC2 refused a DescribeImages because the image is unknown or gone.
pub(super) fn means_image_unknown(error: &BackendError) -> bool {
    error.code == codes::INVALID_AMI_ID_NOT_FOUND || error.code == codes::INVALID_AMI_ID_UNAVAILABLE
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::{
        error::{ConnectorError, ErrorMetadata},
        operation::copy_image::CopyImageError,
    };
    use aws_smithy_types::body::SdkBody;

    use super::*;

    type CopyError = SdkError<CopyImageError, HttpResponse>;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::from("<Response/>"))
    }

    fn service_error(status: u16, code: Option<&str>, message: &str) -> CopyError {
        let mut meta = ErrorMetadata::builder().message(message);
        if let Some(code) = code {
            meta = meta.code(code);
        }
        SdkError::service_error(CopyImageError::generic(meta.build()), response(status))
    }

    #[test]
    fn service_error_keeps_ec2_code_and_message() {
        let error = from_sdk_error(service_error(400, Some("InvalidAMIID.NotFound"), "no such image"));
        assert_eq!(error.code, "InvalidAMIID.NotFound");
        assert_eq!(error.message, "no such image");
        assert!(!error.retryable);
        assert!(!error.outcome_unknown);
    }

    #[test]
    fn throttling_and_internal_errors_are_retryable() {
        for code in ["RequestLimitExceeded", "InternalError", "Unavailable"] {
            let error = from_sdk_error(service_error(503, Some(code), "later"));
            assert!(error.retryable, "{code}");
            assert!(!error.outcome_unknown, "{code}");
        }
    }

    #[test]
    fn dry_run_and_unauthorized_come_back_unchanged() {
        let dry_run = from_sdk_error(service_error(412, Some("DryRunOperation"), "would have succeeded"));
        assert!(dry_run.is_dry_run_success());
        assert!(!dry_run.retryable);
        let denied = from_sdk_error(service_error(403, Some("UnauthorizedOperation"), "not allowed"));
        assert_eq!(denied.code, "UnauthorizedOperation");
        assert!(!denied.retryable);
    }

    #[test]
    fn answer_without_code_is_retryable_only_for_server_errors() {
        let bad_gateway = from_sdk_error(service_error(502, None, ""));
        assert_eq!(bad_gateway.code, "Http502");
        assert!(bad_gateway.retryable);
        let forbidden = from_sdk_error(service_error(403, None, ""));
        assert_eq!(forbidden.code, "Http403");
        assert!(!forbidden.retryable);
    }

    #[test]
    fn timeout_is_retryable_with_unknown_outcome() {
        let error = from_sdk_error::<CopyImageError>(SdkError::timeout_error("operation timed out"));
        assert_eq!(error.code, BackendError::TIMEOUT);
        assert!(error.retryable && error.outcome_unknown);
    }

    #[test]
    fn dispatch_failure_is_a_connection_error_or_a_timeout() {
        let refused = from_sdk_error::<CopyImageError>(SdkError::dispatch_failure(ConnectorError::io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
        )));
        assert_eq!(refused.code, BackendError::CONNECTION);
        assert!(refused.retryable && refused.outcome_unknown);
        let slow = from_sdk_error::<CopyImageError>(SdkError::dispatch_failure(ConnectorError::timeout(
            "connect timed out".into(),
        )));
        assert_eq!(slow.code, BackendError::TIMEOUT);
        assert!(slow.retryable && slow.outcome_unknown);
    }

    #[test]
    fn unreadable_response_is_retryable_with_unknown_outcome() {
        let error = from_sdk_error::<CopyImageError>(SdkError::response_error("truncated xml", response(200)));
        assert_eq!(error.code, INVALID_RESPONSE);
        assert!(error.retryable && error.outcome_unknown);
    }

    #[test]
    fn construction_failure_is_permanent() {
        let error = from_sdk_error::<CopyImageError>(SdkError::construction_failure("no region"));
        assert_eq!(error.code, REQUEST_NOT_BUILT);
        assert!(!error.retryable && !error.outcome_unknown);
    }

    #[test]
    fn unknown_or_unavailable_image_means_absent() {
        assert!(means_image_unknown(&BackendError::from_code(
            "InvalidAMIID.NotFound",
            ""
        )));
        assert!(means_image_unknown(&BackendError::from_code(
            "InvalidAMIID.Unavailable",
            ""
        )));
        assert!(!means_image_unknown(&BackendError::from_code(
            "InvalidAMIID.Malformed",
            ""
        )));
    }
}
