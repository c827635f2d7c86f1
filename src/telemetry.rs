//! Logging: tracing to stderr, human-readable or JSON, filtered by `RUST_LOG` (default `info`).
//! With the `otel` feature and `--otlp-endpoint`, the same spans are also exported over OTLP/gRPC
//! ([`otel`]).

use clap::{Args, ValueEnum};
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

#[cfg(feature = "otel")]
pub mod otel;

/// How logs are written and where spans go.
#[derive(Args, Debug, Clone)]
pub struct TelemetrySettings {
    /// Log format: `human` or `json`.
    #[arg(long, env = "AMICOPY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// OpenTelemetry trace export.
    #[cfg(feature = "otel")]
    #[command(flatten)]
    pub otel: otel::OtelSettings,
}

/// How logs are written.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Why telemetry could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start telemetry: {0}")]
pub struct TelemetryError(String);

/// What must outlive the server for telemetry to work: call [`Telemetry::shutdown`] on exit so
/// that spans still buffered are sent.
#[derive(Debug, Default)]
#[must_use = "spans still buffered are lost unless `shutdown` is called on exit"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    exporter: Option<otel::Exporter>,
}

impl Telemetry {
    /// Flushes and stops the span exporter, if there is one.
    pub async fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(exporter) = self.exporter {
            exporter.shutdown().await;
        }
    }
}

/// Installs the global subscriber. Call once, first thing in `main`, inside the Tokio runtime.
pub fn init(config: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,aws_config=warn,aws_smithy_runtime=warn"));
    let output = fmt::layer().with_writer(std::io::stderr);
    let output = match config.log_format {
        LogFormat::Human => output.boxed(),
        LogFormat::Json => output.json().flatten_event(true).with_current_span(true).boxed(),
    };
    let subscriber = tracing_subscriber::registry().with(output).with(filter);
    #[cfg(feature = "otel")]
    {
        let exporter = otel::Exporter::start(&config.otel)?;
        subscriber.with(exporter.as_ref().map(otel::Exporter::layer)).init();
        Ok(Telemetry { exporter })
    }
    #[cfg(not(feature = "otel"))]
    {
        subscriber.init();
        Ok(Telemetry::default())
    }
}
