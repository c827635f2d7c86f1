//! Who is calling: the tenant a call acts for. Authentication ([`super::layer`], in front of the
//! services) puts a [`Caller`] in the request's extensions; handlers read it with
//! [`Caller::of`] and scope every job operation to its tenant.

/// The tenant every call acts for when the service runs without authentication.
pub const DEFAULT_TENANT: &str = "default";

/// The authenticated caller of one call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    /// The tenant whose jobs the call may create and see.
    pub tenant: String,
}

impl Caller {
    /// The caller of a service that runs without authentication.
    pub fn unauthenticated() -> Self {
        Self {
            tenant: DEFAULT_TENANT.to_owned(),
        }
    }

    /// The caller the authentication layer recorded for `request`; without one (no
    /// authentication configured), the default tenant.
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Self::unauthenticated)
    }
}
