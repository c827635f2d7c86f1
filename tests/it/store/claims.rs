//! Leases: which jobs a replica may take, and that two replicas never take the same one.

use std::collections::HashSet;

use amicopy::{
    domain::{Job, JobId, JobState, StoredJob},
    store::{Claim, JobStore},
};
use chrono::{DateTime, Utc};

use crate::store::harness::{Harness, create, edited, new_job, now, request, secs};

crate::on_both!(store:
    only_due_free_jobs_in_the_asked_states_are_claimed,
    claims_take_the_oldest_due_first_and_renew_the_claimants_own,
    an_expired_lease_is_taken_over,
    a_claim_of_zero_takes_nothing,
    concurrent_claimants_never_share_a_job,
    deferred_jobs_are_released_and_not_due_until_later,
);

fn claim(owner: &str, states: &[JobState], now: DateTime<Utc>, limit: u32) -> Claim {
    Claim {
        owner: owner.to_owned(),
        states: states.to_vec(),
        now,
        lease_until: secs(now, 60),
        limit,
    }
}

/// Records a queued job and then sets it as `change` says.
async fn job_with(store: &dyn JobStore, name: &str, now: DateTime<Utc>, change: impl FnOnce(&mut StoredJob)) -> Job {
    let job = create(store, new_job("acme", request(name, None), now)).await;
    store.update_job(&edited(&job, change), None).await.unwrap()
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|job| job.id()).collect()
}

async fn only_due_free_jobs_in_the_asked_states_are_claimed(h: &Harness) {
    let now = now();
    let store = &*h.store;
    let due = job_with(store, "due", now, |j| j.next_attempt_at = secs(now, -10)).await;
    let due_now = job_with(store, "due now", now, |j| j.next_attempt_at = now).await;
    job_with(store, "later", now, |j| j.next_attempt_at = secs(now, 10)).await;
    job_with(store, "copying", now, |j| {
        j.state = JobState::Copying;
        j.next_attempt_at = secs(now, -10);
    })
    .await;
    job_with(store, "held", now, |j| {
        j.next_attempt_at = secs(now, -10);
        j.lease_owner = Some("replica-b".to_owned());
        j.lease_expires_at = Some(secs(now, 5));
    })
    .await;

    let claimed = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], now, 10))
        .await
        .unwrap();
    assert_eq!(ids(&claimed), vec![due.id(), due_now.id()]);
    for (job, before) in claimed.iter().zip([&due, &due_now]) {
        assert_eq!(job.version(), before.version() + 1);
        assert_eq!(job.lease_owner(), Some("replica-a"));
        assert_eq!(job.lease_expires_at(), Some(secs(now, 60)));
        assert_eq!(
            store.get_job_any_tenant(job.id()).await.unwrap(),
            *job,
            "the claim is stored"
        );
    }
    let copying = store
        .claim_jobs(&claim("replica-a", &[JobState::Copying, JobState::Cancelling], now, 10))
        .await
        .unwrap();
    assert_eq!(copying.len(), 1);
    assert_eq!(copying[0].state(), JobState::Copying);
    assert!(
        store
            .claim_jobs(&claim("replica-c", &[JobState::Queued], now, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_jobs(&claim("replica-a", &[], now, 10))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn claims_take_the_oldest_due_first_and_renew_the_claimants_own(h: &Harness) {
    let now = now();
    let store = &*h.store;
    let mut by_due = Vec::new();
    for offset in [-5, -30, -20, -10] {
        by_due.push((
            offset,
            job_with(store, &format!("due {offset}"), now, |j| {
                j.next_attempt_at = secs(now, offset)
            })
            .await
            .id(),
        ));
    }
    by_due.sort();
    let first = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], now, 2))
        .await
        .unwrap();
    assert_eq!(ids(&first), vec![by_due[0].1, by_due[1].1]);

    // The same replica claims its own jobs again (renewing them) before the rest.
    let later = secs(now, 1);
    let again = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], later, 10))
        .await
        .unwrap();
    assert_eq!(ids(&again), by_due.iter().map(|(_, id)| *id).collect::<Vec<_>>());
    assert!(again.iter().all(|job| job.lease_expires_at() == Some(secs(later, 60))));
    assert_eq!(again[0].version(), first[0].version() + 1);
}

