//! A throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1 and localhost, and
//! client certificates naming a tenant, all written as PEM files in a temp dir.

use std::{net::SocketAddr, path::PathBuf};

use amicopy::proto::image_copy_service_client::ImageCopyServiceClient;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use tempfile::TempDir;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The CA and the server's certificate, on disk.
pub struct TestPki {
    dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    /// The CA certificate (for --tls-client-ca).
    pub ca_path: PathBuf,
    /// The server certificate (for --tls-cert).
    pub server_cert_path: PathBuf,
    /// The server key (for --tls-key).
    pub server_key_path: PathBuf,
}

impl TestPki {
    /// A fresh CA and a server certificate it signed.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "amicopy test CA");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let ca_pem = ca_cert.pem();
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("server params");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).expect("write PEM");
            path
        };
        let ca_path = write("ca.pem", &ca_pem);
        let server_cert_path = write("server.pem", &server_cert.pem());
        let server_key_path = write("server-key.pem", &server_key.serialize_pem());
        Self {
            dir,
            issuer,
            ca_pem,
            ca_path,
            server_cert_path,
            server_key_path,
        }
    }

    /// Server flags: TLS, and with `client_ca` mutual TLS.
    pub fn server_flags(&self, mutual: bool) -> Vec<String> {
        let mut flags = vec![
            "--tls-cert".to_owned(),
            self.server_cert_path.display().to_string(),
            "--tls-key".to_owned(),
            self.server_key_path.display().to_string(),
        ];
        if mutual {
            flags.extend([
                "--auth".to_owned(),
                "mtls".to_owned(),
                "--tls-client-ca".to_owned(),
                self.ca_path.display().to_string(),
            ]);
        }
        flags
    }

    /// A client certificate whose DNS name is `tenant`, signed by the CA.
    pub fn client_identity(&self, tenant: &str) -> Identity {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(vec![tenant.to_owned()]).expect("client params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.distinguished_name.push(DnType::CommonName, "ignored-cn");
        let cert = params.signed_by(&key, &self.issuer).expect("client certificate");
        Identity::from_pem(cert.pem(), key.serialize_pem())
    }

    /// A client certificate for `tenant` and its key, written as PEM files (for clients that
    /// read files, such as the `amicopy` CLI's --client-cert and --client-key).
    pub fn client_pem_files(&self, tenant: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(vec![tenant.to_owned()]).expect("client params");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("client certificate");
        let cert_path = self.dir.path().join(format!("client-{tenant}.pem"));
        let key_path = self.dir.path().join(format!("client-{tenant}-key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("write PEM");
        std::fs::write(&key_path, key.serialize_pem()).expect("write PEM");
        (cert_path, key_path)
    }

    /// A TLS client for the server at `addr`, trusting the CA, presenting `identity` if given.
    pub async fn client(
        &self,
        addr: SocketAddr,
        identity: Option<Identity>,
    ) -> Result<ImageCopyServiceClient<Channel>, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name("localhost");
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        let channel = Endpoint::from_shared(format!("https://{addr}"))
            .expect("endpoint")
            .tls_config(tls)?
            .connect()
            .await?;
        Ok(ImageCopyServiceClient::new(channel))
    }

    /// Where the PEM files are.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}
