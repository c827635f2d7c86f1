//! `amicopyd`: reads its settings, starts logging, and runs the server until SIGINT or SIGTERM.

use std::process::ExitCode;

use amicopy::{
    app::App,
    config::{Config, ConfigError},
    telemetry,
};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::load_from(std::env::args_os()) {
        Ok(config) => config,
        Err(ConfigError::Cli(err)) => err.exit(),
        Err(err @ ConfigError::File(_)) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match telemetry::init(&config.telemetry) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let code = run(config, shutdown).await;
    telemetry.shutdown().await;
    code
}

/// Builds the server and runs it until `shutdown`.
async fn run(config: Config, shutdown: CancellationToken) -> ExitCode {
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(err) => {
            error!("{err}");
            return ExitCode::FAILURE;
        }
    };
    match app.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            error!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT received; shutting down"),
        () = terminate => info!("SIGTERM received; shutting down"),
    }
    shutdown.cancel();
}
