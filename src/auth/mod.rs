//! Who may call, and what they may do: authentication (bearer tokens or client certificates) as a
//! tower layer in front of every service, TLS for the listener, and the per-tenant policy the
//! CopyImage handler checks.
//!
//! - [`settings`] holds the flags and checks they fit together (and that a server reachable from
//!   other hosts does not run open by accident).
//! - [`tokens`] keeps the SHA-256 hashes of bearer tokens, re-read on SIGHUP by [`reload`].
//! - [`mtls`] builds the server's TLS configuration and names the tenant of a client certificate.
//! - [`caller`] is who a call acts for; [`layer`] authenticates each call and records its
//!   [`Caller`].
//! - [`policy`] says which Regions, KMS keys and Outposts each tenant may use.

use std::{path::PathBuf, sync::Arc};

use tonic::transport::ServerTlsConfig;

pub mod caller;
pub mod layer;
pub mod mtls;
pub mod policy;
pub mod reload;
pub mod settings;
pub mod tokens;

pub use caller::{Caller, DEFAULT_TENANT};
pub use layer::AuthLayer;
pub use policy::{Policy, PolicyDenial};
pub use settings::{AuthMode, AuthSettings};
pub use tokens::TokenStore;

/// Why authentication, TLS or policy could not be set up. Each message is one line that names
/// the flag or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The server would accept anyone on an address other hosts can reach.
    #[error(
        "refusing to listen on {address} without authentication: use --auth token or --auth mtls, \
         or pass --allow-unauthenticated to let anyone who reaches it act as the default tenant"
    )]
    Unauthenticated {
        /// The listen address.
        address: std::net::SocketAddr,
    },
    /// A flag another flag needs is missing, or two flags do not fit together.
    #[error("{0}")]
    Settings(String),
    /// A file could not be read.
    #[error("cannot read {setting} {path}: {source}")]
    Read {
        /// The flag that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The tokens file is unusable.
    #[error(transparent)]
    Tokens(#[from] tokens::TokenFileError),
    /// The policy file is unusable.
    #[error(transparent)]
    Policy(#[from] policy::PolicyFileError),
    /// The TLS certificate, key or client CA is unusable.
    #[error("invalid TLS settings (--tls-cert, --tls-key, --tls-client-ca): {0}")]
    Tls(String),
}

/// How a call proves who it is for, once the settings are read.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// Nobody is asked; every call acts for the default tenant.
    None,
    /// `authorization: Bearer <token>` metadata, looked up in the tokens file.
    Token(TokenStore),
    /// The client certificate presented in the TLS handshake.
    Mtls,
}

/// Everything authentication needs at run time, built once from [`AuthSettings`].
#[derive(Debug, Clone)]
pub struct Auth {
    /// The mode the settings chose.
    pub mode: AuthMode,
    /// How calls are authenticated.
    pub authenticator: Authenticator,
    /// The listener's TLS configuration, when it serves TLS.
    pub tls: Option<ServerTlsConfig>,
    /// What each tenant may do.
    pub policy: Arc<Policy>,
}

impl Auth {
    /// Checks the settings against the listen address and reads the tokens, certificates and
    /// policy they name.
    pub fn build(settings: &AuthSettings, listen: std::net::SocketAddr) -> Result<Self, AuthError> {
        settings.check(listen)?;
        let authenticator = match settings.mode {
            AuthMode::None => Authenticator::None,
            AuthMode::Token => match &settings.auth_tokens_file {
                Some(path) => Authenticator::Token(TokenStore::load(path.clone())?),
                None => return Err(AuthError::Settings("--auth token needs --auth-tokens-file".to_owned())),
            },
            AuthMode::Mtls => Authenticator::Mtls,
        };
        let policy = match &settings.policy_file {
            Some(path) => Policy::load(path)?,
            None => Policy::allow_all(),
        };
        let tls = mtls::server_tls(settings)?;
        if settings.mode == AuthMode::Token && tls.is_none() && !listen.ip().is_loopback() {
            tracing::warn!(
                %listen,
                "bearer tokens cross the network unencrypted; add --tls-cert and --tls-key"
            );
        }
        Ok(Self {
            mode: settings.mode,
            authenticator,
            tls,
            policy: Arc::new(policy),
        })
    }

    /// The tokens, when calls are authenticated with bearer tokens.
    pub fn tokens(&self) -> Option<&TokenStore> {
        match &self.authenticator {
            Authenticator::Token(tokens) => Some(tokens),
            _ => None,
        }
    }

    /// The layer that authenticates every call.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.authenticator.clone())
    }
}
