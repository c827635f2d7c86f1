//! What the pages show, as plain values: a distribution with its targets, a job with its latest
//! event. Each is built from the store's records when a page is read, and moved on by the
//! events a live view receives, so a page and its live updates come from the same values.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::estimate;
use crate::domain::{
    AccountId, Counts, Distribution, DistributionId, DistributionState, FailurePolicy, Job, JobEvent, JobId, JobState,
    Region,
    distribution::{DistributionEvent, DistributionEventKind, TargetJob},
};

/// One (account, Region) target of a distribution as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetView {
    /// The account; `None` for the service's own.
    pub account: Option<AccountId>,
    /// The Region.
    pub region: Region,
    /// The target's current job.
    pub job_id: JobId,
    /// Its job's state.
    pub state: JobState,
    /// Snapshot progress, once known.
    pub progress: Option<u8>,
    /// The new AMI, once EC2 accepted the copy.
    pub image_id: Option<String>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
    /// How many jobs the target has had (a retry starts another).
    pub generation: u32,
    /// Whether a roll-back deregistered its image.
    pub rolled_back: bool,
}

impl TargetView {
    /// The target for people: `222233334444/eu-west-1`, or the Region alone for the service's
    /// own account.
    pub fn label(&self) -> String {
        crate::domain::distribution::label(self.account.as_ref(), &self.region)
    }

    /// The id of the target's cell in the page: stable for the target's life, so a live update
    /// replaces the cell it is about.
    pub fn dom_id(&self) -> String {
        target_dom_id(self.account.as_ref(), &self.region)
    }

    /// How done the target is, in percent.
    pub fn percent(&self) -> f64 {
        estimate::job_percent(self.state, self.progress)
    }
}

/// The page id of the target cell for `account` (`None`: the service's own) and `region`.
pub fn target_dom_id(account: Option<&AccountId>, region: &Region) -> String {
    match account {
        Some(account) => format!("target-{account}-{region}"),
        None => format!("target-own-{region}"),
    }
}

/// A distribution and its targets as the page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionView {
    /// The distribution.
    pub id: DistributionId,
    /// Where it stands as a whole.
    pub state: DistributionState,
    /// What it does when a target fails.
    pub policy: FailurePolicy,
    /// The AMI copied.
    pub source_image_id: String,
    /// The Region that holds it.
    pub source_region: String,
    /// The name template.
    pub name: String,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it last changed, as far as this view knows.
    pub updated_at: DateTime<Utc>,
    /// The newest event this view reflects.
    pub sequence: u64,
    /// Every target, in the request's order.
    pub targets: Vec<TargetView>,
}

/// What an event changed in a [`DistributionView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    /// The target at this index (and the counts).
    Target(usize),
    /// The aggregate state and counts.
    State,
    /// Nothing this view shows (an event of a target it does not know).
    Nothing,
}

impl DistributionView {
    /// The view of `distribution` with `targets` (all of its targets, with their jobs).
    pub fn new(distribution: &Distribution, targets: &[TargetJob]) -> Self {
        let request = distribution.request();
        Self {
            id: distribution.id(),
            state: distribution.state(),
            policy: distribution.policy(),
            source_image_id: request.source_image_id.to_string(),
            source_region: request.source_region.to_string(),
            name: request.name.clone(),
            created_at: distribution.created_at(),
            updated_at: distribution.updated_at(),
            sequence: distribution.last_sequence(),
            targets: targets
                .iter()
                .map(|TargetJob { target, job }| TargetView {
                    account: target.account.clone(),
                    region: target.region.clone(),
                    job_id: job.id(),
                    state: job.state(),
                    progress: job.progress_percent(),
                    image_id: job.image_id().map(str::to_owned),
                    failure: (job.state() == JobState::Failed)
                        .then(|| job.failure().map(|f| format!("{}: {}", f.code, f.message)))
                        .flatten(),
                    generation: target.generation,
                    rolled_back: target.rolled_back,
                })
                .collect(),
        }
    }

