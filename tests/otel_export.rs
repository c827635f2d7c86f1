//! Spans reach an OTLP/gRPC collector: an in-process tonic server implementing the OTLP trace
//! service stands in for the collector. Built only with the `otel` feature.

use std::sync::{Arc, Mutex};

use amicopy::telemetry::otel::{Exporter, OtelSettings};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use tracing_subscriber::layer::SubscriberExt;

/// Keeps every export request it is sent.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// (service.name, span name) of every span the collector received.
fn received_spans(collector: &Collector) -> Vec<(String, String)> {
    let mut spans = Vec::new();
    for request in collector.received.lock().unwrap().iter() {
        for resource_spans in &request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.clone());
            let service = match service {
                Some(Value::StringValue(name)) => name,
                _ => String::new(),
            };
            for scope in &resource_spans.scope_spans {
                spans.extend(scope.spans.iter().map(|span| (service.clone(), span.name.clone())));
            }
        }
    }
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_span_is_exported_with_the_service_name() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let collector = Collector::default();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let settings = OtelSettings {
        otlp_endpoint: Some(format!("http://{address}")),
        otel_service_name: "amicopyd-under-test".to_owned(),
    };
    let exporter = Exporter::start(&settings).unwrap().unwrap();
    let subscriber = tracing_subscriber::registry().with(exporter.layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("copy_image", job = "job-1");
        span.in_scope(|| tracing::info!("inside the span"));
    });
    exporter.shutdown().await;

    assert_eq!(
        received_spans(&collector),
        vec![("amicopyd-under-test".to_owned(), "copy_image".to_owned())]
    );
    server.abort();
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported() {
    let settings = OtelSettings {
        otlp_endpoint: None,
        otel_service_name: "amicopyd".to_owned(),
    };
    assert!(Exporter::start(&settings).unwrap().is_none());
}
