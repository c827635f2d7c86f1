//! The `amicopy` CLI as a person or a script meets it: the real binary against a real server
//! (in-process, simulator at a fast time factor, SQLite), its exit codes, its output piped, as
//! JSON and in a real pseudo-terminal, and Ctrl-C.

mod connection;
mod distributions;
mod interrupt;
mod jobs;
mod terminal;

use std::{
    process::{Output, Stdio},
    time::Duration,
};

use tokio::process::Command;

use crate::support::TestServer;

/// How long any CLI run may take before the test fails.
const RUN_DEADLINE: Duration = Duration::from_secs(90);

/// The simulator's us-east-1 base image.
pub const SOURCE_IMAGE: &str = "ami-0a1b2c3d4e5f60001";

/// Server flags that keep a copy running for minutes, for tests that act while it runs.
pub const SLOW: &[&str] = &["--sim-time-factor", "1", "--sim-copy-seconds", "600"];

/// The `amicopy` binary, with no `AMICOPY_*` setting inherited from whoever runs the tests.
pub fn amicopy() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amicopy"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AMICOPY_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `http://ADDR` of a running server.
pub fn endpoint(server: &TestServer) -> String {
    format!("http://{}", server.addr)
}

/// Runs `amicopy ARGS --endpoint <server>` to its end.
pub async fn run(server: &TestServer, args: &[&str]) -> Run {
    run_at(&endpoint(server), args).await
}

/// Runs `amicopy ARGS --endpoint ENDPOINT` to its end.
pub async fn run_at(endpoint: &str, args: &[&str]) -> Run {
    let mut command = amicopy();
    command.args(args).args(["--endpoint", endpoint]);
    Run::of(command).await
}

/// A finished run of the CLI.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Runs `command` to its end.
    pub async fn of(mut command: Command) -> Self {
        let output: Output = tokio::time::timeout(RUN_DEADLINE, command.output())
            .await
            .expect("amicopy ends in time")
            .expect("amicopy runs");
        Self {
            code: output.status.code().expect("an exit code, not a signal"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }

    /// Asserts the exit code, showing the output when it is not.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The first line of stdout: the id `copy` prints.
    pub fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or_default()
    }

    /// Every stdout line parsed as JSON.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
            .collect()
    }
}

/// Asserts that nothing printed carries an escape code (a pipe or a CI log gets plain text).
pub fn assert_plain(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains('\u{1b}'), "an escape code in {name}:\n{text:?}");
    }
}

/// A copy of the simulator's base image into `region`, as CLI arguments.
pub fn copy_args<'a>(name: &'a str, region: &'a str) -> Vec<&'a str> {
    vec![
        "copy",
        "--source-image",
        SOURCE_IMAGE,
        "--source-region",
        "us-east-1",
        "--to",
        region,
        "--name",
        name,
    ]
}