async fn an_expired_lease_is_taken_over(h: &Harness) {
    let now = now();
    let store = &*h.store;
    let job = job_with(store, "abandoned", now, |j| {
        j.lease_owner = Some("dead-replica".to_owned());
        j.lease_expires_at = Some(secs(now, 30));
    })
    .await;
    assert!(
        store
            .claim_jobs(&claim("replica-a", &[JobState::Queued], secs(now, 29), 10))
            .await
            .unwrap()
            .is_empty()
    );
    let taken = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], secs(now, 30), 10))
        .await
        .unwrap();
    assert_eq!(ids(&taken), vec![job.id()]);
    assert_eq!(taken[0].lease_owner(), Some("replica-a"));
    let late = edited(&job, |j| j.state = JobState::Copying);
    assert!(
        store.update_job(&late, Some("the dead replica woke up")).await.is_err(),
        "its stale version conflicts"
    );
}

async fn a_claim_of_zero_takes_nothing(h: &Harness) {
    let now = now();
    let job = create(&*h.store, new_job("acme", request("waiting", None), now)).await;
    assert!(
        h.store
            .claim_jobs(&claim("replica-a", &[JobState::Queued], now, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.store.get_job_any_tenant(job.id()).await.unwrap(), job);
}

async fn concurrent_claimants_never_share_a_job(h: &Harness) {
    let now = now();
    let mut all = HashSet::new();
    for i in 0..60 {
        all.insert(
            create(
                &*h.store,
                new_job("acme", request(&format!("shared {i}"), None), secs(now, -i)),
            )
            .await
            .id(),
        );
    }
    let claimants: Vec<_> = (0..4)
        .map(|n| {
            let store = h.store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store
                        .claim_jobs(&claim(&format!("replica-{n}"), &[JobState::Queued], now, 3))
                        .await
                        .expect("claim");
                    if claimed.is_empty() {
                        return mine;
                    }
                    // Work on each as the engine would: done for now, due again much later.
                    for job in claimed {
                        mine.push(job.id());
                        let job = edited(&job, |j| j.next_attempt_at = secs(now, 3600));
                        store.update_job(&job, None).await.expect("the claimant holds the job");
                    }
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for claimant in futures::future::join_all(claimants).await {
        for id in claimant.expect("claimant ran") {
            assert!(seen.insert(id), "job {id} was claimed by two replicas");
        }
    }
    assert_eq!(seen, all, "every job was claimed");
}

async fn deferred_jobs_are_released_and_not_due_until_later(h: &Harness) {
    let now = now();
    let store = &*h.store;
    for name in ["first", "second", "third"] {
        job_with(store, name, now, |j| j.next_attempt_at = secs(now, -10)).await;
    }
    let mine = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], now, 2))
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
    let other = job_with(store, "other's", now, |j| {
        j.next_attempt_at = secs(now, -10);
        j.lease_owner = Some("replica-b".to_owned());
        j.lease_expires_at = Some(secs(now, 60));
    })
    .await;

    let mut asked: Vec<(JobId, _)> = mine
        .iter()
        .zip([30, 31])
        .map(|(job, seconds)| (job.id(), secs(now, seconds)))
        .collect();
    asked.push((other.id(), secs(now, 30)));
    let deferred = store.defer_jobs(&asked, "replica-a").await.unwrap();
    assert_eq!(deferred, 2, "only the claimant's own jobs are deferred");
    for (job, seconds) in mine.iter().zip([30, 31]) {
        let stored = store.get_job_any_tenant(job.id()).await.unwrap();
        assert_eq!(stored.next_attempt_at(), secs(now, seconds), "each until its own time");
        assert_eq!(stored.lease_owner(), None);
        assert_eq!(
            stored.version(),
            job.version() + 1,
            "deferring is a change: stale writers conflict"
        );
        assert_eq!(
            stored.last_event_sequence(),
            job.last_event_sequence(),
            "no event is appended"
        );
    }
    let untouched = store.get_job_any_tenant(other.id()).await.unwrap();
    assert_eq!(untouched.lease_owner(), Some("replica-b"));

    let next = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], now, 10))
        .await
        .unwrap();
    let next_ids: HashSet<JobId> = ids(&next).into_iter().collect();
    assert_eq!(next.len(), 1, "the deferred jobs are not due, the held one is not free");
    assert!(mine.iter().all(|job| !next_ids.contains(&job.id())));
    let later = store
        .claim_jobs(&claim("replica-a", &[JobState::Queued], secs(now, 32), 10))
        .await
        .unwrap();
    assert!(ids(&mine).iter().all(|id| ids(&later).contains(id)), "due again later");
    assert_eq!(store.defer_jobs(&[], "replica-a").await.unwrap(), 0);
}
