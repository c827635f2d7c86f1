//! Optimistic updates and the event log they append to.

use amicopy::{
    domain::{AccountId, CopyImageInput, Failure, JobId, JobState},
    store::StoreError,
};

use crate::store::harness::{Harness, create, edited, new_job, now, parse, request, secs};

crate::on_both!(store:
    an_update_with_a_stale_version_conflicts,
    events_are_appended_in_order_without_gaps,
    count_jobs_counts_one_region_in_the_given_states,
    concurrent_updates_sharing_commits_each_get_their_own_answer,
);

async fn an_update_with_a_stale_version_conflicts(h: &Harness) {
    let job = create(&*h.store, new_job("acme", request("versioned", None), now())).await;
    let change = edited(&job, |j| j.attempts = 1);
    let stored = h.store.update_job(&change, None).await.unwrap();
    assert_eq!((stored.version(), stored.attempts()), (2, 1));
    assert!(stored.updated_at() >= job.updated_at());
    assert_eq!(h.store.get_job_any_tenant(job.id()).await.unwrap(), stored);

    let stale = edited(&job, |j| j.state = JobState::Cancelled);
    assert!(
        matches!(h.store.update_job(&stale, Some("too late")).await, Err(StoreError::Conflict(id)) if id == job.id())
    );
    let unchanged = h.store.get_job_any_tenant(job.id()).await.unwrap();
    assert_eq!(unchanged, stored, "a conflicting update changes nothing");
    assert_eq!(
        h.store.list_events(job.id(), 0, 10).await.unwrap().len(),
        1,
        "nor appends an event"
    );

    let unknown = edited(&job, |j| j.id = JobId::new());
    assert!(matches!(
        h.store.update_job(&unknown, None).await,
        Err(StoreError::NotFound(_))
    ));
}

async fn events_are_appended_in_order_without_gaps(h: &Harness) {
    let now = now();
    let mut job = create(&*h.store, new_job("acme", request("eventful", None), now)).await;

    job = edited(&job, |j| {
        j.state = JobState::Copying;
        j.attempts = 1;
        j.image_id = Some("ami-0123456789abcdef0".to_owned());
        j.lease_owner = Some("replica-a".to_owned());
        j.lease_expires_at = Some(secs(now, 30));
    });
    job = h.store.update_job(&job, Some("copy started")).await.unwrap();
    assert_eq!((job.version(), job.last_event_sequence()), (2, 2));
    assert_eq!(job.lease_owner(), Some("replica-a"));
    assert_eq!(job.lease_expires_at(), Some(secs(now, 30)));

    job = edited(&job, |j| {
        j.progress_percent = Some(40);
        j.next_attempt_at = secs(now, 5);
    });
    job = h.store.update_job(&job, None).await.unwrap();
    assert_eq!(
        (job.version(), job.last_event_sequence()),
        (3, 2),
        "no detail, no event"
    );
    assert_eq!(job.next_attempt_at(), secs(now, 5));

    job = edited(&job, |j| j.progress_percent = Some(60));
    job = h.store.update_job(&job, Some("60% copied")).await.unwrap();
    job = edited(&job, |j| {
        j.state = JobState::Failed;
        j.failure = Some(Failure::new("InvalidAMIID.NotFound", "gone"));
        j.lease_owner = None;
        j.lease_expires_at = None;
    });
    job = h.store.update_job(&job, Some("copy failed")).await.unwrap();
    assert_eq!((job.version(), job.last_event_sequence()), (5, 4));
    assert_eq!(job.failure(), Some(&Failure::new("InvalidAMIID.NotFound", "gone")));
    assert_eq!((job.lease_owner(), job.lease_expires_at()), (None, None));

    let events = h.store.list_events(job.id(), 0, 100).await.unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.sequence,
                e.state,
                e.progress_percent,
                e.failure_code.as_deref(),
                e.detail.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, JobState::Queued, None, None, summary[0].4),
            (2, JobState::Copying, None, None, "copy started"),
            (3, JobState::Copying, Some(60), None, "60% copied"),
            (
                4,
                JobState::Failed,
                Some(60),
                Some("InvalidAMIID.NotFound"),
                "copy failed"
            ),
        ]
    );
    assert!(
        events[1..]
            .iter()
            .all(|e| e.image_id.as_deref() == Some("ami-0123456789abcdef0"))
    );
    assert!(events.windows(2).all(|w| w[0].created_at <= w[1].created_at));
    assert_eq!(events[3].created_at, job.updated_at());

    let tail = h.store.list_events(job.id(), 2, 1).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![3]);
    assert!(h.store.list_events(job.id(), 4, 10).await.unwrap().is_empty());
    assert!(h.store.list_events(JobId::new(), 0, 10).await.unwrap().is_empty());
}

