//! The transition table, without a database: every transition tried from every state, and what
//! each allowed one records.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::{CopyImageInput, Region, StoredJob};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn request() -> CopyRequest {
    let input = CopyImageInput {
        source_image_id: "ami-0a1b2c3d4e5f60001".into(),
        source_region: "us-east-1".into(),
        destination_region: "us-west-2".into(),
        name: "lifecycle-test".into(),
        ..Default::default()
    };
    CopyRequest::parse(input, &Region::parse("us-east-1").unwrap()).unwrap()
}

/// A job in `state` as a store would hold it: leased, one attempt made, an image once copying.
fn job_in(state: JobState) -> Job {
    let accepted = Job::accept(JobId::new(), "tenant-a", request(), t0(), None).job;
    let mut stored: StoredJob = accepted.to_stored();
    stored.state = state;
    stored.attempts = 1;
    stored.lease_owner = Some("replica-a".into());
    stored.lease_expires_at = Some(t0() + chrono::Duration::seconds(30));
    if state != JobState::Queued {
        stored.image_id = Some("ami-00000000000000001".into());
    }
    if state == JobState::Cancelling {
        stored.image_id = None;
    }
    Job::restore(stored)
}

fn plan() -> RetryPlan {
    RetryPlan {
        max_attempts: 3,
        delay: Duration::from_secs(2),
        now: t0(),
    }
}

type Attempt = fn(&Job) -> Result<(), Refused>;

/// Every transition, as a call that only says whether it was allowed.
const TRANSITIONS: &[(&str, Attempt)] = &[
    ("record_attempt", |j| j.record_attempt(t0()).map(drop)),
    ("copy_started", |j| {
        j.copy_started("ami-00000000000000002", t0(), t0()).map(drop)
    }),
    ("copy_adopted", |j| {
        j.copy_adopted("ami-00000000000000002", t0(), t0()).map(drop)
    }),
    ("attempt_failed", |j| {
        j.attempt_failed(Failure::new("InternalError", "x"), AttemptFailure::Transient, plan())
            .map(drop)
    }),
    ("wait_for_limits", |j| j.wait_for_limits(t0()).map(drop)),
    ("postpone", |j| j.postpone(t0()).map(drop)),
    ("progressed", |j| j.progressed(50, t0()).map(drop)),
    ("copy_available", |j| {
        j.copy_available(vec!["snap-0123456789abcdef0".into()], t0()).map(drop)
    }),
    ("checked", |j| j.checked("checked").map(drop)),
    ("check_failed", |j| {
        j.check_failed(Failure::new("InvalidKMSKey.NotFound", "x")).map(drop)
    }),
    ("step_done", |j| {
        j.step_done(Step::LaunchPermissions, "granted", t0()).map(drop)
    }),
    ("step_failed", |j| {
        j.step_failed(
            Step::LaunchPermissions,
            Failure::new("InvalidAMIID.Unavailable", "x"),
            AttemptFailure::Transient,
            plan(),
        )
        .map(drop)
    }),
    ("copy_failed", |j| j.copy_failed(CopyEnd::Deregistered).map(drop)),
    ("request_cancel", |j| j.request_cancel(t0()).map(drop)),
    ("hand_image_to_cancel", |j| {
        j.hand_image_to_cancel("ami-00000000000000002", t0()).map(drop)
    }),
    ("stopped", |j| j.stopped(Stop::NothingMade).map(drop)),
];

/// The states each transition is allowed from.
fn allowed_from(transition: &str) -> &'static [JobState] {
    use JobState::*;
    match transition {
        "record_attempt" | "copy_started" | "copy_adopted" | "attempt_failed" | "wait_for_limits" | "postpone"
        | "checked" | "check_failed" => &[Queued],
        "progressed" | "copy_available" | "copy_failed" => &[Copying],
        "step_done" | "step_failed" => &[Finishing],
        "request_cancel" => &[Queued, Copying, Finishing, Cancelling],
        "hand_image_to_cancel" | "stopped" => &[Cancelling],
        other => panic!("no row for {other}"),
    }
}

