//! `amicopy-bench`: the load generator behind `scripts/bench.sh` and BENCHMARKS.md.
//!
//! RPC scenarios drive a running amicopyd over loopback with the generated tonic client:
//! [`rpc`] (`accept`, `retries`, `reads`, `get-job`, `list-jobs`, `grpc-floor`, `distribute`)
//! and [`watch`] (many WatchCopyJob streams). [`inproc`] runs the engine in this process against
//! the simulator to count EC2 calls (`tracking`, `burst`), [`polling`] counts them per completed
//! copy, and [`history`] times ticks and reads against a million finished jobs in PostgreSQL.
//! Every scenario prints a [`report::Summary`] and can save it as JSON; [`table`] turns the saved
//! summaries and the pgbench baselines into the markdown table.

pub mod history;
pub mod inproc;
pub mod load;
pub mod polling;
pub mod report;
pub mod rpc;
pub mod scrape;
pub mod table;
pub mod watch;

use std::{path::PathBuf, time::Duration};

use clap::{Parser, ValueEnum};

use self::{load::Load, report::Summary};

/// The most WatchCopyJob streams one run opens.
pub const MAX_STREAMS: usize = 10_000;

/// amicopy-bench: load generator and baselines for amicopyd (loopback only).
#[derive(Parser, Debug, Clone)]
#[command(name = "amicopy-bench", version, about, long_about = None)]
pub struct Args {
    /// What to measure.
    #[arg(long, value_enum)]
    pub scenario: Scenario,

    /// The running amicopyd (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub addr: String,

    /// Wait up to this long for the server to answer its health check SERVING before starting.
    #[arg(long, default_value_t = 0.0)]
    pub wait_ready_seconds: f64,

    /// Calls in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,

    /// How long the measured part of an RPC scenario runs.
    #[arg(long, default_value_t = 10.0)]
    pub duration_seconds: f64,

    /// Upper bound on calls in one RPC scenario.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_calls: u64,

    /// Pace the calls to this many per second in total (default: back to back); for watch, the
    /// cancels that make the events.
    #[arg(long)]
    pub rate: Option<f64>,

    /// WatchCopyJob streams to open (watch).
    #[arg(long, default_value_t = 1000)]
    pub streams: usize,

    /// Jobs the streams are spread over (watch).
    #[arg(long, default_value_t = 20)]
    pub watch_jobs: usize,

    /// The replica the streams are opened on (watch; default: --addr). Jobs are still created
    /// and cancelled through --addr, so their events are written by that replica and delivered
    /// by this one, woken by PostgreSQL NOTIFY.
    #[arg(long)]
    pub watch_addr: Option<String>,

    /// The server's process id, to read its memory from /proc (watch).
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// The metrics listener (`host:port`) of the replica the streams are open on (watch): the
    /// run reports how old events were when that replica had them in its hub, for events another
    /// replica wrote (`amicopy_watch_relay_delay_seconds`), and when its streams sent them
    /// (`amicopy_watch_send_delay_seconds`): the server's shares of the delay.
    #[arg(long)]
    pub watch_metrics: Option<String>,

    /// Pending copies per tracking run (tracking).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    pub tracking_sizes: Vec<usize>,

    /// The engine's --track-page-size for the tracking scenario.
    #[arg(long, default_value_t = 100)]
    pub page_size: u32,

    /// Copies submitted at once (burst).
    #[arg(long, default_value_t = 1000)]
    pub burst_copies: usize,

    /// Targets of each distribution (distribute): the service's own account in this many
    /// made-up Regions (each target costs what a target in another account costs).
    #[arg(long, default_value_t = 600)]
    pub distribution_targets: usize,

    /// Copies followed to their end per polling run (polling).
    #[arg(long, value_delimiter = ',', default_value = "1,10,1000")]
    pub polling_sizes: Vec<usize>,

    /// Simulated seconds each copy of the polling scenario takes.
    #[arg(long, default_value_t = 1800.0)]
    pub polling_copy_seconds: f64,

