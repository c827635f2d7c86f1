//! The distributions part of the store: [`DistributionStore`], which every [`super::JobStore`]
//! implements, and the types its methods take and answer.
//!
//! A distribution is a row in `distributions` with its targets in `distribution_targets` and its
//! history in `distribution_events`; its targets' jobs are ordinary rows of `jobs` that name it
//! in `jobs.distribution_id`. The aggregate's counts follow the jobs inside
//! [`super::JobStore::update_job`]: when a target's job changes state (or appends an event), the
//! same transaction adjusts the counts (the old state −1, the new +1), appends a 'target' event
//! pointing at the job's event, and asks [`crate::domain::Distribution::after_target_moved`]
//! whether the aggregate state changes, writing it with a 'state' event when it does. The
//! distribution's row lock orders those events, so its sequence has no gaps.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PageToken, StoreError};
use crate::domain::{
    Distribution, DistributionId, DistributionState,
    distribution::{Accepted, DistributionChange, DistributionEvent, Retry, Target, TargetJob},
};

/// What [`DistributionStore::create_distribution`] did.
#[derive(Debug, Clone)]
pub enum CreatedDistribution {
    /// A new distribution was recorded, with its targets, their jobs and the first events.
    New(Distribution),
    /// An earlier call with the same client token and request recorded this distribution.
    Existing(Distribution),
}

impl CreatedDistribution {
    /// The distribution, new or existing.
    pub fn distribution(&self) -> &Distribution {
        match self {
            Self::New(distribution) | Self::Existing(distribution) => distribution,
        }
    }

    /// What an insert that found `existing` holding the client token of `attempted` answers:
    /// that distribution when the requests match,
    /// [`StoreError::DistributionTokenMismatch`] when not.
    pub(crate) fn earlier(existing: Distribution, attempted: &Distribution) -> Result<Self, StoreError> {
        if existing.request_hash() == attempted.request_hash() {
            return Ok(Self::Existing(existing));
        }
        Err(StoreError::DistributionTokenMismatch {
            token: attempted
                .request()
                .client_token
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            existing: existing.id(),
        })
    }
}

/// Which distributions to list, and where to resume.
#[derive(Debug, Clone, Default)]
pub struct DistributionQuery {
    /// Only this tenant's distributions.
    pub tenant: String,
    /// Only distributions in these states; empty means any.
    pub states: Vec<DistributionState>,
    /// Distributions per page, at least 1.
    pub page_size: u32,
    /// Resume after the page this token ended.
    pub page_token: Option<PageToken>,
}

/// One page of distributions, newest first.
#[derive(Debug, Clone)]
pub struct DistributionPage {
    /// The distributions.
    pub distributions: Vec<Distribution>,
    /// Where the next page starts; `None` on the last page.
    pub next_page_token: Option<PageToken>,
}

impl DistributionPage {
    /// A page of at most `page_size` distributions from up to `page_size + 1` rows.
    pub(crate) fn from_rows(mut distributions: Vec<Distribution>, page_size: u32) -> Self {
        let page_size = usize::try_from(page_size).unwrap_or(usize::MAX);
        let next_page_token = if distributions.len() > page_size {
            distributions.truncate(page_size);
            distributions.last().map(|last| PageToken {
                created_at: last.created_at(),
                id: last.id().as_uuid(),
            })
        } else {
            None
        };
        Self {
            distributions,
            next_page_token,
        }
    }
}

/// Which distributions an engine replica wants to work on now: those cancelling or rolling
/// back whose next action is due.
#[derive(Debug, Clone)]
pub struct DistributionClaim {
    /// The replica claiming; distributions it already holds are claimed again.
    pub owner: String,
    /// Only distributions whose next action is due at this time and whose leases have run out.
    pub now: DateTime<Utc>,
    /// The lease runs until this time.
    pub lease_until: DateTime<Utc>,
    /// At most this many.
    pub limit: u32,
}

/// Distributions in the store. Every method is one transaction.
#[async_trait]
pub trait DistributionStore: Send + Sync + 'static {
    /// Records a distribution [`Distribution::accept`] made: the distribution, every target,
    /// every target's job with its first event, and the distribution's first events, all in one
    /// transaction, so a crash leaves all of them or none. With a client token, an earlier
    /// distribution of the same tenant and token is returned instead when its request has the
    /// same fingerprint, and [`StoreError::DistributionTokenMismatch`] when not.
    async fn create_distribution(&self, accepted: &Accepted) -> Result<CreatedDistribution, StoreError>;

    /// One distribution of one tenant: [`StoreError::DistributionNotFound`] for another tenant's.
    async fn get_tenant_distribution(&self, tenant: &str, id: DistributionId) -> Result<Distribution, StoreError>;

    /// One distribution by id whatever its tenant: for the engine.
    async fn get_distribution_any_tenant(&self, id: DistributionId) -> Result<Distribution, StoreError>;

    /// Every target of a distribution with its current job, in the request's order.
    async fn distribution_targets(&self, id: DistributionId) -> Result<Vec<TargetJob>, StoreError>;

    /// A page of a tenant's distributions, newest first.
    async fn list_distributions(&self, query: &DistributionQuery) -> Result<DistributionPage, StoreError>;

    /// Events of a distribution with a sequence greater than `after`, in order, at most
    /// `limit`; target events carry their job's event, read from `job_events`.
    async fn list_distribution_events(
        &self,
        id: DistributionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<DistributionEvent>, StoreError>;

    /// Writes a change of the aggregate state if the stored version is still the one it was
    /// computed from, and appends its state event. [`StoreError::DistributionConflict`] when
    /// the state moved on meanwhile.
    async fn update_distribution(&self, change: &DistributionChange) -> Result<Distribution, StoreError>;

    /// Records a retry in one transaction: the state change (with the counts moved from each
    /// retried target's old state to QUEUED), every new job with its first event, the targets
    /// pointing at their new jobs, and the events. [`StoreError::DistributionConflict`] when the
    /// version moved on.
    async fn retry_distribution(&self, retry: &Retry) -> Result<Distribution, StoreError>;

    /// Marks a target's image rolled back and appends a state event with `detail`, once: false
    /// (and no event) when it was marked already.
    async fn mark_rolled_back(&self, target: &Target, detail: &str) -> Result<bool, StoreError>;

    /// Takes a lease on up to `claim.limit` distributions whose next action is due and that
    /// nobody else holds, oldest due first.
    async fn claim_distributions(&self, claim: &DistributionClaim) -> Result<Vec<Distribution>, StoreError>;

    /// Puts a distribution `owner` holds off until `until` and releases it; left alone when
    /// `owner` no longer holds it or it has nothing left to do.
    async fn defer_distribution(&self, id: DistributionId, owner: &str, until: DateTime<Utc>)
    -> Result<(), StoreError>;

    /// Deletes up to `limit` finished distributions that last changed before `before`, oldest
    /// first, with their targets, events and jobs (and those jobs' events), in one transaction;
    /// returns how many distributions. Only distributions with nothing left for the engine to
    /// do and no job still running are deleted.
    async fn delete_finished_distributions(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;
}