    /// Moves the view on by one event of its history, and says what changed.
    pub fn apply(&mut self, event: &DistributionEvent) -> Changed {
        self.sequence = self.sequence.max(event.sequence);
        match &event.kind {
            DistributionEventKind::State { state, created_at, .. } => {
                // The counts the event carries are those of its time; the view counts its own
                // targets, which may be newer.
                self.state = *state;
                self.updated_at = self.updated_at.max(*created_at);
                Changed::State
            }
            DistributionEventKind::Target { account, region, event } => {
                let Some(index) = self
                    .targets
                    .iter()
                    .position(|target| target.account == *account && target.region == *region)
                else {
                    return Changed::Nothing;
                };
                let target = &mut self.targets[index];
                if target.job_id != event.job_id {
                    // A retry gave the target a new job.
                    target.job_id = event.job_id;
                    target.generation += 1;
                    target.rolled_back = false;
                }
                target.state = event.state;
                target.progress = event.progress_percent;
                target.image_id = event.image_id.clone().or(target.image_id.take());
                target.failure = (event.state == JobState::Failed).then(|| event.detail.clone());
                self.updated_at = self.updated_at.max(event.created_at);
                Changed::Target(index)
            }
        }
    }

    /// Targets per job state, counted from the targets as the view has them.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for target in &self.targets {
            let slot = match target.state {
                JobState::Queued => &mut counts.queued,
                JobState::Copying => &mut counts.copying,
                JobState::Finishing => &mut counts.finishing,
                JobState::Available => &mut counts.available,
                JobState::Failed => &mut counts.failed,
                JobState::Cancelling => &mut counts.cancelling,
                JobState::Cancelled => &mut counts.cancelled,
            };
            *slot += 1;
        }
        counts
    }

    /// How done the whole is, in percent: the mean over its targets.
    pub fn percent(&self) -> f64 {
        estimate::mean_percent(self.targets.iter().map(TargetView::percent))
    }

    /// The time left at the rate progress was made since it was accepted; `None` once it has
    /// ended or before any progress.
    pub fn time_left(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.state.is_terminal() {
            return None;
        }
        estimate::time_left(self.created_at, now, self.percent())
    }

    /// The accounts of its targets, in the request's order (`None`: the service's own).
    pub fn accounts(&self) -> Vec<Option<AccountId>> {
        let mut accounts: Vec<Option<AccountId>> = Vec::new();
        for target in &self.targets {
            if !accounts.contains(&target.account) {
                accounts.push(target.account.clone());
            }
        }
        accounts
    }

    /// The Regions of its targets, in the order they first appear.
    pub fn regions(&self) -> Vec<Region> {
        let mut regions: Vec<Region> = Vec::new();
        for target in &self.targets {
            if !regions.contains(&target.region) {
                regions.push(target.region.clone());
            }
        }
        regions
    }

    /// The target in `account` and `region`, if there is one.
    pub fn target(&self, account: Option<&AccountId>, region: &Region) -> Option<&TargetView> {
        self.targets
            .iter()
            .find(|target| target.account.as_ref() == account && target.region == *region)
    }
}

/// A job as its page shows it: the request's fields and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct JobView {
    /// The job.
    pub id: JobId,
    /// Its state.
    pub state: JobState,
    /// Snapshot progress, once known.
    pub progress: Option<u8>,
    /// The new AMI, once EC2 accepted the copy.
    pub image_id: Option<String>,
    /// What went wrong last: EC2's code and what was said, for a failed job or a failed attempt.
    pub failure: Option<String>,
    /// The AMI copied.
    pub source_image_id: String,
    /// The Region that holds it.
    pub source_region: String,
    /// The Region copied into.
    pub destination_region: Region,
    /// The account copied into; `None` for the service's own.
    pub destination_account: Option<AccountId>,
    /// The new AMI's name.
    pub name: String,
    /// How many times a copy was started on EC2.
    pub attempts: u32,
    /// The distribution it is a target of, if any.
    pub distribution_id: Option<DistributionId>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it last changed, as far as this view knows.
    pub updated_at: DateTime<Utc>,
    /// When EC2 accepted the copy (progress is measured from there).
    pub copying_since: Option<DateTime<Utc>>,
    /// The newest event this view reflects.
    pub sequence: u64,
}

