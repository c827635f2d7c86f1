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