    /// Simulated seconds per real second in the polling scenario.
    #[arg(long, default_value_t = 120.0)]
    pub polling_time_factor: f64,

    /// A fresh PostgreSQL database the history scenario fills (history).
    #[arg(long)]
    pub database_url: Option<String>,

    /// Finished jobs added to the history (history).
    #[arg(long, default_value_t = 1_000_000)]
    pub history_jobs: u64,

    /// Copies kept running while ticks are timed (history).
    #[arg(long, default_value_t = 100)]
    pub history_active: usize,

    /// Ticks timed with each history, a second apart (history).
    #[arg(long, default_value_t = 30)]
    pub history_ticks: usize,

    /// Name the summary is saved under (default: the scenario's name).
    #[arg(long)]
    pub label: Option<String>,

    /// Conditions to print with the result (e.g. the server's raised quotas); repeatable.
    #[arg(long)]
    pub note: Vec<String>,

    /// Save the summary as JSON here.
    #[arg(long)]
    pub output: Option<PathBuf>,

    /// Directory of saved summaries (table).
    #[arg(long)]
    pub results_dir: Option<PathBuf>,
}

/// The scenarios.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// CopyImage with unique names and no ClientToken.
    Accept,
    /// CopyImage repeating a small set of ClientTokens.
    Retries,
    /// GetCopyJob and ListCopyJobs pages, alternating.
    Reads,
    /// GetCopyJob alone.
    GetJob,
    /// ListCopyJobs of 100 jobs alone.
    ListJobs,
    /// grpc.health.v1.Health/Check on the same server: the bare unary call.
    GrpcFloor,
    /// CreateDistribution of --distribution-targets targets, unique names.
    Distribute,
    /// Many WatchCopyJob streams over jobs that change state.
    Watch,
    /// In-process: DescribeImages calls per tick for N pending copies.
    Tracking,
    /// In-process: RequestLimitExceeded answers during a burst of copies at EC2's quotas.
    Burst,
    /// In-process: EC2 calls per completed copy and how late each end is seen.
    Polling,
    /// In-process, PostgreSQL: ticks and reads with an empty history and with a million
    /// finished jobs, and retention's purge of them.
    History,
    /// Prints the markdown table from --results-dir.
    Table,
}

impl Scenario {
    /// Whether [`rpc::run`] drives it: unary calls against a running amicopyd.
    pub fn is_unary_rpc(self) -> bool {
        matches!(
            self,
            Self::Accept
                | Self::Retries
                | Self::Reads
                | Self::GetJob
                | Self::ListJobs
                | Self::GrpcFloor
                | Self::Distribute
        )
    }
}

