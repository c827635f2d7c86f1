//! `GET /events/distributions`: the first page of the distributions list kept current. Whenever
//! any distribution is created or changes (the hub says so, for this replica's and announced
//! ones alike), the viewer's first page is read again, at most a few times a second, and its
//! rows are sent when they look different. The first message is always the rows as they are, so
//! a reconnecting browser is up to date at once; these messages have no id, as a snapshot needs
//! no resume point.

use std::time::Duration;

use axum::{
    extract::{Query, State},
    response::Response,
};
use tracing::warn;

use super::{AfterQuery, Update, channel, open_slot};
use crate::{
    store::DistributionQuery,
    ui::{
        browse::per_page,
        error::UiError,
        state::Shared,
        viewer::Viewer,
        views::distributions::{ROWS_ID, rows},
    },
};

/// Distributions on the first page unless the query says otherwise (as on the page).
const DEFAULT_ROWS: u32 = 25;
/// Shortest time between two reads of the list: changes that come in a burst (a target's
/// progress in each of many distributions) are sent together.
const SETTLE: Duration = Duration::from_millis(300);

/// Opens the stream.
pub async fn events(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(query): Query<AfterQuery>,
) -> Result<Response, UiError> {
    let limit = per_page(query.limit, DEFAULT_ROWS)?;
    let slot = open_slot(&state, &viewer.tenant)?;
    let mut changes = state.engine.hub().subscribe_any_distribution();
    let (sender, response) = channel();
    let state = state.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let list = DistributionQuery {
            tenant: viewer.tenant.clone(),
            states: Vec::new(),
            page_size: limit,
            page_token: None,
        };
        let mut shown = String::new();
        loop {
            changes.mark_unchanged();
            let page = match state.engine.store().list_distributions(&list).await {
                Ok(page) => page,
                Err(error) => {
                    warn!(%error, "web view: cannot read distributions; the browser will reconnect");
                    return;
                }
            };
            let markup = rows(&page.distributions);
            if markup.0 != shown {
                shown.clone_from(&markup.0);
                if sender
                    .send(Update::default().replace(ROWS_ID, markup).into_event(None))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(state.poll) => {}
                () = sender.closed() => return,
                () = state.shutdown.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(SETTLE) => {}
                () = sender.closed() => return,
                () = state.shutdown.cancelled() => return,
            }
        }
    });
    Ok(response)
}
