//! The pages people read: distributions (the home page), one distribution, jobs, one job. Each
//! reads the viewer's tenant's records only (another tenant's is not found), renders the whole
//! page on the server, and names the live stream that keeps it current.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use chrono::Utc;
use maud::Markup;
use serde::Deserialize;

use super::{
    error::UiError,
    model::{DistributionView, JobView},
    state::Shared,
    viewer::Viewer,
    views::{self, jobs::Filters},
};
use crate::{
    domain::{DistributionId, JobId, JobState, Region},
    store::{DistributionQuery, ListQuery, PageToken},
};

/// Distributions per page unless the link says otherwise.
const DISTRIBUTIONS_PER_PAGE: u32 = 25;
/// Jobs per page unless the link says otherwise.
const JOBS_PER_PAGE: u32 = 50;
/// Most rows a page may ask for.
const MAX_PER_PAGE: u32 = 200;
/// Most events of a job's history shown (the newest).
const HISTORY_SHOWN: u64 = 1000;
/// Events read from the store per round trip.
const EVENTS_PER_READ: u32 = 256;

/// The query of a list page: where it starts and how long it is.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// The page token of the previous page's last row.
    #[serde(default)]
    pub page: Option<String>,
    /// Rows per page.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The query of the jobs page: its filters and its page.
#[derive(Debug, Default, Deserialize)]
pub struct JobsQuery {
    /// A state name (`copying`); empty for any.
    #[serde(default)]
    pub state: Option<String>,
    /// A destination Region; empty for any.
    #[serde(default)]
    pub region: Option<String>,
    /// The page token of the previous page's last row.
    #[serde(default)]
    pub page: Option<String>,
    /// Rows per page.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /`: the viewer's distributions, newest first.
pub async fn distributions(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(query): Query<PageQuery>,
) -> Result<Response, UiError> {
    let limit = per_page(query.limit, DISTRIBUTIONS_PER_PAGE)?;
    let page_token = page_token(query.page.as_deref())?;
    let page = state
        .engine
        .store()
        .list_distributions(&DistributionQuery {
            tenant: viewer.tenant.clone(),
            states: Vec::new(),
            page_size: limit,
            page_token,
        })
        .await?;
    let next = page
        .next_page_token
        .map(|token| format!("/?page={}&limit={limit}", token.encode()));
    // Only the first page changes as distributions are created; it is the one kept live.
    let live = page_token
        .is_none()
        .then(|| format!("/events/distributions?limit={limit}"));
    Ok(html(views::distributions::list(
        &viewer.chrome(),
        &page.distributions,
        next.as_deref(),
        live.as_deref(),
    )))
}

/// `GET /distributions/{id}`: one distribution with its targets.
pub async fn distribution(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let id = distribution_id(&id)?;
    let store = state.engine.store();
    // The distribution first: its targets, read after, are at least as new as its sequence, so
    // the live stream (which starts after that sequence) misses nothing.
    let distribution = store.get_tenant_distribution(&viewer.tenant, id).await?;
    let targets = store.distribution_targets(id).await?;
    let view = DistributionView::new(&distribution, &targets);
    let live = format!("/distributions/{id}/events?after={}", view.sequence);
    Ok(html(views::distribution::page_of(
        &viewer.chrome(),
        &view,
        Utc::now(),
        &live,
    )))
}

/// `GET /jobs`: the viewer's jobs, newest first, filtered by state and destination Region.
pub async fn jobs(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(query): Query<JobsQuery>,
) -> Result<Response, UiError> {
    let limit = per_page(query.limit, JOBS_PER_PAGE)?;
    let page_token = page_token(query.page.as_deref())?;
    let job_state = match query.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(name.to_lowercase().parse::<JobState>().map_err(|_| {
            UiError::BadRequest(format!(
                "{name:?} is not a job state: use one of {}.",
                JobState::ALL.map(JobState::as_str).join(", ")
            ))
        })?),
    };
    let region = match query.region.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(region) => Some(
            Region::parse(region)
                .map_err(|error| UiError::BadRequest(error.description))?
                .to_string(),
        ),
    };
    let page = state
        .engine
        .store()
        .list_jobs(&ListQuery {
            tenant: viewer.tenant.clone(),
            states: job_state.into_iter().collect(),
            source_region: None,
            destination_region: region.clone(),
            page_size: limit,
            page_token,
        })
        .await?;
    let next = page.next_page_token.map(|token| {
        format!(
            "/jobs?state={}&region={}&page={}&limit={limit}",
            job_state.map(JobState::as_str).unwrap_or_default(),
            region.as_deref().unwrap_or_default(),
            token.encode()
        )
    });
    let filters = Filters {
        state: job_state,
        region: region.as_deref(),
    };
    Ok(html(views::jobs::list(
        &viewer.chrome(),
        &filters,
        &page.jobs,
        next.as_deref(),
    )))
}

/// `GET /jobs/{id}`: one job with its history.
pub async fn job(State(state): State<Shared>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, UiError> {
    let id = job_id(&id)?;
    let store = state.engine.store();
    let job = store.get_tenant_job(&viewer.tenant, id).await?;
    let view = JobView::new(&job);
    // The history up to the job as read; the live stream appends what follows.
    let mut after = view.sequence.saturating_sub(HISTORY_SHOWN);
    let mut history = Vec::new();
    while after < view.sequence {
        let events = store.list_events(id, after, EVENTS_PER_READ).await?;
        let Some(last) = events.last() else { break };
        after = last.sequence;
        history.extend(events.into_iter().filter(|event| event.sequence <= view.sequence));
    }
    let live = format!("/jobs/{id}/events?after={}", view.sequence);
    Ok(html(views::job::page_of(
        &viewer.chrome(),
        &view,
        &history,
        Utc::now(),
        &live,
    )))
}

/// A page: HTML that is never cached (it holds the tenant's data and the session's form token).
pub fn html(markup: Markup) -> Response {
    let mut response = Html(markup.into_string()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The distribution id in a path; one that is not an id names nothing here.
pub fn distribution_id(text: &str) -> Result<DistributionId, UiError> {
    text.parse().map_err(|_| {
        UiError::NotFound(format!(
            "There is no distribution {text:?} here: distribution ids are UUIDs."
        ))
    })
}

/// The job id in a path; one that is not an id names nothing here.
pub fn job_id(text: &str) -> Result<JobId, UiError> {
    text.parse()
        .map_err(|_| UiError::NotFound(format!("There is no job {text:?} here: job ids are UUIDs.")))
}

/// Rows per page: `asked`, or `default`, at most [`MAX_PER_PAGE`].
pub fn per_page(asked: Option<u32>, default: u32) -> Result<u32, UiError> {
    match asked {
        None => Ok(default),
        Some(limit) if (1..=MAX_PER_PAGE).contains(&limit) => Ok(limit),
        Some(limit) => Err(UiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PER_PAGE}; got {limit}."
        ))),
    }
}

fn page_token(text: Option<&str>) -> Result<Option<PageToken>, UiError> {
    match text {
        None | Some("") => Ok(None),
        Some(token) => Ok(Some(PageToken::decode(token)?)),
    }
}
