//! [`SdkBackends`]: the service's own account and every configured account through the SDK.
//!
//! A configured account is reached with credentials from STS AssumeRole (its `role_arn`, its
//! `external_id`, session name `amicopy`) on top of the service's own credentials. aws-config's
//! `AssumeRoleProvider` makes the STS calls; each account's identity cache (shared by its EC2
//! and KMS clients in every Region) keeps the credentials and refreshes them before they
//! expire. An account's backend is built on its first use and reused until its entry changes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use aws_config::{SdkConfig, identity::IdentityCache, sts::AssumeRoleProvider};
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::OnceCell;

use super::{Ec2Settings, Ec2SetupError, SdkBackend, errors::from_sdk_error, own_sdk_config};
use crate::{
    backend::{
        BackendError, Backends, Ec2Backend, UnknownAccount,
        accounts::{AccountEntry, Accounts},
    },
    domain::AccountId,
};

/// The STS session name amicopy's assumed-role sessions carry (CloudTrail shows it).
const SESSION_NAME: &str = "amicopy";

/// Every account amicopy may copy into, through the SDK.
#[derive(Debug)]
pub struct SdkBackends {
    /// The service's own configuration: the default chain, `--assume-role-arn` applied.
    own_config: SdkConfig,
    settings: Ec2Settings,
    own: Arc<SdkBackend>,
    accounts: Accounts,
    /// Backends built so far, with the entry each was built from.
    built: Mutex<HashMap<AccountId, (AccountEntry, Arc<SdkBackend>)>>,
    own_id: OnceCell<AccountId>,
}

impl SdkBackends {
    /// The own account from aws-config's default chain (and `--assume-role-arn`), and the
    /// accounts of `accounts`, whose roles are assumed with the own account's credentials.
    pub async fn new(settings: &Ec2Settings, accounts: Accounts) -> Result<Self, Ec2SetupError> {
        let own_config = own_sdk_config(settings).await?;
        let own = SdkBackend::try_from_sdk_config(own_config.clone(), settings)?;
        Ok(Self::with_own(own_config, own, settings, accounts))
    }

    /// Like [`SdkBackends::new`], on an aws-config the caller made (tests point every service
    /// at moto with its `endpoint_url`). `settings.assume_role_arn` is not applied here.
    pub fn from_sdk_config(config: SdkConfig, settings: &Ec2Settings, accounts: Accounts) -> Self {
        let own = SdkBackend::from_sdk_config(config.clone(), settings);
        Self::with_own(config, own, settings, accounts)
    }

    fn with_own(own_config: SdkConfig, own: SdkBackend, settings: &Ec2Settings, accounts: Accounts) -> Self {
        Self {
            own_config,
            settings: settings.clone(),
            own: Arc::new(own),
            accounts,
            built: Mutex::new(HashMap::new()),
            own_id: OnceCell::new(),
        }
    }

    /// How many configured accounts have had their backend built.
    pub fn accounts_built(&self) -> usize {
        self.built.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// A backend acting in `entry`'s account through its role.
    fn build(&self, entry: &AccountEntry) -> SdkBackend {
        let role = LazyAssumeRole {
            role_arn: entry.role_arn.clone(),
            external_id: entry.external_id.clone(),
            base: self.own_config.clone(),
            provider: OnceCell::new(),
        };
        let config = self
            .own_config
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(role))
            .identity_cache(IdentityCache::lazy().build())
            .build();
        SdkBackend::from_sdk_config(config, &self.settings)
    }
}

#[async_trait]
impl Backends for SdkBackends {
    fn own(&self) -> Arc<dyn Ec2Backend> {
        self.own.clone()
    }

    fn for_account(&self, account: &AccountId) -> Result<Arc<dyn Ec2Backend>, UnknownAccount> {
        let Some(entry) = self.accounts.get(account) else {
            if self.own_id.get() == Some(account) {
                return Ok(self.own.clone());
            }
            return Err(UnknownAccount {
                account: account.clone(),
            });
        };
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((used, backend)) = built.get(account)
            && used.role_arn == entry.role_arn
            && used.external_id == entry.external_id
        {
            return Ok(backend.clone());
        }
        // First use, or the reloaded file changed how the account is reached.
        let backend = Arc::new(self.build(&entry));
        built.insert(account.clone(), (entry, backend.clone()));
        Ok(backend)
    }

