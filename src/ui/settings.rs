//! The web view's flag.

use std::net::SocketAddr;

use clap::Args;

/// Web view settings.
#[derive(Args, Debug, Clone, Default)]
pub struct UiSettings {
    /// Address of the web view of jobs and distributions (for example 127.0.0.1:8080), served
    /// with the gRPC port's authentication and TLS settings. Off unless set.
    #[arg(long, env = "AMICOPY_UI_LISTEN")]
    pub ui_listen: Option<SocketAddr>,
}
