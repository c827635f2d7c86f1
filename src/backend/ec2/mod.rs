//! The real EC2 behind [`Ec2Backend`]: aws-sdk-ec2 (and aws-sdk-kms for key checks) with
//! credentials and Region settings from aws-config's default chain (environment, profile, SSO,
//! web identity / IRSA, IMDS), optionally assuming a role on top. [`SdkBackends`] reaches every
//! configured account by assuming its role (`accounts`).
//!
//! One SDK client per service and Region (`clients`), with the SDK's own retries off: the engine
//! retries whole operations. Requests are built in `request`, answers read in `response`, the
//! finishing calls are in `finishing`, and SDK errors become [`BackendError`]s in `errors`.
//! Images and snapshots are described by id filters, up to 200 ids per call, so ids EC2 does not
//! know are simply absent. Every client honours the SDK's `AWS_ENDPOINT_URL` and
//! `AWS_ENDPOINT_URL_<SERVICE>` when its configuration comes from `aws_config::defaults`.

mod accounts;
mod clients;
mod errors;
mod finishing;
mod request;
mod response;

pub use accounts::SdkBackends;

use std::time::Duration;

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig, sts::AssumeRoleProvider};
use aws_sdk_ec2::config::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use tracing::debug;

use self::{clients::ClientCache, errors::from_sdk_error};
use super::{
    BackendError, Ec2Backend, ImageStatus, KmsKeyLookup, SnapshotDeletion, SnapshotProgress, SourceImage, StartCopy,
};
use crate::domain::{AccountId, CreateVolumePermissions, LaunchPermissions, Region};

/// How amicopyd reaches EC2 (with `--backend ec2`).
#[derive(clap::Args, Debug, Clone)]
pub struct Ec2Settings {
    /// IAM role to assume for every EC2 call, through STS, with the credentials of the default
    /// chain (environment, profile, SSO, web identity, instance metadata).
    #[arg(long, env = "AMICOPY_ASSUME_ROLE_ARN")]
    pub assume_role_arn: Option<String>,

    /// EC2 endpoint to call instead of AWS's, in every Region and account: an emulator such as
    /// moto, or a VPC endpoint. STS and KMS follow the SDK's AWS_ENDPOINT_URL[_STS|_KMS].
    #[arg(long, env = "AMICOPY_EC2_ENDPOINT_URL", value_parser = crate::flags::http_url)]
    pub ec2_endpoint_url: Option<String>,

    /// Seconds one EC2 call may take before it counts as a retryable timeout whose outcome is
    /// unknown.
    #[arg(value_name = "SECONDS", long = "ec2-timeout-seconds", env = "AMICOPY_EC2_TIMEOUT_SECONDS", default_value = "30", value_parser = crate::flags::positive_seconds, allow_negative_numbers = true)]
    pub ec2_timeout: Duration,
}

/// Why the EC2 backend could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Ec2SetupError {
    /// `--ec2-endpoint-url` is not an http(s) URL.
    #[error("--ec2-endpoint-url must start with http:// or https://, not {0:?}")]
    EndpointUrl(String),
}

/// EC2 (and KMS) as one account reaches it through the SDK: one client per Region, built on
/// first use.
#[derive(Debug)]
pub struct SdkBackend {
    clients: ClientCache,
}

impl SdkBackend {
    /// Loads credentials and settings from aws-config's default chain, assumes
    /// `--assume-role-arn` on top when given, and checks the settings.
    pub async fn new(settings: &Ec2Settings) -> Result<Self, Ec2SetupError> {
        Self::try_from_sdk_config(own_sdk_config(settings).await?, settings)
    }

    /// A backend on an aws-config the caller made (tests pass static credentials this way).
    /// `settings.assume_role_arn` is not applied here; an invalid timeout falls back to 30 s
    /// and an invalid endpoint URL is left for the SDK to refuse on every call.
    pub fn from_sdk_config(config: SdkConfig, settings: &Ec2Settings) -> Self {
        Self {
            clients: ClientCache::new(&config, settings.ec2_endpoint_url.as_deref(), settings.ec2_timeout),
        }
    }

