//! Every setting of `amicopyd`, as a command-line flag with an environment variable beside it.
//! `amicopyd --help` lists them all with their defaults.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, ValueEnum};

use crate::{auth::AuthSettings, backend::ec2::Ec2Settings, backend::sim::SimSettings, engine::EngineSettings};

/// amicopyd: EC2 CopyImage as a gRPC service that carries every copy to the end.
#[derive(Parser, Debug, Clone)]
#[command(name = "amicopyd", version, about, long_about = None, args_override_self = true)]
pub struct Config {
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
    #[arg(long, env = "AMICOPY_DATABASE_TIMEOUT_SECONDS", default_value_t = 5.0)]
    pub database_timeout_seconds: f64,

    /// The Region copies are made in when a request names no destination_region.
    #[arg(long, env = "AMICOPY_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Where copies are made: `sim` (the built-in EC2 simulator) or `ec2` (the real EC2 API
    /// through aws-sdk-ec2, or an emulator with --ec2-endpoint-url).
    #[arg(long, env = "AMICOPY_BACKEND", value_enum, default_value_t = BackendKind::Sim)]
    pub backend: BackendKind,

    /// Log format: `human` or `json`.
    #[arg(long, env = "AMICOPY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Seconds between store reads of an idle WatchCopyJob stream, as a safety net for missed
    /// notifications.
    #[arg(long, env = "AMICOPY_WATCH_POLL_SECONDS", default_value_t = 5.0)]
    pub watch_poll_seconds: f64,

    /// Job engine settings.
    #[command(flatten)]
    pub engine: EngineSettings,

    /// Simulator settings (with --backend sim).
    #[command(flatten)]
    pub sim: SimSettings,

    /// EC2 settings (with --backend ec2).
    #[command(flatten)]
    pub ec2: Ec2Settings,

    /// Authentication, TLS and per-tenant policy.
    #[command(flatten)]
    pub auth: AuthSettings,
}

/// Which EC2 the service talks to.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The built-in simulator.
    Sim,
    /// EC2 through aws-sdk-ec2.
    Ec2,
}

/// How logs are written.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
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
    fn defaults_need_nothing_installed() {
        let config = Config::try_parse_from(["amicopyd"]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.backend, BackendKind::Sim);
        assert!(config.database_url.is_none() || std::env::var_os("DATABASE_URL").is_some());
    }
}
