//! TLS for the listener and the tenant of a client certificate.
//!
//! The server presents `--tls-cert`/`--tls-key`; with `--auth mtls` it also demands a client
//! certificate signed by `--tls-client-ca`. The tenant is the certificate's first DNS name
//! (subjectAltName), or its subject common name when it has none.

use std::path::Path;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};
use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

use super::{AuthError, AuthSettings, tokens::valid_tenant};

/// The listener's TLS configuration, or `None` when the settings name no certificate.
pub fn server_tls(settings: &AuthSettings) -> Result<Option<ServerTlsConfig>, AuthError> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    install_crypto_provider();
    let identity = Identity::from_pem(read("--tls-cert", cert)?, read("--tls-key", key)?);
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &settings.tls_client_ca {
        config = config.client_ca_root(Certificate::from_pem(read("--tls-client-ca", ca)?));
    }
    // Building a server with it parses the certificates and key now, not at the first call.
    tonic::transport::Server::builder()
        .tls_config(config.clone())
        .map_err(|error| AuthError::Tls(display_chain(&error)))?;
    Ok(Some(config))
}

/// Makes ring rustls's process-wide cryptography. Other dependencies enable a second provider,
/// and rustls then refuses to pick one by itself.
pub fn install_crypto_provider() {
    // An error means a provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn display_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, AuthError> {
    std::fs::read(path).map_err(|source| AuthError::Read {
        setting,
        path: path.to_owned(),
        source,
    })
}

/// The tenant a DER client certificate names: its first DNS subjectAltName, else its subject
/// CN; `None` when it names none usable.
pub fn tenant_of_certificate(der: &[u8]) -> Option<String> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let dns_name = certificate
        .subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|extension| {
            extension.value.general_names.iter().find_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                _ => None,
            })
        });
    let tenant = dns_name.or_else(|| {
        certificate
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
    })?;
    valid_tenant(&tenant).then_some(tenant)
}

#[cfg(test)]
mod tests {
    use rcgen::{CertificateParams, DnType, KeyPair};

    use super::*;

    fn certificate(names: &[&str], common_name: &str) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_first_dns_name_names_the_tenant() {
        let der = certificate(&["127.0.0.1", "team-a.example", "team-b.example"], "cn-tenant");
        assert_eq!(tenant_of_certificate(&der).as_deref(), Some("team-a.example"));
    }

    #[test]
    fn without_a_dns_name_the_common_name_does() {
        assert_eq!(
            tenant_of_certificate(&certificate(&[], "team-c")).as_deref(),
            Some("team-c")
        );
        assert_eq!(tenant_of_certificate(&certificate(&[], "has space")), None);
        assert_eq!(tenant_of_certificate(b"not a certificate"), None);
    }
}
