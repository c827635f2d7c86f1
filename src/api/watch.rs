//! WatchCopyJob streams: a job's history from `job_events`, then its live events, until the
//! terminal one.
//!
//! Each stream is one task feeding a small channel. The history is read from the store; live
//! events come from the hub's memory of the job's recent events when every one after the last
//! sent is there, and from the store when not. So a slow watcher never holds up the engine or
//! other watchers and is caught up from `job_events` rather than dropped, a watcher on any
//! replica sees events written by any other, and many watchers of one job cost no store reads.

use std::sync::Arc;

use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::{ApiError, convert, limits::WatchSlot};
use crate::{domain::JobId, engine::Engine, proto};

/// Events read from the store per round trip.
const EVENTS_PER_READ: u32 = 256;
/// Messages buffered per stream before the task waits for the client.
const STREAM_BUFFER: usize = 16;

/// The stream type WatchCopyJob answers with.
pub type WatchStream = ReceiverStream<Result<proto::WatchCopyJobResponse, Status>>;

/// Starts streaming the events of `job` (which the caller may see) that follow `after_sequence`.
/// The stream ends after the terminal event, with UNAVAILABLE when the server shuts down, and
/// silently when the client goes away. It reads the store only for the history and when the hub
/// does not hold every new event: a missed notification is the replica's to catch up
/// ([`Engine::catch_up_watchers`]), once for all watchers, not each stream's. `slot` is held
/// until the stream ends; `send_delay`, when given, times how old each live event is when sent.
pub fn watch_job(
    engine: Arc<Engine>,
    slot: WatchSlot,
    job: JobId,
    after_sequence: u64,
    shutdown: CancellationToken,
    send_delay: Option<Histogram>,
) -> WatchStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    // Subscribe before the first read so no event can slip between history and live.
    let mut subscription = engine.hub().subscribe(job);
    tokio::spawn(async move {
        let _slot = slot;
        let mut after = after_sequence;
        // The history comes from the store; after a notification the new events usually come
        // from the hub's memory, and from the store when they are not all there.
        let mut woken = false;
        // Events read before the stream first waits are its history, not live.
        let mut live = false;
        loop {
            let (events, more) = match woken.then(|| subscription.events_after(after)).flatten() {
                Some(events) => (events, false),
                None => match engine.store().list_events(job, after, EVENTS_PER_READ).await {
                    Ok(events) => {
                        let more = events.len() == EVENTS_PER_READ as usize;
                        (events, more)
                    }
                    Err(error) => {
                        let _ = sender.send(Err(ApiError::from(error).into())).await;
                        return;
                    }
                },
            };
            for event in events {
                after = event.sequence;
                let terminal = event.state.is_terminal();
                let message = proto::WatchCopyJobResponse {
                    event: Some(convert::copy_job_event(&event)),
                };
                if let Some(send_delay) = send_delay.as_ref().filter(|_| live) {
                    crate::metrics::observe_age(send_delay, event.created_at);
                }
                if sender.send(Ok(message)).await.is_err() || terminal {
                    return;
                }
            }
            if more {
                woken = false;
                continue;
            }
            live = true;
            tokio::select! {
                () = subscription.changed() => woken = true,
                () = sender.closed() => return,
                () = shutdown.cancelled() => {
                    let status = Status::unavailable("the server is shutting down; call WatchCopyJob again to resume");
                    let _ = sender.send(Err(status)).await;
                    return;
                }
            }
        }
    });
    ReceiverStream::new(receiver)
}
