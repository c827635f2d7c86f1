//! What the web view can change: cancel a job, cancel a distribution, retry a distribution's
//! failed and cancelled targets. Each goes through the engine call the gRPC API makes for it
//! (`Engine::cancel`, `Engine::cancel_distribution`, `Engine::retry_distribution`), scoped to
//! the viewer's tenant exactly as those calls are (another tenant's is not found), and each is
//! asked twice: a form without `confirm=yes` is answered with a confirmation page (the script
//! asks in a dialog first, so a person with JavaScript sees the dialog instead). Every action is
//! a POST checked against cross-site forgery ([`super::csrf`]).

use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, Uri},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use tracing::info;

use super::{
    browse::{distribution_id, html, job_id},
    error::UiError,
    state::Shared,
    viewer::Viewer,
    views::{self, Section},
};

/// An action's form as posted.
#[derive(Debug, Deserialize)]
pub struct ActionForm {
    /// The session's form token.
    #[serde(default)]
    csrf: String,
    /// `yes` once the person confirmed.
    #[serde(default)]
    confirm: Option<String>,
}

impl ActionForm {
    fn confirmed(&self) -> bool {
        self.confirm.as_deref() == Some("yes")
    }
}

/// `POST /jobs/{id}/cancel`.
pub async fn cancel_job(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.check_form(&headers, &uri, state.tls, &form.csrf)?;
    let id = job_id(&id)?;
    let page = format!("/jobs/{id}");
    if !form.confirmed() {
        // Only the viewer's own jobs are asked about.
        state.engine.store().get_tenant_job(&viewer.tenant, id).await?;
        return Ok(html(views::pages::confirm(
            &viewer.chrome(),
            Section::Jobs,
            &format!("Cancel job {id}?"),
            "Its copy is stopped and any image it made so far is deregistered. This cannot be undone.",
            &format!("/jobs/{id}/cancel"),
            "Yes, cancel the job",
            &page,
        )));
    }
    state.engine.cancel(&viewer.tenant, id).await?;
    info!(job_id = %id, tenant = viewer.tenant, "job cancel requested in the web view");
    Ok(Redirect::to(&page).into_response())
}

/// `POST /distributions/{id}/cancel`.
pub async fn cancel_distribution(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.check_form(&headers, &uri, state.tls, &form.csrf)?;
    let id = distribution_id(&id)?;
    let page = format!("/distributions/{id}");
    if !form.confirmed() {
        state.engine.store().get_tenant_distribution(&viewer.tenant, id).await?;
        return Ok(html(views::pages::confirm(
            &viewer.chrome(),
            Section::Distributions,
            &format!("Cancel distribution {id}?"),
            "Every target that has not ended is cancelled and its image deregistered; targets that are \
             AVAILABLE keep their images.",
            &format!("/distributions/{id}/cancel"),
            "Yes, cancel the distribution",
            &page,
        )));
    }
    state.engine.cancel_distribution(&viewer.tenant, id).await?;
    info!(distribution_id = %id, tenant = viewer.tenant, "distribution cancel requested in the web view");
    Ok(Redirect::to(&page).into_response())
}

/// `POST /distributions/{id}/retry`.
pub async fn retry_distribution(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    viewer.check_form(&headers, &uri, state.tls, &form.csrf)?;
    let id = distribution_id(&id)?;
    let page = format!("/distributions/{id}");
    if !form.confirmed() {
        state.engine.store().get_tenant_distribution(&viewer.tenant, id).await?;
        return Ok(html(views::pages::confirm(
            &viewer.chrome(),
            Section::Distributions,
            &format!("Retry distribution {id}?"),
            "Every FAILED and CANCELLED target gets a new job with the same request; AVAILABLE targets keep \
             their jobs and images.",
            &format!("/distributions/{id}/retry"),
            "Yes, retry them",
            &page,
        )));
    }
    state.engine.retry_distribution(&viewer.tenant, id).await?;
    info!(distribution_id = %id, tenant = viewer.tenant, "distribution retry requested in the web view");
    Ok(Redirect::to(&page).into_response())
}
