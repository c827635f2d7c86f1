//! `amicopy cancel` and `amicopy retry`: changing what runs.

use amicopy::proto::{self, CopyJobState};

use super::{copy::started, resolve};
use crate::{
    args::{CancelArgs, FollowArgs, RetryArgs},
    context::Context,
    failure::{CliError, Outcome},
    progress::Subject,
    render::{self, Mode},
    view,
    watch::{FollowOptions, follow},
};

/// `amicopy cancel ID`.
pub async fn cancel(context: &Context, args: CancelArgs) -> Result<Outcome, CliError> {
    let subject = match resolve(context, &args.id).await? {
        Subject::Job(job) => {
            let response = context
                .server
                .cancel_copy_job(proto::CancelCopyJobRequest { job_id: job.job_id })
                .await?;
            Subject::Job(
                response
                    .job
                    .ok_or_else(|| CliError::internal("the server answered without the job"))?,
            )
        }
        Subject::Distribution(distribution) => {
            let response = context
                .server
                .cancel_distribution(proto::CancelDistributionRequest {
                    distribution_id: distribution.distribution_id,
                })
                .await?;
            Subject::Distribution(
                response
                    .distribution
                    .ok_or_else(|| CliError::internal("the server answered without the distribution"))?,
            )
        }
    };
    if args.wait {
        return follow(context, subject, FollowOptions::default())
            .await
            .map(|outcome| match outcome {
                // What was asked, a cancel, happened.
                Outcome::Failed => Outcome::Succeeded,
                other => other,
            });
    }
    match context.mode {
        Mode::Json => render::print_subject(&subject),
        Mode::Plain | Mode::Terminal => {
            let state = match &subject {
                Subject::Job(job) => view::job_state(job.state),
                Subject::Distribution(d) => view::distribution_state(d.state),
            };
            println!("{} {} {state}", subject.kind(), subject.id());
        }
    }
    Ok(Outcome::Succeeded)
}

/// `amicopy retry ID`: RetryDistribution for a distribution; a new CopyImage with the same request
/// for a failed or cancelled job.
pub async fn retry(context: &Context, args: RetryArgs) -> Result<Outcome, CliError> {
    match resolve(context, &args.id).await? {
        Subject::Distribution(distribution) => {
            // The watch starts after the history that ended the earlier run.
            let after_sequence = distribution.last_sequence;
            let response = context
                .server
                .retry_distribution(proto::RetryDistributionRequest {
                    distribution_id: distribution.distribution_id,
                })
                .await?;
            let distribution = response
                .distribution
                .ok_or_else(|| CliError::internal("the server answered without the distribution"))?;
            started(
                context,
                Subject::Distribution(distribution),
                args.follow,
                after_sequence,
            )
            .await
        }
        Subject::Job(job) => retry_job(context, job, args.follow).await,
    }
}

async fn retry_job(context: &Context, job: proto::CopyJob, follow_args: FollowArgs) -> Result<Outcome, CliError> {
    if !job.distribution_id.is_empty() {
        return Err(CliError::usage(format!(
            "job {} is a target of distribution {}; retry the distribution: amicopy retry {}",
            job.job_id, job.distribution_id, job.distribution_id
        )));
    }
    let state = CopyJobState::try_from(job.state).unwrap_or(CopyJobState::Unspecified);
    if !matches!(state, CopyJobState::Failed | CopyJobState::Cancelled) {
        return Err(CliError::usage(format!(
            "job {} is {}; only a FAILED or CANCELLED job can be retried",
            job.job_id,
            view::job_state(job.state)
        )));
    }
    let mut request = job
        .request
        .ok_or_else(|| CliError::internal("the server answered without the job's request"))?;
    // The same copy, where the first one was made, under a new token (the old one names the old job).
    request.client_token = format!("amicopy-cli-{}", uuid::Uuid::new_v4());
    request.destination_region = job.destination_region;
    request.destination_account_id = job.destination_account_id;
    request.dry_run = false;
    let response = context.server.copy_image(request).await?;
    let new_job = response
        .job
        .ok_or_else(|| CliError::internal("the server answered CopyImage without the job"))?;
    if context.mode != Mode::Json && !follow_args.wait {
        eprintln!("Job {} retried as job {}", job.job_id, new_job.job_id);
    }
    started(context, Subject::Job(new_job), follow_args, 0).await
}