    fn try_from_sdk_config(config: SdkConfig, settings: &Ec2Settings) -> Result<Self, Ec2SetupError> {
        Ok(Self {
            clients: ClientCache::new(&config, settings.ec2_endpoint_url.as_deref(), settings.ec2_timeout),
        })
    }

    /// How many Region clients have been built so far: each Region's client is built once and
    /// reused by every later call.
    pub fn clients_built(&self) -> usize {
        self.clients.built()
    }
}

/// The service's own aws-config: the default chain (which reads `AWS_ENDPOINT_URL*`), with
/// `--assume-role-arn` assumed on top; the settings are checked first.
async fn own_sdk_config(settings: &Ec2Settings) -> Result<SdkConfig, Ec2SetupError> {
    check_endpoint_url(settings)?;
    let mut config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    if let Some(role_arn) = &settings.assume_role_arn {
        config = assume_role(config, role_arn).await;
    }
    Ok(config)
}

/// `config` with credentials for `role_arn`, assumed through STS with `config`'s own
/// credentials and refreshed before they expire. STS is reached where `config` says (its
/// endpoint, not `--ec2-endpoint-url`); the first EC2 call makes the first STS call.
pub async fn assume_role(config: SdkConfig, role_arn: &str) -> SdkConfig {
    let provider = AssumeRoleProvider::builder(role_arn)
        .session_name("amicopy")
        .configure(&config)
        .build()
        .await;
    config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

fn check_endpoint_url(settings: &Ec2Settings) -> Result<(), Ec2SetupError> {
    match &settings.ec2_endpoint_url {
        Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
            Err(Ec2SetupError::EndpointUrl(url.clone()))
        }
        _ => Ok(()),
    }
}

#[async_trait]
impl Ec2Backend for SdkBackend {
    async fn copy_image(&self, copy: &StartCopy) -> Result<String, BackendError> {
        let region = &copy.request.destination_region;
        let output = request::copy_image(copy)
            .send_with(&self.clients.ec2(region))
            .await
            .map_err(from_sdk_error)?;
        let image_id = output
            .image_id
            .ok_or_else(|| errors::invalid_response("CopyImage answered without an ImageId"))?;
        debug!(region = %region, image_id = %image_id, "copy image started");
        Ok(image_id)
    }

    async fn describe_images(&self, region: &Region, image_ids: &[String]) -> Result<Vec<ImageStatus>, BackendError> {
        if image_ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.clients.ec2(region);
        let mut statuses = Vec::with_capacity(image_ids.len());
        for ids in image_ids.chunks(request::MAX_FILTER_VALUES) {
            // A filter rather than ImageIds: with ImageIds EC2 fails the whole call when one id
            // is unknown, and a fresh copy can be briefly unknown.
            let pages = client
                .describe_images()
                .filters(request::filter("image-id", ids))
                .into_paginator()
                .send();
            let pages = pages.try_collect().await.map_err(from_sdk_error)?;
            statuses.extend(
                pages
                    .iter()
                    .flat_map(|page| page.images())
                    .filter_map(response::image_status),
            );
        }
        Ok(statuses)
    }

    async fn find_images_by_name(&self, region: &Region, name: &str) -> Result<Vec<ImageStatus>, BackendError> {
        let pages = self
            .clients
            .ec2(region)
            .describe_images()
            .owners("self")
            .filters(request::filter("name", &[name]))
            .into_paginator()
            .send();
        let pages = pages.try_collect().await.map_err(from_sdk_error)?;
        Ok(pages
            .iter()
            .flat_map(|page| page.images())
            .filter_map(response::image_status)
            .collect())
    }

    async fn snapshot_progress(
        &self,
        region: &Region,
        snapshot_ids: &[String],
    ) -> Result<Vec<SnapshotProgress>, BackendError> {
        if snapshot_ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.clients.ec2(region);
        let mut progress = Vec::with_capacity(snapshot_ids.len());
        for ids in snapshot_ids.chunks(request::MAX_FILTER_VALUES) {
            // A filter for the same reason as in describe_images: unknown ids are left out.
            let pages = client
                .describe_snapshots()
                .filters(request::filter("snapshot-id", ids))
                .into_paginator()
                .send();
            let pages = pages.try_collect().await.map_err(from_sdk_error)?;
            progress.extend(
                pages
                    .iter()
                    .flat_map(|page| page.snapshots())
                    .filter_map(response::snapshot_progress),
            );
        }
        Ok(progress)
    }

