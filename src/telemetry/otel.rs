//! OpenTelemetry trace export: every `tracing` span becomes an OpenTelemetry span, sent in batches
//! to an OTLP/gRPC collector (`--otlp-endpoint`). Built only with the `otel` feature.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing::warn;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use super::TelemetryError;

/// Where and as what spans are exported.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OtelSettings {
    /// OTLP/gRPC collector that trace spans are exported to (e.g. http://127.0.0.1:4317).
    /// Without it no span is exported.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// The `service.name` resource attribute of exported spans.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "amicopyd")]
    pub otel_service_name: String,
}

/// A running batch exporter of spans.
#[derive(Debug)]
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Exporter {
    /// Starts exporting to `settings.otlp_endpoint`, or returns `None` when there is none.
    /// Must be called inside the Tokio runtime, which carries the gRPC connection.
    pub fn start(settings: &OtelSettings) -> Result<Option<Self>, TelemetryError> {
        let Some(endpoint) = &settings.otlp_endpoint else {
            return Ok(None);
        };
        let exporter = SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|err| TelemetryError(format!("OTLP exporter for {endpoint}: {err}")))?;
        let resource = Resource::builder()
            .with_service_name(settings.otel_service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        Ok(Some(Self { provider }))
    }

    /// A subscriber layer that hands every span to this exporter.
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer(env!("CARGO_PKG_NAME")))
    }

    /// Sends the spans still buffered and stops exporting. The SDK blocks while it flushes, so
    /// this runs on a blocking thread and leaves the runtime free to carry the export.
    pub async fn shutdown(self) {
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => warn!(%err, "span exporter did not shut down cleanly"),
            Err(err) => warn!(%err, "span exporter shutdown panicked"),
        }
    }
}
