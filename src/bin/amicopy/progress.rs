//! What a watch knows: the job or distribution followed, each (account, Region) target's state,
//! progress, image and failure, and for each target the time elapsed and an estimate of the time
//! left from its progress rate. Renderers draw it; this module only keeps it up to date.
//!
//! Times come from the server's events, so an estimate made while a long history is replayed is
//! as good as one made live: the rate is the progress between the copy's first and latest
//! progress events over the time between them.

use std::time::Duration;

use amicopy::proto::{self, CopyJobState, DistributionState};
use chrono::{DateTime, Utc};

use crate::{failure::Outcome, view};

/// One (account, Region) target; a job has exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetKey {
    /// The account; empty for the service's own.
    pub account_id: String,
    /// The destination Region.
    pub region: String,
}

impl TargetKey {
    /// How people read the target: `us-west-2`, or `222233334444 us-west-2` in another account.
    pub fn label(&self) -> String {
        if self.account_id.is_empty() {
            self.region.clone()
        } else {
            format!("{} {}", self.account_id, self.region)
        }
    }
}

/// A progress reading: when, and how far.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    at: DateTime<Utc>,
    percent: u32,
}

/// Where one target stands.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which target.
    pub key: TargetKey,
    /// Its current job.
    pub job_id: String,
    /// The job's state.
    pub state: CopyJobState,
    /// Snapshot copy progress, once known.
    pub percent: Option<u32>,
    /// The new AMI, once known.
    pub image_id: String,
    /// EC2's code of the failure (or of the last retried error).
    pub failure_code: String,
    /// What the failure was.
    pub failure_message: String,
    /// When the current job started (for the elapsed time).
    started: Option<DateTime<Utc>>,
    /// When it ended.
    ended: Option<DateTime<Utc>>,
    /// The first progress reading of the current copy attempt.
    first: Option<Reading>,
    /// The latest one.
    latest: Option<Reading>,
}

impl Target {
    fn new(key: TargetKey, job_id: String, state: i32, started: Option<DateTime<Utc>>) -> Self {
        Self {
            key,
            job_id,
            state: CopyJobState::try_from(state).unwrap_or(CopyJobState::Unspecified),
            percent: None,
            image_id: String::new(),
            failure_code: String::new(),
            failure_message: String::new(),
            started,
            ended: None,
            first: None,
            latest: None,
        }
    }

    /// Whether the target's job has ended.
    pub fn is_terminal(&self) -> bool {
        job_terminal(self.state)
    }

    /// The state's name, such as COPYING.
    pub fn state_name(&self) -> &'static str {
        view::job_state(self.state as i32)
    }

    /// Time since the job started, frozen once it ended.
    pub fn elapsed(&self, now: DateTime<Utc>) -> Option<Duration> {
        let end = self.ended.unwrap_or(now);
        self.started.and_then(|start| (end - start).to_std().ok())
    }

    /// Estimated time left from the progress rate; `None` until two readings show progress.
    pub fn left(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.is_terminal() || self.state != CopyJobState::Copying {
            return None;
        }
        let (first, latest) = (self.first?, self.latest?);
        let seconds = (latest.at - first.at).num_milliseconds() as f64 / 1000.0;
        let gained = f64::from(latest.percent.saturating_sub(first.percent));
        if seconds <= 0.0 || gained <= 0.0 {
            return None;
        }
        let rate = gained / seconds;
        let since_latest = (now - latest.at).num_milliseconds().max(0) as f64 / 1000.0;
        let left = (f64::from(100u32.saturating_sub(latest.percent)) / rate - since_latest).max(0.0);
        Some(Duration::from_secs_f64(left))
    }

    fn apply(&mut self, event: &proto::CopyJobEvent) {
        let at = view::time(event.create_time.as_ref());
        if event.job_id != self.job_id || event.sequence == 1 {
            // A new job for this target (a retried distribution): start over.
            *self = Self::new(self.key.clone(), event.job_id.clone(), event.state, at);
        }
        self.state = CopyJobState::try_from(event.state).unwrap_or(CopyJobState::Unspecified);
        if !event.image_id.is_empty() {
            self.image_id.clone_from(&event.image_id);
        }
        if !event.failure_code.is_empty() {
            self.failure_code.clone_from(&event.failure_code);
            self.failure_message.clone_from(&event.detail);
        }
        if self.state == CopyJobState::Queued {
            // Waiting again (a retry): the next copy attempt's rate is its own.
            self.first = None;
            self.latest = None;
        }
        if let Some(at) = at {
            if self.state == CopyJobState::Copying {
                let percent = event.progress_percent.or(self.percent).unwrap_or(0);
                let reading = Reading { at, percent };
                self.first.get_or_insert(reading);
                self.latest = Some(reading);
            }
            if job_terminal(self.state) {
                self.ended = Some(at);
            }
        }
        if let Some(percent) = event.progress_percent {
            self.percent = Some(percent);
        }
        if self.state == CopyJobState::Available {
            self.percent = Some(100);
        }
    }
}

