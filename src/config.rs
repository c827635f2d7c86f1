//! Every setting of `amicopyd`, as a command-line flag with an environment variable beside it.
//! `amicopyd --help` lists them all with their defaults. [`Config::load_from`] also reads the
//! optional settings file ([`file`]).

use std::{ffi::OsString, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};

use crate::{
    api::limits::LimitSettings, auth::AuthSettings, backend::accounts::AccountsSettings, backend::ec2::Ec2Settings,
    backend::sim::SimSettings, domain::Region, engine::EngineSettings, flags, metrics::MetricsSettings,
    store::retention::RetentionSettings, telemetry::TelemetrySettings, ui::UiSettings,
};

pub mod file;

/// amicopyd: EC2 CopyImage as a gRPC service that carries every copy to the end.
#[derive(Parser, Debug, Clone)]
#[command(name = "amicopyd", version, about, long_about = None, args_override_self = true)]
pub struct Config {
    /// A JSON settings file whose keys are the long flag names (e.g. {"listen": "0.0.0.0:50051"});
    /// flags and environment variables override it; unknown keys are refused.
    #[arg(long, env = "AMICOPY_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address the gRPC server listens on.
    #[arg(long, env = "AMICOPY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Job database: postgres://USER[:PASSWORD]@HOST[:PORT]/DB for PostgreSQL, or sqlite://PATH.
    /// Default: a SQLite file in --data-dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory for the embedded SQLite database, used when no --database-url is given.
    #[arg(long, env = "AMICOPY_DATA_DIR", default_value = "./amicopy-data")]
    pub data_dir: PathBuf,

    /// Seconds to wait for a database connection before giving up (at start-up and per call).
    #[arg(value_name = "SECONDS", long = "database-timeout-seconds", env = "AMICOPY_DATABASE_TIMEOUT_SECONDS", default_value = "5", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub database_timeout: Duration,

    /// The Region copies are made in when a request names no destination_region.
    #[arg(long, env = "AMICOPY_REGION", default_value = "us-east-1", value_parser = parse_region)]
    pub region: Region,

    /// Where copies are made: `sim` (the built-in EC2 simulator) or `ec2` (the real EC2 API
    /// through aws-sdk-ec2, or an emulator with --ec2-endpoint-url).
    #[arg(long, env = "AMICOPY_BACKEND", value_enum, default_value_t = BackendKind::Sim)]
    pub backend: BackendKind,

    /// Seconds between this replica's looks for events its watchers may have missed (a lost
    /// notification): one store query for every watched job, and a store read per idle
    /// distribution watch or web-view page.
    #[arg(value_name = "SECONDS", long = "watch-poll-seconds", env = "AMICOPY_WATCH_POLL_SECONDS", default_value = "5", value_parser = flags::positive_seconds, allow_negative_numbers = true)]
    pub watch_poll: Duration,

    /// Job engine settings.
    #[command(flatten)]
    pub engine: EngineSettings,

    /// How long finished jobs and distributions are kept.
    #[command(flatten)]
    pub retention: RetentionSettings,

    /// Simulator settings (with --backend sim).
    #[command(flatten)]
    pub sim: SimSettings,

    /// EC2 settings (with --backend ec2).
    #[command(flatten)]
    pub ec2: Ec2Settings,

    /// The accounts copies may be made in besides the service's own.
    #[command(flatten)]
    pub accounts: AccountsSettings,

    /// Protective limits.
    #[command(flatten)]
    pub limits: LimitSettings,

    /// Prometheus metrics.
    #[command(flatten)]
    pub metrics: MetricsSettings,

    /// The web view.
    #[command(flatten)]
    pub ui: UiSettings,

    /// Authentication, TLS and per-tenant policy.
    #[command(flatten)]
    pub auth: AuthSettings,

    /// Logs and trace export.
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A flag or environment variable is wrong, or --help or --version was asked for; clap
    /// prints it and exits.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// The settings file is unreadable or has mistakes, one line each.
    #[error("{}", .0.join("\n"))]
    File(Vec<String>),
}