#[test]
fn every_state_allows_exactly_the_transitions_of_the_table() {
    for state in JobState::ALL {
        let job = job_in(state);
        for (name, attempt) in TRANSITIONS {
            let allowed = allowed_from(name).contains(&state);
            match attempt(&job) {
                Ok(()) => assert!(allowed, "{name} must be refused from {state}"),
                Err(refused) => {
                    assert!(!allowed, "{name} must be allowed from {state}: {refused}");
                    assert_eq!(refused.state, state);
                    assert_eq!(refused.job, job.id());
                }
            }
        }
    }
}

#[test]
fn terminal_states_allow_nothing() {
    for state in JobState::ALL.into_iter().filter(|s| s.is_terminal()) {
        let job = job_in(state);
        assert!(TRANSITIONS.iter().all(|(_, attempt)| attempt(&job).is_err()), "{state}");
    }
}

#[test]
fn accepting_makes_a_queued_due_job_with_its_first_event() {
    let lease = ("replica-a/inline".to_owned(), t0() + chrono::Duration::seconds(5));
    let change = Job::accept(JobId::new(), "tenant-a", request(), t0(), Some(lease.clone()));
    let job = change.job();
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!(job.request_hash(), request().fingerprint());
    assert_eq!((job.attempts(), job.version(), job.last_event_sequence()), (0, 1, 1));
    assert_eq!(job.next_attempt_at(), t0());
    assert_eq!(job.lease_owner(), Some(lease.0.as_str()));
    assert_eq!(job.lease_expires_at(), Some(lease.1));
    assert_eq!(change.event(), Some(ACCEPTED));
}

#[test]
fn a_job_admitted_at_once_is_created_with_its_attempt_recorded() {
    let lease = ("replica-a/inline".to_owned(), t0() + chrono::Duration::seconds(5));
    let change = Job::accept_starting(JobId::new(), "tenant-a", request(), t0(), lease.clone());
    let job = change.job();
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!((job.attempts(), job.version(), job.last_event_sequence()), (1, 1, 1));
    assert_eq!(job.lease_owner(), Some(lease.0.as_str()));
    assert_eq!(job.lease_expires_at(), Some(lease.1));
    assert!(
        job.earlier_outcome_unknown(),
        "a crash before EC2's answer is recorded leaves a copy to look for"
    );
    assert_eq!(change.event(), Some("job accepted; starting copy (attempt 1)"));
    let started = job.copy_started("ami-00000000000000002", t0(), t0()).unwrap();
    assert_eq!(started.job().state(), JobState::Copying);
}

#[test]
fn a_job_whose_region_is_full_is_created_waiting_and_unleased() {
    let until = t0() + chrono::Duration::seconds(1);
    let change = Job::accept_waiting(JobId::new(), "tenant-a", request(), t0(), until);
    let job = change.job();
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!((job.attempts(), job.next_attempt_at()), (0, until));
    assert_eq!((job.lease_owner(), job.lease_expires_at()), (None, None));
    assert!(!job.may_be_starting(t0()));
    assert_eq!(
        change.event(),
        Some(
            format!(
                "job accepted; waiting: {} is at its copy limits",
                request().destination_region
            )
            .as_str()
        )
    );
}

#[test]
fn an_attempt_is_counted_and_keeps_the_lease_until_the_call_is_answered() {
    let job = job_in(JobState::Queued);
    let until = t0() + chrono::Duration::seconds(60);
    let change = job.record_attempt(until).unwrap();
    assert_eq!(change.job().attempts(), 2);
    assert_eq!(change.job().lease_owner(), Some("replica-a"));
    assert_eq!(change.job().lease_expires_at(), Some(until));
    assert_eq!(change.event(), Some("starting copy (attempt 2)"));
}

#[test]
fn a_started_copy_records_its_image_and_frees_the_job() {
    let change = job_in(JobState::Queued)
        .copy_started("ami-00000000000000002", t0(), t0())
        .unwrap();
    let job = change.job();
    assert_eq!(job.state(), JobState::Copying);
    assert_eq!(job.image_id(), Some("ami-00000000000000002"));
    assert_eq!(job.lease_owner(), None);
    assert_eq!(change.event(), Some("copy started: ami-00000000000000002"));
}