/// Why the arguments cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid {flag}: {message}")]
pub struct ArgsError {
    /// The flag.
    pub flag: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(flag: &'static str, message: impl Into<String>) -> ArgsError {
    ArgsError {
        flag,
        message: message.into(),
    }
}

impl Args {
    /// Checks the flags together: bounded loops, loopback only, sane sizes.
    pub fn validate(&self) -> Result<(), ArgsError> {
        if !(1..=MAX_STREAMS).contains(&self.concurrency) {
            return Err(invalid("--concurrency", format!("must be 1 to {MAX_STREAMS}")));
        }
        if !(self.duration_seconds > 0.0 && self.duration_seconds <= 3600.0) {
            return Err(invalid("--duration-seconds", "must be more than 0 and at most 3600"));
        }
        if !(0.0..=600.0).contains(&self.wait_ready_seconds) {
            return Err(invalid("--wait-ready-seconds", "must be 0 to 600"));
        }
        if self.max_calls == 0 {
            return Err(invalid("--max-calls", "must be at least 1"));
        }
        if self.rate.is_some_and(|rate| !(rate > 0.0 && rate.is_finite())) {
            return Err(invalid("--rate", "must be a positive number of calls per second"));
        }
        if !(1..=MAX_STREAMS).contains(&self.streams) {
            return Err(invalid("--streams", format!("must be 1 to {MAX_STREAMS}")));
        }
        if self.watch_jobs == 0 || self.watch_jobs > self.streams {
            return Err(invalid("--watch-jobs", "must be at least 1 and at most --streams"));
        }
        if self.tracking_sizes.is_empty() || self.tracking_sizes.iter().any(|n| !(1..=100_000).contains(n)) {
            return Err(invalid("--tracking-sizes", "each must be 1 to 100000"));
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err(invalid("--page-size", "must be 1 to 1000 (DescribeImages' page)"));
        }
        if !(1..=100_000).contains(&self.burst_copies) {
            return Err(invalid("--burst-copies", "must be 1 to 100000"));
        }
        if !(1..=rpc::MAX_DISTRIBUTION_TARGETS).contains(&self.distribution_targets) {
            return Err(invalid(
                "--distribution-targets",
                format!("must be 1 to {}", rpc::MAX_DISTRIBUTION_TARGETS),
            ));
        }
        if self.polling_sizes.is_empty() || self.polling_sizes.iter().any(|n| !(1..=10_000).contains(n)) {
            return Err(invalid("--polling-sizes", "each must be 1 to 10000"));
        }
        if !(self.polling_copy_seconds >= 1.0 && self.polling_time_factor >= 1.0) {
            return Err(invalid(
                "--polling-copy-seconds",
                "it and --polling-time-factor must be at least 1",
            ));
        }
        if !(1..=10_000_000).contains(&self.history_jobs) {
            return Err(invalid("--history-jobs", "must be 1 to 10000000"));
        }
        if !(1..=1000).contains(&self.history_active) {
            return Err(invalid("--history-active", "must be 1 to 1000"));
        }
        if !(1..=1000).contains(&self.history_ticks) {
            return Err(invalid("--history-ticks", "must be 1 to 1000"));
        }
        if self.scenario == Scenario::History && self.database_url.is_none() {
            return Err(invalid(
                "--database-url",
                "the history scenario needs a fresh PostgreSQL database",
            ));
        }
        if self.scenario == Scenario::Table && self.results_dir.is_none() {
            return Err(invalid("--results-dir", "the table scenario needs it"));
        }
        check_loopback(&self.addr)
    }

    /// The load the RPC scenarios run under.
    pub fn load(&self) -> Load {
        Load {
            concurrency: self.concurrency,
            duration: Duration::from_secs_f64(self.duration_seconds),
            max_calls: self.max_calls,
            rate: self.rate,
        }
    }

    /// The name the summary is saved under.
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            self.scenario
                .to_possible_value()
                .map(|value| value.get_name().to_owned())
                .unwrap_or_default()
        })
    }
}

/// Accepts only `http://` addresses on the loopback interface: the benchmark never leaves the
/// machine.
fn check_loopback(addr: &str) -> Result<(), ArgsError> {
    let rest = addr
        .strip_prefix("http://")
        .ok_or_else(|| invalid("--addr", "must start with http://"))?;
    let host = match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => rest.split(':').next().unwrap_or_default(),
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(invalid("--addr", format!("{host} is not a loopback address")))
    }
}