async fn count_jobs_counts_one_region_in_the_given_states(h: &Harness) {
    let into = |region: &str, name: &str| {
        parse(CopyImageInput {
            name: name.to_owned(),
            destination_region: region.to_owned(),
            ..Default::default()
        })
    };
    let mut west = Vec::new();
    for i in 0..4 {
        west.push(
            create(
                &*h.store,
                new_job("acme", into("us-west-2", &format!("west {i}")), now()),
            )
            .await,
        );
    }
    create(&*h.store, new_job("globex", into("us-west-2", "other tenant"), now())).await;
    let europe = create(&*h.store, new_job("acme", into("eu-west-1", "europe 0"), now())).await;
    for (job, state) in west
        .iter()
        .zip([JobState::Copying, JobState::Copying, JobState::Cancelling])
    {
        let job = edited(job, |j| j.state = state);
        h.store.update_job(&job, Some("moved")).await.unwrap();
    }
    let europe = edited(&europe, |j| j.state = JobState::Copying);
    h.store.update_job(&europe, Some("moved")).await.unwrap();
    let other_account = AccountId::parse("222233334444").unwrap();
    let elsewhere = create(
        &*h.store,
        new_job(
            "acme",
            parse(CopyImageInput {
                name: "west in another account".to_owned(),
                destination_region: "us-west-2".to_owned(),
                destination_account_id: other_account.to_string(),
                ..Default::default()
            }),
            now(),
        ),
    )
    .await;
    let elsewhere = edited(&elsewhere, |j| j.state = JobState::Copying);
    h.store.update_job(&elsewhere, Some("moved")).await.unwrap();

    let in_progress = [JobState::Copying, JobState::Cancelling];
    assert_eq!(h.store.count_jobs(None, "us-west-2", &in_progress).await.unwrap(), 3);
    assert_eq!(
        h.store
            .count_jobs(None, "us-west-2", &[JobState::Queued])
            .await
            .unwrap(),
        2,
        "every tenant counts"
    );
    assert_eq!(h.store.count_jobs(None, "eu-west-1", &in_progress).await.unwrap(), 1);
    assert_eq!(h.store.count_jobs(None, "ap-south-1", &in_progress).await.unwrap(), 0);
    assert_eq!(h.store.count_jobs(None, "us-west-2", &[]).await.unwrap(), 0);
    assert_eq!(
        h.store
            .count_jobs(Some(&other_account), "us-west-2", &in_progress)
            .await
            .unwrap(),
        1,
        "each account counts on its own, as EC2's quotas do"
    );
}

// Concurrent changes share commits on PostgreSQL: 40 jobs changed at once, each written with its
// event and returned as stored; two writers of one more job at the same version: exactly one
// wins, the other conflicts; a change of a job that does not exist is NotFound, not a conflict.
async fn concurrent_updates_sharing_commits_each_get_their_own_answer(h: &Harness) {
    let now = now();
    let mut jobs = Vec::new();
    for i in 0..41 {
        jobs.push(create(&*h.store, new_job("acme", request(&format!("shared-{i}"), None), now)).await);
    }
    let contested = jobs.pop().unwrap();
    let mut writes: Vec<(amicopy::domain::Job, Option<String>)> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let change = edited(job, |j| {
                j.attempts = 1;
                j.progress_percent = Some(u8::try_from(i).unwrap());
            });
            (change, (i % 2 == 0).then(|| format!("change {i}")))
        })
        .collect();
    for winner in ["first", "second"] {
        writes.push((
            edited(&contested, |j| j.state = JobState::Cancelled),
            Some(winner.to_owned()),
        ));
    }
    writes.push((edited(&contested, |j| j.id = JobId::new()), Some("nobody".to_owned())));

    let answers = futures::future::join_all(writes.into_iter().map(|(job, detail)| {
        let store = h.store.clone();
        tokio::spawn(async move { (store.update_job(&job, detail.as_deref()).await, job, detail) })
    }))
    .await;
    let (mut contested_wins, mut conflicts, mut missing) = (0, 0, 0);
    for answer in answers {
        let (result, job, detail) = answer.expect("task ran");
        match result {
            Ok(stored) => {
                assert_eq!(stored.version(), job.version() + 1);
                assert_eq!(stored.progress_percent(), job.progress_percent());
                assert_eq!(
                    h.store.get_job_any_tenant(stored.id()).await.unwrap(),
                    stored,
                    "returned as stored"
                );
                let events = h.store.list_events(stored.id(), 0, 10).await.unwrap();
                assert_eq!(events.len(), 1 + usize::from(detail.is_some()));
                assert_eq!(stored.last_event_sequence(), events.len() as u64);
                if let Some(detail) = detail {
                    assert_eq!(events.last().unwrap().detail, detail);
                }
                if stored.id() == contested.id() {
                    contested_wins += 1;
                }
            }
            Err(StoreError::Conflict(id)) => {
                assert_eq!(id, contested.id());
                conflicts += 1;
            }
            Err(StoreError::NotFound(_)) => missing += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((contested_wins, conflicts, missing), (1, 1, 1));
}
