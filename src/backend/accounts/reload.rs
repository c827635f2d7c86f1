//! Re-reading the accounts file without a restart, as the tokens file is: on every SIGHUP the
//! file is read again; a file that cannot be used is logged and the accounts in use stay.

use futures::{Stream, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::Accounts;

/// Reloads `accounts` on every SIGHUP until `shutdown` is cancelled. The handler is installed
/// when this is called, not when the future first runs, so a SIGHUP right after start-up cannot
/// meet the default action (ending the process).
pub fn reload_on_sighup(accounts: Accounts, shutdown: CancellationToken) -> impl Future<Output = ()> + Send {
    let hangups = signal(SignalKind::hangup());
    async move {
        match hangups {
            Ok(mut hangups) => {
                let signals = futures::stream::poll_fn(move |cx| hangups.poll_recv(cx));
                reload_on(accounts, signals, shutdown).await;
            }
            Err(error) => warn!(%error, "cannot listen for SIGHUP; the accounts file is read only at start-up"),
        }
    }
}

/// Reloads `accounts` each time `signals` yields, until it ends or `shutdown` is cancelled.
pub async fn reload_on(accounts: Accounts, signals: impl Stream<Item = ()>, shutdown: CancellationToken) {
    let mut signals = std::pin::pin!(signals);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            signal = signals.next() => match signal {
                Some(()) => reload_logged(&accounts),
                None => return,
            },
        }
    }
}

/// Reloads `accounts` and logs the outcome; what a SIGHUP does.
pub fn reload_logged(accounts: &Accounts) {
    let Some(path) = accounts.path().map(|path| path.display().to_string()) else {
        return;
    };
    match accounts.reload() {
        Ok(entries) => info!(path, entries, "accounts file reloaded"),
        Err(error) => warn!(%error, "accounts file not reloaded; the previous accounts stay in use"),
    }
}