/// Runs the chosen scenario, prints its summary and saves it when asked.
pub async fn run(args: Args) -> anyhow::Result<()> {
    args.validate()?;
    if args.scenario.is_unary_rpc() || args.scenario == Scenario::Watch {
        rpc::wait_ready(&args.addr, Duration::from_secs_f64(args.wait_ready_seconds)).await?;
    }
    let summaries: Vec<Summary> = match args.scenario {
        Scenario::Watch => vec![watch::run(&args).await?],
        Scenario::Tracking => inproc::tracking(&args).await?,
        Scenario::Burst => vec![inproc::burst(&args).await?],
        Scenario::Polling => polling::run(&args).await?,
        Scenario::History => history::run(&args).await?,
        Scenario::Table => {
            let dir = args.results_dir.clone().unwrap_or_default();
            println!("{}", table::render(&table::load_dir(&dir)?));
            return Ok(());
        }
        // The unary scenarios ([`Scenario::is_unary_rpc`]); rpc::run refuses any other.
        _ => vec![rpc::run(&args).await?],
    };
    for mut summary in summaries {
        summary.notes.extend(args.note.iter().cloned());
        println!("{}", summary.human());
        if let Some(path) = &args.output {
            let path = if summary.scenario == args.label() {
                path.clone()
            } else {
                path.with_file_name(format!("{}.json", summary.scenario))
            };
            std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        let mut argv = vec!["amicopy-bench", "--scenario", "accept"];
        argv.extend(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn the_defaults_are_valid() {
        parse(&[]).validate().unwrap();
    }

    #[test]
    fn a_remote_address_is_refused() {
        let error = parse(&["--addr", "http://10.0.0.5:50051"]).validate().unwrap_err();
        assert_eq!(error.flag, "--addr");
        parse(&["--addr", "http://[::1]:50051"]).validate().unwrap();
        parse(&["--addr", "http://localhost:7000"]).validate().unwrap();
        assert_eq!(
            parse(&["--addr", "127.0.0.1:50051"]).validate().unwrap_err().flag,
            "--addr"
        );
    }

    #[test]
    fn loops_must_be_bounded() {
        assert_eq!(
            parse(&["--duration-seconds", "0"]).validate().unwrap_err().flag,
            "--duration-seconds"
        );
        assert_eq!(
            parse(&["--duration-seconds", "inf"]).validate().unwrap_err().flag,
            "--duration-seconds"
        );
        assert_eq!(parse(&["--max-calls", "0"]).validate().unwrap_err().flag, "--max-calls");
        assert_eq!(
            parse(&["--concurrency", "0"]).validate().unwrap_err().flag,
            "--concurrency"
        );
        assert_eq!(parse(&["--rate=-1"]).validate().unwrap_err().flag, "--rate");
    }

    #[test]
    fn watch_streams_are_capped_and_spread_over_fewer_jobs() {
        assert_eq!(parse(&["--streams", "10001"]).validate().unwrap_err().flag, "--streams");
        assert_eq!(
            parse(&["--streams", "5", "--watch-jobs", "6"])
                .validate()
                .unwrap_err()
                .flag,
            "--watch-jobs"
        );
        parse(&["--streams", "10000", "--watch-jobs", "20"]).validate().unwrap();
    }

    #[test]
    fn distributions_are_at_most_as_wide_as_the_service_allows() {
        parse(&["--distribution-targets", "600"]).validate().unwrap();
        assert_eq!(
            parse(&["--distribution-targets", "1001"]).validate().unwrap_err().flag,
            "--distribution-targets"
        );
        assert_eq!(rpc::distribution_request("x".into(), 600).targets[0].regions.len(), 600);
    }

    #[test]
    fn the_history_needs_a_database_and_bounded_sizes() {
        let history = |extra: &[&str]| {
            let mut argv = vec!["amicopy-bench", "--scenario", "history"];
            argv.extend(extra);
            Args::try_parse_from(argv).unwrap().validate()
        };
        assert_eq!(history(&[]).unwrap_err().flag, "--database-url");
        let url = ["--database-url", "postgres://postgres@127.0.0.1/fresh"];
        history(&url).unwrap();
        assert_eq!(
            history(&[&url[..], &["--history-jobs", "0"]].concat())
                .unwrap_err()
                .flag,
            "--history-jobs"
        );
        assert_eq!(
            history(&[&url[..], &["--history-active", "1001"]].concat())
                .unwrap_err()
                .flag,
            "--history-active"
        );
    }

    #[test]
    fn the_table_needs_its_results() {
        let args = Args::try_parse_from(["amicopy-bench", "--scenario", "table"]).unwrap();
        assert_eq!(args.validate().unwrap_err().flag, "--results-dir");
    }

    #[test]
    fn the_label_defaults_to_the_scenario_name() {
        assert_eq!(parse(&[]).label(), "accept");
        let args = Args::try_parse_from(["amicopy-bench", "--scenario", "grpc-floor"]).unwrap();
        assert_eq!(args.label(), "grpc-floor");
        assert_eq!(parse(&["--label", "accept-half"]).label(), "accept-half");
    }
}
