//! WatchDistribution streams: a distribution's history from `distribution_events` (target events
//! joined with their jobs' events), then its live events, until a terminal aggregate state.
//!
//! One task and one hub subscription per stream, whatever the number of targets: a wake-up
//! (a target's job changed here, or another replica announced events) is one store read of
//! everything new since the last event sent.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::convert;
use crate::{
    api::{ApiError, limits::WatchSlot},
    domain::DistributionId,
    engine::Engine,
    proto,
};

/// Events read from the store per round trip.
const EVENTS_PER_READ: u32 = 256;
/// Messages buffered per stream before the task waits for the client.
const STREAM_BUFFER: usize = 64;

/// The stream type WatchDistribution answers with.
pub type DistributionWatchStream = ReceiverStream<Result<proto::WatchDistributionResponse, Status>>;

/// Starts streaming the events of `distribution` (which the caller may see) after
/// `after_sequence`. The stream ends after a terminal state event that is the newest event (a
/// retried distribution goes on), with UNAVAILABLE when the server shuts down, and silently when
/// the client goes away. `poll` bounds how long a missed notification can delay an event.
pub fn watch_distribution(
    engine: Arc<Engine>,
    slot: WatchSlot,
    distribution: DistributionId,
    after_sequence: u64,
    shutdown: CancellationToken,
    poll: Duration,
) -> DistributionWatchStream {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    // Subscribe before the first read so no event can slip between history and live.
    let mut subscription = engine.hub().subscribe_distribution(distribution);
    tokio::spawn(async move {
        let _slot = slot;
        let mut after = after_sequence;
        loop {
            let events = match engine
                .store()
                .list_distribution_events(distribution, after, EVENTS_PER_READ)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    let _ = sender.send(Err(ApiError::from(error).into())).await;
                    return;
                }
            };
            let more = events.len() == EVENTS_PER_READ as usize;
            let mut ended = false;
            for event in &events {
                after = event.sequence;
                ended = event.kind.is_terminal();
                if sender.send(Ok(convert::event(event))).await.is_err() {
                    return;
                }
            }
            if more {
                continue;
            }
            if ended || (events.is_empty() && has_ended(&engine, distribution, after).await) {
                return;
            }
            tokio::select! {
                () = subscription.changed() => {}
                () = tokio::time::sleep(poll) => {}
                () = sender.closed() => return,
                () = shutdown.cancelled() => {
                    let status = Status::unavailable(
                        "the server is shutting down; call WatchDistribution again with after_sequence to resume",
                    );
                    let _ = sender.send(Err(status)).await;
                    return;
                }
            }
        }
    });
    ReceiverStream::new(receiver)
}

/// Whether a distribution with no events after `after` has ended: a resumed watch of an ended
/// distribution ends at once instead of waiting for events that will never come.
async fn has_ended(engine: &Engine, distribution: DistributionId, after: u64) -> bool {
    engine
        .store()
        .get_distribution_any_tenant(distribution)
        .await
        .is_ok_and(|current| current.state().is_terminal() && current.last_sequence() <= after)
}
