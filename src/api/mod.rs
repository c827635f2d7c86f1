//! The amicopy.v1 gRPC API: handlers that turn calls into domain requests and engine calls, and
//! engine answers into messages. Errors become statuses in [`error`] only. ImageCopyService is
//! here; DistributionService is in [`distributions`].

use std::sync::Arc;

use prometheus_client::metrics::histogram::Histogram;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::{
    auth::{Caller, Policy},
    backend::BackendError,
    domain::{CopyRequest, JobId, JobState, Region},
    engine::Engine,
    proto::{self, image_copy_service_server::ImageCopyService},
    store::{ListQuery, PageToken},
};

pub mod convert;
pub mod distributions;
pub mod error;
pub mod limits;
pub mod request_id;
mod watch;

pub use distributions::DistributionApi;
pub use error::ApiError;
use request_id::RequestId;

/// Jobs (or distributions) per List page when the caller does not say.
const DEFAULT_PAGE_SIZE: u32 = 100;
/// Most jobs (or distributions) per List page.
const MAX_PAGE_SIZE: u32 = 1000;

/// The ImageCopyService implementation.
pub struct ImageCopyApi {
    engine: Arc<Engine>,
    default_region: Region,
    shutdown: CancellationToken,
    watch_slots: Arc<limits::WatchSlots>,
    policy: Arc<Policy>,
    send_delay: Option<Histogram>,
}

impl ImageCopyApi {
    /// Handlers over `engine`. Copies go to `default_region` unless a request names another;
    /// watch streams end when `shutdown` is cancelled (events a stream's replica missed reach it
    /// through [`Engine::catch_up_watchers`]).
    pub fn new(engine: Arc<Engine>, default_region: Region, shutdown: CancellationToken) -> Self {
        Self {
            engine,
            default_region,
            shutdown,
            watch_slots: limits::WatchSlots::new(0, Default::default()),
            policy: Arc::new(Policy::allow_all()),
            send_delay: None,
        }
    }

    /// The same handlers, timing in `histogram` how old each live event is when a watch stream
    /// sends it.
    pub fn with_send_delay(self, histogram: Histogram) -> Self {
        Self {
            send_delay: Some(histogram),
            ..self
        }
    }

    /// Caps open WatchCopyJob streams per tenant with `slots` (no cap by default).
    pub fn with_watch_slots(mut self, slots: Arc<limits::WatchSlots>) -> Self {
        self.watch_slots = slots;
        self
    }

    /// The same handlers, checking every CopyImage (DryRun or not) against `policy` first.
    pub fn with_policy(self, policy: Arc<Policy>) -> Self {
        Self { policy, ..self }
    }
}

fn parse_job_id(value: &str) -> Result<JobId, ApiError> {
    if value.is_empty() {
        return Err(ApiError::BadArgument {
            field: "job_id",
            description: "job_id is required".to_owned(),
        });
    }
    value.parse().map_err(|_| ApiError::BadArgument {
        field: "job_id",
        description: format!("{value:?} is not a job id: job ids are UUIDs as returned by CopyImage"),
    })
}

fn parse_region_filter(field: &'static str, value: String) -> Result<Option<String>, ApiError> {
    if value.is_empty() {
        return Ok(None);
    }
    Region::parse(&value)
        .map(|region| Some(region.to_string()))
        .map_err(|error| ApiError::BadArgument {
            field,
            description: error.description,
        })
}

fn list_query(caller: &Caller, request: proto::ListCopyJobsRequest) -> Result<ListQuery, ApiError> {
    let page_size = match request.page_size {
        0 => DEFAULT_PAGE_SIZE,
        size if size < 0 => {
            return Err(ApiError::BadArgument {
                field: "page_size",
                description: format!("page_size must be between 0 and {MAX_PAGE_SIZE}; got {size}"),
            });
        }
        size => u32::try_from(size).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
    };
    let states = request
        .states
        .iter()
        .map(|&value| {
            convert::state_from_wire(value).ok_or_else(|| ApiError::BadArgument {
                field: "states",
                description: format!(
                    "{value} is not a job state: use COPY_JOB_STATE_QUEUED, COPY_JOB_STATE_COPYING, ..."
                ),
            })
        })
        .collect::<Result<Vec<JobState>, _>>()?;
    let page_token = match request.page_token.as_str() {
        "" => None,
        token => Some(PageToken::decode(token)?),
    };
    Ok(ListQuery {
        tenant: caller.tenant.clone(),
        states,
        source_region: parse_region_filter("source_region", request.source_region)?,
        destination_region: parse_region_filter("destination_region", request.destination_region)?,
        page_size,
        page_token,
    })
}