#[test]
fn failed_attempts_wait_retry_give_up_or_fail_by_kind() {
    let job = job_in(JobState::Queued);
    let failure = Failure::new("InternalError", "boom");
    let retry = job
        .attempt_failed(failure.clone(), AttemptFailure::Transient, plan())
        .unwrap();
    assert_eq!(retry.job().state(), JobState::Queued);
    assert_eq!(retry.job().next_attempt_at(), t0() + chrono::Duration::seconds(2));
    assert_eq!(retry.job().failure(), Some(&failure));
    assert!(
        retry
            .event()
            .unwrap()
            .starts_with("attempt 1 failed: InternalError: boom; retrying in 2.0s")
    );

    let quota = job
        .attempt_failed(
            Failure::new(codes::RESOURCE_LIMIT_EXCEEDED, "full"),
            AttemptFailure::QuotaFull,
            plan(),
        )
        .unwrap();
    assert_eq!(quota.job().state(), JobState::Queued);
    assert!(
        quota
            .event()
            .unwrap()
            .starts_with("waiting: EC2 has too many copies in progress in us-west-2")
    );

    let mut throttled_often = job.to_stored();
    throttled_often.attempts = 30;
    let throttled = Job::restore(throttled_often)
        .attempt_failed(
            Failure::new(codes::REQUEST_LIMIT_EXCEEDED, "slow down"),
            AttemptFailure::Throttled,
            plan(),
        )
        .unwrap();
    assert_eq!(
        throttled.job().state(),
        JobState::Queued,
        "throttling never uses up a job's attempts"
    );
    assert!(
        throttled
            .event()
            .unwrap()
            .starts_with("attempt 30 throttled: RequestLimitExceeded")
    );

    let refused = job
        .attempt_failed(failure.clone(), AttemptFailure::Permanent, plan())
        .unwrap();
    assert_eq!(refused.job().state(), JobState::Failed);
    assert_eq!(refused.event(), Some("copy refused: InternalError: boom"));

    let mut stored = job.to_stored();
    stored.attempts = 3;
    let exhausted = Job::restore(stored)
        .attempt_failed(failure, AttemptFailure::Transient, plan())
        .unwrap();
    assert_eq!(exhausted.job().state(), JobState::Failed);
    assert_eq!(exhausted.event(), Some("gave up after 3 attempts: InternalError: boom"));
}

#[test]
fn progress_only_rises_and_stays_below_one_hundred_until_available() {
    let copying = job_in(JobState::Copying);
    let first = copying.progressed(40, t0()).unwrap().expect("news");
    assert_eq!(first.job().progress_percent(), Some(40));
    assert_eq!(first.event(), Some("copying: 40%"));
    assert!(first.job().progressed(40, t0()).unwrap().is_none());
    assert!(first.job().progressed(10, t0()).unwrap().is_none());
    let capped = first.job().progressed(100, t0()).unwrap().expect("news");
    assert_eq!(capped.job().progress_percent(), Some(99));
    let done = capped.job().copy_available(Vec::new(), t0()).unwrap();
    assert_eq!(done.job().state(), JobState::Available);
    assert_eq!(done.job().progress_percent(), Some(100));
}

#[test]
fn a_copy_that_ends_badly_keeps_ec2s_reason() {
    let copying = job_in(JobState::Copying);
    let reason = Failure::new("Client.InvalidKMSKey.InvalidState", "key disabled");
    let failed = copying.copy_failed(CopyEnd::Failed(Some(reason.clone()))).unwrap();
    assert_eq!(failed.job().failure(), Some(&reason));
    let lost = copying
        .copy_failed(CopyEnd::Missing {
            for_duration: Duration::from_secs(301),
        })
        .unwrap();
    assert_eq!(lost.job().failure().unwrap().code, codes::INVALID_AMI_ID_NOT_FOUND);
    assert!(lost.job().failure().unwrap().message.contains("for 301s"));
}

