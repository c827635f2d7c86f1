//! Recording, reading and listing jobs.

use amicopy::{
    domain::{CopyImageInput, Job, JobId, JobState, Tag, TagSpecificationInput},
    store::{ListQuery, PageToken, StoreError},
};

use crate::store::harness::{Harness, create, edited, new_job, now, parse, request, secs};

crate::on_both!(store:
    a_created_job_is_queued_with_its_first_event,
    every_request_field_survives_the_round_trip,
    jobs_are_scoped_to_their_tenant,
    concurrent_reads_each_get_their_own_answer,
    jobs_are_listed_newest_first_page_by_page,
    list_filters_by_state_and_regions,
    pages_stay_stable_when_jobs_are_inserted_between_them,
    a_page_token_resumes_after_its_position_and_garbage_is_invalid,
    the_newest_event_of_many_jobs_is_read_at_once,
);

async fn the_newest_event_of_many_jobs_is_read_at_once(h: &Harness) {
    assert!(h.store.newest_event_sequences(&[]).await.unwrap().is_empty());
    let quiet = create(&*h.store, new_job("acme", request("quiet", None), now())).await;
    let moved = create(&*h.store, new_job("globex", request("moved", None), now())).await;
    let started = edited(&moved, |j| {
        j.state = JobState::Copying;
        j.image_id = Some("ami-0123456789abcdef0".to_owned());
    });
    let started = h.store.update_job(&started, Some("copy started")).await.unwrap();
    let progressed = edited(&started, |j| j.progress_percent = Some(40));
    h.store.update_job(&progressed, Some("40%")).await.unwrap();
    let unknown = JobId::new();

    let mut newest = h
        .store
        .newest_event_sequences(&[moved.id(), unknown, quiet.id()])
        .await
        .unwrap();
    newest.sort_by_key(|&(_, sequence)| sequence);
    assert_eq!(
        newest,
        vec![(quiet.id(), 1), (moved.id(), 3)],
        "each job's last event, across tenants; none for a job that does not exist"
    );
}

async fn a_created_job_is_queued_with_its_first_event(h: &Harness) {
    let now = now();
    let id = JobId::new();
    let lease = ("replica-a".to_owned(), secs(now, 30));
    let new = Job::accept(id, "acme", request("first", None), now, Some(lease));
    let job = create(&*h.store, new.clone()).await;

    assert_eq!(job.id(), id);
    assert_eq!(job.tenant(), "acme");
    assert_eq!(job.request(), new.job().request());
    assert_eq!(job.request_hash(), new.job().request().fingerprint());
    assert_eq!(job.state(), JobState::Queued);
    assert_eq!((job.version(), job.attempts(), job.last_event_sequence()), (1, 0, 1));
    assert_eq!(
        (job.image_id(), job.failure(), job.progress_percent()),
        (None, None, None)
    );
    assert_eq!(
        (job.created_at(), job.updated_at(), job.next_attempt_at()),
        (now, now, now)
    );
    assert_eq!(job.lease_owner(), Some("replica-a"));
    assert_eq!(job.lease_expires_at(), Some(secs(now, 30)));

    assert_eq!(h.store.get_tenant_job("acme", id).await.unwrap(), job);
    assert_eq!(h.store.get_job_any_tenant(id).await.unwrap(), job);
    let events = h.store.list_events(id, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].job_id, events[0].sequence, events[0].state),
        (id, 1, JobState::Queued)
    );
    assert_eq!(events[0].created_at, now);
    assert!(events[0].detail.contains("accepted"), "{:?}", events[0].detail);
}

async fn every_request_field_survives_the_round_trip(h: &Harness) {
    let full = CopyImageInput {
        client_token: "token-full".to_owned(),
        copy_image_tags: true,
        description: "nightly build, copied: ünïcode & 'quotes'".to_owned(),
        encrypted: Some(true),
        kms_key_id: "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".to_owned(),
        name: "full [copy] (1)".to_owned(),
        destination_region: "us-west-2".to_owned(),
        snapshot_copy_completion_duration_minutes: Some(45),
        tag_specifications: vec![
            TagSpecificationInput {
                resource_type: "image".to_owned(),
                tags: vec![Tag::new("team", "imaging"), Tag::new("empty", "")],
            },
            TagSpecificationInput {
                resource_type: "snapshot".to_owned(),
                tags: vec![Tag::new("team", "storage")],
            },
        ],
        ..Default::default()
    };
    let outpost = CopyImageInput {
        name: "to an outpost".to_owned(),
        source_region: "us-west-2".to_owned(),
        destination_outpost_arn: "arn:aws:outposts:us-west-2:123456789012:outpost/op-0123456789abcdef0".to_owned(),
        ..Default::default()
    };
    let zone = CopyImageInput {
        name: "to a local zone".to_owned(),
        destination_availability_zone: "us-west-2-lax-1a".to_owned(),
        ..Default::default()
    };
    let zone_id = CopyImageInput {
        name: "to a local zone id".to_owned(),
        destination_availability_zone_id: "usw2-lax1-az1".to_owned(),
        ..Default::default()
    };
    for input in [full, outpost, zone, zone_id] {
        let request = parse(input);
        let job = create(&*h.store, new_job("acme", request.clone(), now())).await;
        let stored = h.store.get_job_any_tenant(job.id()).await.unwrap();
        assert_eq!(stored.request(), &request);
        assert_eq!(stored.request().fingerprint(), stored.request_hash());
    }
}

