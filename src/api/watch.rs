//! WatchCopyJob streams: a job's history from `job_events`, then its live events, until the
//! terminal one.
//!
//! Each stream is one task feeding a small channel. Live notifications only wake the task; the
//! events themselves are always read from the store after the last one sent, so a slow watcher
//! never holds up the engine or other watchers and is caught up rather than dropped, and a
//! watcher on any replica sees events written by any other.

use std::{sync::Arc, time::Duration};

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

/// Starts streaming the events of `job` (which the caller may see) that follow `after_sequence`. The stream ends after the
/// terminal event, with UNAVAILABLE when the server shuts down, and silently when the client
/// goes away. `poll` bounds how long a missed notification can delay an event. `slot` is held
/// until the stream ends.
pub fn watch_job(
    engine: Arc<Engine>,
    slot: WatchSlot,
    job: JobId,
    after_sequence: u64,
    shutdown: CancellationToken,
    poll: Duration,
) -> WatchStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    // Subscribe before the first read so no event can slip between history and live.
    let mut subscription = engine.hub().subscribe(job);
    tokio::spawn(async move {
        let _slot = slot;
        let mut after = after_sequence;
        loop {
            let events = match engine.store().list_events(job, after, EVENTS_PER_READ).await {
                Ok(events) => events,
                Err(error) => {
                    let _ = sender.send(Err(ApiError::from(error).into())).await;
                    return;
                }
            };
            let more = events.len() == EVENTS_PER_READ as usize;
            for event in events {
                after = event.sequence;
                let terminal = event.state.is_terminal();
                let message = proto::WatchCopyJobResponse {
                    event: Some(convert::copy_job_event(&event)),
                };
                if sender.send(Ok(message)).await.is_err() || terminal {
                    return;
                }
            }
            if more {
                continue;
            }
            tokio::select! {
                () = subscription.changed() => {}
                () = tokio::time::sleep(poll) => {}
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
