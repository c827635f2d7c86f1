//! The web view (`--ui-listen ADDR`): a live view of the tenant's distributions and jobs for
//! people who want to look rather than query, served by amicopyd itself. Pages are rendered on
//! the server and read without JavaScript; a small script, compiled into the binary with the
//! style sheet, keeps them current from server-sent events fed by the engine's event hub (the
//! same one the gRPC watchers use), shows times in the viewer's zone and asks before an action.
//! Nothing is fetched from elsewhere, nothing is built at run time.
//!
//! - [`settings`] is the flag; [`Ui::bind`] binds the listener (refusing `--auth none` on an
//!   address other hosts can reach, as for gRPC), [`tls`] takes the gRPC port's certificate and
//!   client CA, and [`server`] serves HTTP/1.1 and HTTP/2 on every connection.
//! - [`routes`] lists every path; [`browse`] reads the pages, [`live`] streams their updates,
//!   [`actions`] cancels and retries through the engine calls the gRPC API makes.
//! - [`viewer`] authenticates every request as a gRPC call is (bearer token, client
//!   certificate, or nobody), [`session`] keeps a browser's sign-in ([`sign_in`]) in an HttpOnly
//!   SameSite=Strict cookie, [`csrf`] refuses forged state changes; [`error`] turns every failure
//!   into a status and a page.
//! - [`model`] and [`estimate`] are what the pages show (progress, time left from the progress
//!   rate), [`views`] how they look, [`assets`] the script and the style sheet.
//!
//! The web view reads through the engine's store and hub and acts through the engine, like the
//! gRPC API beside it; it shares the gRPC watch cap ([`crate::api::limits::WatchSlots`]) and
//! nothing else with it.

use std::{net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;

use crate::auth::{AuthError, AuthSettings};

pub mod actions;
pub mod assets;
pub mod browse;
pub mod csrf;
pub mod error;
pub mod estimate;
pub mod live;
pub mod model;
pub mod routes;
pub mod server;
pub mod session;
pub mod settings;
pub mod sign_in;
pub mod state;
pub mod tls;
pub mod viewer;
pub mod views;

pub use settings::UiSettings;
pub use state::UiState;

/// Why the web view could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Its authentication or TLS settings do not allow it on that address.
    #[error("web view (--ui-listen): {0}")]
    Auth(#[from] AuthError),
    /// The address could not be bound.
    #[error("web view (--ui-listen): cannot listen on {address}: {source}; is another process using it?")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The web view, its listener bound and its TLS ready.
pub struct Ui {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Ui {
    /// Binds `address` with the gRPC port's authentication and TLS settings: `--auth none` only
    /// on a loopback address unless `--allow-unauthenticated`, TLS when a certificate is given.
    pub async fn bind(address: SocketAddr, auth: &AuthSettings) -> Result<Self, BindError> {
        auth.check(address)?;
        let tls = tls::server_config(auth)?;
        let listener = TcpListener::bind(address)
            .await
            .map_err(|source| BindError::Listen { address, source })?;
        Ok(Self { listener, tls })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Whether it serves TLS.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `state.shutdown` is cancelled.
    pub async fn serve(self, state: UiState) {
        let shutdown = state.shutdown.clone();
        let router = routes::router(Arc::new(state));
        server::serve(self.listener, self.tls, router, shutdown).await;
    }
}