async fn jobs_are_scoped_to_their_tenant(h: &Harness) {
    let job = create(&*h.store, new_job("acme", request("scoped", None), now())).await;
    assert!(
        matches!(h.store.get_tenant_job("globex", job.id()).await, Err(StoreError::NotFound(id)) if id == job.id())
    );
    assert_eq!(h.store.get_job_any_tenant(job.id()).await.unwrap().tenant(), "acme");
    let missing = JobId::new();
    assert!(matches!(h.store.get_tenant_job("acme", missing).await, Err(StoreError::NotFound(id)) if id == missing));
    assert!(matches!(
        h.store.get_job_any_tenant(missing).await,
        Err(StoreError::NotFound(_))
    ));
    let page = h.store.list_jobs(&query("globex", 10)).await.unwrap();
    assert!(page.jobs.is_empty() && page.next_page_token.is_none());
}

/// Concurrent reads of single jobs (which PostgreSQL answers with shared queries) each get their
/// own answer: the job asked for, or NotFound for another tenant's job and for one that does not
/// exist, whatever else shares the query.
async fn concurrent_reads_each_get_their_own_answer(h: &Harness) {
    let mut acme = Vec::new();
    for k in 0..3 {
        acme.push(create(&*h.store, new_job("acme", request(&format!("acme-{k}"), None), now())).await);
    }
    let globex = create(&*h.store, new_job("globex", request("globex", None), now())).await;
    let missing = JobId::new();
    let cases: Vec<(Option<&str>, JobId, Option<&Job>)> = (0..64)
        .map(|k| match k % 5 {
            0 => (Some("acme"), acme[k % 3].id(), Some(&acme[k % 3])),
            1 => (Some("acme"), globex.id(), None),
            2 => (None, globex.id(), Some(&globex)),
            3 => (Some("globex"), missing, None),
            _ => (None, acme[k % 3].id(), Some(&acme[k % 3])),
        })
        .collect();
    let answers = futures::future::join_all(cases.iter().map(|(tenant, id, _)| async move {
        match tenant {
            Some(tenant) => h.store.get_tenant_job(tenant, *id).await,
            None => h.store.get_job_any_tenant(*id).await,
        }
    }))
    .await;
    for ((tenant, id, expected), answer) in cases.iter().zip(answers) {
        match (expected, answer) {
            (Some(expected), Ok(job)) => assert_eq!(&&job, expected, "{tenant:?} reading {id}"),
            (None, Err(StoreError::NotFound(not_found))) => assert_eq!(not_found, *id),
            (expected, answer) => panic!("{tenant:?} reading {id}: expected {expected:?}, got {answer:?}"),
        }
    }
}

fn query(tenant: &str, page_size: u32) -> ListQuery {
    ListQuery {
        tenant: tenant.to_owned(),
        page_size,
        ..Default::default()
    }
}

/// Every page of `query`, followed to the end.
async fn all_pages(h: &Harness, mut query: ListQuery) -> Vec<Vec<JobId>> {
    let mut pages = Vec::new();
    loop {
        let page = h.store.list_jobs(&query).await.unwrap();
        assert!(page.jobs.len() <= query.page_size as usize);
        pages.push(page.jobs.iter().map(|job| job.id()).collect());
        match page.next_page_token {
            Some(token) => query.page_token = Some(token),
            None => return pages,
        }
    }
}

async fn jobs_are_listed_newest_first_page_by_page(h: &Harness) {
    let start = now();
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            create(
                &*h.store,
                new_job("acme", request(&format!("job {i}"), None), secs(start, i)),
            )
            .await
            .id(),
        );
    }
    // Two jobs in the same microsecond are ordered by id.
    let tie = [
        create(&*h.store, new_job("acme", request("tie a", None), secs(start, 3)))
            .await
            .id(),
        create(&*h.store, new_job("acme", request("tie b", None), secs(start, 3)))
            .await
            .id(),
    ];
    create(
        &*h.store,
        new_job("globex", request("other tenant", None), secs(start, 5)),
    )
    .await;

    let pages = all_pages(h, query("acme", 3)).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 3]);
    let listed: Vec<JobId> = pages.concat();
    let mut expected = vec![ids[6], ids[5], ids[4]];
    let mut at_three = vec![ids[3], tie[0], tie[1]];
    at_three.sort_by(|a, b| b.cmp(a));
    expected.extend(at_three);
    expected.extend([ids[2], ids[1], ids[0]]);
    assert_eq!(listed, expected);

    let single = h.store.list_jobs(&query("acme", 100)).await.unwrap();
    assert_eq!(single.jobs.len(), 9);
    assert!(single.next_page_token.is_none(), "no token when everything fit");
}

