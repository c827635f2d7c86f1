//! TLS for the web view: the same certificate, key and client CA as the gRPC port
//! (`--tls-cert`, `--tls-key`, `--tls-client-ca`), as a rustls configuration the web view's
//! listener can use (tonic's own configuration is opaque). With `--auth mtls` a client
//! certificate signed by the client CA is required, exactly as on the gRPC port.

use std::{path::Path, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};

use crate::auth::{AuthError, AuthMode, AuthSettings, mtls::install_crypto_provider};

/// The web view's TLS configuration, or `None` when the settings name no certificate.
pub fn server_config(settings: &AuthSettings) -> Result<Option<Arc<ServerConfig>>, AuthError> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    install_crypto_provider();
    let chain = certificates("--tls-cert", cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error("--tls-key", key, &e))?;
    let builder = ServerConfig::builder();
    let builder = match (&settings.tls_client_ca, settings.mode) {
        (Some(ca), AuthMode::Mtls) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates("--tls-client-ca", ca)? {
                roots
                    .add(certificate)
                    .map_err(|e| AuthError::Tls(format!("--tls-client-ca {}: {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .map_err(|e| AuthError::Tls(format!("--tls-client-ca {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| AuthError::Tls(format!("--tls-cert and --tls-key: {e}")))?;
    // HTTP/2 lets a browser keep many live views open over one connection.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

fn certificates(setting: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, AuthError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(setting, path, &e))?;
    if certificates.is_empty() {
        return Err(AuthError::Tls(format!(
            "{setting} {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certificates)
}

fn pem_error(setting: &str, path: &Path, error: &rustls::pki_types::pem::Error) -> AuthError {
    AuthError::Tls(format!("{setting} {}: {error}", path.display()))
}
