//! The authentication, TLS and policy flags, and the rules for combining them.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};

use super::AuthError;

/// How callers prove who they are.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Nobody is asked: every call acts for the tenant "default". Allowed on a loopback address
    /// only, unless --allow-unauthenticated is given.
    #[default]
    None,
    /// Bearer tokens (`authorization: Bearer <token>`) listed by hash in --auth-tokens-file.
    Token,
    /// Client certificates signed by --tls-client-ca; the certificate's first DNS name (or its
    /// subject CN) is the tenant.
    Mtls,
}

/// Authentication, TLS and policy settings.
#[derive(Args, Debug, Clone, Default)]
pub struct AuthSettings {
    /// How callers authenticate: `none`, `token` or `mtls`.
    #[arg(long = "auth", env = "AMICOPY_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub mode: AuthMode,

    /// JSON file of accepted bearer tokens, as SHA-256 hashes with their tenant (with --auth
    /// token). Re-read on SIGHUP.
    #[arg(long, env = "AMICOPY_AUTH_TOKENS_FILE")]
    pub auth_tokens_file: Option<PathBuf>,

    /// Serve without authentication on an address other hosts can reach.
    #[arg(
        long,
        env = "AMICOPY_ALLOW_UNAUTHENTICATED",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_unauthenticated: bool,

    /// PEM certificate chain the server presents; turns on TLS (with --tls-key).
    #[arg(long, env = "AMICOPY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "AMICOPY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificates client certificates must be signed by (with --auth mtls).
    #[arg(long, env = "AMICOPY_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,

    /// JSON file saying which Regions, KMS keys and Outposts each tenant may use. Without it,
    /// every tenant may use everything.
    #[arg(long, env = "AMICOPY_POLICY_FILE")]
    pub policy_file: Option<PathBuf>,
}

impl AuthSettings {
    /// Checks that the flags fit together and that the server is not open to other hosts by
    /// accident.
    pub fn check(&self, listen: SocketAddr) -> Result<(), AuthError> {
        if self.mode == AuthMode::None && !listen.ip().is_loopback() && !self.allow_unauthenticated {
            return Err(AuthError::Unauthenticated { address: listen });
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(AuthError::Settings(
                "--tls-cert and --tls-key go together: give both to serve TLS".to_owned(),
            ));
        }
        match self.mode {
            AuthMode::Token if self.auth_tokens_file.is_none() => {
                Err(AuthError::Settings("--auth token needs --auth-tokens-file".to_owned()))
            }
            AuthMode::Mtls if self.tls_client_ca.is_none() || self.tls_cert.is_none() => Err(AuthError::Settings(
                "--auth mtls needs --tls-cert, --tls-key and --tls-client-ca".to_owned(),
            )),
            AuthMode::None | AuthMode::Token if self.tls_client_ca.is_some() => Err(AuthError::Settings(
                "--tls-client-ca is only used with --auth mtls".to_owned(),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn no_auth_is_allowed_on_loopback_only() {
        let open = AuthSettings::default();
        assert!(open.check(address("127.0.0.1:50051")).is_ok());
        assert!(open.check(address("[::1]:50051")).is_ok());
        let error = open.check(address("0.0.0.0:0")).unwrap_err().to_string();
        assert!(error.contains("--allow-unauthenticated"), "{error}");
    }

    #[test]
    fn allow_unauthenticated_opens_any_address() {
        let settings = AuthSettings {
            allow_unauthenticated: true,
            ..Default::default()
        };
        assert!(settings.check(address("0.0.0.0:0")).is_ok());
    }

    #[test]
    fn each_mode_names_the_flags_it_needs() {
        let token = AuthSettings {
            mode: AuthMode::Token,
            ..Default::default()
        };
        let error = token.check(address("0.0.0.0:0")).unwrap_err().to_string();
        assert!(error.contains("--auth-tokens-file"), "{error}");

        let mtls = AuthSettings {
            mode: AuthMode::Mtls,
            tls_cert: Some("cert.pem".into()),
            tls_key: Some("key.pem".into()),
            ..Default::default()
        };
        let error = mtls.check(address("0.0.0.0:0")).unwrap_err().to_string();
        assert!(error.contains("--tls-client-ca"), "{error}");

        let half_tls = AuthSettings {
            tls_cert: Some("cert.pem".into()),
            ..Default::default()
        };
        let error = half_tls.check(address("127.0.0.1:0")).unwrap_err().to_string();
        assert!(error.contains("--tls-key"), "{error}");
    }
}
