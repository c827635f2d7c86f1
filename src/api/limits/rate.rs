//! [`TenantRateLimitLayer`]: one token bucket per tenant over ImageCopyService and
//! DistributionService calls.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
};

use tonic::codegen::http;
use tower::{Layer, Service};

use crate::{
    api::error,
    auth::Caller,
    proto::{distribution_service_server, image_copy_service_server},
    ratelimit::TokenBucket,
};

/// The services whose calls are rate limited; health and reflection are not. A tenant's calls
/// of all of them draw on one bucket.
const LIMITED: [&str; 2] = [
    image_copy_service_server::SERVICE_NAME,
    distribution_service_server::SERVICE_NAME,
];

/// Whether `path` is a call of a rate-limited service.
fn is_limited(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|path| {
        LIMITED
            .iter()
            .any(|service| path.strip_prefix(service).is_some_and(|method| method.starts_with('/')))
    })
}

/// Installs [`TenantRateLimitService`]; clones share the buckets.
#[derive(Clone)]
pub struct TenantRateLimitLayer {
    buckets: Option<Arc<Buckets>>,
}

struct Buckets {
    burst: u32,
    per_second: f64,
    by_tenant: Mutex<HashMap<String, TokenBucket>>,
}

impl TenantRateLimitLayer {
    /// `burst` calls at once per tenant, then `per_second`; a rate of 0 (or less) turns the
    /// limit off.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let buckets = (per_second > 0.0).then(|| {
            Arc::new(Buckets {
                burst,
                per_second,
                by_tenant: Mutex::new(HashMap::new()),
            })
        });
        Self { buckets }
    }
}

impl<S> Layer<S> for TenantRateLimitLayer {
    type Service = TenantRateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TenantRateLimitService {
            inner,
            buckets: self.buckets.clone(),
        }
    }
}

/// See [`TenantRateLimitLayer`].
#[derive(Clone)]
pub struct TenantRateLimitService<S> {
    inner: S,
    buckets: Option<Arc<Buckets>>,
}

impl<S, B, R> Service<http::Request<B>> for TenantRateLimitService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(buckets) = &self.buckets
            && is_limited(request.uri().path())
        {
            let tenant = request
                .extensions()
                .get::<Caller>()
                .cloned()
                .unwrap_or_else(Caller::unauthenticated)
                .tenant;
            let taken = {
                let mut by_tenant = buckets.by_tenant.lock().unwrap_or_else(PoisonError::into_inner);
                by_tenant
                    .entry(tenant.clone())
                    .or_insert_with(|| TokenBucket::new(buckets.burst, buckets.per_second))
                    .try_take(tokio::time::Instant::now())
            };
            if let Err(wait) = taken {
                tracing::Span::current().record("tenant", tenant.as_str());
                tracing::info!(
                    tenant,
                    retry_ms = wait.as_millis() as u64,
                    "tenant request rate exceeded"
                );
                let response = error::rate_limited(&tenant, wait).into_http();
                return Box::pin(async move { Ok(response) });
            }
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, time::Duration};

    use tonic::{Code, Status};
    use tower::{ServiceExt, service_fn};

    use super::*;

    async fn call(layer: &TenantRateLimitLayer, path: &str, tenant: &str) -> Code {
        let service = layer.layer(service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        }));
        let mut request = http::Request::builder().uri(path).body(()).unwrap();
        request.extensions_mut().insert(Caller {
            tenant: tenant.to_owned(),
        });
        let response = service.oneshot(request).await.unwrap();
        Status::from_header_map(response.headers()).map_or(Code::Ok, |status| status.code())
    }

    const COPY: &str = "/amicopy.v1.ImageCopyService/CopyImage";
    const DISTRIBUTE: &str = "/amicopy.v1.DistributionService/CreateDistribution";

    #[tokio::test(start_paused = true)]
    async fn distribution_calls_draw_on_the_tenants_one_bucket() {
        let layer = TenantRateLimitLayer::new(1.0, 2);
        assert_eq!(call(&layer, COPY, "acme").await, Code::Ok);
        assert_eq!(call(&layer, DISTRIBUTE, "acme").await, Code::Ok);
        assert_eq!(call(&layer, DISTRIBUTE, "acme").await, Code::ResourceExhausted);
        assert_eq!(call(&layer, COPY, "acme").await, Code::ResourceExhausted);
    }

    #[tokio::test(start_paused = true)]
    async fn each_tenant_has_its_own_bucket_and_tokens_come_back() {
        let layer = TenantRateLimitLayer::new(1.0, 2);
        assert_eq!(call(&layer, COPY, "acme").await, Code::Ok);
        assert_eq!(call(&layer, COPY, "acme").await, Code::Ok);
        assert_eq!(call(&layer, COPY, "acme").await, Code::ResourceExhausted);
        assert_eq!(call(&layer, COPY, "globex").await, Code::Ok);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(call(&layer, COPY, "acme").await, Code::Ok);
    }

    #[tokio::test(start_paused = true)]
    async fn health_checks_and_a_zero_rate_are_never_limited() {
        let layer = TenantRateLimitLayer::new(1.0, 0);
        assert_eq!(call(&layer, "/grpc.health.v1.Health/Check", "acme").await, Code::Ok);
        assert_eq!(call(&layer, COPY, "acme").await, Code::ResourceExhausted);
        let off = TenantRateLimitLayer::new(0.0, 0);
        for _ in 0..10 {
            assert_eq!(call(&off, COPY, "acme").await, Code::Ok);
        }
    }
}
