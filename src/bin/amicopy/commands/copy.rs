//! `amicopy copy` and `amicopy distribute`: start a job or a distribution, print its id, and with
//! `--wait` follow it to the end.

use amicopy::proto;
use tonic::Code;

use super::request;
use crate::{
    args::{CopyArgs, DistributeArgs, FollowArgs},
    context::Context,
    failure::{CliError, Outcome, Refusal},
    plan::DistributionPlan,
    progress::Subject,
    render::{self, Mode},
    view::{self, Line},
    watch::{FollowOptions, follow},
};

/// `amicopy copy`.
pub async fn copy(context: &Context, args: CopyArgs) -> Result<Outcome, CliError> {
    if args.dry_run {
        return dry_run(context, &args).await;
    }
    if request::is_distribution(&args) {
        let request = request::distribution_request(&args)?;
        return distribute_request(context, request, args.follow).await;
    }
    let (account, region) = request::targets(&args).swap_remove(0);
    let request = request::copy_request(&args, &account, &region)?;
    let response = context.server.copy_image(request).await?;
    let job = response
        .job
        .ok_or_else(|| CliError::internal("the server answered CopyImage without the job"))?;
    started(context, Subject::Job(job), args.follow, 0).await
}

/// `amicopy distribute -f plan.yaml`.
pub async fn distribute(context: &Context, args: DistributeArgs) -> Result<Outcome, CliError> {
    let mut request = DistributionPlan::load(&args.file)?.into_request()?;
    if request.client_token.is_empty() {
        request.client_token = format!("amicopy-cli-{}", uuid::Uuid::new_v4());
    }
    distribute_request(context, request, args.follow).await
}

async fn distribute_request(
    context: &Context,
    request: proto::CreateDistributionRequest,
    follow_args: FollowArgs,
) -> Result<Outcome, CliError> {
    let response = context.server.create_distribution(request).await?;
    let distribution = response
        .distribution
        .ok_or_else(|| CliError::internal("the server answered CreateDistribution without the distribution"))?;
    started(context, Subject::Distribution(distribution), follow_args, 0).await
}

/// Prints what was started (its id, for scripts) and follows it when asked.
pub async fn started(
    context: &Context,
    subject: Subject,
    follow_args: FollowArgs,
    after_sequence: u64,
) -> Result<Outcome, CliError> {
    if follow_args.wait {
        if context.mode != Mode::Json {
            println!("{}", subject.id());
        }
        let options = FollowOptions {
            cancel_on_interrupt: follow_args.cancel_on_interrupt,
            after_sequence,
        };
        return follow(context, subject, options).await;
    }
    match context.mode {
        Mode::Json => render::print_subject(&subject),
        Mode::Plain | Mode::Terminal => {
            println!("{}", subject.id());
            eprintln!("{}", describe(&subject));
            eprintln!("Follow it with: amicopy watch {}", subject.id());
        }
    }
    Ok(Outcome::Succeeded)
}

fn describe(subject: &Subject) -> String {
    match subject {
        Subject::Job(job) => {
            let mut text = format!(
                "Job {} is {} (into {}",
                job.job_id,
                view::job_state(job.state),
                job.destination_region
            );
            if !job.destination_account_id.is_empty() {
                text.push_str(&format!(" in account {}", job.destination_account_id));
            }
            text.push(')');
            if !job.image_id.is_empty() {
                text.push_str(&format!("; the new image is {}", job.image_id));
            }
            text
        }
        Subject::Distribution(distribution) => format!(
            "Distribution {} is {} with {} targets",
            distribution.distribution_id,
            view::distribution_state(distribution.state),
            distribution.targets.len()
        ),
    }
}

/// `--dry-run`: a CopyImage dry run per target; the worst answer gives the exit code.
async fn dry_run(context: &Context, args: &CopyArgs) -> Result<Outcome, CliError> {
    let mut outcome = Outcome::Succeeded;
    for (account, region) in request::targets(args) {
        let request = request::copy_request(args, &account, &region)?;
        let refusal = match context.server.copy_image(request).await {
            Ok(_) => None,
            Err(CliError::Refused(refusal)) => Some(refusal),
            Err(error) => return Err(error),
        };
        let would_succeed = refusal
            .as_ref()
            .is_none_or(|r| r.reason.as_deref() == Some("DryRunOperation"));
        let target = crate::progress::TargetKey {
            account_id: account.clone(),
            region: region.clone(),
        };
        let label = if region.is_empty() && account.is_empty() {
            "the server's Region".to_owned()
        } else {
            target.label()
        };
        let this = match &refusal {
            _ if would_succeed => Outcome::Succeeded,
            Some(r) if r.code == Code::PermissionDenied => Outcome::Failed,
            Some(r) => r.outcome(),
            None => Outcome::Succeeded,
        };
        if this.code() > outcome.code() {
            outcome = this;
        }
        print_dry_run(context.mode, &label, &account, &region, would_succeed, refusal.as_ref());
    }
    Ok(outcome)
}

fn print_dry_run(mode: Mode, label: &str, account: &str, region: &str, would_succeed: bool, refusal: Option<&Refusal>) {
    if mode == Mode::Json {
        view::print(&Line::DryRun {
            account_id: account.to_owned(),
            region: region.to_owned(),
            would_succeed,
            reason: refusal.and_then(|r| r.reason.clone()),
            message: refusal.map(|r| r.message.clone()).unwrap_or_default(),
        });
        return;
    }
    if would_succeed {
        println!("{label}: would succeed (DryRunOperation)");
        return;
    }
    match refusal {
        Some(refusal) => {
            let mut lines = refusal.lines().into_iter();
            println!("{label}: would fail: {}", lines.next().unwrap_or_default());
            for line in lines {
                println!("{line}");
            }
        }
        None => println!("{label}: would fail"),
    }
}
