//! Distributions in the store, on both engines: creation in one transaction, idempotency, the
//! counts and events that follow the target jobs inside `update_job`, retries, versioned state
//! changes, roll-back marks, claims, pages.

use std::{collections::HashSet, time::Instant};

use amicopy::{
    domain::{
        DistributionId, DistributionRequest, DistributionState, Job, JobState,
        distribution::{
            Accepted, Distribution, DistributionEventKind, DistributionInput, FailurePolicyInput, TargetInput,
        },
    },
    store::{CreatedDistribution, DistributionClaim, DistributionQuery, JobStore, ListQuery, StoreError},
};
use chrono::{DateTime, Utc};

use crate::store::harness::{Harness, edited, now, secs};

crate::on_both!(store:
    a_distribution_is_recorded_with_a_job_and_an_event_per_target,
    six_hundred_targets_are_recorded_in_one_call_and_every_one_exists,
    the_same_token_returns_the_distribution_and_another_request_mismatches,
    a_creation_that_fails_part_way_records_nothing,
    target_moves_adjust_the_counts_and_the_last_one_ends_the_distribution,
    concurrent_target_moves_keep_counts_and_sequences_exact,
    a_failed_target_under_roll_back_puts_the_distribution_in_the_engines_hands,
    a_retry_replaces_only_the_failed_and_cancelled_jobs,
    a_state_change_computed_from_a_stale_version_conflicts,
    a_target_is_marked_rolled_back_once,
    distributions_are_listed_newest_first_by_state_and_page,
);

const TEAM: &str = "222233334444";

fn input(name: &str, targets: Vec<TargetInput>) -> DistributionInput {
    DistributionInput {
        source_image_id: "ami-0a1b2c3d4e5f60001".into(),
        source_region: "us-east-1".into(),
        name: format!("{name}-{{region}}-{{account}}"),
        targets,
        ..Default::default()
    }
}

fn target(account_id: &str, regions: &[&str]) -> TargetInput {
    TargetInput {
        account_id: account_id.to_owned(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    }
}

/// 2 accounts × 3 Regions.
pub(super) fn six(name: &str) -> DistributionInput {
    let regions = ["us-west-2", "eu-west-1", "eu-central-1"];
    input(name, vec![target("", &regions), target(TEAM, &regions)])
}

pub(super) fn accept(tenant: &str, input: DistributionInput, at: DateTime<Utc>) -> Accepted {
    let (request, planned) = DistributionRequest::parse_at(input, None, at).expect("a valid distribution");
    Distribution::accept(DistributionId::new(), tenant, request, planned, at)
}

pub(super) async fn create(store: &dyn JobStore, accepted: &Accepted) -> Distribution {
    match store.create_distribution(accepted).await.expect("recorded") {
        CreatedDistribution::New(distribution) => distribution,
        CreatedDistribution::Existing(d) => panic!("expected a new distribution, got {}", d.id()),
    }
}

/// Moves a target's job to `state` (with an event), as the engine would record it.
pub(super) async fn move_job(store: &dyn JobStore, job: &Job, state: JobState) -> Job {
    let moved = edited(job, |j| {
        j.state = state;
        if state != JobState::Queued && state != JobState::Cancelled {
            j.image_id = Some("ami-0123456789abcdef0".to_owned());
        }
    });
    store
        .update_job(&moved, Some(&format!("now {state}")))
        .await
        .expect("job moved")
}

pub(super) async fn jobs_of(store: &dyn JobStore, id: DistributionId) -> Vec<Job> {
    store
        .distribution_targets(id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.job)
        .collect()
}

async fn state_events(store: &dyn JobStore, id: DistributionId) -> Vec<(u64, DistributionState, String)> {
    store
        .list_distribution_events(id, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|event| match event.kind {
            DistributionEventKind::State { state, detail, .. } => Some((event.sequence, state, detail)),
            DistributionEventKind::Target { .. } => None,
        })
        .collect()
}

async fn a_distribution_is_recorded_with_a_job_and_an_event_per_target(h: &Harness) {
    let store = &*h.store;
    let accepted = accept("acme", six("golden"), now());
    let stored = create(store, &accepted).await;
    assert_eq!(stored, accepted.distribution, "recorded as accepted");
    assert_eq!(
        store.get_tenant_distribution("acme", stored.id()).await.unwrap(),
        stored
    );
    assert!(matches!(
        store.get_tenant_distribution("globex", stored.id()).await,
        Err(StoreError::DistributionNotFound(_))
    ));

    let targets = store.distribution_targets(stored.id()).await.unwrap();
    assert_eq!(targets.len(), 6);
    for (position, (target, new)) in targets.iter().zip(&accepted.targets).enumerate() {
        assert_eq!(target.target, new.target);
        assert_eq!(target.target.position as usize, position);
        assert_eq!(&target.job, new.job.job());
        assert_eq!(target.job.distribution_id(), Some(stored.id()));
        assert_eq!(store.list_events(target.job.id(), 0, 10).await.unwrap().len(), 1);
    }

    let events = store.list_distribution_events(stored.id(), 0, 100).await.unwrap();
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=7).collect::<Vec<_>>());
    let DistributionEventKind::State {
        state, counts, detail, ..
    } = &events[0].kind
    else {
        panic!("the first event is the state: {:?}", events[0]);
    };
    assert_eq!((*state, counts.queued), (DistributionState::Running, 6));
    assert!(detail.contains("6 target(s)"), "{detail}");
    let DistributionEventKind::Target { account, region, event } = &events[6].kind else {
        panic!("then one per target: {:?}", events[6]);
    };
    assert_eq!(account.as_ref().map(ToString::to_string).as_deref(), Some(TEAM));
    assert_eq!(region.as_str(), "eu-central-1");
    assert_eq!(
        (event.job_id, event.sequence, event.state),
        (targets[5].job.id(), 1, JobState::Queued)
    );
    assert_eq!(
        store.list_distribution_events(stored.id(), 5, 100).await.unwrap().len(),
        2,
        "a resume reads only what follows"
    );
}

