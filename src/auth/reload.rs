//! Re-reading the tokens file without a restart: on every SIGHUP the file is read again; a file
//! that cannot be used is logged and the tokens in use stay.

use futures::{Stream, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::TokenStore;

/// Reloads `tokens` on every SIGHUP until `shutdown` is cancelled. The handler is installed
/// when this is called, not when the future first runs, so a SIGHUP right after start-up cannot
/// meet the default action (ending the process).
pub fn reload_on_sighup(tokens: TokenStore, shutdown: CancellationToken) -> impl Future<Output = ()> + Send {
    let hangups = signal(SignalKind::hangup());
    async move {
        match hangups {
            Ok(mut hangups) => {
                let signals = futures::stream::poll_fn(move |cx| hangups.poll_recv(cx));
                reload_on(tokens, signals, shutdown).await;
            }
            Err(error) => warn!(%error, "cannot listen for SIGHUP; the tokens file is read only at start-up"),
        }
    }
}

/// Reloads `tokens` each time `signals` yields, until it ends or `shutdown` is cancelled.
pub async fn reload_on(tokens: TokenStore, signals: impl Stream<Item = ()>, shutdown: CancellationToken) {
    let mut signals = std::pin::pin!(signals);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            signal = signals.next() => match signal {
                Some(()) => reload_logged(&tokens),
                None => return,
            },
        }
    }
}

/// Reloads `tokens` and logs the outcome; what a SIGHUP does.
pub fn reload_logged(tokens: &TokenStore) {
    let path = tokens.path().display().to_string();
    match tokens.reload() {
        Ok(entries) => info!(path, entries, "tokens file reloaded"),
        Err(error) => warn!(%error, "tokens file not reloaded; the previous tokens stay in use"),
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn file_with(path: &std::path::Path, token: &str) {
        let body = format!(
            r#"{{"tokens":[{{"tenant":"a","sha256":"{}"}}]}}"#,
            hex::encode(Sha256::digest(token.as_bytes()))
        );
        std::fs::write(path, body).unwrap();
    }

    #[tokio::test]
    async fn each_signal_rereads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        file_with(&path, "first");
        let tokens = TokenStore::load(path.clone()).unwrap();
        let (send, receive) = tokio::sync::mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(reload_on(
            tokens.clone(),
            tokio_stream::wrappers::UnboundedReceiverStream::new(receive),
            shutdown.clone(),
        ));

        file_with(&path, "second");
        assert_eq!(
            tokens.tenant_for("first").as_deref(),
            Some("a"),
            "nothing changes before the signal"
        );
        send.send(()).unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokens.tenant_for("second").is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the signal never reloaded the file"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(tokens.tenant_for("first"), None);

        shutdown.cancel();
        task.await.unwrap();
    }
}
