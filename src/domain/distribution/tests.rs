//! The distribution's rules without a database: the aggregate state machine tried with every
//! event from every state, the request's validation with its field paths, and the moves.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::{
    AccountId, InvalidRequest, Job, JobState, LaunchPermissionsInput, StoredJob,
    codes::{
        INVALID_AMI_ID_MALFORMED, INVALID_AMI_NAME_MALFORMED, INVALID_PARAMETER_COMBINATION, INVALID_PARAMETER_VALUE,
        INVALID_REGION, MISSING_PARAMETER,
    },
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
}

const OWN: &str = "111122223333";
const TEAM: &str = "222233334444";

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

// ---- the aggregate state machine ----

/// What a row expects from one state.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    Stays,
    Becomes(DistributionState),
    Refused,
}

fn counts(queued: u32, available: u32, failed: u32, cancelled: u32) -> Counts {
    Counts {
        queued,
        available,
        failed,
        cancelled,
        ..Counts::default()
    }
}

/// One event with the counts and policy it comes with, and what it does from each state.
struct Row {
    name: &'static str,
    policy: FailurePolicy,
    counts: Counts,
    event: Event<'static>,
    expect: fn(DistributionState) -> Expect,
}

fn rows() -> Vec<Row> {
    use DistributionState::*;
    use Expect::*;
    let running = |to| Event::TargetMoved {
        to,
        target: "eu-west-1",
    };
    vec![
        Row {
            name: "a target progresses while others run",
            policy: FailurePolicy::Continue,
            counts: counts(2, 1, 0, 0),
            event: running(JobState::Copying),
            expect: |_| Stays,
        },
        Row {
            name: "a target fails while others run, continuing",
            policy: FailurePolicy::Continue,
            counts: counts(2, 0, 1, 0),
            event: running(JobState::Failed),
            expect: |_| Stays,
        },
        Row {
            name: "a target fails while others run, rolling back",
            policy: FailurePolicy::RollBack,
            counts: counts(2, 0, 1, 0),
            event: running(JobState::Failed),
            expect: |state| if state == Running { Becomes(RollingBack) } else { Stays },
        },
        Row {
            name: "the last target fails, rolling back",
            policy: FailurePolicy::RollBack,
            counts: counts(0, 2, 1, 0),
            event: running(JobState::Failed),
            expect: |state| match state {
                Running => Becomes(RollingBack),
                Cancelling => Becomes(Cancelled),
                _ => Stays,
            },
        },
        Row {
            name: "the last target becomes available, all available",
            policy: FailurePolicy::Continue,
            counts: counts(0, 3, 0, 0),
            event: running(JobState::Available),
            expect: |state| match state {
                Running => Becomes(Succeeded),
                Cancelling => Becomes(Cancelled),
                _ => Stays,
            },
        },
        Row {
            name: "the last target ends, some available",
            policy: FailurePolicy::Continue,
            counts: counts(0, 2, 1, 0),
            event: running(JobState::Failed),
            expect: |state| match state {
                Running => Becomes(PartiallySucceeded),
                Cancelling => Becomes(Cancelled),
                _ => Stays,
            },
        },
        Row {
            name: "the last target ends, none available",
            policy: FailurePolicy::Continue,
            counts: counts(0, 0, 2, 1),
            event: running(JobState::Cancelled),
            expect: |state| match state {
                Running => Becomes(Failed),
                Cancelling => Becomes(Cancelled),
                _ => Stays,
            },
        },
        Row {
            name: "a cancel with targets running",
            policy: FailurePolicy::Continue,
            counts: counts(2, 1, 0, 0),
            event: Event::CancelRequested,
            expect: |state| match state {
                Running => Becomes(Cancelling),
                Cancelling | RollingBack => Stays,
                _ => Refused,
            },
        },
        Row {
            name: "a retry with failed targets",
            policy: FailurePolicy::Continue,
            counts: counts(0, 2, 1, 1),
            event: Event::RetryRequested,
            expect: |state| match state {
                PartiallySucceeded | Failed | Cancelled => Becomes(Running),
                _ => Refused,
            },
        },
        Row {
            name: "a retry with nothing failed or cancelled",
            policy: FailurePolicy::Continue,
            counts: counts(0, 3, 0, 0),
            event: Event::RetryRequested,
            expect: |_| Refused,
        },
        Row {
            name: "the roll-back is done",
            policy: FailurePolicy::RollBack,
            counts: counts(0, 1, 1, 1),
            event: Event::RolledBack,
            expect: |state| {
                if state == RollingBack {
                    Becomes(RolledBack)
                } else {
                    Refused
                }
            },
        },
        Row {
            name: "the roll-back is reported done with targets running",
            policy: FailurePolicy::RollBack,
            counts: counts(1, 1, 1, 0),
            event: Event::RolledBack,
            expect: |_| Refused,
        },
    ]
}

