//! The unary RPC scenarios: CopyImage accepted (`accept`), CopyImage retried with known
//! ClientTokens (`retries`), GetCopyJob and ListCopyJobs (`reads` alternating, `get-job` and
//! `list-jobs` alone), CreateDistribution of many
//! targets (`distribute`), and the bare unary call they are compared with,
//! `grpc.health.v1.Health/Check` on the same server (`grpc-floor`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use super::{Args, Scenario, load::drive, report::Summary};
use amicopy::proto::{
    self, distribution_service_client::DistributionServiceClient, image_copy_service_client::ImageCopyServiceClient,
};

/// Connections the workers share (HTTP/2 multiplexes the rest), the way a handful of client
/// processes would call the service.
const MAX_CONNECTIONS: usize = 8;

/// ClientTokens the `retries` scenario cycles through.
const RETRY_TOKENS: u64 = 16;

/// Page size of the ListCopyJobs calls in `reads`.
const LIST_PAGE_SIZE: i32 = 100;

/// Most targets one distribution may have (the service's limit).
pub const MAX_DISTRIBUTION_TARGETS: usize = 1000;

/// Opens up to [`MAX_CONNECTIONS`] connections to `addr`.
pub async fn connect(addr: &str, concurrency: usize) -> anyhow::Result<Vec<Channel>> {
    let mut channels = Vec::new();
    for _ in 0..concurrency.clamp(1, MAX_CONNECTIONS) {
        let channel = Endpoint::from_shared(addr.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("cannot connect to amicopyd at {addr}; is it running?"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Waits until the server at `addr` answers its health check SERVING, for at most `patience`
/// (with no patience, checks once).
pub async fn wait_ready(addr: &str, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let last = match Endpoint::from_shared(addr.to_owned())?.connect().await {
            Ok(channel) => match HealthClient::new(channel)
                .check(HealthCheckRequest { service: String::new() })
                .await
            {
                Ok(response) if response.get_ref().status == ServingStatus::Serving as i32 => return Ok(()),
                Ok(response) => format!("health is {:?}", response.get_ref().status()),
                Err(status) => status.to_string(),
            },
            Err(error) => error.to_string(),
        };
        if Instant::now() >= deadline {
            anyhow::bail!("amicopyd at {addr} is not serving: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A copy of the simulator's us-east-1 base image into us-west-2.
pub fn copy_request(name: String, client_token: String) -> proto::CopyImageRequest {
    proto::CopyImageRequest {
        source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
        source_region: "us-east-1".to_owned(),
        destination_region: "us-west-2".to_owned(),
        name,
        client_token,
        ..Default::default()
    }
}

/// A distribution of the base image to `targets` made-up Regions of the service's own account
/// (`ap-north-1`, `ap-north-2`, ...), which the simulator accepts as Regions of its world.
pub fn distribution_request(name: String, targets: usize) -> proto::CreateDistributionRequest {
    let words = [
        "north",
        "south",
        "east",
        "west",
        "central",
        "northeast",
        "southeast",
        "northwest",
        "southwest",
        "mid",
        "inner",
    ];
    let regions = words
        .iter()
        .flat_map(|word| (1..=99).map(move |n| format!("ap-{word}-{n}")))
        .take(targets)
        .collect();
    proto::CreateDistributionRequest {
        source_image_id: "ami-0a1b2c3d4e5f60001".to_owned(),
        source_region: "us-east-1".to_owned(),
        name: format!("{name}-{{region}}"),
        targets: vec![proto::DistributionTarget {
            regions,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A prefix that keeps this run's AMI names and tokens apart from any other run's.
pub fn run_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Runs one unary scenario against `--addr`.
pub async fn run(args: &Args) -> anyhow::Result<Summary> {
    let channels = Arc::new(connect(&args.addr, args.concurrency).await?);
    let run = Arc::new(run_id());
    let client = move |worker: usize| ImageCopyServiceClient::new(channels[worker % channels.len()].clone());
    let load = args.load();
    let (latencies, elapsed) = match args.scenario {
        Scenario::Accept => {
            drive(load, move |worker, call| {
                let mut client = client(worker);
                let name = format!("bench-{run}-{call}");
                async move { client.copy_image(copy_request(name, String::new())).await.map(drop) }
            })
            .await
        }
        Scenario::Retries => {
            drive(load, move |worker, call| {
                let mut client = client(worker);
                let k = call % RETRY_TOKENS;
                let request = copy_request(format!("bench-retry-{run}-{k}"), format!("bench-{run}-{k}"));
                async move { client.copy_image(request).await.map(drop) }
            })
            .await
        }
        Scenario::Reads => {
            let ids = Arc::new(job_ids(&mut client(0), &run).await?);
            drive(load, move |worker, call| {
                let mut client = client(worker);
                let ids = Arc::clone(&ids);
                async move {
                    if call % 2 == 0 {
                        let job_id = ids[(call / 2) as usize % ids.len()].clone();
                        client.get_copy_job(proto::GetCopyJobRequest { job_id }).await.map(drop)
                    } else {
                        let request = proto::ListCopyJobsRequest {
                            page_size: LIST_PAGE_SIZE,
                            ..Default::default()
                        };
                        client.list_copy_jobs(request).await.map(drop)
                    }
                }
            })
            .await
        }
        Scenario::GetJob => {
            let ids = Arc::new(job_ids(&mut client(0), &run).await?);
            drive(load, move |worker, call| {
                let mut client = client(worker);
                let job_id = ids[call as usize % ids.len()].clone();
                async move { client.get_copy_job(proto::GetCopyJobRequest { job_id }).await.map(drop) }
            })
            .await
        }
        Scenario::ListJobs => {
            job_ids(&mut client(0), &run).await?;
            drive(load, move |worker, _| {
                let mut client = client(worker);
                let request = proto::ListCopyJobsRequest {
                    page_size: LIST_PAGE_SIZE,
                    ..Default::default()
                };
                async move { client.list_copy_jobs(request).await.map(drop) }
            })
            .await
        }
        Scenario::Distribute => {
            let channels = Arc::new(connect(&args.addr, args.concurrency).await?);
            let targets = args.distribution_targets;
            drive(load, move |worker, call| {
                let mut client = DistributionServiceClient::new(channels[worker % channels.len()].clone());
                let request = distribution_request(format!("bench-{run}-{call}"), targets);
                async move { client.create_distribution(request).await.map(drop) }
            })
            .await
        }
        Scenario::GrpcFloor => {
            let channels = Arc::new(connect(&args.addr, args.concurrency).await?);
            drive(load, move |worker, _| {
                let mut health = HealthClient::new(channels[worker % channels.len()].clone());
                async move {
                    health
                        .check(HealthCheckRequest { service: String::new() })
                        .await
                        .map(drop)
                }
            })
            .await
        }
        other => anyhow::bail!("{other:?} is not a unary RPC scenario"),
    };
    let mut summary = latencies.summary(&args.label(), args.concurrency, elapsed);
    summary.notes.push(match args.scenario {
        Scenario::Accept => "CopyImage, unique names, no ClientToken: each call is a new job".to_owned(),
        Scenario::Retries => format!("CopyImage cycling {RETRY_TOKENS} ClientTokens: all but the first are replays"),
        Scenario::Reads => format!("GetCopyJob and ListCopyJobs (page_size {LIST_PAGE_SIZE}) alternating"),
        Scenario::GetJob => "GetCopyJob of the newest jobs, by id".to_owned(),
        Scenario::ListJobs => format!("ListCopyJobs, the first page of {LIST_PAGE_SIZE} jobs"),
        Scenario::Distribute => format!(
            "CreateDistribution of {} targets each (one account, made-up Regions), unique names",
            args.distribution_targets
        ),
        _ => "grpc.health.v1.Health/Check: the bare unary call on the same server".to_owned(),
    });
    if let Some(rate) = args.rate {
        summary.notes.push(format!("paced to {rate:.0} calls/s in total"));
    }
    Ok(summary)
}

/// Ids of existing jobs to read; makes a few when the server has none.
async fn job_ids(client: &mut ImageCopyServiceClient<Channel>, run: &str) -> anyhow::Result<Vec<String>> {
    let page = client
        .list_copy_jobs(proto::ListCopyJobsRequest {
            page_size: LIST_PAGE_SIZE,
            ..Default::default()
        })
        .await?
        .into_inner();
    let mut ids: Vec<String> = page.jobs.into_iter().map(|job| job.job_id).collect();
    for k in ids.len()..10 {
        let request = copy_request(format!("bench-read-{run}-{k}"), String::new());
        ids.push(client.copy_image(request).await?.into_inner().job_id);
    }
    Ok(ids)
}
