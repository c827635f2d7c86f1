//! Retention's deletes, on both engines: finished jobs and finished distributions older than a
//! time go, with everything that hangs off them, a batch at a time; work still moving, and
//! anything newer, stays.

use amicopy::{
    domain::{DistributionState, Job, JobState},
    store::{JobStore, ListQuery, StoreError, retention},
};
use chrono::Utc;

use super::distributions::{accept, create, jobs_of, move_job, six};
use crate::store::harness::{self, Harness, edited, new_job, now, request, secs};

crate::on_both!(store:
    finished_jobs_older_than_the_cutoff_go_with_their_events_a_batch_at_a_time,
    finished_distributions_go_with_their_targets_jobs_and_events_and_running_ones_stay,
    a_purge_deletes_everything_finished_before_its_time_in_batches,
);

/// Records a job for `tenant` and moves it to `state` with an event, as the engine would.
async fn job_in(store: &dyn JobStore, name: &str, state: JobState) -> Job {
    let job = harness::create(store, new_job("acme", request(name, None), now())).await;
    if state == JobState::Queued {
        return job;
    }
    let moved = edited(&job, |j| {
        j.state = state;
        if state != JobState::Cancelled {
            j.image_id = Some("ami-0123456789abcdef0".to_owned());
        }
    });
    store.update_job(&moved, Some(&format!("now {state}"))).await.unwrap()
}

async fn is_gone(store: &dyn JobStore, job: &Job) -> bool {
    let gone = matches!(store.get_job_any_tenant(job.id()).await, Err(StoreError::NotFound(_)));
    if gone {
        assert!(
            store.list_events(job.id(), 0, 100).await.unwrap().is_empty(),
            "events go too"
        );
    }
    gone
}

async fn finished_jobs_older_than_the_cutoff_go_with_their_events_a_batch_at_a_time(h: &Harness) {
    let store = &*h.store;
    let mut old = Vec::new();
    for state in JobState::ALL {
        old.push(job_in(store, &format!("old-{state}"), state).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let recent = job_in(store, "recent", JobState::Available).await;

    assert_eq!(
        store.delete_finished_jobs(cutoff, 0).await.unwrap(),
        0,
        "a batch of none"
    );
    assert_eq!(
        store.delete_finished_jobs(cutoff, 2).await.unwrap(),
        2,
        "a batch is bounded"
    );
    assert_eq!(store.delete_finished_jobs(cutoff, 100).await.unwrap(), 1);
    assert_eq!(
        store.delete_finished_jobs(cutoff, 100).await.unwrap(),
        0,
        "nothing left to delete"
    );

    for job in &old {
        assert_eq!(
            is_gone(store, job).await,
            job.state().is_terminal(),
            "a {} job older than the cutoff",
            job.state()
        );
    }
    assert!(!is_gone(store, &recent).await, "a job finished after the cutoff stays");
    let listed = store
        .list_jobs(&ListQuery {
            tenant: "acme".to_owned(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.jobs.len(), 5, "four still moving and the recent one");
}

async fn finished_distributions_go_with_their_targets_jobs_and_events_and_running_ones_stay(h: &Harness) {
    let store = &*h.store;
    let finished = create(store, &accept("acme", six("finished"), now())).await;
    for job in jobs_of(store, finished.id()).await {
        move_job(store, &job, JobState::Available).await;
    }
    let finished_jobs = jobs_of(store, finished.id()).await;
    let running = create(store, &accept("acme", six("running"), now())).await;
    let running_jobs = jobs_of(store, running.id()).await;
    for job in &running_jobs[1..] {
        move_job(store, job, JobState::Available).await;
    }
    let still_copying = move_job(store, &running_jobs[0], JobState::Copying).await;
    assert_eq!(
        store.get_distribution_any_tenant(finished.id()).await.unwrap().state(),
        DistributionState::Succeeded
    );
    let running_events = store.list_distribution_events(running.id(), 0, 1000).await.unwrap();

    let later = secs(now(), 60);
    assert_eq!(
        store.delete_finished_jobs(later, 100).await.unwrap(),
        0,
        "a distribution's jobs go only with their distribution"
    );
    assert_eq!(
        store.delete_finished_distributions(secs(now(), -60), 10).await.unwrap(),
        0
    );
    assert_eq!(store.delete_finished_distributions(later, 0).await.unwrap(), 0);
    assert_eq!(store.delete_finished_distributions(later, 10).await.unwrap(), 1);

    assert!(matches!(
        store.get_distribution_any_tenant(finished.id()).await,
        Err(StoreError::DistributionNotFound(_))
    ));
    assert!(
        store
            .list_distribution_events(finished.id(), 0, 1000)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    for job in &finished_jobs {
        assert!(is_gone(store, job).await, "a finished distribution's job goes with it");
    }
    assert_eq!(
        jobs_of(store, running.id()).await.len(),
        6,
        "a running distribution stays whole"
    );
    assert_eq!(
        store.list_distribution_events(running.id(), 0, 1000).await.unwrap(),
        running_events
    );

    move_job(store, &still_copying, JobState::Available).await;
    assert_eq!(
        store.delete_finished_distributions(secs(now(), 60), 10).await.unwrap(),
        1
    );
    assert!(store.count_by_state().await.unwrap().is_empty(), "no job is left");
}

async fn a_purge_deletes_everything_finished_before_its_time_in_batches(h: &Harness) {
    let store = &*h.store;
    // More than one batch of each kind.
    for i in 0..1_203 {
        job_in(store, &format!("done-{i}"), JobState::Failed).await;
    }
    for i in 0..7 {
        let distribution = create(store, &accept("acme", six(&format!("d{i}")), now())).await;
        for job in jobs_of(store, distribution.id()).await {
            move_job(store, &job, JobState::Cancelled).await;
        }
    }
    let moving = job_in(store, "moving", JobState::Copying).await;

    let purged = retention::purge(store, secs(now(), 60)).await.unwrap();
    assert_eq!(
        purged,
        retention::Purged {
            jobs: 1_203,
            distributions: 7
        }
    );
    assert_eq!(
        retention::purge(store, secs(now(), 60)).await.unwrap(),
        retention::Purged::default()
    );
    assert!(!is_gone(store, &moving).await);
}