/// Whether a job state is terminal.
pub fn job_terminal(state: CopyJobState) -> bool {
    matches!(
        state,
        CopyJobState::Available | CopyJobState::Failed | CopyJobState::Cancelled
    )
}

/// Whether a distribution state is terminal.
pub fn distribution_terminal(state: DistributionState) -> bool {
    matches!(
        state,
        DistributionState::Succeeded
            | DistributionState::PartiallySucceeded
            | DistributionState::Failed
            | DistributionState::Cancelled
            | DistributionState::RolledBack
    )
}

/// What is followed.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant, reason = "one per watch; boxing buys nothing")]
pub enum Subject {
    /// A copy job.
    Job(proto::CopyJob),
    /// A distribution.
    Distribution(proto::Distribution),
}

impl Subject {
    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            Self::Job(job) => &job.job_id,
            Self::Distribution(distribution) => &distribution.distribution_id,
        }
    }

    /// `job` or `distribution`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Job(_) => "job",
            Self::Distribution(_) => "distribution",
        }
    }
}

/// One message of a watch.
#[derive(Debug, Clone, Copy)]
pub enum Update<'a> {
    /// An event of the watched job.
    Job(&'a proto::CopyJobEvent),
    /// An event of one target's job in the watched distribution.
    Target {
        /// The distribution's sequence number.
        sequence: u64,
        /// The target's account.
        account_id: &'a str,
        /// The target's Region.
        region: &'a str,
        /// The job's event.
        event: &'a proto::CopyJobEvent,
    },
    /// A change of the distribution's aggregate state.
    State {
        /// The distribution's sequence number.
        sequence: u64,
        /// The change.
        change: &'a proto::DistributionStateChange,
    },
}

/// Everything a watch knows about the job or distribution it follows.
#[derive(Debug, Clone)]
pub struct Board {
    /// The job or distribution, as last read whole (GetCopyJob, GetDistribution).
    pub subject: Subject,
    /// Every target, in the request's order.
    pub targets: Vec<Target>,
    /// The distribution's aggregate state (none for a job).
    pub aggregate: Option<DistributionState>,
    /// The last sequence seen: resuming a broken watch starts after it.
    pub last_sequence: u64,
}

impl Board {
    /// A board for `subject` as it stands.
    pub fn new(subject: Subject) -> Self {
        let mut board = Self {
            targets: Vec::new(),
            aggregate: None,
            last_sequence: 0,
            subject: subject.clone(),
        };
        board.sync(subject);
        board
    }