#[test]
fn every_state_answers_every_event_as_the_table_says() {
    for row in rows() {
        for state in DistributionState::ALL {
            let got = match aggregate::next(state, row.policy, &row.counts, row.event) {
                Ok(None) => Expect::Stays,
                Ok(Some(transition)) => {
                    assert!(
                        !transition.detail.is_empty(),
                        "{}: a transition says what happened",
                        row.name
                    );
                    Expect::Becomes(transition.state)
                }
                Err(refusal) => {
                    assert_eq!(refusal.state, state);
                    assert!(!refusal.why.is_empty(), "{}: a refusal says why", row.name);
                    Expect::Refused
                }
            };
            assert_eq!(got, (row.expect)(state), "{} from {state}", row.name);
        }
    }
}

#[test]
fn details_name_the_counts_and_the_failed_target() {
    let rolled = aggregate::next(
        DistributionState::Running,
        FailurePolicy::RollBack,
        &counts(1, 0, 1, 0),
        Event::TargetMoved {
            to: JobState::Failed,
            target: "222233334444/eu-west-1",
        },
    )
    .unwrap()
    .unwrap();
    assert!(rolled.detail.contains("222233334444/eu-west-1"), "{}", rolled.detail);
    let partial = aggregate::next(
        DistributionState::Running,
        FailurePolicy::Continue,
        &counts(0, 5, 1, 0),
        Event::TargetMoved {
            to: JobState::Failed,
            target: "x",
        },
    )
    .unwrap()
    .unwrap();
    assert!(partial.detail.contains("5 AVAILABLE, 1 FAILED"), "{}", partial.detail);
}

#[test]
fn counts_follow_moves_and_know_when_all_ended() {
    let mut counts = Counts {
        queued: 3,
        ..Counts::default()
    };
    counts = counts.moved(JobState::Queued, JobState::Copying);
    counts = counts.moved(JobState::Copying, JobState::Copying);
    assert_eq!((counts.queued, counts.copying, counts.total()), (2, 1, 3));
    assert!(!counts.all_ended());
    counts = counts
        .moved(JobState::Copying, JobState::Available)
        .moved(JobState::Queued, JobState::Failed)
        .moved(JobState::Queued, JobState::Cancelled);
    assert!(counts.all_ended());
    assert_eq!(counts.to_string(), "1 AVAILABLE, 1 FAILED, 1 CANCELLED");
}

#[test]
fn states_and_policies_survive_their_stored_names() {
    for state in DistributionState::ALL {
        assert_eq!(state.as_str().parse::<DistributionState>(), Ok(state));
    }
    for policy in [FailurePolicy::Continue, FailurePolicy::RollBack] {
        assert_eq!(policy.as_str().parse::<FailurePolicy>(), Ok(policy));
    }
    assert!("paused".parse::<DistributionState>().is_err());
}

// ---- the request ----

