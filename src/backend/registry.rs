//! [`Backends`]: one [`Ec2Backend`] per AWS account, the service's own and every account the
//! operator configured, looked up by account id.

use std::sync::Arc;

use async_trait::async_trait;

use super::{BackendError, Ec2Backend, accounts::AccountEntry};
use crate::domain::AccountId;

/// An account the operator did not configure: copies may not go there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "account {account} is not configured: amicopy copies only into its own account and the accounts of its accounts file"
)]
pub struct UnknownAccount {
    /// The account asked for.
    pub account: AccountId,
}

/// Every account's view of EC2. Implementations: [`super::ec2::SdkBackends`] (a role assumed in
/// each account), [`super::sim::SimBackends`] (every account in one simulated world) and
/// `metrics::backend::MeteredBackends` (counts the calls of another; it depends on this trait,
/// not the other way round).
#[async_trait]
pub trait Backends: Send + Sync + 'static {
    /// The service's own account: where a copy goes when a request names no account.
    fn own(&self) -> Arc<dyn Ec2Backend>;

    /// The account `account` as it is configured now: a configured account's backend (built on
    /// first use and reused), the own account when `account` is its known id, or
    /// [`UnknownAccount`].
    fn for_account(&self, account: &AccountId) -> Result<Arc<dyn Ec2Backend>, UnknownAccount>;

    /// The accounts file's entry for `account` (its `share_source`, for one), if it is listed now.
    fn account(&self, account: &AccountId) -> Option<AccountEntry>;

    /// The service's own account id, when it is known without asking AWS.
    fn known_own_account_id(&self) -> Option<AccountId>;

    /// The service's own account id: asked of AWS once (STS GetCallerIdentity) and then kept.
    async fn own_account_id(&self) -> Result<AccountId, BackendError>;
}

/// One backend as the only account: an engine over it copies into the service's own account
/// only. For the load generator's in-process scenarios and for tests that wrap one backend.
pub struct OwnAccountOnly(pub Arc<dyn Ec2Backend>);

#[async_trait]
impl Backends for OwnAccountOnly {
    fn own(&self) -> Arc<dyn Ec2Backend> {
        Arc::clone(&self.0)
    }

    fn for_account(&self, account: &AccountId) -> Result<Arc<dyn Ec2Backend>, UnknownAccount> {
        Err(UnknownAccount {
            account: account.clone(),
        })
    }

    fn account(&self, _account: &AccountId) -> Option<AccountEntry> {
        None
    }

    fn known_own_account_id(&self) -> Option<AccountId> {
        None
    }

    async fn own_account_id(&self) -> Result<AccountId, BackendError> {
        Err(BackendError::from_code(
            "UnauthorizedOperation",
            "this backend serves the service's own account only and does not know its id",
        ))
    }
}