    /// Takes the whole job or distribution as read now (at the end of a watch, or at its start).
    pub fn sync(&mut self, subject: Subject) {
        match &subject {
            Subject::Job(job) => {
                let key = TargetKey {
                    account_id: job.destination_account_id.clone(),
                    region: job.destination_region.clone(),
                };
                let target = self.target(&key, &job.job_id, job.state, view::time(job.create_time.as_ref()));
                target.state = CopyJobState::try_from(job.state).unwrap_or(CopyJobState::Unspecified);
                target.image_id.clone_from(&job.image_id);
                target.percent = job.progress_percent.or(target.percent);
                target.failure_code.clone_from(&job.failure_code);
                target.failure_message.clone_from(&job.failure_message);
                if target.is_terminal() && target.ended.is_none() {
                    target.ended = view::time(job.update_time.as_ref());
                }
                if target.state == CopyJobState::Available {
                    target.percent = Some(100);
                }
            }
            Subject::Distribution(distribution) => {
                self.aggregate = DistributionState::try_from(distribution.state).ok();
                let started = view::time(distribution.create_time.as_ref());
                for status in &distribution.targets {
                    let key = TargetKey {
                        account_id: status.account_id.clone(),
                        region: status.region.clone(),
                    };
                    let target = self.target(&key, &status.job_id, status.state, started);
                    if target.job_id != status.job_id {
                        *target = Target::new(key, status.job_id.clone(), status.state, started);
                    }
                    target.state = CopyJobState::try_from(status.state).unwrap_or(CopyJobState::Unspecified);
                    target.image_id.clone_from(&status.image_id);
                    target.percent = status.progress_percent.or(target.percent);
                    target.failure_code.clone_from(&status.failure_code);
                    target.failure_message.clone_from(&status.failure_message);
                    if target.state == CopyJobState::Available {
                        target.percent = Some(100);
                    }
                }
            }
        }
        self.subject = subject;
    }

    fn target(&mut self, key: &TargetKey, job_id: &str, state: i32, started: Option<DateTime<Utc>>) -> &mut Target {
        let index = match self.targets.iter().position(|t| &t.key == key) {
            Some(index) => index,
            None => {
                self.targets
                    .push(Target::new(key.clone(), job_id.to_owned(), state, started));
                self.targets.len() - 1
            }
        };
        &mut self.targets[index]
    }

    /// Applies one message of the watch; answers the index of the target it changed.
    pub fn apply(&mut self, update: Update<'_>) -> Option<usize> {
        match update {
            Update::Job(event) => {
                self.last_sequence = event.sequence;
                let target = self.targets.first_mut()?;
                target.apply(event);
                Some(0)
            }
            Update::Target {
                sequence,
                account_id,
                region,
                event,
            } => {
                self.last_sequence = sequence;
                let key = TargetKey {
                    account_id: account_id.to_owned(),
                    region: region.to_owned(),
                };
                let started = view::time(event.create_time.as_ref());
                self.target(&key, &event.job_id, event.state, started).apply(event);
                self.targets.iter().position(|t| t.key == key)
            }
            Update::State { sequence, change } => {
                self.last_sequence = sequence;
                self.aggregate = DistributionState::try_from(change.state).ok();
                None
            }
        }
    }

    /// Whether what is followed has ended.
    pub fn is_terminal(&self) -> bool {
        match self.aggregate {
            Some(state) => distribution_terminal(state),
            None => self.targets.iter().all(Target::is_terminal),
        }
    }

    /// How far the whole is, 0–100: an ended target counts as done.
    pub fn percent(&self) -> u32 {
        if self.targets.is_empty() {
            return 0;
        }
        let sum: u32 = self
            .targets
            .iter()
            .map(|t| if t.is_terminal() { 100 } else { t.percent.unwrap_or(0) })
            .sum();
        sum / u32::try_from(self.targets.len()).unwrap_or(u32::MAX)
    }

