//! Every call the CLI makes to amicopyd, each with the connection's timeout and retried when the
//! server could not take it. Commands call these and never build a client themselves.

use std::time::Duration;

use amicopy::proto;
use tonic::{Response, Status, Streaming};

use crate::{
    connection::Connection,
    failure::{CliError, grpc_code_name},
};

/// The server, as the commands see it.
#[derive(Debug, Clone)]
pub struct Server {
    /// The channel and its settings.
    pub connection: Connection,
}

/// A retry is said on stderr: stdout stays the command's output (ids, JSON).
fn say_retry(status: &Status, delay: Duration) {
    eprintln!(
        "amicopy: {}: {}; trying again in {:.1}s",
        grpc_code_name(status.code()),
        status.message(),
        delay.as_secs_f64()
    );
}

/// Defines one retried unary call: `$rpc(message) -> Result<response, CliError>`.
macro_rules! unary {
    ($(#[$doc:meta])* $rpc:ident, $client:ident, $request:ty, $response:ty) => {
        $(#[$doc])*
        pub async fn $rpc(&self, message: $request) -> Result<$response, CliError> {
            let connection = &self.connection;
            connection
                .retry
                .run(
                    || {
                        let mut client = connection.$client();
                        let request = connection.request(message.clone());
                        async move { client.$rpc(request).await.map(Response::into_inner) }
                    },
                    say_retry,
                )
                .await
                .map_err(CliError::from)
        }
    };
}

impl Server {
    /// The server behind `connection`.
    pub fn new(connection: Connection) -> Self {
        Self { connection }
    }

    unary!(
        /// CopyImage (the request carries a client token, so a retry cannot make a second job).
        copy_image, jobs, proto::CopyImageRequest, proto::CopyImageResponse
    );
    unary!(
        /// GetCopyJob.
        get_copy_job, jobs, proto::GetCopyJobRequest, proto::GetCopyJobResponse
    );
    unary!(
        /// ListCopyJobs, one page.
        list_copy_jobs, jobs, proto::ListCopyJobsRequest, proto::ListCopyJobsResponse
    );
    unary!(
        /// CancelCopyJob.
        cancel_copy_job, jobs, proto::CancelCopyJobRequest, proto::CancelCopyJobResponse
    );
    unary!(
        /// CreateDistribution (with a client token, as CopyImage).
        create_distribution, distributions, proto::CreateDistributionRequest,
        proto::CreateDistributionResponse
    );
    unary!(
        /// GetDistribution.
        get_distribution, distributions, proto::GetDistributionRequest,
        proto::GetDistributionResponse
    );
    unary!(
        /// ListDistributions, one page.
        list_distributions, distributions, proto::ListDistributionsRequest,
        proto::ListDistributionsResponse
    );
    unary!(
        /// CancelDistribution.
        cancel_distribution, distributions, proto::CancelDistributionRequest,
        proto::CancelDistributionResponse
    );
    unary!(
        /// RetryDistribution.
        retry_distribution, distributions, proto::RetryDistributionRequest,
        proto::RetryDistributionResponse
    );

    /// The job `job_id`, or the refusal (NOT_FOUND for an unknown id).
    pub async fn job(&self, job_id: &str) -> Result<proto::CopyJob, CliError> {
        let response = self
            .get_copy_job(proto::GetCopyJobRequest {
                job_id: job_id.to_owned(),
            })
            .await?;
        response
            .job
            .ok_or_else(|| CliError::internal("the server answered GetCopyJob without a job"))
    }

    /// The distribution `distribution_id`, or the refusal.
    pub async fn distribution(&self, distribution_id: &str) -> Result<proto::Distribution, CliError> {
        let response = self
            .get_distribution(proto::GetDistributionRequest {
                distribution_id: distribution_id.to_owned(),
            })
            .await?;
        response
            .distribution
            .ok_or_else(|| CliError::internal("the server answered GetDistribution without a distribution"))
    }

    /// Opens WatchCopyJob from `after_sequence`; the opening is retried, the stream is not.
    pub async fn watch_job(
        &self,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<Streaming<proto::WatchCopyJobResponse>, Status> {
        let message = proto::WatchCopyJobRequest {
            job_id: job_id.to_owned(),
            after_sequence,
        };
        self.connection
            .retry
            .run(
                || {
                    let mut client = self.connection.jobs();
                    let message = message.clone();
                    async move { client.watch_copy_job(message).await.map(Response::into_inner) }
                },
                say_retry,
            )
            .await
    }

    /// Opens WatchDistribution from `after_sequence`; the opening is retried, the stream is not.
    pub async fn watch_distribution(
        &self,
        distribution_id: &str,
        after_sequence: u64,
    ) -> Result<Streaming<proto::WatchDistributionResponse>, Status> {
        let message = proto::WatchDistributionRequest {
            distribution_id: distribution_id.to_owned(),
            after_sequence,
        };
        self.connection
            .retry
            .run(
                || {
                    let mut client = self.connection.distributions();
                    let message = message.clone();
                    async move { client.watch_distribution(message).await.map(Response::into_inner) }
                },
                say_retry,
            )
            .await
    }
}