async fn six_hundred_targets_are_recorded_in_one_call_and_every_one_exists(h: &Harness) {
    let store = &*h.store;
    let regions: Vec<String> = (1..=30).map(|i| format!("ap-test-{i}")).collect();
    let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    let targets = (0..20)
        .map(|a| target(&format!("{:012}", 100_000 + a), &regions))
        .collect();
    let accepted = accept("acme", input("wide", targets), now());
    let started = Instant::now();
    let stored = create(store, &accepted).await;
    eprintln!(
        "{:?}: a 600-target distribution recorded in {:?}",
        h.database,
        started.elapsed()
    );
    assert_eq!(stored.counts().queued, 600);
    let recorded = store.distribution_targets(stored.id()).await.unwrap();
    assert_eq!(recorded.len(), 600);
    let places: HashSet<(String, String)> = recorded
        .iter()
        .map(|t| {
            (
                t.target.account.as_ref().unwrap().to_string(),
                t.target.region.to_string(),
            )
        })
        .collect();
    assert_eq!(places.len(), 600, "every (account, Region) once");
    for target in &recorded {
        let job = store.get_tenant_job("acme", target.target.job_id).await.unwrap();
        assert_eq!(job, target.job);
        assert_eq!(job.request().destination_region, target.target.region);
    }
    assert_eq!(stored.last_sequence(), 601);
    assert_eq!(
        store
            .list_distribution_events(stored.id(), 0, 1000)
            .await
            .unwrap()
            .len(),
        601
    );
}

