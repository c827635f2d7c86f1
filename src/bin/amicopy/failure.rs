//! What can go wrong, and the exit code each outcome gives a pipeline.
//!
//! A server error is read once, here, into a [`Refusal`]: the gRPC code, EC2's code (the
//! ErrorInfo reason), every field violation with its own EC2 code, and the job the server recorded
//! when a copy was refused after it was accepted.

use std::{collections::HashMap, process::ExitCode};

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// How a command ended, as the exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for succeeded (0).
    Succeeded,
    /// A job or any target failed or was cancelled, or the server refused the call (1).
    Failed,
    /// A usage or validation error (2).
    Usage,
    /// The server could not be reached (3).
    Unreachable,
    /// A distribution ended with some targets available and some not (4).
    Partial,
    /// Ctrl-C stopped the watching; the work goes on (130, as a shell reports SIGINT).
    Interrupted,
}

impl Outcome {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Self::Succeeded => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::Unreachable => 3,
            Self::Partial => 4,
            Self::Interrupted => 130,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// A command that could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or a file given on it is wrong; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The server answered with an error.
    #[error("{}", .0.message)]
    Refused(Refusal),
}

impl CliError {
    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// The server answered something this CLI cannot use (a message without its payload), or
    /// the CLI could not do its own part (handle Ctrl-C): exit code 1.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Refused(Refusal {
            code: Code::Internal,
            reason: None,
            message: message.into(),
            violations: Vec::new(),
            job_id: None,
        })
    }

    /// The exit code for this error.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Usage(_) => Outcome::Usage,
            Self::Refused(refusal) => refusal.outcome(),
        }
    }
}

impl From<Status> for CliError {
    fn from(status: Status) -> Self {
        Self::Refused(Refusal::from_status(&status))
    }
}

/// One bad field of a refused request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Field path in proto names, such as `tag_specifications[0].tags[2].key`.
    pub field: String,
    /// EC2's error code for it, when the server named one.
    pub code: Option<String>,
    /// What is wrong and what would be accepted.
    pub description: String,
}

/// A server's error answer, read once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refusal {
    /// The gRPC code, such as INVALID_ARGUMENT.
    #[serde(serialize_with = "code_name")]
    pub code: Code,
    /// EC2's error code (the ErrorInfo reason), such as InvalidKMSKey.NotFound.
    pub reason: Option<String>,
    /// The server's message.
    pub message: String,
    /// Every bad field, for INVALID_ARGUMENT.
    pub violations: Vec<Violation>,
    /// The job the server recorded as failed, when a copy was refused after it was accepted.
    pub job_id: Option<String>,
}

fn code_name<S: serde::Serializer>(code: &Code, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&grpc_code_name(*code))
}

/// A gRPC code as the spec spells it (INVALID_ARGUMENT).
pub fn grpc_code_name(code: Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

impl Refusal {
    /// Reads the rich error details of `status`.
    pub fn from_status(status: &Status) -> Self {
        let info = status.get_details_error_info();
        let metadata: HashMap<String, String> = info.as_ref().map(|i| i.metadata.clone()).unwrap_or_default();
        let violations = status
            .get_details_bad_request()
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|v| Violation {
                        code: metadata.get(&v.field).cloned(),
                        field: v.field,
                        description: v.description,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            code: status.code(),
            reason: info.map(|i| i.reason).filter(|r| !r.is_empty()),
            message: status.message().to_owned(),
            violations,
            job_id: metadata.get("job_id").cloned(),
        }
    }

    /// Whether the server could not be reached or stayed unavailable: transport failures come
    /// back from tonic as UNAVAILABLE too.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self.code,
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted
        )
    }

    /// Whether this refusal says the id named nothing (or could not be an id at all).
    pub fn is_unknown_id(&self) -> bool {
        matches!(self.code, Code::NotFound | Code::InvalidArgument | Code::Unimplemented) && self.job_id.is_none()
    }

    /// The exit code: a recorded job that failed is 1; a request the server found wrong is 2;
    /// a server out of reach is 3; any other refusal is 1.
    pub fn outcome(&self) -> Outcome {
        if self.job_id.is_some() {
            return Outcome::Failed;
        }
        match self.code {
            Code::InvalidArgument | Code::NotFound | Code::AlreadyExists | Code::OutOfRange | Code::Unauthenticated => {
                Outcome::Usage
            }
            _ if self.is_unreachable() => Outcome::Unreachable,
            _ => Outcome::Failed,
        }
    }

    /// The lines a person reads: the message, then one line per field violation with its path
    /// and EC2's code.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(job) = &self.job_id {
            lines.push(format!("job {job} failed: {}", self.message));
        } else if self.violations.is_empty() {
            match &self.reason {
                Some(reason) if !self.message.contains(reason.as_str()) => {
                    lines.push(format!("{reason}: {}", self.message));
                }
                Some(_) => lines.push(self.message.clone()),
                None => lines.push(format!("{}: {}", grpc_code_name(self.code), self.message)),
            }
        } else {
            let count = self.violations.len();
            lines.push(format!(
                "the server refused the request ({count} problem{}):",
                if count == 1 { "" } else { "s" }
            ));
            for violation in &self.violations {
                lines.push(match &violation.code {
                    Some(code) => format!("  {}: {code}: {}", violation.field, violation.description),
                    None => format!("  {}: {}", violation.field, violation.description),
                });
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn violations_are_read_with_their_ec2_codes() {
        let mut details = ErrorDetails::new();
        details.add_bad_request_violation("source_region", "not a Region");
        details.add_bad_request_violation("name", "too short");
        details.set_error_info(
            "InvalidParameterValue",
            "amicopy",
            HashMap::from([("source_region".to_owned(), "InvalidParameterValue".to_owned())]),
        );
        let status = Status::with_error_details(Code::InvalidArgument, "2 problems", details);
        let refusal = Refusal::from_status(&status);
        assert_eq!(refusal.outcome(), Outcome::Usage);
        assert_eq!(
            refusal.lines(),
            [
                "the server refused the request (2 problems):",
                "  source_region: InvalidParameterValue: not a Region",
                "  name: too short",
            ]
        );
    }

    #[test]
    fn a_recorded_failed_job_exits_1_and_names_the_job() {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "InvalidKMSKey.NotFound",
            "amicopy",
            HashMap::from([("job_id".to_owned(), "j-1".to_owned())]),
        );
        let status = Status::with_error_details(Code::NotFound, "InvalidKMSKey.NotFound: no key", details);
        let refusal = Refusal::from_status(&status);
        assert_eq!(refusal.outcome(), Outcome::Failed);
        assert_eq!(refusal.lines(), ["job j-1 failed: InvalidKMSKey.NotFound: no key"]);
    }

    #[test]
    fn exit_codes_follow_the_grpc_code() {
        for (code, outcome) in [
            (Code::Unavailable, Outcome::Unreachable),
            (Code::DeadlineExceeded, Outcome::Unreachable),
            (Code::NotFound, Outcome::Usage),
            (Code::Unauthenticated, Outcome::Usage),
            (Code::PermissionDenied, Outcome::Failed),
            (Code::FailedPrecondition, Outcome::Failed),
        ] {
            assert_eq!(
                Refusal::from_status(&Status::new(code, "x")).outcome(),
                outcome,
                "{code:?}"
            );
        }
        assert_eq!(grpc_code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