impl JobView {
    /// The view of `job`.
    pub fn new(job: &Job) -> Self {
        let request = job.request();
        Self {
            id: job.id(),
            state: job.state(),
            progress: job.progress_percent(),
            image_id: job.image_id().map(str::to_owned),
            failure: job.failure().map(|f| format!("{}: {}", f.code, f.message)),
            source_image_id: request.source_image_id.to_string(),
            source_region: request.source_region.to_string(),
            destination_region: request.destination_region.clone(),
            destination_account: request.destination_account.clone(),
            name: request.name.to_string(),
            attempts: job.attempts(),
            distribution_id: job.distribution_id(),
            created_at: job.created_at(),
            updated_at: job.updated_at(),
            copying_since: job.copying_since(),
            sequence: job.last_event_sequence(),
        }
    }

    /// Moves the view on by one of the job's events.
    pub fn apply(&mut self, event: &JobEvent) {
        self.sequence = self.sequence.max(event.sequence);
        if event.state == JobState::Copying && self.state != JobState::Copying && self.copying_since.is_none() {
            self.copying_since = Some(event.created_at);
        }
        self.state = event.state;
        self.progress = event.progress_percent;
        self.image_id = event.image_id.clone().or(self.image_id.take());
        if event.failure_code.is_some() {
            self.failure = Some(event.detail.clone());
        }
        self.updated_at = self.updated_at.max(event.created_at);
    }

    /// How done the job is, in percent.
    pub fn percent(&self) -> f64 {
        estimate::job_percent(self.state, self.progress)
    }

    /// The time left while copying, at the rate the snapshots were copied so far.
    pub fn time_left(&self, now: DateTime<Utc>) -> Option<Duration> {
        match (self.state, self.copying_since) {
            (JobState::Copying, Some(since)) => estimate::time_left(since, now, self.percent()),
            _ => None,
        }
    }

