//! [`ShedAsUnavailableLayer`]: turns tower's `Overloaded` refusal into an UNAVAILABLE answer
//! (tonic's own mapping says RESOURCE_EXHAUSTED, which tells clients the wrong thing: nothing
//! is used up, the server is busy and a retry with backoff will do).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tonic::codegen::http;
use tower::{BoxError, Layer, Service, load_shed::error::Overloaded};

use crate::api::error;

/// Installs [`ShedAsUnavailableService`]; put it outside tower's `LoadShedLayer`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShedAsUnavailableLayer;

impl<S> Layer<S> for ShedAsUnavailableLayer {
    type Service = ShedAsUnavailableService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ShedAsUnavailableService { inner }
    }
}

/// See [`ShedAsUnavailableLayer`].
#[derive(Debug, Clone)]
pub struct ShedAsUnavailableService<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for ShedAsUnavailableService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            match response.await.map_err(Into::into) {
                Err(error) if error.is::<Overloaded>() => {
                    tracing::warn!("concurrency limit reached; call shed");
                    Ok(error::overloaded().into_http())
                }
                other => other,
            }
        })
    }
}
