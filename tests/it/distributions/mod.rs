//! Distributions over gRPC with real components: the server on a loopback port, SQLite and
//! PostgreSQL, the simulator with a second account from an accounts file (so a test can fix a
//! target's fault by rewriting the file and reloading it, and check what the simulated world
//! holds), and against moto and the real binary for crashes.

mod crash;
mod lifecycle;
mod moto;
mod requests;

use std::{path::PathBuf, sync::Arc, time::Duration};

use amicopy::{
    backend::{
        Backends,
        accounts::Accounts,
        sim::{SimBackends, Simulator},
    },
    domain::{AccountId, Region},
    proto::{self, DistributionState, distribution_service_client::DistributionServiceClient},
};
use amicopy_testing::presets::fast_sim;
use tempfile::TempDir;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::support::{Database, JOB_DEADLINE, TestServer, TestStorage};

/// The simulator's own account.
pub const OWN: &str = "111122223333";
/// The second account of the accounts file.
pub const TEAM: &str = "222233334444";
/// An account permissions are granted to.
pub const PARTNER: &str = "333344445555";
/// The simulator's base image, in us-east-1.
pub const BASE: &str = "ami-0a1b2c3d4e5f60001";

/// A server whose simulated world has the own account and [`TEAM`] (from an accounts file),
/// with a DistributionService client.
pub struct World {
    /// The server (its ImageCopyService client included).
    pub server: TestServer,
    /// A DistributionService client of the server.
    pub client: DistributionServiceClient<Channel>,
    /// The simulated world, as its own account sees it.
    pub sim: Arc<Simulator>,
    /// The accounts the simulator reads; [`World::rewrite_accounts`] changes them.
    accounts: Accounts,
    accounts_file: PathBuf,
    storage: TestStorage,
    _dir: TempDir,
}

/// The accounts file with [`TEAM`], whose source is shared by amicopy, and `team_extra` JSON
/// keys in its entry (such as `"sim_kms_keys": {...}`).
fn accounts_json(team_extra: &str) -> String {
    let extra = if team_extra.is_empty() {
        String::new()
    } else {
        format!(", {team_extra}")
    };
    format!(
        r#"{{"accounts":[{{"account_id":"{TEAM}","role_arn":"arn:aws:iam::{TEAM}:role/amicopy","share_source":true{extra}}}]}}"#
    )
}

impl World {
    /// Starts a server on fresh storage with the fast settings plus `extra` flags.
    pub async fn start(database: Database, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let accounts_file = dir.path().join("accounts.json");
        std::fs::write(&accounts_file, accounts_json("")).expect("accounts file");
        let accounts = Accounts::load(accounts_file.clone()).expect("a valid accounts file");
        let simulator = Simulator::with_accounts(fast_sim(), accounts.clone()).expect("simulator");
        let backends = SimBackends::new(simulator);
        let sim = Arc::clone(backends.simulator());
        let storage = TestStorage::new(database).await;
        let backends: Arc<dyn Backends> = Arc::new(backends);
        let server = storage.start(extra, Some(backends)).await;
        let client = DistributionServiceClient::connect(format!("http://{}", server.addr))
            .await
            .expect("client connects");
        Self {
            server,
            client,
            sim,
            accounts,
            accounts_file,
            storage,
            _dir: dir,
        }
    }

    /// Rewrites [`TEAM`]'s entry with `team_extra` and reloads the accounts, as SIGHUP does.
    pub fn rewrite_accounts(&self, team_extra: &str) {
        std::fs::write(&self.accounts_file, accounts_json(team_extra)).expect("accounts file");
        self.accounts.reload().expect("the accounts reload");
    }

    /// Replaces the whole accounts file with `json` and reloads the accounts.
    pub fn rewrite_all_accounts(&self, json: &str) {
        std::fs::write(&self.accounts_file, json).expect("accounts file");
        self.accounts.reload().expect("the accounts reload");
    }

    /// Creates a distribution.
    pub async fn create(
        &mut self,
        request: proto::CreateDistributionRequest,
    ) -> Result<proto::Distribution, tonic::Status> {
        self.client
            .create_distribution(request)
            .await
            .map(|response| response.into_inner().distribution.expect("a distribution"))
    }

    /// The distribution as stored now.
    pub async fn get(&mut self, id: &str) -> proto::Distribution {
        self.client
            .get_distribution(proto::GetDistributionRequest {
                distribution_id: id.to_owned(),
            })
            .await
            .expect("the distribution exists")
            .into_inner()
            .distribution
            .expect("a distribution")
    }

    /// Polls the distribution until `done` holds, or fails the test after [`JOB_DEADLINE`].
    pub async fn wait_for(&mut self, id: &str, done: impl Fn(&proto::Distribution) -> bool) -> proto::Distribution {
        let deadline = tokio::time::Instant::now() + JOB_DEADLINE;
        loop {
            let distribution = self.get(id).await;
            if done(&distribution) {
                return distribution;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "distribution {id} never got there; last seen {distribution:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until the distribution is in `state`.
    pub async fn wait_state(&mut self, id: &str, state: DistributionState) -> proto::Distribution {
        self.wait_for(id, |d| d.state == state as i32).await
    }

    /// Watches a distribution from `after_sequence` to the end of its stream.
    pub async fn watch(&mut self, id: &str, after_sequence: u64) -> Vec<proto::WatchDistributionResponse> {
        let mut stream = self
            .client
            .watch_distribution(proto::WatchDistributionRequest {
                distribution_id: id.to_owned(),
                after_sequence,
            })
            .await
            .expect("the watch starts")
            .into_inner();
        let mut events = Vec::new();
        let collect = async {
            while let Some(message) = stream.next().await {
                events.push(message.expect("a stream item"));
            }
        };
        tokio::time::timeout(JOB_DEADLINE, collect)
            .await
            .expect("the watch ends in time");
        events
    }

    /// What `account` holds in `region` of the simulated world now.
    pub fn inventory(&self, account: &str, region: &str) -> amicopy::backend::sim::SimInventory {
        self.sim.inventory(
            &AccountId::parse(account).expect("account"),
            &Region::parse(region).expect("region"),
        )
    }

    /// Stops the server and drops its storage.
    pub async fn stop(self) {
        self.server.stop().await;
        self.storage.cleanup().await;
    }
}

/// A distribution of the base image into `regions` of the own account and [`TEAM`], named
/// `name-{region}-{account}`.
pub fn request(name: &str, regions: &[&str]) -> proto::CreateDistributionRequest {
    let regions: Vec<String> = regions.iter().map(|r| (*r).to_owned()).collect();
    proto::CreateDistributionRequest {
        source_image_id: BASE.to_owned(),
        source_region: "us-east-1".to_owned(),
        name: format!("{name}-{{region}}-{{account}}"),
        targets: vec![
            proto::DistributionTarget {
                account_id: String::new(),
                regions: regions.clone(),
                kms_key_ids: Default::default(),
            },
            proto::DistributionTarget {
                account_id: TEAM.to_owned(),
                regions,
                kms_key_ids: Default::default(),
            },
        ],
        ..Default::default()
    }
}

/// The account a target's image belongs to.
pub fn owner(target: &proto::TargetStatus) -> &str {
    if target.account_id.is_empty() {
        OWN
    } else {
        &target.account_id
    }
}

/// The state changes of a watch, in order.
pub fn state_changes(events: &[proto::WatchDistributionResponse]) -> Vec<(DistributionState, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Some(proto::watch_distribution_response::Event::StateChange(change)) => Some((
                DistributionState::try_from(change.state).expect("a known state"),
                change.detail.clone(),
            )),
            _ => None,
        })
        .collect()
}
