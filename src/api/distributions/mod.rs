//! The amicopy.v1 DistributionService: one AMI to many (account, Region) targets. Handlers turn
//! calls into a checked [`DistributionRequest`] and engine calls, and engine answers into
//! messages; errors become statuses in [`super::error`] only.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{ApiError, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, error, limits};
use crate::{
    auth::{Caller, Policy, PolicyDenial},
    domain::{AccountId, DistributionId, DistributionRequest, DistributionState, distribution::PlannedTarget},
    engine::Engine,
    proto::{self, distribution_service_server::DistributionService},
    store::{DistributionQuery, PageToken},
};

pub mod convert;
mod watch;

/// The DistributionService implementation.
pub struct DistributionApi {
    engine: Arc<Engine>,
    shutdown: CancellationToken,
    watch_poll: Duration,
    watch_slots: Arc<limits::WatchSlots>,
    policy: Arc<Policy>,
}

impl DistributionApi {
    /// Handlers over `engine`. Watch streams end when `shutdown` is cancelled and re-read the
    /// store at least every `watch_poll` even without notifications.
    pub fn new(engine: Arc<Engine>, shutdown: CancellationToken, watch_poll: Duration) -> Self {
        Self {
            engine,
            shutdown,
            watch_poll,
            watch_slots: limits::WatchSlots::new(0, Default::default()),
            policy: Arc::new(Policy::allow_all()),
        }
    }

    /// Caps open WatchDistribution streams per tenant with `slots`, shared with WatchCopyJob's
    /// (no cap by default).
    pub fn with_watch_slots(mut self, slots: Arc<limits::WatchSlots>) -> Self {
        self.watch_slots = slots;
        self
    }

    /// The same handlers, checking every target of every CreateDistribution against `policy`.
    pub fn with_policy(self, policy: Arc<Policy>) -> Self {
        Self { policy, ..self }
    }

    /// Checks every target against the tenant's policy and every account against the accounts
    /// the operator configured, before anything is recorded; every refusal is named once.
    fn authorize(&self, tenant: &str, planned: &[PlannedTarget]) -> Result<(), ApiError> {
        let mut refusals: Vec<String> = Vec::new();
        for target in planned {
            if let Err(denial) = self.policy.check(tenant, &target.copy) {
                for refusal in denial.refusals {
                    if !refusals.contains(&refusal) {
                        refusals.push(refusal);
                    }
                }
            }
        }
        if !refusals.is_empty() {
            return Err(ApiError::Denied(PolicyDenial {
                tenant: tenant.to_owned(),
                refusals,
            }));
        }
        let mut accounts: Vec<&AccountId> = planned.iter().filter_map(|target| target.account.as_ref()).collect();
        accounts.sort();
        accounts.dedup();
        for account in accounts {
            self.engine.backends().for_account(account).map_err(ApiError::from)?;
        }
        Ok(())
    }

    /// The service's own account id for `{account}`: as known, or asked of AWS once (and then
    /// kept) when the template uses it; `None` when AWS will not say (it expands to `self`).
    async fn own_account_id(&self, template: &str) -> Option<AccountId> {
        let backends = self.engine.backends();
        match backends.known_own_account_id() {
            Some(known) => Some(known),
            None if template.contains("{account}") => backends.own_account_id().await.ok(),
            None => None,
        }
    }

    /// A distribution of the caller's with every target, as a message.
    async fn with_targets(&self, tenant: &str, id: DistributionId) -> Result<proto::Distribution, ApiError> {
        let distribution = self.engine.store().get_tenant_distribution(tenant, id).await?;
        let targets = self.engine.store().distribution_targets(id).await?;
        Ok(convert::distribution(&distribution, &targets))
    }
}

fn parse_distribution_id(value: &str) -> Result<DistributionId, ApiError> {
    if value.is_empty() {
        return Err(ApiError::BadArgument {
            field: "distribution_id",
            description: "distribution_id is required".to_owned(),
        });
    }
    value.parse().map_err(|_| ApiError::BadArgument {
        field: "distribution_id",
        description: format!(
            "{value:?} is not a distribution id: distribution ids are UUIDs as returned by CreateDistribution"
        ),
    })
}