    fn account(&self, account: &AccountId) -> Option<AccountEntry> {
        self.accounts.get(account)
    }

    fn known_own_account_id(&self) -> Option<AccountId> {
        self.own_id.get().cloned()
    }

    async fn own_account_id(&self) -> Result<AccountId, BackendError> {
        self.own_id
            .get_or_try_init(|| async {
                let output = aws_sdk_sts::Client::new(&self.own_config)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(from_sdk_error)?;
                let account = output.account().unwrap_or_default();
                AccountId::parse(account).map_err(|error| {
                    super::errors::invalid_response(format!(
                        "STS GetCallerIdentity answered an account amicopy cannot read: {}",
                        error.description
                    ))
                })
            })
            .await
            .cloned()
    }
}

/// An `AssumeRoleProvider` built on its first use: building one is async in aws-config, and
/// handing out an account's backend is not. Credentials are cached by the identity cache in
/// front of it, not here.
#[derive(Debug)]
struct LazyAssumeRole {
    role_arn: String,
    external_id: Option<String>,
    /// Whose credentials assume the role, and where STS is.
    base: SdkConfig,
    provider: OnceCell<AssumeRoleProvider>,
}

impl LazyAssumeRole {
    async fn provider(&self) -> &AssumeRoleProvider {
        self.provider
            .get_or_init(|| {
                let mut role = AssumeRoleProvider::builder(&self.role_arn)
                    .session_name(SESSION_NAME)
                    .configure(&self.base);
                if let Some(external_id) = &self.external_id {
                    role = role.external_id(external_id);
                }
                role.build()
            })
            .await
    }
}

impl ProvideCredentials for LazyAssumeRole {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(async move { self.provider().await.provide_credentials().await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amicopy_testing::moto::test_sdk_config;

    const TEAM: &str = "222233334444";

    fn file_with(path: &std::path::Path, role: &str) {
        let body =
            format!(r#"{{"accounts":[{{"account_id":"{TEAM}","role_arn":"arn:aws:iam::{TEAM}:role/{role}"}}]}}"#);
        std::fs::write(path, body).unwrap();
    }

    fn settings() -> Ec2Settings {
        Ec2Settings {
            assume_role_arn: None,
            ec2_endpoint_url: None,
            ec2_timeout: std::time::Duration::from_secs(5),
        }
    }

    #[test]
    fn an_account_is_built_once_and_again_only_when_its_entry_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.json");
        file_with(&path, "amicopy");
        let accounts = Accounts::load(path.clone()).unwrap();
        let backends = SdkBackends::from_sdk_config(test_sdk_config(), &settings(), accounts.clone());
        let team = AccountId::parse(TEAM).unwrap();
        assert_eq!(backends.accounts_built(), 0, "nothing is built before it is used");

        let first = backends.for_account(&team).unwrap();
        let again = backends.for_account(&team).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(backends.accounts_built(), 1);
        assert_eq!(
            backends.account(&team).unwrap().role_arn,
            format!("arn:aws:iam::{TEAM}:role/amicopy")
        );

        file_with(&path, "amicopy-v2");
        accounts.reload().unwrap();
        let rebuilt = backends.for_account(&team).unwrap();
        assert!(!Arc::ptr_eq(&first, &rebuilt), "a new role means new credentials");
    }

    #[test]
    fn an_account_not_configured_is_refused_and_the_own_id_is_unknown_until_asked() {
        let backends = SdkBackends::from_sdk_config(test_sdk_config(), &settings(), Accounts::none());
        let stranger = AccountId::parse("999988887777").unwrap();
        let error = backends.for_account(&stranger).err().unwrap();
        assert_eq!(error.account, stranger);
        assert_eq!(backends.known_own_account_id(), None);
        assert!(backends.account(&stranger).is_none());
    }
}