    /// Where it copies to, for people: `222233334444/us-west-2`, or the Region alone.
    pub fn destination(&self) -> String {
        crate::domain::distribution::label(self.destination_account.as_ref(), &self.destination_region)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;
    use crate::domain::{
        DistributionRequest,
        distribution::{DistributionInput, TargetInput},
    };

    const TEAM: &str = "222233334444";

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    /// A view of a new distribution into us-west-2 and eu-west-1 of the own account and TEAM,
    /// every target queued.
    fn view() -> DistributionView {
        let target = |account: &str| TargetInput {
            account_id: account.to_owned(),
            regions: vec!["us-west-2".to_owned(), "eu-west-1".to_owned()],
            ..Default::default()
        };
        let input = DistributionInput {
            source_image_id: "ami-0a1b2c3d4e5f60001".into(),
            source_region: "us-east-1".into(),
            name: "golden-{account}-{region}".into(),
            targets: vec![target(""), target(TEAM)],
            ..Default::default()
        };
        let own = AccountId::parse("111122223333").unwrap();
        let (request, planned) = DistributionRequest::parse_at(input, Some(&own), t0()).unwrap();
        let accepted = Distribution::accept(DistributionId::new(), "acme", request, planned, t0());
        let targets: Vec<TargetJob> = accepted
            .targets
            .iter()
            .map(|new| TargetJob {
                target: new.target.clone(),
                job: new.job.job().clone(),
            })
            .collect();
        DistributionView::new(&accepted.distribution, &targets)
    }

    fn target_event(
        view: &DistributionView,
        index: usize,
        sequence: u64,
        state: JobState,
        progress: Option<u8>,
    ) -> DistributionEvent {
        let target = &view.targets[index];
        DistributionEvent {
            distribution_id: view.id,
            sequence,
            kind: DistributionEventKind::Target {
                account: target.account.clone(),
                region: target.region.clone(),
                event: JobEvent {
                    job_id: target.job_id,
                    sequence: 2,
                    state,
                    image_id: Some("ami-0123456789abcdef0".to_owned()),
                    progress_percent: progress,
                    failure_code: (state == JobState::Failed).then(|| "InvalidKMSKey.NotFound".to_owned()),
                    detail: format!("now {state}"),
                    created_at: t0() + TimeDelta::seconds(30),
                },
            },
        }
    }

    #[test]
    fn the_grid_is_accounts_by_regions_in_the_requests_order() {
        let view = view();
        let team = AccountId::parse(TEAM).unwrap();
        assert_eq!(view.accounts(), vec![None, Some(team.clone())]);
        let regions: Vec<String> = view.regions().iter().map(ToString::to_string).collect();
        assert_eq!(regions, ["us-west-2", "eu-west-1"]);
        let cell = view.target(Some(&team), &Region::parse("eu-west-1").unwrap()).unwrap();
        assert_eq!(cell.dom_id(), "target-222233334444-eu-west-1");
        assert_eq!(view.targets[0].dom_id(), "target-own-us-west-2");
        assert_eq!(view.counts().queued, 4);
    }

    #[test]
    fn a_target_event_moves_its_cell_the_counts_and_the_whole() {
        let mut view = view();
        let event = target_event(&view, 1, 9, JobState::Copying, Some(50));
        assert_eq!(view.apply(&event), Changed::Target(1));
        let cell = &view.targets[1];
        assert_eq!((cell.state, cell.progress), (JobState::Copying, Some(50)));
        assert_eq!(cell.image_id.as_deref(), Some("ami-0123456789abcdef0"));
        assert_eq!((view.counts().queued, view.counts().copying), (3, 1));
        assert_eq!(view.percent(), 12.5, "one target of four half done");
        assert_eq!(view.sequence, 9);
        // 12.5% in 60 s: 420 s to go at that rate.
        let left = view.time_left(t0() + TimeDelta::seconds(60)).unwrap();
        assert_eq!(left.as_secs(), 420);

        let failed = target_event(&view, 2, 10, JobState::Failed, None);
        view.apply(&failed);
        assert_eq!(view.targets[2].failure.as_deref(), Some("now failed"));
        let state = DistributionEvent {
            distribution_id: view.id,
            sequence: 11,
            kind: DistributionEventKind::State {
                state: DistributionState::Cancelling,
                counts: Counts::default(),
                detail: "cancel requested".to_owned(),
                created_at: t0() + TimeDelta::seconds(90),
            },
        };
        assert_eq!(view.apply(&state), Changed::State);
        assert_eq!(view.state, DistributionState::Cancelling);
        assert_eq!(view.counts().total(), 4, "the counts stay those of the targets");
        assert_eq!(view.updated_at, t0() + TimeDelta::seconds(90));
    }

    #[test]
    fn a_retried_target_shows_its_new_job() {
        let mut view = view();
        let mut event = target_event(&view, 0, 12, JobState::Queued, None);
        let new_job = JobId::new();
        if let DistributionEventKind::Target { event, .. } = &mut event.kind {
            event.job_id = new_job;
        }
        view.apply(&event);
        assert_eq!((view.targets[0].job_id, view.targets[0].generation), (new_job, 2));
        let unknown = DistributionEvent {
            distribution_id: view.id,
            sequence: 13,
            kind: DistributionEventKind::Target {
                account: None,
                region: Region::parse("ap-south-1").unwrap(),
                event: JobEvent {
                    job_id: JobId::new(),
                    sequence: 1,
                    state: JobState::Queued,
                    image_id: None,
                    progress_percent: None,
                    failure_code: None,
                    detail: String::new(),
                    created_at: t0(),
                },
            },
        };
        assert_eq!(view.apply(&unknown), Changed::Nothing);
    }
}
