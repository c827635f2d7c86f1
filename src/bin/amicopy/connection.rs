//! The channel to amicopyd: endpoint, TLS (server CA, client certificate), bearer token,
//! per-call timeout, and the retry of calls the server could not take.

use std::time::Duration;

use amicopy::proto::{
    distribution_service_client::DistributionServiceClient, image_copy_service_client::ImageCopyServiceClient,
};
use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

use crate::{args::ConnectionArgs, failure::CliError, retry::RetryPolicy};

/// The client of ImageCopyService this CLI uses.
pub type JobClient = ImageCopyServiceClient<InterceptedService<Channel, Credentials>>;
/// The client of DistributionService this CLI uses.
pub type DistributionClient = DistributionServiceClient<InterceptedService<Channel, Credentials>>;

/// Adds the bearer token, when there is one, to every call.
#[derive(Clone)]
pub struct Credentials {
    authorization: Option<MetadataValue<Ascii>>,
}

impl std::fmt::Debug for Credentials {
    /// Never the token itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &self.authorization.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl Interceptor for Credentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A lazily connected channel and what every call made on it needs.
#[derive(Debug, Clone)]
pub struct Connection {
    channel: Channel,
    credentials: Credentials,
    /// Longest wait for one unary call's answer.
    pub timeout: Duration,
    /// How calls the server could not take are retried.
    pub retry: RetryPolicy,
    /// The endpoint as given, for the resume command printed after Ctrl-C.
    pub endpoint: String,
}

impl Connection {
    /// Builds the channel from the flags; connects on the first call, so an unreachable server
    /// is an UNAVAILABLE answer (retried, then exit 3) rather than an error here.
    pub fn new(args: &ConnectionArgs) -> Result<Self, CliError> {
        let tls = args.endpoint.starts_with("https://");
        if !tls && !args.endpoint.starts_with("http://") {
            return Err(CliError::usage(format!(
                "--endpoint {:?} must start with http:// or https://",
                args.endpoint
            )));
        }
        let mut endpoint = Endpoint::from_shared(args.endpoint.clone())
            .map_err(|error| CliError::usage(format!("--endpoint {:?}: {error}", args.endpoint)))?
            .connect_timeout(args.timeout)
            // A watch can be silent for minutes; keepalive pings notice a dead link.
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        if tls {
            endpoint = endpoint
                .tls_config(tls_config(args)?)
                .map_err(|error| CliError::usage(format!("TLS settings: {error}")))?;
        } else if args.ca_cert.is_some() || args.client_cert.is_some() || args.tls_server_name.is_some() {
            return Err(CliError::usage(
                "--ca-cert, --client-cert and --tls-server-name need an https:// --endpoint",
            ));
        }
        let authorization = args
            .token
            .as_deref()
            .map(|token| {
                format!("Bearer {token}")
                    .parse::<MetadataValue<Ascii>>()
                    .map_err(|_| CliError::usage("--token must be printable ASCII"))
            })
            .transpose()?;
        Ok(Self {
            channel: endpoint.connect_lazy(),
            credentials: Credentials { authorization },
            timeout: args.timeout,
            retry: RetryPolicy::new(args.retries),
            endpoint: args.endpoint.clone(),
        })
    }

    /// A client of ImageCopyService on this channel.
    pub fn jobs(&self) -> JobClient {
        ImageCopyServiceClient::with_interceptor(self.channel.clone(), self.credentials.clone())
    }

    /// A client of DistributionService on this channel.
    pub fn distributions(&self) -> DistributionClient {
        DistributionServiceClient::with_interceptor(self.channel.clone(), self.credentials.clone())
    }

    /// A unary request with this connection's timeout.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}

fn tls_config(args: &ConnectionArgs) -> Result<ClientTlsConfig, CliError> {
    let mut config = ClientTlsConfig::new();
    config = match &args.ca_cert {
        Some(path) => config.ca_certificate(Certificate::from_pem(read_pem(path, "--ca-cert")?)),
        None => config.with_native_roots(),
    };
    if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
        config = config.identity(Identity::from_pem(
            read_pem(cert, "--client-cert")?,
            read_pem(key, "--client-key")?,
        ));
    }
    if let Some(name) = &args.tls_server_name {
        config = config.domain_name(name.clone());
    }
    Ok(config)
}

fn read_pem(path: &std::path::Path, flag: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|error| CliError::usage(format!("{flag} {}: {error}", path.display())))
}