#[test]
fn cancelling_depends_on_whether_a_copy_may_exist() {
    let mut idle = job_in(JobState::Queued).to_stored();
    idle.attempts = 0;
    idle.lease_owner = None;
    idle.lease_expires_at = None;
    let idle = Job::restore(idle);
    let cancelled = idle.request_cancel(t0()).unwrap().unwrap();
    assert_eq!(cancelled.job().state(), JobState::Cancelled);

    let starting = job_in(JobState::Queued);
    assert!(starting.may_be_starting(t0()));
    let cancelling = starting.request_cancel(t0()).unwrap().unwrap();
    assert_eq!(cancelling.job().state(), JobState::Cancelling);
    assert!(cancelling.job().request_cancel(t0()).unwrap().is_none());

    let handed = cancelling
        .job()
        .hand_image_to_cancel("ami-00000000000000002", t0())
        .unwrap();
    assert!(
        handed
            .job()
            .hand_image_to_cancel("ami-00000000000000003", t0())
            .is_err()
    );
    let stopped = handed
        .job()
        .stopped(Stop::Deregistered("ami-00000000000000002".into()))
        .unwrap();
    assert_eq!(stopped.job().state(), JobState::Cancelled);
    assert_eq!(
        stopped.event(),
        Some("deregistered ami-00000000000000002; copy stopped")
    );
}

#[test]
fn an_unknown_outcome_is_only_assumed_after_an_attempt_not_proven_harmless() {
    let mut stored = job_in(JobState::Queued).to_stored();
    stored.failure = None;
    assert!(Job::restore(stored.clone()).earlier_outcome_unknown());
    stored.failure = Some(Failure::new(codes::REQUEST_LIMIT_EXCEEDED, "slow down"));
    assert!(!Job::restore(stored.clone()).earlier_outcome_unknown());
    stored.failure = Some(Failure::new("RequestTimeout", "no answer"));
    assert!(Job::restore(stored.clone()).earlier_outcome_unknown());
    stored.attempts = 0;
    assert!(!Job::restore(stored).earlier_outcome_unknown());
}

#[test]
fn a_call_nobody_saw_end_may_land_until_one_lease_after_its_own_ran_out() {
    let lease = std::time::Duration::from_secs(3);
    let mut stored = job_in(JobState::Queued).to_stored();
    stored.failure = None;
    stored.updated_at = t0();
    assert_eq!(
        Job::restore(stored.clone()).earlier_call_settles_at(lease),
        Some(t0() + chrono::Duration::seconds(6))
    );
    stored.failure = Some(Failure::new("RequestTimeout", "no answer"));
    assert_eq!(
        Job::restore(stored.clone()).earlier_call_settles_at(lease),
        None,
        "a call that answered, even with an error, is not in flight"
    );
    stored.failure = None;
    stored.attempts = 0;
    assert_eq!(Job::restore(stored).earlier_call_settles_at(lease), None);
}

/// A queued job whose request asks for every finishing step.
fn finishing_request() -> CopyRequest {
    let input = CopyImageInput {
        source_image_id: "ami-0a1b2c3d4e5f60001".into(),
        source_region: "us-east-1".into(),
        destination_region: "us-west-2".into(),
        name: "finished".into(),
        destination_account_id: "222233334444".into(),
        launch_permissions: crate::domain::LaunchPermissionsInput {
            user_ids: vec!["333344445555".into()],
            ..Default::default()
        },
        snapshot_user_ids: vec!["333344445555".into()],
        deprecate_time: Some((t0().timestamp() + 86_400, 0)),
        ..Default::default()
    };
    CopyRequest::parse_at(input, &Region::parse("us-east-1").unwrap(), t0()).unwrap()
}

fn copying_with_steps() -> Job {
    let accepted = Job::accept(JobId::new(), "tenant-a", finishing_request(), t0(), None);
    accepted
        .job()
        .copy_started("ami-00000000000000001", t0(), t0())
        .unwrap()
        .job
}

