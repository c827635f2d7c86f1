//! moto's EC2 server on a free loopback port, for tests that drive the real SDK
//! ([`amicopy::backend::ec2::SdkBackend`]) against an emulator.
//!
//! The binary is `$MOTO_SERVER`, else `moto_server` on `PATH`, else the one in the tools venv
//! CI uses; when it is in none of them it is installed there first ([`install`]). Tests fail
//! when it can be neither found nor installed, unless `AMICOPY_SKIP_MOTO_TESTS=1`
//! ([`moto_tests_skipped`]), which also keeps it from being installed.

pub mod install;

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::PathBuf,
    process::Stdio,
    time::Duration,
};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::{
    Client,
    config::{Credentials, Region as SdkRegion, SharedCredentialsProvider},
    types::Filter,
};
use aws_smithy_async::{rt::sleep::TokioSleep, time::SystemTimeSource};
use tokio::{
    net::TcpStream,
    process::{Child, Command},
    time::{Instant, sleep},
};

use amicopy::backend::{
    accounts::Accounts,
    ec2::{Ec2Settings, SdkBackend, SdkBackends},
};

use self::install::Places;

/// The Region test clients default to.
pub const TEST_REGION: &str = "us-east-1";
/// moto accepts any credentials; these are the ones its documentation uses.
const TEST_ACCESS_KEY: &str = "testing";
const TEST_SECRET_KEY: &str = "testing";
/// How long moto may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether moto tests were asked to be skipped (`AMICOPY_SKIP_MOTO_TESTS=1`). Without that, a
/// missing moto fails them.
pub fn moto_tests_skipped() -> bool {
    std::env::var("AMICOPY_SKIP_MOTO_TESTS").is_ok_and(|value| value == "1")
}

/// A running `moto_server`, killed when this is dropped.
#[derive(Debug)]
pub struct MotoServer {
    _child: Child,
    addr: SocketAddr,
}

impl MotoServer {
    /// Starts moto on a free loopback port and waits (up to 30 s) until it accepts connections,
    /// installing it first when it is nowhere (see the module doc).
    pub async fn start() -> Result<MotoServer, String> {
        let binary = find_binary().await?;
        let addr = free_loopback_addr()?;
        let mut child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{} exited before answering: {status}", binary.display()));
            }
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(MotoServer { _child: child, addr });
            }
            if Instant::now() >= deadline {
                return Err(format!("moto_server did not answer on {addr} within {START_TIMEOUT:?}"));
            }
            sleep(Duration::from_millis(100)).await;
        }
    }

    /// The URL to point the EC2 SDK at (`--ec2-endpoint-url`).
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// EC2 settings that reach this moto, with a short timeout.
    pub fn ec2_settings(&self) -> Ec2Settings {
        Ec2Settings {
            assume_role_arn: None,
            ec2_endpoint_url: Some(self.endpoint_url()),
            ec2_timeout: std::time::Duration::from_secs(10),
        }
    }

    /// An [`SdkBackend`] on this moto, with static test credentials and [`TEST_REGION`].
    pub fn backend(&self) -> SdkBackend {
        SdkBackend::from_sdk_config(test_sdk_config(), &self.ec2_settings())
    }

    /// aws-config for this moto: [`test_sdk_config`] with every service (EC2, STS, KMS) sent
    /// here, as `AWS_ENDPOINT_URL` does for a config from `aws_config::defaults`.
    pub fn sdk_config(&self) -> SdkConfig {
        test_sdk_config()
            .into_builder()
            .endpoint_url(self.endpoint_url())
            .build()
    }

    /// Every account on this moto: the own account with static test credentials (moto's
    /// default account, 123456789012) and each of `accounts` through STS AssumeRole, with no
    /// `--ec2-endpoint-url`: every client finds moto through [`MotoServer::sdk_config`].
    pub fn backends(&self, accounts: Accounts) -> SdkBackends {
        let settings = Ec2Settings {
            ec2_endpoint_url: None,
            ..self.ec2_settings()
        };
        SdkBackends::from_sdk_config(self.sdk_config(), &settings, accounts)
    }

    /// A plain aws-sdk-ec2 client on this moto in `region`, for setting up and checking what
    /// the backend cannot express.
    pub fn client(&self, region: &str) -> Client {
        let config = aws_sdk_ec2::config::Builder::from(&test_sdk_config())
            .region(SdkRegion::new(region.to_owned()))
            .endpoint_url(self.endpoint_url())
            .build();
        Client::from_conf(config)
    }

    /// The environment an `amicopyd` child process needs to use this moto with `--backend ec2`:
    /// static credentials, a Region (so aws-config does not ask instance metadata), instance
    /// metadata off, and the backend flags as environment variables.
    pub fn amicopyd_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.aws_env();
        env.retain(|(name, _)| *name != "AWS_ENDPOINT_URL");
        env.extend([
            ("AMICOPY_BACKEND", "ec2".to_owned()),
            ("AMICOPY_EC2_ENDPOINT_URL", self.endpoint_url()),
        ]);
        env
    }

    /// The AWS SDK's own standard settings for this moto, and nothing of amicopy's: test
    /// credentials, the Region, no instance metadata, and `AWS_ENDPOINT_URL`, which every SDK
    /// client (EC2, STS, KMS) honours.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY.to_owned()),
            ("AWS_REGION", TEST_REGION.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint_url()),
        ]
    }

    /// An available EBS-backed AMI moto preloaded in `region`: the lowest id, so every call
    /// picks the same one. moto preloads the same 8-hex ids in every Region.
    pub async fn source_image_id(&self, region: &str) -> Result<String, String> {
        let output = self
            .client(region)
            .describe_images()
            .filters(Filter::builder().name("root-device-type").values("ebs").build())
            .filters(Filter::builder().name("state").values("available").build())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot list moto's images: {}",
                    aws_sdk_ec2::error::DisplayErrorContext(e)
                )
            })?;
        output
            .images()
            .iter()
            .filter(|image| !image.block_device_mappings().is_empty())
            .filter_map(|image| image.image_id())
            .min()
            .map(str::to_owned)
            .ok_or_else(|| format!("moto has no available EBS image in {region}"))
    }
}

/// aws-config for moto: static test credentials and [`TEST_REGION`], nothing read from the
/// environment, profile files or instance metadata.
pub fn test_sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        // What aws-config's loader would add; the assume-role provider needs both.
        .sleep_impl(TokioSleep::new())
        .time_source(SystemTimeSource::new())
        .region(SdkRegion::new(TEST_REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            TEST_ACCESS_KEY,
            TEST_SECRET_KEY,
            None,
            None,
            "amicopy-tests",
        )))
        .build()
}

/// `moto_server`, installed first when it is nowhere, unless moto tests are skipped.
async fn find_binary() -> Result<PathBuf, String> {
    let places = Places::from_env();
    if let Some(found) = places.find() {
        return Ok(found);
    }
    if moto_tests_skipped() {
        return Err("moto_server not found, and not installed because AMICOPY_SKIP_MOTO_TESTS=1".to_owned());
    }
    // The install waits on a file lock and on pip: not on the runtime's threads.
    tokio::task::spawn_blocking(move || install::find_or_install(&places))
        .await
        .map_err(|e| format!("the moto install task failed: {e}"))?
}

/// A loopback port nothing listens on right now. moto binds it a moment later; another process
/// taking it meanwhile makes moto exit, which [`MotoServer::start`] reports.
fn free_loopback_addr() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map_err(|e| format!("cannot find a free port: {e}"))
}
