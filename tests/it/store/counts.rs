//! Counting jobs per state and destination Region, as the metrics gauges read them.

use amicopy::{
    domain::{CopyImageInput, JobState},
    store::StateCount,
};

use crate::store::harness::{Harness, create, edited, new_job, now, parse, request};

crate::on_both!(store: jobs_are_counted_per_state_and_destination_region);

async fn jobs_are_counted_per_state_and_destination_region(h: &Harness) {
    assert!(
        h.store.count_by_state().await.unwrap().is_empty(),
        "an empty store counts nothing"
    );
    create(&*h.store, new_job("acme", request("one", None), now())).await;
    create(&*h.store, new_job("globex", request("two", None), now())).await;
    let to_ireland = parse(CopyImageInput {
        name: "three".to_owned(),
        destination_region: "eu-west-1".to_owned(),
        ..Default::default()
    });
    let copying = create(&*h.store, new_job("acme", to_ireland, now())).await;
    let started = edited(&copying, |j| {
        j.state = JobState::Copying;
        j.image_id = Some("ami-0123456789abcdef0".to_owned());
    });
    h.store.update_job(&started, Some("copy started")).await.unwrap();

    let mut counts = h.store.count_by_state().await.unwrap();
    counts.sort_by(|a, b| a.destination_region.cmp(&b.destination_region));
    assert_eq!(
        counts,
        vec![
            StateCount {
                state: JobState::Copying,
                destination_region: "eu-west-1".to_owned(),
                count: 1,
            },
            StateCount {
                state: JobState::Queued,
                destination_region: "us-west-2".to_owned(),
                count: 2,
            },
        ]
    );
}