async fn the_same_token_returns_the_distribution_and_another_request_mismatches(h: &Harness) {
    let store = &*h.store;
    let mut with_token = six("tokened");
    with_token.client_token = "dist-token-1".into();
    let first = create(store, &accept("acme", with_token.clone(), now())).await;
    match store
        .create_distribution(&accept("acme", with_token.clone(), now()))
        .await
    {
        Ok(CreatedDistribution::Existing(existing)) => assert_eq!(existing, first),
        other => panic!("expected the first distribution, got {other:?}"),
    }
    assert_eq!(
        store.list_jobs(&query("acme")).await.unwrap().jobs.len(),
        6,
        "the retried call made no second set of jobs"
    );
    let mut other = with_token.clone();
    other.failure_policy = FailurePolicyInput::RollBack;
    match store.create_distribution(&accept("acme", other, now())).await {
        Err(StoreError::DistributionTokenMismatch { token, existing }) => {
            assert_eq!((token.as_str(), existing), ("dist-token-1", first.id()));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    let elsewhere = create(store, &accept("globex", with_token, now())).await;
    assert_ne!(elsewhere.id(), first.id(), "tokens are per tenant");
}

fn query(tenant: &str) -> ListQuery {
    ListQuery {
        tenant: tenant.to_owned(),
        page_size: 1000,
        ..Default::default()
    }
}

async fn a_creation_that_fails_part_way_records_nothing(h: &Harness) {
    let store = &*h.store;
    let mut accepted = accept("acme", six("broken"), now());
    // The last target's job takes the id of the first: its insert fails after the others'.
    accepted.targets[5].job = accepted.targets[0].job.clone();
    assert!(store.create_distribution(&accepted).await.is_err());
    assert!(matches!(
        store.get_distribution_any_tenant(accepted.distribution.id()).await,
        Err(StoreError::DistributionNotFound(_))
    ));
    assert!(
        store.list_jobs(&query("acme")).await.unwrap().jobs.is_empty(),
        "no job left behind"
    );
    let page = store
        .list_distributions(&DistributionQuery {
            tenant: "acme".into(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.distributions.is_empty());
}

async fn target_moves_adjust_the_counts_and_the_last_one_ends_the_distribution(h: &Harness) {
    let store = &*h.store;
    let stored = create(store, &accept("acme", six("counted"), now())).await;
    let jobs = jobs_of(store, stored.id()).await;
    let copying = move_job(store, &jobs[0], JobState::Copying).await;
    let counts = store.get_distribution_any_tenant(stored.id()).await.unwrap().counts();
    assert_eq!((counts.queued, counts.copying), (5, 1));
    // An event without a state change: a target event, the counts unchanged.
    let progressed = store
        .update_job(
            &edited(&copying, |j| j.progress_percent = Some(40)),
            Some("copying: 40%"),
        )
        .await
        .unwrap();
    let now_at = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!((now_at.counts(), now_at.last_sequence()), (counts, 9));
    // A change without an event (bookkeeping) leaves the distribution alone.
    store
        .update_job(&edited(&jobs[1], |j| j.next_attempt_at = secs(now(), 5)), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_distribution_any_tenant(stored.id())
            .await
            .unwrap()
            .last_sequence(),
        9
    );

    move_job(store, &progressed, JobState::Available).await;
    for job in &jobs[2..] {
        move_job(store, job, JobState::Available).await;
    }
    let jobs = jobs_of(store, stored.id()).await;
    let before_last = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!(before_last.state(), DistributionState::Running);
    move_job(store, &jobs[1], JobState::Failed).await;
    let ended = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!(ended.state(), DistributionState::PartiallySucceeded);
    assert_eq!((ended.counts().available, ended.counts().failed), (5, 1));
    assert_eq!(ended.version(), stored.version() + 1);
    assert_eq!(ended.next_action_at(), None);
    let states = state_events(store, stored.id()).await;
    assert_eq!(states.len(), 2);
    let (sequence, state, detail) = &states[1];
    assert_eq!(
        (*sequence, *state),
        (ended.last_sequence(), DistributionState::PartiallySucceeded)
    );
    assert!(detail.contains("5 AVAILABLE, 1 FAILED"), "{detail}");
    let events = store.list_distribution_events(stored.id(), 0, 100).await.unwrap();
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=ended.last_sequence()).collect::<Vec<_>>(), "no gaps");
}

async fn concurrent_target_moves_keep_counts_and_sequences_exact(h: &Harness) {
    let store = &h.store;
    let regions: Vec<String> = (1..=20).map(|i| format!("ap-test-{i}")).collect();
    let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
    let stored = create(
        &**store,
        &accept("acme", input("raced", vec![target("", &regions)]), now()),
    )
    .await;
    let jobs = jobs_of(&**store, stored.id()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs {
        let store = std::sync::Arc::clone(store);
        tasks.spawn(async move {
            let copying = move_job(&*store, &job, JobState::Copying).await;
            move_job(&*store, &copying, JobState::Available).await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let ended = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!(ended.state(), DistributionState::Succeeded);
    assert_eq!(ended.counts().available, 20);
    assert_eq!(
        ended.last_sequence(),
        1 + 20 + 40 + 1,
        "accepted, first events, two moves each, the end"
    );
    let events = store.list_distribution_events(stored.id(), 0, 1000).await.unwrap();
    let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=ended.last_sequence()).collect::<Vec<_>>());
    assert!(events.last().unwrap().kind.is_terminal(), "the end is the last event");
}

async fn a_failed_target_under_roll_back_puts_the_distribution_in_the_engines_hands(h: &Harness) {
    let store = &*h.store;
    let mut rolling = six("rolled");
    rolling.failure_policy = FailurePolicyInput::RollBack;
    let stored = create(store, &accept("acme", rolling, now())).await;
    let claim = |at| DistributionClaim {
        owner: "replica-a".into(),
        now: at,
        lease_until: secs(at, 30),
        limit: 10,
    };
    assert!(
        store.claim_distributions(&claim(now())).await.unwrap().is_empty(),
        "running: nothing to do"
    );
    let jobs = jobs_of(store, stored.id()).await;
    move_job(store, &jobs[3], JobState::Failed).await;
    let rolling = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!(rolling.state(), DistributionState::RollingBack);
    let (_, _, detail) = state_events(store, stored.id()).await.pop().unwrap();
    assert!(
        detail.contains(&format!("{TEAM}/us-west-2")),
        "names the failed target: {detail}"
    );
    let due = rolling.next_action_at().expect("due for the engine");
    let claimed = store.claim_distributions(&claim(secs(due, 1))).await.unwrap();
    assert_eq!(
        claimed.iter().map(Distribution::id).collect::<Vec<_>>(),
        vec![stored.id()]
    );
    let other = DistributionClaim {
        owner: "replica-b".into(),
        ..claim(secs(due, 1))
    };
    assert!(
        store.claim_distributions(&other).await.unwrap().is_empty(),
        "held by replica-a"
    );
    store
        .defer_distribution(stored.id(), "replica-a", secs(due, 100))
        .await
        .unwrap();
    assert!(
        store
            .claim_distributions(&claim(secs(due, 50)))
            .await
            .unwrap()
            .is_empty(),
        "put off"
    );
    assert_eq!(store.claim_distributions(&other.clone()).await.unwrap().len(), 0);
    let later = DistributionClaim {
        now: secs(due, 101),
        ..other
    };
    assert_eq!(
        store.claim_distributions(&later).await.unwrap().len(),
        1,
        "released and due again"
    );
}

async fn a_retry_replaces_only_the_failed_and_cancelled_jobs(h: &Harness) {
    let store = &*h.store;
    let stored = create(store, &accept("acme", six("retried"), now())).await;
    let jobs = jobs_of(store, stored.id()).await;
    for (i, job) in jobs.iter().enumerate() {
        let end = match i {
            1 => JobState::Failed,
            4 => JobState::Cancelled,
            _ => JobState::Available,
        };
        move_job(store, job, end).await;
    }
    let partial = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!(partial.state(), DistributionState::PartiallySucceeded);
    let targets = store.distribution_targets(stored.id()).await.unwrap();
    let retry = partial.retry(&targets, now()).unwrap();
    let running = store.retry_distribution(&retry).await.unwrap();
    assert_eq!(running.state(), DistributionState::Running);
    let counts = running.counts();
    assert_eq!(
        (counts.queued, counts.available, counts.failed, counts.cancelled),
        (2, 4, 0, 0)
    );
    assert_eq!(
        running.last_sequence(),
        partial.last_sequence() + 3,
        "a state event and a job event each"
    );

    let after = store.distribution_targets(stored.id()).await.unwrap();
    for (before, now_) in targets.iter().zip(&after) {
        if [1, 4].contains(&before.target.position) {
            assert_ne!(now_.job.id(), before.job.id());
            assert_eq!((now_.target.generation, now_.job.state()), (2, JobState::Queued));
            assert_eq!(now_.job.request(), before.job.request(), "the same copy again");
            let old = store.get_job_any_tenant(before.job.id()).await.unwrap();
            assert_eq!(old.state(), before.job.state(), "the old job stays as history");
        } else {
            assert_eq!(now_, before, "AVAILABLE targets are untouched");
        }
    }
    assert!(
        matches!(
            store.retry_distribution(&retry).await,
            Err(StoreError::DistributionConflict(_))
        ),
        "the same retry twice"
    );
    let events = store
        .list_distribution_events(stored.id(), partial.last_sequence(), 10)
        .await
        .unwrap();
    assert!(matches!(
        &events[0].kind,
        DistributionEventKind::State {
            state: DistributionState::Running,
            ..
        }
    ));
    assert!(
        matches!(&events[2].kind, DistributionEventKind::Target { event, .. } if event.job_id == after[4].job.id())
    );
}

async fn a_state_change_computed_from_a_stale_version_conflicts(h: &Harness) {
    let store = &*h.store;
    let stored = create(store, &accept("acme", six("cancelled"), now())).await;
    let cancel = stored.request_cancel(now()).unwrap().unwrap();
    let jobs = jobs_of(store, stored.id()).await;
    for job in &jobs {
        move_job(store, job, JobState::Available).await;
    }
    assert!(matches!(
        store.update_distribution(&cancel).await,
        Err(StoreError::DistributionConflict(_))
    ));
    let fresh = store.get_distribution_any_tenant(stored.id()).await.unwrap();
    assert_eq!(fresh.state(), DistributionState::Succeeded);
    assert!(
        fresh.request_cancel(now()).is_err(),
        "read again, the cancel is refused"
    );

    let other = create(store, &accept("acme", six("cancelling"), now())).await;
    let cancelling = store
        .update_distribution(&other.request_cancel(now()).unwrap().unwrap())
        .await
        .unwrap();
    assert_eq!(cancelling.state(), DistributionState::Cancelling);
    assert!(cancelling.next_action_at().is_some());
    for job in jobs_of(store, other.id()).await {
        move_job(store, &job, JobState::Cancelled).await;
    }
    let cancelled = store.get_distribution_any_tenant(other.id()).await.unwrap();
    assert_eq!(cancelled.state(), DistributionState::Cancelled);
    assert_eq!(cancelled.next_action_at(), None);
}

async fn a_target_is_marked_rolled_back_once(h: &Harness) {
    let store = &*h.store;
    let stored = create(store, &accept("acme", six("marked"), now())).await;
    let targets = store.distribution_targets(stored.id()).await.unwrap();
    let target = &targets[2].target;
    assert!(
        store
            .mark_rolled_back(target, "rolled back: deregistered ami-1")
            .await
            .unwrap()
    );
    assert!(!store.mark_rolled_back(target, "rolled back again").await.unwrap());
    let after = store.distribution_targets(stored.id()).await.unwrap();
    assert!(after[2].target.rolled_back);
    assert!(!after[1].target.rolled_back);
    let states = state_events(store, stored.id()).await;
    assert_eq!(states.len(), 2);
    assert_eq!(states[1].1, DistributionState::Running, "a step, not a change of state");
    assert_eq!(states[1].2, "rolled back: deregistered ami-1");
}

async fn distributions_are_listed_newest_first_by_state_and_page(h: &Harness) {
    let store = &*h.store;
    let start = now();
    let mut ids = Vec::new();
    for i in 0..5 {
        let one = input(&format!("listed{i}"), vec![target("", &["us-west-2"])]);
        ids.push(create(store, &accept("acme", one, secs(start, i))).await.id());
    }
    create(store, &accept("globex", six("theirs"), start)).await;
    let cancelled = store.get_distribution_any_tenant(ids[1]).await.unwrap();
    store
        .update_distribution(&cancelled.request_cancel(now()).unwrap().unwrap())
        .await
        .unwrap();

    let page = |size, token, states: Vec<DistributionState>| DistributionQuery {
        tenant: "acme".into(),
        states,
        page_size: size,
        page_token: token,
    };
    let first = store.list_distributions(&page(3, None, vec![])).await.unwrap();
    let listed: Vec<DistributionId> = first.distributions.iter().map(Distribution::id).collect();
    assert_eq!(listed, vec![ids[4], ids[3], ids[2]]);
    let second = store
        .list_distributions(&page(3, first.next_page_token, vec![]))
        .await
        .unwrap();
    let listed: Vec<DistributionId> = second.distributions.iter().map(Distribution::id).collect();
    assert_eq!(listed, vec![ids[1], ids[0]]);
    assert!(second.next_page_token.is_none());
    let filtered = store
        .list_distributions(&page(10, None, vec![DistributionState::Cancelling]))
        .await
        .unwrap();
    assert_eq!(
        filtered.distributions.iter().map(Distribution::id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
}
