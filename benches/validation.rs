//! What checking a request costs: `CopyRequest::parse` on a typical and on a fully-loaded
//! request, and `CopyRequest::fingerprint`, which every idempotent call computes.

use std::hint::black_box;

use amicopy::domain::{CopyImageInput, CopyRequest, Region, Tag, TagSpecificationInput};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// The required fields only, as most callers send.
fn typical() -> CopyImageInput {
    CopyImageInput {
        source_image_id: "ami-0abcdef1234567890".into(),
        source_region: "us-west-2".into(),
        name: "web-server 2024.06 (base)".into(),
        ..CopyImageInput::default()
    }
}

/// Every field set, with two tag specifications of 50 tags each: the most work one request asks.
fn loaded() -> CopyImageInput {
    let tags = |prefix: &str| {
        (0..50)
            .map(|n| Tag::new(format!("{prefix}-key-{n}"), format!("value number {n}")))
            .collect()
    };
    CopyImageInput {
        client_token: "550e8400-e29b-41d4-a716-446655440000".into(),
        copy_image_tags: true,
        description: "nightly build of the web tier, copied for disaster recovery".into(),
        dry_run: false,
        encrypted: Some(true),
        kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        name: "web-server 2024.06 (base)".into(),
        source_image_id: "ami-0abcdef1234567890".into(),
        source_region: "us-west-2".into(),
        tag_specifications: vec![
            TagSpecificationInput {
                resource_type: "image".into(),
                tags: tags("image"),
            },
            TagSpecificationInput {
                resource_type: "snapshot".into(),
                tags: tags("snapshot"),
            },
        ],
        destination_region: "us-east-1".into(),
        snapshot_copy_completion_duration_minutes: Some(120),
        ..CopyImageInput::default()
    }
}

fn validation(c: &mut Criterion) {
    let region = Region::parse("us-east-1").expect("benchmark Region is valid");
    let typical = typical();
    let loaded = loaded();

    // `parse` takes its input by value: the clone is made outside the measured part.
    for (label, input) in [("parse/typical", &typical), ("parse/loaded", &loaded)] {
        c.bench_function(label, |b| {
            b.iter_batched(
                || input.clone(),
                |input| CopyRequest::parse(black_box(input), &region),
                BatchSize::SmallInput,
            )
        });
    }

    let typical_request = CopyRequest::parse(typical, &region).expect("typical request is valid");
    let loaded_request = CopyRequest::parse(loaded, &region).expect("loaded request is valid");
    c.bench_function("fingerprint/typical", |b| {
        b.iter(|| black_box(&typical_request).fingerprint())
    });
    c.bench_function("fingerprint/loaded", |b| {
        b.iter(|| black_box(&loaded_request).fingerprint())
    });
}

criterion_group!(benches, validation);
criterion_main!(benches);
