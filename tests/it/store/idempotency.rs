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
    concurrent_calls_sharing_commits_each_get_their_own_answer,
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

// Concurrent creates share commits on PostgreSQL: 16 tokens used four times each, one of them
// also with other parameters, and 32 calls without a token, all at once. Every call gets the
// answer it would get in some order of the calls one at a time, and each new job is returned as
// stored, with its one event.
async fn concurrent_calls_sharing_commits_each_get_their_own_answer(h: &Harness) {
    let mut calls = Vec::new();
    for round in 0..4 {
        for token in 0..16 {
            calls.push(new_job(
                "acme",
                request(&format!("shared-{token}"), Some(&format!("tok-s{token}"))),
                now(),
            ));
        }
        for i in 0..8 {
            calls.push(new_job("acme", request(&format!("untokened-{round}-{i}"), None), now()));
        }
    }
    calls.push(new_job("acme", request("other parameters", Some("tok-s3")), now()));
    let answers = futures::future::join_all(calls.into_iter().map(|accepted| {
        let store = h.store.clone();
        tokio::spawn(async move { (store.create_job(&accepted).await, accepted) })
    }))
    .await;

    let mut by_token = std::collections::HashMap::new();
    let (mut new, mut mismatches) = (0, 0);
    for answer in answers {
        let (created, accepted) = answer.expect("task ran");
        let token = accepted
            .job()
            .request()
            .client_token
            .as_ref()
            .map(|t| t.as_str().to_owned());
        match created {
            Ok(Created::New(job)) => {
                new += 1;
                assert_eq!(job.id(), accepted.job().id());
                assert_eq!(
                    h.store.get_job_any_tenant(job.id()).await.unwrap(),
                    job,
                    "returned as stored"
                );
                assert_eq!(h.store.list_events(job.id(), 0, 10).await.unwrap().len(), 1);
                if let Some(token) = token {
                    by_token.entry(token).or_insert_with(HashSet::new).insert(job.id());
                }
            }
            Ok(Created::Existing(job)) => {
                by_token
                    .entry(token.expect("only tokens find earlier jobs"))
                    .or_insert_with(HashSet::new)
                    .insert(job.id());
            }
            Err(StoreError::IdempotentParameterMismatch { token, .. }) => {
                assert_eq!(token, "tok-s3");
                mismatches += 1;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(new, 16 + 32, "one job per token and one per untokened call");
    assert_eq!(by_token.len(), 16);
    assert!(
        by_token.values().all(|ids| ids.len() == 1),
        "every use of a token got one job"
    );
    // Whichever use of tok-s3 committed first owns it; the uses that differ from it are refused.
    let owner = by_token["tok-s3"].iter().next().unwrap();
    let owner = h.store.get_job_any_tenant(*owner).await.unwrap();
    let expected = if owner.request().name.as_str() == "other parameters" {
        4
    } else {
        1
    };
    assert_eq!(mismatches, expected, "tok-s3 went to {:?}", owner.request().name);
    assert_eq!(count(h, "acme").await, 48);
}
