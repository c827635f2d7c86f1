//! Every command, flag and environment variable of `amicopy`, as clap derives them. Parsing only:
//! what a flag means for a request is decided by the command that uses it.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

/// The endpoint used when neither `--endpoint` nor `AMICOPY_ENDPOINT` names one: `cargo run
/// --release` of amicopyd listens there.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:50051";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "amicopy",
    version,
    about = "Copy AMIs between Regions and accounts with amicopyd, and follow the copies to the end",
    long_about = "Copy AMIs between Regions and accounts with amicopyd, and follow the copies to the end.\n\n\
        amicopy talks to an amicopyd server over its gRPC API (--endpoint). One destination makes a copy \
        job; several destinations or accounts make a distribution, one job per (account, Region).",
    after_help = "Exit codes: 0 everything asked for succeeded; 1 a job or any target failed or was \
        cancelled, or the server refused the call; 2 a usage or validation error (the server's field \
        violations are printed one per line); 3 the server could not be reached (or stayed unavailable \
        through every retry); 4 a distribution partially succeeded; 130 stopped watching on Ctrl-C \
        (the copy goes on)."
)]
pub struct Cli {
    /// How to reach the server.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// How to print results.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text, env = "AMICOPY_OUTPUT")]
    pub output: OutputFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: live progress bars and tables on a terminal, plain lines otherwise.
    Text,
    /// For scripts: one JSON object per line (NDJSON), the final state last.
    Json,
}

/// Where the server is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// The server: http://HOST:PORT, or https://HOST:PORT for TLS.
    #[arg(long, global = true, env = "AMICOPY_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Bearer token sent with every call (the server's --auth token).
    #[arg(long, global = true, env = "AMICOPY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of the CA that signed the server's certificate (default: the system's roots).
    #[arg(long, global = true, env = "AMICOPY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// PEM file of this client's certificate, for mutual TLS (with --client-key).
    #[arg(long, global = true, env = "AMICOPY_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM file of this client's private key, for mutual TLS (with --client-cert).
    #[arg(long, global = true, env = "AMICOPY_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Name to check the server's certificate against, when it is not the endpoint's host.
    #[arg(long, global = true, env = "AMICOPY_TLS_SERVER_NAME")]
    pub tls_server_name: Option<String>,
    /// Longest wait for one call's answer (and for a connection), such as 30s or 2m.
    #[arg(long, global = true, env = "AMICOPY_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// How many times a call answered UNAVAILABLE or RESOURCE_EXHAUSTED is tried again, with
    /// backoff (or after the server's RetryInfo delay).
    #[arg(long, global = true, env = "AMICOPY_RETRIES", default_value_t = 4)]
    pub retries: u32,
}

/// The commands. Their names are fixed: scripts rely on them.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "one per run, parsed once")]
pub enum Command {
    /// Copy an AMI: one destination makes a copy job, several Regions or accounts a distribution.
    Copy(CopyArgs),
    /// Start a distribution from a plan file (YAML or JSON: the CreateDistributionRequest fields).
    Distribute(DistributeArgs),
    /// Follow a job or a distribution to its end.
    Watch(WatchArgs),
    /// Show a job or a distribution.
    Get(IdArgs),
    /// List jobs and distributions, newest first.
    Ls(ListArgs),
    /// Cancel a job or a distribution.
    Cancel(CancelArgs),
    /// Retry a distribution's failed targets, or a failed or cancelled job.
    #[command(
        long_about = "Retry a distribution's failed targets, or a failed or cancelled job.\n\n\
        For a distribution this is RetryDistribution: a new job for every FAILED and CANCELLED target, \
        AVAILABLE targets kept. For a job it is a new CopyImage with the same request (same source, \
        name, destination, account and options, a new client token): a new job, whose id is printed. \
        A job that is a target of a distribution is retried through its distribution."
    )]
    Retry(RetryArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(long_about = "Print a shell completion script.\n\n\
        bash:  amicopy completions bash > ~/.local/share/bash-completion/completions/amicopy\n\
        zsh:   amicopy completions zsh > \"${fpath[1]}/_amicopy\"\n\
        fish:  amicopy completions fish > ~/.config/fish/completions/amicopy.fish")]
    Completions(CompletionsArgs),
}