#[test]
fn an_available_copy_with_steps_finishes_them_one_event_each_then_is_available() {
    let available = copying_with_steps()
        .copy_available(vec!["snap-1".into(), "snap-2".into()], t0())
        .unwrap();
    let job = available.job();
    assert_eq!(job.state(), JobState::Finishing);
    assert_eq!(job.snapshot_ids(), ["snap-1", "snap-2"]);
    assert!(
        available
            .event()
            .unwrap()
            .contains("granting launch permissions, sharing the snapshots, setting the deprecation time")
    );

    let mut job = job.clone();
    let mut events = Vec::new();
    while let Some(step) = job.next_step() {
        let change = job.step_done(step, step.describe(), t0()).unwrap();
        events.push(change.event().unwrap().to_owned());
        job = change.job;
    }
    assert_eq!(job.state(), JobState::Available);
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[2].ends_with("ami-00000000000000001 is available"), "{events:?}");
    assert!(job.steps_done().contains(Step::Deprecation));
}

#[test]
fn a_copy_without_steps_skips_finishing() {
    let change = job_in(JobState::Copying).copy_available(Vec::new(), t0()).unwrap();
    assert_eq!(change.job().state(), JobState::Available);
    assert_eq!(change.job().next_step(), None);
}

#[test]
fn a_failed_step_retries_quietly_until_it_gives_up_and_keeps_the_image() {
    let finishing = copying_with_steps().copy_available(Vec::new(), t0()).unwrap().job;
    let failure = Failure::new("InvalidAMIID.Unavailable", "not yet");
    let retry = finishing
        .step_failed(
            Step::LaunchPermissions,
            failure.clone(),
            AttemptFailure::Transient,
            plan(),
        )
        .unwrap();
    assert_eq!(retry.event(), None, "a retry is not an event");
    assert_eq!(retry.job().state(), JobState::Finishing);
    assert_eq!(retry.job().step_failures(), 1);
    assert_eq!(retry.job().next_attempt_at(), t0() + chrono::Duration::seconds(2));

    let mut job = retry.job;
    while job.state() == JobState::Finishing {
        job = job
            .step_failed(
                Step::LaunchPermissions,
                failure.clone(),
                AttemptFailure::Transient,
                plan(),
            )
            .unwrap()
            .job;
    }
    assert_eq!(job.state(), JobState::Failed);
    assert_eq!(job.step_failures(), plan().max_attempts);
    assert_eq!(
        job.image_id(),
        Some("ami-00000000000000001"),
        "the AMI is never forgotten"
    );

    let refused = finishing
        .step_failed(
            Step::Deprecation,
            Failure::new("InvalidParameterValue", "too late"),
            AttemptFailure::Permanent,
            plan(),
        )
        .unwrap();
    assert_eq!(refused.job().state(), JobState::Failed);
    assert_eq!(
        refused.event(),
        Some("setting the deprecation time failed: InvalidParameterValue: too late")
    );
}

#[test]
fn checks_are_recorded_once_and_a_failed_check_ends_the_job_before_any_attempt() {
    let queued = Job::accept(JobId::new(), "tenant-a", finishing_request(), t0(), None).job;
    let checked = queued.checked("checked: key enabled").unwrap();
    assert!(checked.job().steps_done().contains(Step::Checks));
    assert_eq!(checked.job().state(), JobState::Queued);
    let failed = queued
        .check_failed(Failure::new(
            "InvalidKMSKey.NotFound",
            "KMS key alias/x does not exist in account 222233334444",
        ))
        .unwrap();
    assert_eq!(failed.job().state(), JobState::Failed);
    assert_eq!(failed.job().attempts(), 0);
    assert!(
        failed
            .event()
            .unwrap()
            .starts_with("refused before copying: InvalidKMSKey.NotFound")
    );
}

#[test]
fn a_finishing_job_can_be_cancelled_and_its_image_goes_with_its_snapshots() {
    let finishing = copying_with_steps()
        .copy_available(vec!["snap-1".into()], t0())
        .unwrap()
        .job;
    let cancelling = finishing.request_cancel(t0()).unwrap().unwrap().job;
    assert_eq!(cancelling.state(), JobState::Cancelling);
    let stopped = cancelling
        .stopped(Stop::DeregisteredWithSnapshots("ami-00000000000000001".into()))
        .unwrap();
    assert_eq!(
        stopped.event(),
        Some("deregistered ami-00000000000000001 and deleted its snapshots")
    );
}
