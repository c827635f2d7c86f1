//! Client tokens: one job per tenant, destination Region and token, however many calls race.

use std::collections::HashSet;

use amicopy::{
    domain::CopyImageInput,
    store::{Created, ListQuery, StoreError},
};

use crate::store::harness::{Harness, create, new_job, now, parse, request};

crate::on_both!(store:
    same_token_same_params_returns_the_existing_job,
    same_token_other_params_is_mismatch,
    no_token_creates_a_new_job_every_time,
    same_token_in_another_region_or_tenant_is_another_job,
    fifty_concurrent_identical_calls_create_exactly_one_job,
);

async fn count(h: &Harness, tenant: &str) -> usize {
    let query = ListQuery {
        tenant: tenant.to_owned(),
        page_size: 1000,
        ..Default::default()
    };
    h.store.list_jobs(&query).await.unwrap().jobs.len()
}

async fn same_token_same_params_returns_the_existing_job(h: &Harness) {
    let first = create(&*h.store, new_job("acme", request("retried", Some("tok-1")), now())).await;
    let again = h
        .store
        .create_job(&new_job("acme", request("retried", Some("tok-1")), now()))
        .await
        .unwrap();
    let Created::Existing(existing) = again else {
        panic!("a retry recorded a second job: {again:?}")
    };
    assert_eq!(existing, first);
    assert_eq!(count(h, "acme").await, 1);
    assert_eq!(
        h.store.list_events(first.id(), 0, 10).await.unwrap().len(),
        1,
        "a retry appends no event"
    );
}

async fn same_token_other_params_is_mismatch(h: &Harness) {
    let first = create(&*h.store, new_job("acme", request("original", Some("tok-2")), now())).await;
    let other = h
        .store
        .create_job(&new_job("acme", request("changed", Some("tok-2")), now()))
        .await;
    match other {
        Err(StoreError::IdempotentParameterMismatch { token, existing }) => {
            assert_eq!((token.as_str(), existing), ("tok-2", first.id()));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(count(h, "acme").await, 1);
}

async fn no_token_creates_a_new_job_every_time(h: &Harness) {
    let mut ids = HashSet::new();
    for _ in 0..3 {
        ids.insert(
            create(&*h.store, new_job("acme", request("untokened", None), now()))
                .await
                .id(),
        );
    }
    assert_eq!(ids.len(), 3);
    assert_eq!(count(h, "acme").await, 3);
}

async fn same_token_in_another_region_or_tenant_is_another_job(h: &Harness) {
    let west = create(
        &*h.store,
        new_job("acme", request("scoped token", Some("tok-3")), now()),
    )
    .await;
    let europe = parse(CopyImageInput {
        name: "scoped token".to_owned(),
        client_token: "tok-3".to_owned(),
        destination_region: "eu-west-1".to_owned(),
        ..Default::default()
    });
    let in_europe = create(&*h.store, new_job("acme", europe, now())).await;
    let for_globex = create(
        &*h.store,
        new_job("globex", request("scoped token", Some("tok-3")), now()),
    )
    .await;
    assert_eq!(HashSet::from([west.id(), in_europe.id(), for_globex.id()]).len(), 3);
    // Tokens are case-sensitive, as on EC2.
    create(
        &*h.store,
        new_job("acme", request("scoped token", Some("TOK-3")), now()),
    )
    .await;
}

async fn fifty_concurrent_identical_calls_create_exactly_one_job(h: &Harness) {
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let store = h.store.clone();
            tokio::spawn(async move {
                store
                    .create_job(&new_job("acme", request("stampede", Some("tok-50")), now()))
                    .await
            })
        })
        .collect();
    let mut new = 0;
    let mut ids = HashSet::new();
    for call in futures::future::join_all(calls).await {
        match call.expect("task ran").expect("every call succeeds") {
            Created::New(job) => {
                new += 1;
                ids.insert(job.id());
            }
            Created::Existing(job) => {
                ids.insert(job.id());
            }
        }
    }
    assert_eq!(new, 1, "exactly one call recorded the job");
    assert_eq!(ids.len(), 1, "every call got the same job");
    assert_eq!(count(h, "acme").await, 1);
    let id = ids.into_iter().next().unwrap();
    assert_eq!(h.store.list_events(id, 0, 100).await.unwrap().len(), 1);
}
