//! A tower layer that gives every call a request id and a tracing span.
//!
//! The id is the caller's `x-request-id` metadata when it sent a usable one, else a new UUID. It
//! is put in the request's extensions (handlers read it with [`RequestId::of`]) and returned as
//! `x-request-id` response metadata, on errors too.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use tonic::codegen::http::{self, HeaderValue};
use tower::{Layer, Service};
use tracing::{Instrument, debug, info_span};
use uuid::Uuid;

/// The metadata key that carries the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest caller-chosen request id that is honoured.
const MAX_CALLER_ID_LEN: usize = 128;

/// The id of the call being handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of a call, as the layer recorded it; empty when the layer is not installed.
    pub fn of<T>(request: &tonic::Request<T>) -> String {
        request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default()
    }

    fn from_headers(headers: &http::HeaderMap) -> Self {
        let sent = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty() && id.len() <= MAX_CALLER_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()));
        Self(sent.map_or_else(|| Uuid::new_v4().to_string(), str::to_owned))
    }
}

/// Installs [`RequestIdService`] around every gRPC service.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for RequestIdService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let id = RequestId::from_headers(request.headers());
        let span = info_span!(
            "rpc",
            method = %request.uri().path(),
            request_id = %id.0,
            tenant = tracing::field::Empty,
        );
        let header = HeaderValue::from_str(&id.0).ok();
        request.extensions_mut().insert(id);
        let response = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let started = Instant::now();
                let mut response = response.await?;
                if let Some(header) = header {
                    response.headers_mut().insert(REQUEST_ID_HEADER, header);
                }
                let grpc_status = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_owned();
                debug!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    grpc_status, "call answered"
                );
                Ok(response)
            }
            .instrument(span),
        )
    }
}
