//! The simulator against EC2's rules, one behaviour per test, with tokio's paused clock.

mod copy;
mod faults;
mod idempotency;
mod limits;
mod tags;

use std::time::Duration;

use super::{SimSettings, Simulator};
use crate::{
    backend::{BackendError, Ec2Backend, ImageState, StartCopy},
    domain::{CopyImageInput, CopyRequest, Region, TagSpecificationInput},
};

/// The built-in base image in us-east-1.
const BASE: &str = "ami-0a1b2c3d4e5f60001";

/// Settings with EC2's defaults (30 s copies in real time) and a fixed seed.
fn settings() -> SimSettings {
    SimSettings {
        sim_seed: Some(1),
        ..SimSettings::default()
    }
}

fn simulator(settings: SimSettings) -> Simulator {
    Simulator::new(settings).unwrap()
}

fn region(code: &str) -> Region {
    Region::parse(code).unwrap()
}

/// A copy of the base image into us-west-2.
fn input(name: &str) -> CopyImageInput {
    CopyImageInput {
        source_image_id: BASE.to_owned(),
        source_region: "us-east-1".to_owned(),
        destination_region: "us-west-2".to_owned(),
        name: name.to_owned(),
        ..CopyImageInput::default()
    }
}

fn tag_spec(resource_type: &str, tags: &[(&str, &str)]) -> TagSpecificationInput {
    TagSpecificationInput {
        resource_type: resource_type.to_owned(),
        tags: tags.iter().map(|(k, v)| crate::domain::Tag::new(*k, *v)).collect(),
    }
}

fn call(input: CopyImageInput, client_token: &str) -> StartCopy {
    StartCopy {
        request: CopyRequest::parse(input, &region("us-west-2")).unwrap(),
        client_token: client_token.to_owned(),
        dry_run: false,
    }
}

async fn copy(sim: &Simulator, input: CopyImageInput) -> Result<String, BackendError> {
    sim.copy_image(&call(input, "")).await
}

async fn advance_secs(seconds: f64) {
    tokio::time::advance(Duration::from_secs_f64(seconds)).await;
}

/// The image's state as DescribeImages reports it.
async fn state_of(sim: &Simulator, region_code: &str, image_id: &str) -> ImageState {
    let images = sim
        .describe_images(&region(region_code), &[image_id.to_owned()])
        .await
        .unwrap();
    assert_eq!(images.len(), 1, "{image_id} should be visible: {images:?}");
    images[0].state.clone()
}