impl Config {
    /// Reads the settings from `args` (the program name first) and the environment, with the
    /// `--config` file's values as defaults under both.
    pub fn load_from<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let given = Self::command().try_get_matches_from(&args)?;
        let config = Self::from_arg_matches(&given)?;
        let Some(path) = &config.config else {
            return Ok(config);
        };
        let from_file = file::arguments(path, &given).map_err(ConfigError::File)?;
        let mut merged = args.iter().take(1).cloned().collect::<Vec<_>>();
        merged.extend(from_file);
        merged.extend(args.iter().skip(1).cloned());
        Ok(Self::try_parse_from(merged)?)
    }
}

/// `--region`: a Region code such as us-east-1.
fn parse_region(text: &str) -> Result<Region, String> {
    Region::parse(text).map_err(|error| error.description)
}

/// Which EC2 the service talks to.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The built-in simulator.
    Sim,
    /// EC2 through aws-sdk-ec2.
    Ec2,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Config::command().debug_assert();
    }

    #[test]
    fn every_setting_has_an_environment_variable_and_a_documented_flag() {
        let mut command = Config::command();
        let help = command.render_long_help().to_string();
        for arg in Config::command().get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let long = arg.get_long().unwrap_or_else(|| panic!("{id} has no long flag"));
            assert!(arg.get_env().is_some(), "--{long} has no environment variable");
            assert!(arg.get_help().is_some(), "--{long} has no doc line");
            assert!(help.contains(&format!("--{long}")), "--{long} is missing from --help");
        }
    }

    #[test]
    fn file_values_are_defaults_that_flags_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("amicopy.json");
        std::fs::write(
            &path,
            r#"{"region": "eu-west-1", "tenant-request-burst": 7, "sim-deny-source-regions": ["ap-south-1"]}"#,
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let config = Config::load_from(["amicopyd", "--config", path, "--tenant-request-burst", "9"]).unwrap();
        assert_eq!(config.region.as_str(), "eu-west-1");
        assert_eq!(config.limits.tenant_request_burst, 9);
        assert_eq!(config.sim.sim_deny_source_regions, vec!["ap-south-1".to_owned()]);
    }

    #[test]
    fn a_bad_file_is_refused_with_one_line_per_mistake() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("amicopy.json");
        std::fs::write(
            &path,
            r#"{"listen": "nowhere", "colour": "blue", "region": "us-east-1"}"#,
        )
        .unwrap();
        let Err(ConfigError::File(lines)) = Config::load_from(["amicopyd", "--config", path.to_str().unwrap()]) else {
            panic!("a bad file must be refused");
        };
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines.iter().any(|l| l.contains("listen") && l.contains("nowhere")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("unknown setting \"colour\"")),
            "{lines:?}"
        );
    }

    #[test]
    fn settings_arrive_typed() {
        let config =
            Config::try_parse_from(["amicopyd", "--tick-seconds", "0.25", "--watch-poll-seconds", "2"]).unwrap();
        assert_eq!(config.engine.tick, Duration::from_millis(250));
        assert_eq!(config.watch_poll, Duration::from_secs(2));
        assert_eq!(config.engine.lease, Duration::from_secs(30), "the default");
        assert_eq!(config.region.as_str(), "us-east-1");
    }

    #[test]
    fn an_invalid_setting_is_refused_with_its_flag_named() {
        for (flag, value) in [
            ("--tick-seconds", "-1"),
            ("--tick-seconds", "0"),
            ("--watch-poll-seconds", "abc"),
            ("--lease-seconds", "NaN"),
            ("--database-timeout-seconds", "-5"),
            ("--request-timeout-seconds", "0"),
            ("--metrics-refresh-seconds", "soon"),
            ("--copy-refill-per-second", "0"),
            ("--max-attempts", "0"),
            ("--tenant-requests-per-second", "-2"),
            ("--max-concurrent-requests", "0"),
            ("--region", "mars-1"),
        ] {
            let error = Config::try_parse_from(["amicopyd", flag, value])
                .expect_err(&format!("{flag} {value} must be refused"))
                .to_string();
            let first = error.lines().next().unwrap_or_default();
            assert!(first.contains(flag) && first.contains(value), "{flag} {value}: {error}");
        }
    }

    #[test]
    fn defaults_need_nothing_installed() {
        let config = Config::try_parse_from(["amicopyd"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.backend, BackendKind::Sim);
        assert!(config.database_url.is_none() || std::env::var_os("DATABASE_URL").is_some());
    }
}
