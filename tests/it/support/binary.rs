//! The real `amicopyd` binary, for tests that kill it, signal it or read its environment: a free
//! loopback port, the process started with fast engine settings, and a channel to it once it
//! listens. Its logs are shown only when `TEST_LOG` is set.

use std::{net::TcpListener, process::Stdio, time::Duration};

use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};

/// How long a test waits for the binary to listen.
pub const LISTEN_DEADLINE: Duration = Duration::from_secs(90);

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
    listener.local_addr().expect("address").port()
}

/// Starts amicopyd on `port` with fast ticks, looks and retries and no per-tenant rate limit,
/// then `args` (later flags win) and `env`. The process is killed when the handle is dropped.
pub fn spawn_amicopyd(port: u16, args: &[&str], env: &[(&str, String)]) -> Child {
    let logs = if std::env::var_os("TEST_LOG").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    Command::new(env!("CARGO_BIN_EXE_amicopyd"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--tick-seconds", "0.05", "--lease-seconds", "2"])
        .args([
            "--track-min-interval-seconds",
            "0.05",
            "--track-max-interval-seconds",
            "1",
        ])
        .args(["--retry-base-seconds", "0.05", "--retry-max-seconds", "0.5"])
        .args(["--tenant-requests-per-second", "0"])
        .args(args)
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .env("RUST_LOG", "info,amicopy=debug")
        .stdout(Stdio::null())
        .stderr(logs)
        .kill_on_drop(true)
        .spawn()
        .expect("amicopyd starts")
}

/// A channel to the amicopyd on `port`, once it accepts connections.
pub async fn connect(port: u16) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}")).expect("a loopback URL");
    let deadline = tokio::time::Instant::now() + LISTEN_DEADLINE;
    loop {
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "amicopyd never listened on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills the process with SIGKILL and reaps it.
pub async fn kill(child: &mut Child) {
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed process reaped");
}