/// `amicopy copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The AMI to copy, such as ami-0a1b2c3d4e5f60001.
    #[arg(long, alias = "source-image-id")]
    pub source_image: String,
    /// The Region that holds it, such as us-east-1.
    #[arg(long)]
    pub source_region: String,
    /// A Region to copy into; repeat for several (default: the server's Region).
    #[arg(long = "to", value_name = "REGION")]
    pub regions: Vec<String>,
    /// An AWS account (12 digits) to copy into; repeat for several (default: the server's own).
    #[arg(long = "account", value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// Name of the new AMI. For several targets a template: {region}, {account},
    /// {source_image_id} and {date} expand per target.
    #[arg(long)]
    pub name: String,
    /// Description of the new AMI.
    #[arg(long)]
    pub description: Option<String>,
    /// Encrypt the new snapshots.
    #[arg(long)]
    pub encrypted: bool,
    /// KMS key for encrypted snapshots: KEY for every Region, or REGION=KEY for one; repeatable.
    #[arg(long = "kms-key", value_name = "[REGION=]KEY", requires = "encrypted")]
    pub kms_keys: Vec<String>,
    /// A tag KEY=VALUE for the new AMI and its snapshots; repeatable.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,
    /// Copy the source AMI's own tags to the new AMI.
    #[arg(long)]
    pub copy_tags: bool,
    /// Who may launch the new AMI: an account (12 digits), an organization or OU ARN, or `public`;
    /// repeatable.
    #[arg(long = "share-with", value_name = "WHO")]
    pub share_with: Vec<String>,
    /// An account given createVolumePermission on the new snapshots; repeatable.
    #[arg(long = "share-snapshots-with", value_name = "ACCOUNT")]
    pub share_snapshots_with: Vec<String>,
    /// Deprecate the new AMI after this long, such as 90d.
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "deprecate_at")]
    pub deprecate_in: Option<Duration>,
    /// Deprecate the new AMI at this time (RFC 3339, such as 2027-01-01T00:00:00Z).
    #[arg(long)]
    pub deprecate_at: Option<String>,
    /// Time-based copy: finish the snapshot copies within this many minutes (15 to 2880).
    #[arg(long, value_name = "MINUTES")]
    pub completion_minutes: Option<i64>,
    /// ARN of an Outpost to copy to (one destination only).
    #[arg(long)]
    pub outpost_arn: Option<String>,
    /// Local Zone to copy to, by name (one destination only).
    #[arg(long)]
    pub availability_zone: Option<String>,
    /// Local Zone to copy to, by id (one destination only).
    #[arg(long)]
    pub availability_zone_id: Option<String>,
    /// With several targets, what a failed target does to the rest.
    #[arg(long, value_enum, default_value_t = FailurePolicyArg::Continue)]
    pub failure_policy: FailurePolicyArg,
    /// Makes the call safe to repeat: the same token and request give the same job (default: a
    /// new random token).
    #[arg(long)]
    pub client_token: Option<String>,
    /// Check the request and permissions without copying (every target with several).
    #[arg(long, conflicts_with = "wait")]
    pub dry_run: bool,
    /// How to follow the copy.
    #[command(flatten)]
    pub follow: FollowArgs,
}

/// What a failed target of a distribution does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailurePolicyArg {
    /// Finish every target that can; retry the failed ones later.
    Continue,
    /// Cancel the rest and deregister every image made.
    RollBack,
}

/// Following a job or distribution after starting it.
#[derive(Debug, Clone, Copy, Args)]
pub struct FollowArgs {
    /// Follow to the end: progress bars on a terminal, one line per event otherwise.
    #[arg(long)]
    pub wait: bool,
    /// With --wait, Ctrl-C cancels the copy (instead of only stopping watching).
    #[arg(long, requires = "wait")]
    pub cancel_on_interrupt: bool,
}

/// `amicopy distribute`.
#[derive(Debug, Args)]
pub struct DistributeArgs {
    /// The plan: a YAML or JSON file of CreateDistributionRequest fields (snake_case), `-` for
    /// standard input.
    #[arg(long, short = 'f')]
    pub file: PathBuf,
    /// How to follow the distribution.
    #[command(flatten)]
    pub follow: FollowArgs,
}

/// `amicopy watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A job id or a distribution id.
    pub id: String,
    /// Ctrl-C cancels what is watched (instead of only stopping watching).
    #[arg(long)]
    pub cancel_on_interrupt: bool,
}

/// Commands that take only an id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// A job id or a distribution id.
    pub id: String,
}

/// `amicopy cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// A job id or a distribution id.
    pub id: String,
    /// Follow until the cancel is complete.
    #[arg(long)]
    pub wait: bool,
}

/// `amicopy retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// A distribution id, or the id of a failed or cancelled job.
    pub id: String,
    /// How to follow the retry.
    #[command(flatten)]
    pub follow: FollowArgs,
}

/// `amicopy ls`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this state, such as copying, failed, running or partially-succeeded; repeatable.
    #[arg(long = "state", value_name = "STATE")]
    pub states: Vec<String>,
    /// Only jobs copying into this Region, and distributions with a target in it.
    #[arg(long)]
    pub region: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Also list the jobs of distributions (hidden by default: `get DISTRIBUTION` shows them).
    #[arg(long)]
    pub all: bool,
}

/// `amicopy completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connection_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["amicopy", "get", "x", "--endpoint", "https://h:1", "--timeout", "5s"]).unwrap();
        assert_eq!(cli.connection.endpoint, "https://h:1");
        assert_eq!(cli.connection.timeout, Duration::from_secs(5));
    }

    #[test]
    fn a_kms_key_needs_encrypted() {
        let error = Cli::try_parse_from([
            "amicopy",
            "copy",
            "--source-image",
            "ami-1",
            "--source-region",
            "r",
            "--name",
            "n",
            "--kms-key",
            "k",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("--encrypted"), "{error}");
    }
}