#[tonic::async_trait]
impl ImageCopyService for ImageCopyApi {
    async fn copy_image(
        &self,
        request: Request<proto::CopyImageRequest>,
    ) -> Result<Response<proto::CopyImageResponse>, Status> {
        let request_id = RequestId::of(&request);
        let caller = Caller::of(&request);
        let input = convert::copy_input(request.into_inner());
        let copy = CopyRequest::parse(input, &self.default_region).map_err(ApiError::from)?;
        self.policy.check(&caller.tenant, &copy).map_err(ApiError::from)?;
        if let Some(account) = &copy.destination_account {
            self.engine.backends().for_account(account).map_err(ApiError::from)?;
        }
        if copy.dry_run {
            return Err(match self.engine.dry_run(copy).await {
                Ok(()) => error::dry_run_succeeded(),
                Err(refusal) => error::backend_status(&refusal, Default::default()),
            });
        }
        let job = self.engine.submit(&caller.tenant, copy).await.map_err(ApiError::from)?;
        if let (JobState::Failed, None, Some(failure)) = (job.state(), job.image_id(), job.failure()) {
            return Err(ApiError::CopyRefused {
                job_id: job.id(),
                error: BackendError::from_code(failure.code.clone(), failure.message.clone()),
            }
            .into());
        }
        Ok(Response::new(proto::CopyImageResponse {
            image_id: job.image_id().unwrap_or_default().to_owned(),
            request_id,
            job_id: job.id().to_string(),
            state: convert::job_state(job.state()) as i32,
            job: Some(convert::copy_job(&job)),
        }))
    }

    async fn get_copy_job(
        &self,
        request: Request<proto::GetCopyJobRequest>,
    ) -> Result<Response<proto::GetCopyJobResponse>, Status> {
        let caller = Caller::of(&request);
        let id = parse_job_id(&request.get_ref().job_id)?;
        let job = self
            .engine
            .store()
            .get_tenant_job(&caller.tenant, id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(proto::GetCopyJobResponse {
            job: Some(convert::copy_job(&job)),
        }))
    }

    async fn list_copy_jobs(
        &self,
        request: Request<proto::ListCopyJobsRequest>,
    ) -> Result<Response<proto::ListCopyJobsResponse>, Status> {
        let caller = Caller::of(&request);
        let query = list_query(&caller, request.into_inner())?;
        let page = self.engine.store().list_jobs(&query).await.map_err(ApiError::from)?;
        Ok(Response::new(proto::ListCopyJobsResponse {
            jobs: page.jobs.iter().map(convert::copy_job).collect(),
            next_page_token: page.next_page_token.map(|token| token.encode()).unwrap_or_default(),
        }))
    }

    type WatchCopyJobStream = watch::WatchStream;

    async fn watch_copy_job(
        &self,
        request: Request<proto::WatchCopyJobRequest>,
    ) -> Result<Response<Self::WatchCopyJobStream>, Status> {
        let caller = Caller::of(&request);
        let request = request.into_inner();
        let id = parse_job_id(&request.job_id)?;
        // Only jobs the caller may see can be watched.
        self.engine
            .store()
            .get_tenant_job(&caller.tenant, id)
            .await
            .map_err(ApiError::from)?;
        let slot = self
            .watch_slots
            .try_open(&caller.tenant)
            .ok_or_else(|| error::too_many_watches(&caller.tenant, self.watch_slots.cap()))?;
        let stream = watch::watch_job(
            Arc::clone(&self.engine),
            slot,
            id,
            request.after_sequence,
            self.shutdown.clone(),
            self.send_delay.clone(),
        );
        Ok(Response::new(stream))
    }

    async fn cancel_copy_job(
        &self,
        request: Request<proto::CancelCopyJobRequest>,
    ) -> Result<Response<proto::CancelCopyJobResponse>, Status> {
        let caller = Caller::of(&request);
        let id = parse_job_id(&request.get_ref().job_id)?;
        let job = self.engine.cancel(&caller.tenant, id).await.map_err(ApiError::from)?;
        Ok(Response::new(proto::CancelCopyJobResponse {
            job: Some(convert::copy_job(&job)),
        }))
    }
}