fn target(account_id: &str, regions: &[&str]) -> TargetInput {
    TargetInput {
        account_id: account_id.to_owned(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        kms_key_ids: BTreeMap::new(),
    }
}

/// The base image to three Regions in two accounts.
fn six_targets() -> DistributionInput {
    DistributionInput {
        source_image_id: "ami-0a1b2c3d4e5f60001".into(),
        source_region: "us-east-1".into(),
        name: "golden-{account}-{region}-{date}".into(),
        targets: vec![
            target("", &["us-west-2", "eu-west-1", "eu-central-1"]),
            target(TEAM, &["us-west-2", "eu-west-1", "eu-central-1"]),
        ],
        ..Default::default()
    }
}

fn parse(input: DistributionInput) -> Result<(DistributionRequest, Vec<PlannedTarget>), InvalidRequest> {
    DistributionRequest::parse_at(input, Some(&account(OWN)), t0())
}

fn violations(input: DistributionInput) -> Vec<(String, &'static str)> {
    parse(input)
        .unwrap_err()
        .violations
        .into_iter()
        .map(|v| {
            assert!(!v.description.is_empty());
            (v.field, v.code)
        })
        .collect()
}

#[test]
fn a_valid_request_plans_one_copy_per_account_and_region_with_names_expanded() {
    let (request, planned) = parse(six_targets()).unwrap();
    assert_eq!(request.target_count(), 6);
    let names: Vec<(u32, Option<String>, String, String)> = planned
        .iter()
        .map(|p| {
            (
                p.position,
                p.account.as_ref().map(ToString::to_string),
                p.region.to_string(),
                p.copy.name.to_string(),
            )
        })
        .collect();
    assert_eq!(
        names[0],
        (
            0,
            None,
            "us-west-2".into(),
            format!("golden-{OWN}-us-west-2-2026-12-06")
        )
    );
    assert_eq!(
        names[5],
        (
            5,
            Some(TEAM.into()),
            "eu-central-1".into(),
            format!("golden-{TEAM}-eu-central-1-2026-12-06")
        )
    );
    for p in &planned {
        assert_eq!(p.copy.destination_region, p.region);
        assert_eq!(p.copy.destination_account, p.account);
        assert_eq!(p.copy.client_token, None, "target jobs carry no token");
    }
}

#[test]
fn the_own_account_is_self_when_the_service_does_not_know_its_id() {
    let (_, planned) = DistributionRequest::parse_at(six_targets(), None, t0()).unwrap();
    assert_eq!(planned[0].copy.name.as_str(), "golden-self-us-west-2-2026-12-06");
}

#[test]
fn every_problem_comes_back_at_once_with_the_distributions_paths() {
    let mut input = six_targets();
    input.source_image_id = "ami-XYZ".into();
    input.encrypted = Some(true);
    input.targets.push(TargetInput {
        account_id: "12345".into(),
        regions: vec!["eu-west-1".into(), "mars-1".into()],
        kms_key_ids: BTreeMap::from([
            ("eu-west-1".into(), "not a key".into()),
            ("us-west-2".into(), "alias/elsewhere".into()),
        ]),
    });
    input.targets.push(target("", &["eu-west-1"]));
    input.targets.push(target(OWN, &["us-west-2"]));
    input.targets.push(target(TEAM, &[]));
    let found = violations(input);
    let expected: Vec<(String, &str)> = vec![
        ("targets[5].regions".into(), MISSING_PARAMETER),
        ("source_image_id".into(), INVALID_AMI_ID_MALFORMED),
        (
            "targets[2].kms_key_ids[us-west-2]".into(),
            INVALID_PARAMETER_COMBINATION,
        ),
        ("targets[2].kms_key_ids[eu-west-1]".into(), INVALID_PARAMETER_VALUE),
        ("targets[2].account_id".into(), crate::domain::INVALID_USER_ID_MALFORMED),
        ("targets[2].regions[1]".into(), INVALID_REGION),
        ("targets[3].regions[0]".into(), INVALID_PARAMETER_COMBINATION),
        ("targets[4].regions[0]".into(), INVALID_PARAMETER_COMBINATION),
    ];
    assert_eq!(found, expected, "shared problems once, target problems at their target");
}

#[test]
fn the_name_template_is_checked_once_and_every_expansion_against_ec2s_rules() {
    let mut unknown = six_targets();
    unknown.name = "golden-{regoin}".into();
    assert_eq!(
        violations(unknown),
        vec![("name".to_owned(), INVALID_AMI_NAME_MALFORMED)]
    );

    let mut too_long = six_targets();
    too_long.name = format!("{}-{{region}}", "x".repeat(116));
    let found = parse(too_long).unwrap_err().violations;
    assert!(found.iter().all(|v| v.field == "name"), "{found:?}");
    assert!(
        found.iter().any(|v| v.description.contains("it has 129")),
        "eu-central-1 makes it too long: {found:?}"
    );
    assert!(
        !found.iter().any(|v| v.description.contains("it has 126")),
        "us-west-2 fits: {found:?}"
    );
}

#[test]
fn the_distributions_own_rules() {
    let mut empty = six_targets();
    empty.targets.clear();
    empty.name = "bad name {".into();
    assert_eq!(
        violations(empty),
        vec![
            ("name".to_owned(), INVALID_AMI_NAME_MALFORMED),
            ("targets".to_owned(), MISSING_PARAMETER)
        ]
    );

    let mut unknown_policy = six_targets();
    unknown_policy.failure_policy = FailurePolicyInput::Unknown(7);
    unknown_policy.client_token = "x".repeat(65);
    let found = violations(unknown_policy);
    assert_eq!(
        found.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        vec!["client_token", "failure_policy"]
    );

    let mut too_many = six_targets();
    let regions: Vec<String> = (0..=MAX_TARGETS).map(|i| format!("us-west-{}", i % 99)).collect();
    too_many.targets = vec![TargetInput {
        regions,
        ..TargetInput::default()
    }];
    too_many.launch_permissions = LaunchPermissionsInput {
        user_ids: vec!["bad".into()],
        ..Default::default()
    };
    let found = violations(too_many);
    assert_eq!(
        found,
        vec![
            ("targets".to_owned(), INVALID_PARAMETER_VALUE),
            (
                "launch_permissions.user_ids[0]".to_owned(),
                crate::domain::INVALID_USER_ID_MALFORMED
            ),
        ],
        "too many targets: the shared fields are still checked"
    );
}

#[test]
fn the_accepted_request_round_trips_and_its_fingerprint_ignores_the_token() {
    let mut input = six_targets();
    input.client_token = "dist-1".into();
    input.encrypted = Some(true);
    input.targets[1]
        .kms_key_ids
        .insert("eu-west-1".into(), "alias/team-key".into());
    input.failure_policy = FailurePolicyInput::RollBack;
    let (request, planned) = parse(input.clone()).unwrap();
    assert_eq!(request.to_input(), input);
    assert_eq!(planned[4].copy.kms_key_id.as_ref().unwrap().as_str(), "alias/team-key");
    let json = serde_json::to_string(&request).unwrap();
    assert_eq!(serde_json::from_str::<DistributionRequest>(&json).unwrap(), request);

    let mut other_token = input.clone();
    other_token.client_token = "dist-2".into();
    assert_eq!(parse(other_token).unwrap().0.fingerprint(), request.fingerprint());
    let mut other_name = input;
    other_name.name = "another-{region}-{account}".into();
    assert_ne!(parse(other_name).unwrap().0.fingerprint(), request.fingerprint());
}

// ---- the moves ----

fn accepted() -> Accepted {
    let (request, planned) = parse(six_targets()).unwrap();
    Distribution::accept(DistributionId::new(), "acme", request, planned, t0())
}

fn with_state(distribution: &Distribution, state: DistributionState, counts: Counts) -> Distribution {
    let mut stored = distribution.to_stored();
    stored.state = state;
    stored.counts = counts;
    Distribution::restore(stored)
}

fn job_in(new: &NewTarget, state: JobState) -> Job {
    let mut stored: StoredJob = new.job.job().to_stored();
    stored.state = state;
    Job::restore(stored)
}

#[test]
fn accepting_makes_a_queued_job_per_target_and_numbers_the_first_events() {
    let accepted = accepted();
    let distribution = &accepted.distribution;
    assert_eq!(distribution.state(), DistributionState::Running);
    assert_eq!(distribution.counts().queued, 6);
    assert_eq!(distribution.last_sequence(), 7, "a state event, then one per job");
    assert!(
        accepted.detail.contains("6 target(s) in 2 account(s)"),
        "{}",
        accepted.detail
    );
    for (position, new) in accepted.targets.iter().enumerate() {
        let job = new.job.job();
        assert_eq!(new.target.position as usize, position);
        assert_eq!(new.target.job_id, job.id());
        assert_eq!(job.distribution_id(), Some(distribution.id()));
        assert_eq!(job.state(), JobState::Queued);
        assert_eq!(job.lease_owner(), None, "the tick starts target jobs");
        assert_eq!(new.job.event(), Some(crate::domain::lifecycle::TARGET_ACCEPTED));
    }
}

#[test]
fn a_retry_replaces_only_failed_and_cancelled_jobs_with_the_same_copy() {
    let accepted = accepted();
    let states = [
        JobState::Available,
        JobState::Failed,
        JobState::Available,
        JobState::Cancelled,
        JobState::Available,
        JobState::Available,
    ];
    let targets: Vec<TargetJob> = accepted
        .targets
        .iter()
        .zip(states)
        .map(|(new, state)| TargetJob {
            target: new.target.clone(),
            job: job_in(new, state),
        })
        .collect();
    let partial = with_state(
        &accepted.distribution,
        DistributionState::PartiallySucceeded,
        counts(0, 4, 1, 1),
    );
    let retry = partial.retry(&targets, t0()).unwrap();
    assert_eq!(retry.change.distribution().state(), DistributionState::Running);
    let positions: Vec<u32> = retry.retried.iter().map(|r| r.target.position).collect();
    assert_eq!(positions, vec![1, 3]);
    for retried in &retry.retried {
        let old = &targets[retried.target.position as usize];
        assert_eq!(retried.replaced, (old.job.id(), old.job.state()));
        assert_eq!(retried.target.generation, 2);
        assert_ne!(retried.target.job_id, old.job.id());
        assert_eq!(retried.job.job().id(), retried.target.job_id);
        assert_eq!(retried.job.job().request(), old.job.request(), "the same expanded copy");
        assert_eq!(retried.job.job().state(), JobState::Queued);
    }
    let running = with_state(&accepted.distribution, DistributionState::Running, counts(3, 3, 0, 0));
    assert!(running.retry(&targets, t0()).is_err());
}

#[test]
fn cancelling_and_rolling_back_put_the_distribution_in_the_engines_hands() {
    let running = accepted().distribution;
    let cancelling = running.request_cancel(t0()).unwrap().unwrap();
    assert_eq!(cancelling.distribution().state(), DistributionState::Cancelling);
    assert_eq!(cancelling.distribution().next_action_at(), Some(t0()));
    assert_eq!(
        cancelling.distribution().request_cancel(t0()),
        Ok(None),
        "already cancelling"
    );
    let settled = with_state(
        cancelling.distribution(),
        DistributionState::Cancelling,
        counts(0, 2, 0, 4),
    )
    .settle_cancel(t0())
    .unwrap();
    assert_eq!(settled.distribution().state(), DistributionState::Cancelled);
    assert_eq!(settled.distribution().next_action_at(), None);

    let rolling = with_state(&running, DistributionState::RollingBack, counts(0, 2, 1, 3));
    let rolled = rolling.rolled_back(t0()).unwrap();
    assert_eq!(rolled.distribution().state(), DistributionState::RolledBack);
    assert!(rolled.distribution().request_cancel(t0()).is_err(), "ended");
}
