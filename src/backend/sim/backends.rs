//! [`SimBackends`]: the simulated world's accounts as a [`Backends`] registry: the simulator's
//! own account, and each account the accounts file lists now.

use std::sync::Arc;

use async_trait::async_trait;

use super::Simulator;
use crate::{
    backend::{BackendError, Backends, Ec2Backend, UnknownAccount, accounts::AccountEntry},
    domain::AccountId,
};

/// Every account of one simulated world.
#[derive(Debug, Clone)]
pub struct SimBackends {
    own: Arc<Simulator>,
}

impl SimBackends {
    /// The accounts of `simulator`'s world: its own, and those of the accounts file it was made
    /// with ([`Simulator::with_accounts`]).
    pub fn new(simulator: Simulator) -> Self {
        let own = simulator.as_account(simulator.own_account_id());
        Self { own: Arc::new(own) }
    }

    /// The simulator seen by its own account: what tests inspect the world through.
    pub fn simulator(&self) -> &Arc<Simulator> {
        &self.own
    }
}

#[async_trait]
impl Backends for SimBackends {
    fn own(&self) -> Arc<dyn Ec2Backend> {
        self.own.clone()
    }

    fn for_account(&self, account: &AccountId) -> Result<Arc<dyn Ec2Backend>, UnknownAccount> {
        if account == self.own.own_account_id() {
            return Ok(self.own.clone());
        }
        if self.own.accounts().get(account).is_none() {
            return Err(UnknownAccount {
                account: account.clone(),
            });
        }
        Ok(Arc::new(self.own.as_account(account)))
    }

    fn account(&self, account: &AccountId) -> Option<AccountEntry> {
        self.own.accounts().get(account)
    }

    fn known_own_account_id(&self) -> Option<AccountId> {
        Some(self.own.own_account_id().clone())
    }

    async fn own_account_id(&self) -> Result<AccountId, BackendError> {
        Ok(self.own.own_account_id().clone())
    }
}
