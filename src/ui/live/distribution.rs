//! `GET /distributions/{id}/events`: a distribution page kept current. Every event of the
//! distribution's history after the resume point becomes one message, which replaces the cell of
//! the target it is about (or the actions, for a change of the aggregate state) and the summary.
//!
//! One hub subscription per stream however many targets (as for WatchDistribution): a wake-up is
//! one store read of everything new since the last event sent; the targets are read once, when
//! the stream opens, and then moved on by the events.

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use chrono::Utc;
use tracing::warn;

use super::{AfterQuery, Update, already_ended, channel, open_slot, resume_after};
use crate::ui::{
    browse::distribution_id,
    error::UiError,
    model::{Changed, DistributionView},
    state::Shared,
    viewer::Viewer,
    views::distribution::{ACTIONS_ID, SUMMARY_ID, actions, cell, summary},
};

/// Events read from the store per round trip.
const EVENTS_PER_READ: u32 = 256;

/// Opens the stream.
pub async fn events(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<AfterQuery>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let id = distribution_id(&id)?;
    let engine = &state.engine;
    // Subscribe before the first read so no event can slip between the read and the wait.
    let mut subscription = engine.hub().subscribe_distribution(id);
    let distribution = engine.store().get_tenant_distribution(&viewer.tenant, id).await?;
    let mut after = resume_after(&headers, query.after, distribution.last_sequence());
    if distribution.state().is_terminal() && after >= distribution.last_sequence() {
        return Ok(already_ended());
    }
    let slot = open_slot(&state, &viewer.tenant)?;
    let targets = engine.store().distribution_targets(id).await?;
    let mut view = DistributionView::new(&distribution, &targets);
    let csrf = viewer.csrf.clone();
    let (sender, response) = channel();
    let state = state.clone();
    tokio::spawn(async move {
        let _slot = slot;
        loop {
            let events = match state
                .engine
                .store()
                .list_distribution_events(id, after, EVENTS_PER_READ)
                .await
            {
                Ok(events) => events,
                Err(error) => {
                    warn!(distribution_id = %id, %error, "web view: cannot read distribution events; the browser will reconnect");
                    return;
                }
            };
            let more = events.len() == EVENTS_PER_READ as usize;
            let mut ended = false;
            for event in &events {
                after = event.sequence;
                ended = event.kind.is_terminal();
                let update = match view.apply(event) {
                    Changed::Target(index) => {
                        Update::default().replace(view.targets[index].dom_id(), cell(&view.targets[index]))
                    }
                    Changed::State => Update::default().replace(ACTIONS_ID, actions(&view, csrf.as_deref())),
                    Changed::Nothing => Update::default(),
                };
                let update = update.replace(SUMMARY_ID, summary(&view, Utc::now()));
                if sender.send(update.into_event(Some(event.sequence))).await.is_err() {
                    return;
                }
            }
            if more {
                continue;
            }
            // A terminal state that is the newest event ends the stream (a retry would add more).
            if ended {
                let _ = sender.send(Update::end().into_event(None)).await;
                return;
            }
            tokio::select! {
                () = subscription.changed() => {}
                () = tokio::time::sleep(state.poll) => {}
                () = sender.closed() => return,
                () = state.shutdown.cancelled() => return,
            }
        }
    });
    Ok(response)
}
