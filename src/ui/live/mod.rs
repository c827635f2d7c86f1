//! Live pages: server-sent events fed by the same event hub the gRPC watchers use, one stream
//! per open page, one task per stream.
//!
//! Each message is an [`Update`]: page fragments rendered on the server (the same templates as
//! the page) that replace elements by id or are appended to one. The streams of a distribution
//! and of a job send one message per event of its history, with the event's sequence as the
//! message id: a browser whose connection drops reconnects by itself with `Last-Event-ID`, and
//! the stream resumes right after that event, so nothing is lost or repeated. A page names the
//! sequence it was rendered at (`?after=`), so nothing between the page and its stream is lost
//! either. After the last event the stream says `end` and the script stops listening; a stream
//! asked for after the end answers 204, which stops a browser from reconnecting.
//!
//! Every stream holds one of its tenant's watch slots (the gRPC watch cap, shared) while open,
//! and ends when the server shuts down.

use std::{convert::Infallible, time::Duration};

use axum::{
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

use super::{error::UiError, state::UiState};
use crate::api::limits::WatchSlot;

pub mod distribution;
pub mod distributions;
pub mod job;

/// Messages buffered per stream before its task waits for the browser.
const BUFFER: usize = 32;
/// How long a browser waits before reconnecting after a dropped connection.
const RECONNECT: Duration = Duration::from_secs(2);
/// How often an idle stream sends a comment, so proxies keep it open and a gone browser is
/// noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Where a stream starts: `?after=SEQUENCE`, the sequence its page was rendered at.
#[derive(Debug, Default, Deserialize)]
pub struct AfterQuery {
    /// The sequence of the last event the page reflects.
    #[serde(default)]
    pub after: Option<u64>,
    /// Rows per page (the live list of distributions).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One message of a live stream: fragments that replace elements by id, fragments appended to
/// elements by id, and whether the stream has ended.
#[derive(Debug, Default)]
pub struct Update {
    replace: Map<String, Value>,
    append: Map<String, Value>,
    end: bool,
}

impl Update {
    /// Replaces the element with `id` by `html` (an element with the same id).
    pub fn replace(mut self, id: impl Into<String>, html: maud::Markup) -> Self {
        self.replace.insert(id.into(), Value::String(html.into_string()));
        self
    }

    /// Appends `html` to the element with `id`.
    pub fn append(mut self, id: impl Into<String>, html: maud::Markup) -> Self {
        let id = id.into();
        let html = html.into_string();
        match self.append.get_mut(&id) {
            Some(Value::String(existing)) => existing.push_str(&html),
            _ => {
                self.append.insert(id, Value::String(html));
            }
        }
        self
    }

    /// The last message: nothing more will change.
    pub fn end() -> Self {
        Self {
            end: true,
            ..Self::default()
        }
    }

    /// The message as a server-sent event, with `id` (an event sequence) when it has one.
    pub fn into_event(self, id: Option<u64>) -> Event {
        let mut body = Map::new();
        if !self.replace.is_empty() {
            body.insert("replace".to_owned(), Value::Object(self.replace));
        }
        if !self.append.is_empty() {
            body.insert("append".to_owned(), Value::Object(self.append));
        }
        if self.end {
            body.insert("end".to_owned(), Value::Bool(true));
        }
        let event = Event::default().data(Value::Object(body).to_string());
        match id {
            Some(id) => event.id(id.to_string()),
            None => event,
        }
    }
}

/// Where a stream resumes: after the `Last-Event-ID` a reconnecting browser sends, else after
/// `after` from the page's link, else after `current` (the newest event now).
pub fn resume_after(headers: &HeaderMap, after: Option<u64>, current: u64) -> u64 {
    headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .or(after)
        .unwrap_or(current)
}

/// One of `tenant`'s watch slots for a new stream, or the refusal to open one.
pub fn open_slot(state: &UiState, tenant: &str) -> Result<WatchSlot, UiError> {
    state.watch_slots.try_open(tenant).ok_or_else(|| {
        UiError::TooManyStreams(format!(
            "Tenant {tenant} has {} live views and watch streams open, as many as it may; close some pages and reload.",
            state.watch_slots.cap()
        ))
    })
}

/// The sender a stream's task feeds, and the response that streams what it sends.
pub fn channel() -> (mpsc::Sender<Event>, Response) {
    let (sender, receiver) = mpsc::channel(BUFFER);
    let first = tokio_stream::once(Event::default().retry(RECONNECT));
    let events = first.chain(ReceiverStream::new(receiver)).map(Ok::<_, Infallible>);
    let response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    (sender, response)
}

/// The answer to a stream asked for after its end: 204, after which a browser stops
/// reconnecting.
pub fn already_ended() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_last_event_id_wins_over_the_page_and_the_present() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_after(&headers, None, 9), 9);
        assert_eq!(resume_after(&headers, Some(4), 9), 4);
        headers.insert("last-event-id", "7".parse().unwrap());
        assert_eq!(resume_after(&headers, Some(4), 9), 7);
        headers.insert("last-event-id", "junk".parse().unwrap());
        assert_eq!(resume_after(&headers, Some(4), 9), 4);
    }
}
