//! The simulator against EC2's rules, one behaviour per test, with tokio's paused clock.

mod accounts;
mod copy;
mod deprecation;
mod faults;
mod idempotency;
mod kms;
mod limits;
mod sharing;
mod tags;

use std::{sync::Arc, time::Duration};

use super::{SimBackends, SimSettings, Simulator};
use crate::{
    backend::{
        BackendError, Backends, Ec2Backend, ImageState, StartCopy,
        accounts::{AccountEntry, Accounts, SimAccountSettings},
    },
    domain::{AccountId, CopyImageInput, CopyRequest, LaunchPermissions, Region, TagSpecificationInput},
};

/// The simulator's own account (`--sim-account-id`'s default).
const OWN: &str = "111122223333";
/// A configured destination account.
const TEAM: &str = "222233334444";
/// Another configured account.
const OTHER: &str = "333344445555";

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

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

/// An accounts-file entry for `id`, with the simulator's settings `sim`.
fn entry(id: &str, sim: SimAccountSettings) -> AccountEntry {
    AccountEntry {
        account_id: account(id),
        role_arn: format!("arn:aws:iam::{id}:role/amicopy"),
        external_id: None,
        share_source: true,
        sim,
    }
}

/// A world of the own account, [`TEAM`] and [`OTHER`], with `settings`.
fn world(settings: SimSettings) -> SimBackends {
    world_with(
        settings,
        vec![
            entry(TEAM, SimAccountSettings::default()),
            entry(OTHER, SimAccountSettings::default()),
        ],
    )
}

fn world_with(settings: SimSettings, entries: Vec<AccountEntry>) -> SimBackends {
    SimBackends::new(Simulator::with_accounts(settings, Accounts::fixed(entries)).unwrap())
}

/// The backend of `id` in `world`.
fn as_account(world: &SimBackends, id: &str) -> Arc<dyn Ec2Backend> {
    world.for_account(&account(id)).unwrap()
}

/// Launch permission for these accounts.
fn users(ids: &[&str]) -> LaunchPermissions {
    LaunchPermissions {
        user_ids: ids.iter().map(|id| account(id)).collect(),
        ..LaunchPermissions::default()
    }
}

/// Shares the base image with `id` as EC2 needs for a copy: launch permission and
/// createVolumePermission on its snapshot.
async fn share_base_with(world: &SimBackends, id: &str) {
    let own = world.own();
    let east = region("us-east-1");
    own.add_launch_permissions(&east, BASE, &users(&[id])).await.unwrap();
    let source = own.describe_source_image(&east, BASE).await.unwrap().unwrap();
    for snapshot in &source.snapshot_ids {
        own.add_create_volume_permissions(&east, snapshot, &[account(id)])
            .await
            .unwrap();
    }
}

/// A copy of the base image into us-west-2 made by `backend`.
async fn copy_as(backend: &dyn Ec2Backend, name: &str) -> Result<String, BackendError> {
    backend.copy_image(&call(input(name), "")).await
}
