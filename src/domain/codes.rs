//! EC2's error codes, as EC2 spells them; amicopy answers with the same codes so callers can keep
//! the handling they already have.

/// The `google.rpc.ErrorInfo` domain of every error amicopy answers with.
pub const ERROR_DOMAIN: &str = "amicopy";
/// The call did not authenticate (EC2's code for it).
pub const AUTH_FAILURE: &str = "AuthFailure";
/// A required parameter is missing.
pub const MISSING_PARAMETER: &str = "MissingParameter";
/// A parameter has a value EC2 does not accept.
pub const INVALID_PARAMETER_VALUE: &str = "InvalidParameterValue";
/// Parameters that cannot be used together.
pub const INVALID_PARAMETER_COMBINATION: &str = "InvalidParameterCombination";
/// The AMI id is not of the form `ami-` + 8 or 17 hex digits.
pub const INVALID_AMI_ID_MALFORMED: &str = "InvalidAMIID.Malformed";
/// The AMI does not exist (or is not visible to the account).
pub const INVALID_AMI_ID_NOT_FOUND: &str = "InvalidAMIID.NotFound";
/// The AMI exists but cannot be used.
pub const INVALID_AMI_ID_UNAVAILABLE: &str = "InvalidAMIID.Unavailable";
/// The AMI name breaks EC2's naming rules.
pub const INVALID_AMI_NAME_MALFORMED: &str = "InvalidAMIName.Malformed";
/// An AMI of that name already exists in the destination Region.
pub const INVALID_AMI_NAME_DUPLICATE: &str = "InvalidAMIName.Duplicate";
/// The Region is not a Region code.
pub const INVALID_REGION: &str = "InvalidRegion";
/// A tag key is empty, too long or reserved (`aws:`).
pub const INVALID_TAG_KEY_MALFORMED: &str = "InvalidTagKey.Malformed";
/// Too many tags on one resource.
pub const TAG_LIMIT_EXCEEDED: &str = "TagLimitExceeded";
/// The client token was used before with other parameters.
pub const IDEMPOTENT_PARAMETER_MISMATCH: &str = "IdempotentParameterMismatch";
/// The client token is too long or not ASCII.
pub const INVALID_CLIENT_TOKEN: &str = "InvalidClientToken";
/// A DryRun that would have succeeded.
pub const DRY_RUN_OPERATION: &str = "DryRunOperation";
/// The caller may not do this.
pub const UNAUTHORIZED_OPERATION: &str = "UnauthorizedOperation";
/// Too many copies in progress in the destination Region.
pub const RESOURCE_LIMIT_EXCEEDED: &str = "ResourceLimitExceeded";
/// Throttled: too many requests; retry with backoff.
pub const REQUEST_LIMIT_EXCEEDED: &str = "RequestLimitExceeded";
/// EC2 failed internally; retry.
pub const INTERNAL_ERROR: &str = "InternalError";
/// EC2 is unavailable; retry.
pub const UNAVAILABLE: &str = "Unavailable";