async fn list_filters_by_state_and_regions(h: &Harness) {
    let now = now();
    let mut made = Vec::new();
    for (i, (source, destination)) in [
        ("us-east-1", "us-west-2"),
        ("us-east-1", "eu-west-1"),
        ("eu-west-1", "us-west-2"),
    ]
    .into_iter()
    .enumerate()
    {
        let request = parse(CopyImageInput {
            name: format!("filtered {i}"),
            source_region: source.to_owned(),
            destination_region: destination.to_owned(),
            ..Default::default()
        });
        made.push(create(&*h.store, new_job("acme", request, secs(now, i as i64))).await);
    }
    let copying = edited(&made[1], |j| j.state = JobState::Copying);
    h.store.update_job(&copying, Some("copying")).await.unwrap();
    let failed = edited(&made[2], |j| j.state = JobState::Failed);
    h.store.update_job(&failed, Some("failed")).await.unwrap();

    let ids = |jobs: Vec<amicopy::domain::Job>| jobs.into_iter().map(|job| job.id()).collect::<Vec<_>>();
    let list = |query: ListQuery| async move { ids(h.store.list_jobs(&query).await.unwrap().jobs) };
    let base = query("acme", 10);
    assert_eq!(list(base.clone()).await, vec![made[2].id(), made[1].id(), made[0].id()]);
    let by_state = ListQuery {
        states: vec![JobState::Copying],
        ..base.clone()
    };
    assert_eq!(list(by_state).await, vec![made[1].id()]);
    let by_states = ListQuery {
        states: vec![JobState::Queued, JobState::Failed],
        ..base.clone()
    };
    assert_eq!(list(by_states).await, vec![made[2].id(), made[0].id()]);
    let by_source = ListQuery {
        source_region: Some("us-east-1".to_owned()),
        ..base.clone()
    };
    assert_eq!(list(by_source).await, vec![made[1].id(), made[0].id()]);
    let by_destination = ListQuery {
        destination_region: Some("us-west-2".to_owned()),
        ..base.clone()
    };
    assert_eq!(list(by_destination).await, vec![made[2].id(), made[0].id()]);
    let combined = ListQuery {
        states: vec![JobState::Queued, JobState::Copying],
        source_region: Some("us-east-1".to_owned()),
        destination_region: Some("eu-west-1".to_owned()),
        ..base.clone()
    };
    assert_eq!(list(combined).await, vec![made[1].id()]);
    let none = ListQuery {
        states: vec![JobState::Cancelled],
        ..base
    };
    assert!(list(none).await.is_empty());
}

async fn pages_stay_stable_when_jobs_are_inserted_between_them(h: &Harness) {
    let start = now();
    let mut older = Vec::new();
    for i in 0..5 {
        older.push(
            create(
                &*h.store,
                new_job("acme", request(&format!("old {i}"), None), secs(start, i)),
            )
            .await
            .id(),
        );
    }
    let first = h.store.list_jobs(&query("acme", 2)).await.unwrap();
    assert_eq!(
        first.jobs.iter().map(|j| j.id()).collect::<Vec<_>>(),
        vec![older[4], older[3]]
    );
    for i in 0..3 {
        create(
            &*h.store,
            new_job("acme", request(&format!("new {i}"), None), secs(start, 10 + i)),
        )
        .await;
    }
    let rest = all_pages(
        h,
        ListQuery {
            page_token: first.next_page_token,
            ..query("acme", 2)
        },
    )
    .await;
    assert_eq!(
        rest.concat(),
        vec![older[2], older[1], older[0]],
        "no job twice, none skipped"
    );
}

async fn a_page_token_resumes_after_its_position_and_garbage_is_invalid(h: &Harness) {
    let start = now();
    let a = create(&*h.store, new_job("acme", request("job a", None), secs(start, 0))).await;
    let b = create(&*h.store, new_job("acme", request("job b", None), secs(start, 1))).await;
    // A token decoded from its string form resumes where it says, whatever issued it.
    let token = PageToken::decode(
        &PageToken {
            created_at: b.created_at(),
            id: b.id().as_uuid(),
        }
        .encode(),
    )
    .unwrap();
    let page = h
        .store
        .list_jobs(&ListQuery {
            page_token: Some(token),
            ..query("acme", 10)
        })
        .await
        .unwrap();
    assert_eq!(page.jobs.iter().map(|j| j.id()).collect::<Vec<_>>(), vec![a.id()]);
    for garbage in ["", "not-hex", "00ff", &hex_of("v1:abc:def")] {
        assert!(
            matches!(PageToken::decode(garbage), Err(StoreError::InvalidPageToken)),
            "{garbage:?}"
        );
    }
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
