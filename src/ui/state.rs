//! What every handler of the web view shares.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::{api::limits::WatchSlots, auth::Authenticator, engine::Engine};

/// The web view's shared state: the engine it reads and acts through, how viewers authenticate,
/// and the bounds of its live streams.
pub struct UiState {
    /// The engine: its store for reads, its calls for actions (the ones the gRPC API makes).
    pub engine: Arc<Engine>,
    /// How a viewer proves who they are: the gRPC port's authenticator, tokens file included.
    pub authenticator: Authenticator,
    /// Whether the web view is served over TLS (cookies are then marked Secure).
    pub tls: bool,
    /// Open live streams per tenant, counted with the gRPC watch streams against one cap.
    pub watch_slots: Arc<WatchSlots>,
    /// Ends every live stream when the server shuts down.
    pub shutdown: CancellationToken,
    /// Longest a live view waits without news before it reads the store anyway (a safety net
    /// for missed notifications, as for gRPC watchers).
    pub poll: Duration,
}

/// The state as handlers receive it.
pub type Shared = Arc<UiState>;