    /// Targets per state, counted from the board: `2 available, 1 copying`.
    pub fn tally(&self) -> String {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for target in &self.targets {
            let name = target.state_name();
            match counts.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => counts.push((name, 1)),
            }
        }
        counts
            .iter()
            .map(|(name, count)| format!("{count} {}", name.to_ascii_lowercase()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The exit code this ending gives: 0 all available, 4 some, 1 none or cancelled.
    pub fn outcome(&self) -> Outcome {
        match self.aggregate {
            Some(DistributionState::Succeeded) => Outcome::Succeeded,
            Some(DistributionState::PartiallySucceeded) => Outcome::Partial,
            Some(_) => Outcome::Failed,
            None if self.targets.iter().all(|t| t.state == CopyJobState::Available) => Outcome::Succeeded,
            None => Outcome::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds: 1_700_000_000 + seconds,
            nanos: 0,
        })
    }

    fn now(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn event(sequence: u64, state: CopyJobState, percent: Option<u32>, seconds: i64) -> proto::CopyJobEvent {
        proto::CopyJobEvent {
            job_id: "j".into(),
            sequence,
            state: state as i32,
            progress_percent: percent,
            create_time: at(seconds),
            ..Default::default()
        }
    }

    fn job_board() -> Board {
        Board::new(Subject::Job(proto::CopyJob {
            job_id: "j".into(),
            destination_region: "us-west-2".into(),
            state: CopyJobState::Queued as i32,
            create_time: at(0),
            ..Default::default()
        }))
    }

    #[test]
    fn time_left_follows_the_progress_rate() {
        let mut board = job_board();
        board.apply(Update::Job(&event(1, CopyJobState::Queued, None, 0)));
        board.apply(Update::Job(&event(2, CopyJobState::Copying, None, 10)));
        assert_eq!(board.targets[0].left(now(10)), None, "no rate from one reading");
        board.apply(Update::Job(&event(3, CopyJobState::Copying, Some(25), 20)));
        // 25% in 10 s: 75% more takes 30 s from the last reading.
        assert_eq!(board.targets[0].left(now(20)), Some(Duration::from_secs(30)));
        assert_eq!(board.targets[0].left(now(26)), Some(Duration::from_secs(24)));
        assert_eq!(board.targets[0].elapsed(now(26)), Some(Duration::from_secs(26)));
        board.apply(Update::Job(&event(4, CopyJobState::Available, None, 50)));
        assert_eq!(board.targets[0].left(now(60)), None);
        assert_eq!(
            board.targets[0].elapsed(now(90)),
            Some(Duration::from_secs(50)),
            "frozen at the end"
        );
        assert_eq!(board.targets[0].percent, Some(100));
        assert!(board.is_terminal());
        assert_eq!(board.outcome(), Outcome::Succeeded);
        assert_eq!(board.last_sequence, 4);
    }

    #[test]
    fn a_distribution_ends_with_its_aggregate_state() {
        let target = |region: &str, state: CopyJobState| proto::TargetStatus {
            region: region.into(),
            job_id: format!("job-{region}"),
            state: state as i32,
            ..Default::default()
        };
        let mut board = Board::new(Subject::Distribution(proto::Distribution {
            distribution_id: "d".into(),
            state: DistributionState::Running as i32,
            targets: vec![
                target("us-west-2", CopyJobState::Copying),
                target("eu-west-1", CopyJobState::Queued),
            ],
            ..Default::default()
        }));
        let mut failed = event(5, CopyJobState::Failed, None, 3);
        failed.job_id = "job-eu-west-1".into();
        failed.failure_code = "InvalidKMSKey.NotFound".into();
        failed.detail = "no such key".into();
        assert_eq!(
            board.apply(Update::Target {
                sequence: 7,
                account_id: "",
                region: "eu-west-1",
                event: &failed,
            }),
            Some(1)
        );
        assert_eq!(board.targets[1].failure_code, "InvalidKMSKey.NotFound");
        assert!(!board.is_terminal(), "the aggregate decides");
        let change = proto::DistributionStateChange {
            state: DistributionState::PartiallySucceeded as i32,
            ..Default::default()
        };
        board.apply(Update::State {
            sequence: 9,
            change: &change,
        });
        assert!(board.is_terminal());
        assert_eq!(board.outcome(), Outcome::Partial);
        assert_eq!(board.last_sequence, 9);
        assert_eq!(board.tally(), "1 copying, 1 failed");
        assert_eq!(board.percent(), 50);
    }
}
