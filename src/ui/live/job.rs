//! `GET /jobs/{id}/events`: a job page kept current. Every event after the resume point becomes
//! one message, which appends the event to the history and replaces the summary and the
//! actions; the job's terminal event ends the stream (a job never changes after it).
//!
//! As for WatchCopyJob, new events usually come from the hub's memory of the job's recent
//! events, and from the store when they are not all there.

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    response::Response,
};
use chrono::Utc;
use tracing::warn;

use super::{AfterQuery, Update, already_ended, channel, open_slot, resume_after};
use crate::ui::{
    browse::job_id,
    error::UiError,
    model::JobView,
    state::Shared,
    viewer::Viewer,
    views::job::{ACTIONS_ID, HISTORY_ID, SUMMARY_ID, actions, event_row, summary},
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
    let id = job_id(&id)?;
    let engine = &state.engine;
    // Subscribe before the first read so no event can slip between the read and the wait.
    let mut subscription = engine.hub().subscribe(id);
    let job = engine.store().get_tenant_job(&viewer.tenant, id).await?;
    let mut after = resume_after(&headers, query.after, job.last_event_sequence());
    if job.state().is_terminal() && after >= job.last_event_sequence() {
        return Ok(already_ended());
    }
    let slot = open_slot(&state, &viewer.tenant)?;
    let mut view = JobView::new(&job);
    let csrf = viewer.csrf.clone();
    let (sender, response) = channel();
    let state = state.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let mut woken = false;
        loop {
            let (events, more) = match woken.then(|| subscription.events_after(after)).flatten() {
                Some(events) => (events, false),
                None => match state.engine.store().list_events(id, after, EVENTS_PER_READ).await {
                    Ok(events) => {
                        let more = events.len() == EVENTS_PER_READ as usize;
                        (events, more)
                    }
                    Err(error) => {
                        warn!(job_id = %id, %error, "web view: cannot read job events; the browser will reconnect");
                        return;
                    }
                },
            };
            for event in &events {
                after = event.sequence;
                view.apply(event);
                let update = Update::default()
                    .append(HISTORY_ID, event_row(event))
                    .replace(SUMMARY_ID, summary(&view, Utc::now()))
                    .replace(ACTIONS_ID, actions(&view, csrf.as_deref()));
                if sender.send(update.into_event(Some(event.sequence))).await.is_err() {
                    return;
                }
                if event.state.is_terminal() {
                    let _ = sender.send(Update::end().into_event(None)).await;
                    return;
                }
            }
            if more {
                woken = false;
                continue;
            }
            tokio::select! {
                () = subscription.changed() => woken = true,
                () = tokio::time::sleep(state.poll) => woken = false,
                () = sender.closed() => return,
                () = state.shutdown.cancelled() => return,
            }
        }
    });
    Ok(response)
}
