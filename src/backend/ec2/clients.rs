//! One aws-sdk-ec2 client per Region, built on first use and reused: a client holds its
//! connection pool and credentials cache, which are worth keeping between calls.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use aws_config::SdkConfig;
use aws_sdk_ec2::{
    Client,
    config::{Builder, Region as SdkRegion, retry::RetryConfig, timeout::TimeoutConfig},
};

use crate::domain::Region;

/// The clients built so far, and how to build the next one.
#[derive(Debug)]
pub(super) struct ClientCache {
    template: Builder,
    clients: Mutex<HashMap<Region, Client>>,
}

impl ClientCache {
    /// A cache whose clients share `config`'s credentials, the endpoint override and `timeout`.
    pub(super) fn new(config: &SdkConfig, endpoint_url: Option<&str>, timeout: Duration) -> Self {
        let mut template = Builder::from(config)
            // The engine retries whole operations, with its own backoff and after checking
            // whether an unanswered CopyImage took effect; SDK retries underneath would multiply
            // its attempts and hide timeouts from it.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(timeout)
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        // Without an override, the endpoint aws-config found (AWS_ENDPOINT_URL_EC2, profile)
        // stays in force.
        if let Some(url) = endpoint_url {
            template = template.endpoint_url(url);
        }
        Self {
            template,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client of `region`, built now if this is the Region's first call.
    pub(super) fn get(&self, region: &Region) -> Client {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients
            .entry(region.clone())
            .or_insert_with(|| {
                let config = self
                    .template
                    .clone()
                    .region(SdkRegion::new(region.as_str().to_owned()))
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }

    /// How many clients have been built.
    pub(super) fn built(&self) -> usize {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}