    async fn deregister_image(&self, region: &Region, image_id: &str) -> Result<(), BackendError> {
        self.clients
            .ec2(region)
            .deregister_image()
            .image_id(image_id)
            .send()
            .await
            .map_err(from_sdk_error)?;
        debug!(region = %region, image_id = %image_id, "image deregistered");
        Ok(())
    }

    async fn describe_source_image(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Option<SourceImage>, BackendError> {
        let answer = self
            .clients
            .ec2(region)
            .describe_images()
            .image_ids(image_id)
            .send()
            .await
            .map_err(from_sdk_error);
        match answer {
            Ok(output) => Ok(output
                .images()
                .iter()
                .find(|image| image.image_id() == Some(image_id))
                .and_then(|image| response::source_image(image, region))),
            Err(error) if errors::means_image_unknown(&error) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn deregister_image_and_snapshots(
        &self,
        region: &Region,
        image_id: &str,
    ) -> Result<Vec<SnapshotDeletion>, BackendError> {
        let deletions = finishing::deregister_image_and_snapshots(&self.clients.ec2(region), image_id).await?;
        debug!(region = %region, image_id = %image_id, snapshots = deletions.len(), "image deregistered with its snapshots");
        Ok(deletions)
    }

    async fn add_launch_permissions(
        &self,
        region: &Region,
        image_id: &str,
        permissions: &LaunchPermissions,
    ) -> Result<(), BackendError> {
        if permissions.is_empty() {
            return Ok(());
        }
        finishing::add_launch_permissions(&self.clients.ec2(region), image_id, permissions).await
    }

    async fn launch_permissions(&self, region: &Region, image_id: &str) -> Result<LaunchPermissions, BackendError> {
        finishing::launch_permissions(&self.clients.ec2(region), image_id).await
    }

    async fn add_create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
        user_ids: &[AccountId],
    ) -> Result<(), BackendError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        finishing::add_create_volume_permissions(&self.clients.ec2(region), snapshot_id, user_ids).await
    }

    async fn create_volume_permissions(
        &self,
        region: &Region,
        snapshot_id: &str,
    ) -> Result<CreateVolumePermissions, BackendError> {
        finishing::create_volume_permissions(&self.clients.ec2(region), snapshot_id).await
    }

    async fn enable_image_deprecation(
        &self,
        region: &Region,
        image_id: &str,
        deprecate_at: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        finishing::enable_image_deprecation(&self.clients.ec2(region), image_id, deprecate_at).await
    }

    async fn describe_kms_key(&self, region: &Region, key_id: &str) -> Result<KmsKeyLookup, BackendError> {
        finishing::describe_kms_key(&self.clients.kms(region), region, key_id).await
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Flags {
        #[command(flatten)]
        ec2: Ec2Settings,
    }

    fn settings(args: &[&str]) -> Ec2Settings {
        Flags::try_parse_from(std::iter::once("amicopyd").chain(args.iter().copied()))
            .unwrap()
            .ec2
    }

    #[test]
    fn flags_set_role_endpoint_and_timeout() {
        let parsed = settings(&[
            "--assume-role-arn",
            "arn:aws:iam::123456789012:role/copier",
            "--ec2-endpoint-url",
            "http://127.0.0.1:5000",
            "--ec2-timeout-seconds",
            "2.5",
        ]);
        assert_eq!(
            parsed.assume_role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/copier")
        );
        assert_eq!(parsed.ec2_endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(parsed.ec2_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn a_non_positive_timeout_or_an_endpoint_without_scheme_is_refused_when_read() {
        for bad in [
            ["--ec2-timeout-seconds", "0"],
            ["--ec2-timeout-seconds", "-1"],
            ["--ec2-timeout-seconds", "NaN"],
            ["--ec2-endpoint-url", "127.0.0.1:5000"],
        ] {
            let error = Flags::try_parse_from(std::iter::once("test").chain(bad))
                .expect_err("refused")
                .to_string();
            assert!(error.contains(bad[0]) && error.contains(bad[1]), "{error}");
        }
    }
}