fn list_query(caller: &Caller, request: proto::ListDistributionsRequest) -> Result<DistributionQuery, ApiError> {
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
                    "{value} is not a distribution state: use DISTRIBUTION_STATE_RUNNING, DISTRIBUTION_STATE_SUCCEEDED, ..."
                ),
            })
        })
        .collect::<Result<Vec<DistributionState>, _>>()?;
    let page_token = match request.page_token.as_str() {
        "" => None,
        token => Some(PageToken::decode(token)?),
    };
    Ok(DistributionQuery {
        tenant: caller.tenant.clone(),
        states,
        page_size,
        page_token,
    })
}

#[tonic::async_trait]
impl DistributionService for DistributionApi {
    async fn create_distribution(
        &self,
        request: Request<proto::CreateDistributionRequest>,
    ) -> Result<Response<proto::CreateDistributionResponse>, Status> {
        let caller = Caller::of(&request);
        let input = convert::distribution_input(request.into_inner());
        let own = self.own_account_id(&input.name).await;
        let (request, planned) =
            DistributionRequest::parse_at(input, own.as_ref(), Utc::now()).map_err(ApiError::InvalidDistribution)?;
        self.authorize(&caller.tenant, &planned)?;
        let (created, targets) = self
            .engine
            .create_distribution(&caller.tenant, request, planned)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(proto::CreateDistributionResponse {
            distribution: Some(convert::distribution(created.distribution(), &targets)),
        }))
    }

    async fn get_distribution(
        &self,
        request: Request<proto::GetDistributionRequest>,
    ) -> Result<Response<proto::GetDistributionResponse>, Status> {
        let caller = Caller::of(&request);
        let id = parse_distribution_id(&request.get_ref().distribution_id)?;
        let distribution = self.with_targets(&caller.tenant, id).await?;
        Ok(Response::new(proto::GetDistributionResponse {
            distribution: Some(distribution),
        }))
    }

    async fn list_distributions(
        &self,
        request: Request<proto::ListDistributionsRequest>,
    ) -> Result<Response<proto::ListDistributionsResponse>, Status> {
        let caller = Caller::of(&request);
        let query = list_query(&caller, request.into_inner())?;
        let page = self
            .engine
            .store()
            .list_distributions(&query)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(proto::ListDistributionsResponse {
            distributions: page
                .distributions
                .iter()
                .map(|distribution| convert::distribution(distribution, &[]))
                .collect(),
            next_page_token: page.next_page_token.map(|token| token.encode()).unwrap_or_default(),
        }))
    }

    type WatchDistributionStream = watch::DistributionWatchStream;

    async fn watch_distribution(
        &self,
        request: Request<proto::WatchDistributionRequest>,
    ) -> Result<Response<Self::WatchDistributionStream>, Status> {
        let caller = Caller::of(&request);
        let request = request.into_inner();
        let id = parse_distribution_id(&request.distribution_id)?;
        // Only distributions the caller may see can be watched.
        self.engine
            .store()
            .get_tenant_distribution(&caller.tenant, id)
            .await
            .map_err(ApiError::from)?;
        let slot = self
            .watch_slots
            .try_open(&caller.tenant)
            .ok_or_else(|| error::too_many_watches(&caller.tenant, self.watch_slots.cap()))?;
        Ok(Response::new(watch::watch_distribution(
            Arc::clone(&self.engine),
            slot,
            id,
            request.after_sequence,
            self.shutdown.clone(),
            self.watch_poll,
        )))
    }

    async fn cancel_distribution(
        &self,
        request: Request<proto::CancelDistributionRequest>,
    ) -> Result<Response<proto::CancelDistributionResponse>, Status> {
        let caller = Caller::of(&request);
        let id = parse_distribution_id(&request.get_ref().distribution_id)?;
        self.engine
            .cancel_distribution(&caller.tenant, id)
            .await
            .map_err(ApiError::from)?;
        let distribution = self.with_targets(&caller.tenant, id).await?;
        Ok(Response::new(proto::CancelDistributionResponse {
            distribution: Some(distribution),
        }))
    }

    async fn retry_distribution(
        &self,
        request: Request<proto::RetryDistributionRequest>,
    ) -> Result<Response<proto::RetryDistributionResponse>, Status> {
        let caller = Caller::of(&request);
        let id = parse_distribution_id(&request.get_ref().distribution_id)?;
        self.engine
            .retry_distribution(&caller.tenant, id)
            .await
            .map_err(ApiError::from)?;
        let distribution = self.with_targets(&caller.tenant, id).await?;
        Ok(Response::new(proto::RetryDistributionResponse {
            distribution: Some(distribution),
        }))
    }
}
