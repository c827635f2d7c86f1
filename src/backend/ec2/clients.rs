//! One aws-sdk-ec2 client and one aws-sdk-kms client per Region, built on first use and
//! reused: a client holds its connection pool and credentials cache, which are worth keeping
//! between calls.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use aws_config::{SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_ec2::config::Region as SdkRegion;

use crate::domain::Region;

/// The clients of one account built so far, and how to build the next ones.
#[derive(Debug)]
pub(super) struct ClientCache {
    ec2_template: aws_sdk_ec2::config::Builder,
    kms_template: aws_sdk_kms::config::Builder,
    ec2: Mutex<HashMap<Region, aws_sdk_ec2::Client>>,
    kms: Mutex<HashMap<Region, aws_sdk_kms::Client>>,
}

impl ClientCache {
    /// A cache whose clients share `config`'s credentials and `timeout`; EC2 clients call
    /// `ec2_endpoint_url` when given.
    pub(super) fn new(config: &SdkConfig, ec2_endpoint_url: Option<&str>, timeout: Duration) -> Self {
        // The engine retries whole operations, with its own backoff and after checking whether
        // an unanswered CopyImage took effect; SDK retries underneath would multiply its attempts
        // and hide timeouts from it.
        let retry = RetryConfig::disabled();
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(timeout)
            .operation_attempt_timeout(timeout)
            .build();
        let mut ec2_template = aws_sdk_ec2::config::Builder::from(config)
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone());
        // Without an override, the endpoint aws-config found (AWS_ENDPOINT_URL_EC2,
        // AWS_ENDPOINT_URL, profile) stays in force; KMS always uses aws-config's.
        if let Some(url) = ec2_endpoint_url {
            ec2_template = ec2_template.endpoint_url(url);
        }
        let kms_template = aws_sdk_kms::config::Builder::from(config)
            .retry_config(retry)
            .timeout_config(timeouts);
        Self {
            ec2_template,
            kms_template,
            ec2: Mutex::new(HashMap::new()),
            kms: Mutex::new(HashMap::new()),
        }
    }

    /// The EC2 client of `region`, built now if this is the Region's first EC2 call.
    pub(super) fn ec2(&self, region: &Region) -> aws_sdk_ec2::Client {
        cached(&self.ec2, region, || {
            aws_sdk_ec2::Client::from_conf(self.ec2_template.clone().region(sdk_region(region)).build())
        })
    }

    /// The KMS client of `region`, built now if this is the Region's first KMS call.
    pub(super) fn kms(&self, region: &Region) -> aws_sdk_kms::Client {
        cached(&self.kms, region, || {
            aws_sdk_kms::Client::from_conf(self.kms_template.clone().region(sdk_region(region)).build())
        })
    }

    /// How many EC2 clients have been built.
    pub(super) fn built(&self) -> usize {
        self.ec2.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

fn sdk_region(region: &Region) -> SdkRegion {
    SdkRegion::new(region.as_str().to_owned())
}

fn cached<K: Hash + Eq + Clone, C: Clone>(clients: &Mutex<HashMap<K, C>>, key: &K, build: impl FnOnce() -> C) -> C {
    clients
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key.clone())
        .or_insert_with(build)
        .clone()
}
