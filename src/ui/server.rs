//! The web view's listener: accepts connections, shakes hands with TLS when it is configured
//! (noting the tenant of a client certificate), and serves HTTP/1.1 and HTTP/2 on each until the
//! server shuts down. On shutdown it stops accepting, lets requests in flight finish (live
//! streams end by themselves), and gives up on connections that linger.

use std::{sync::Arc, time::Duration};

use axum::{Router, extract::Request};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::debug;

use super::viewer::Connection;
use crate::auth::mtls::tenant_of_certificate;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request head may take to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connections may take to finish once the server shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    router: Router,
    shutdown: CancellationToken,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, acceptor.clone(), router.clone(), shutdown.clone()));
                }
                Err(error) => {
                    debug!(%error, "web view cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        debug!(lingering = connections.len(), "web view connections closed at shutdown");
        connections.shutdown().await;
    }
}

/// One connection: TLS first when configured, then HTTP.
async fn connection(stream: TcpStream, acceptor: Option<TlsAcceptor>, router: Router, shutdown: CancellationToken) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%error, "cannot set TCP_NODELAY on a web view connection");
    }
    let Some(acceptor) = acceptor else {
        return http(stream, Connection::default(), router, shutdown).await;
    };
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return debug!(%error, "web view TLS handshake failed"),
        Err(_) => return debug!("web view TLS handshake timed out"),
    };
    let client_tenant = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| tenant_of_certificate(leaf.as_ref()));
    http(stream, Connection { client_tenant }, router, shutdown).await;
}

/// Serves HTTP/1.1 or HTTP/2 on `io`, every request carrying what the connection proved.
async fn http<I>(io: I, connection: Connection, router: Router, shutdown: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(connection.clone());
        request
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let served = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(served);
    tokio::select! {
        result = served.as_mut() => {
            if let Err(error) = result {
                debug!(%error, "web view connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}
