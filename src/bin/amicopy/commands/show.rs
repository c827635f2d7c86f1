//! `amicopy get`, `amicopy ls` and `amicopy watch`: reading jobs and distributions.

use amicopy::proto::{self, CopyJobState, DistributionState};

use super::resolve;
use crate::{
    args::{ListArgs, WatchArgs},
    context::Context,
    failure::{CliError, Outcome},
    progress::Subject,
    render::{self, Mode, table},
    view,
    watch::{FollowOptions, follow},
};

/// Pages read at most per kind, so a filter that matches little cannot page through everything.
const MAX_PAGES: usize = 10;

/// `amicopy get ID`.
pub async fn get(context: &Context, id: &str) -> Result<Outcome, CliError> {
    let subject = resolve(context, id).await?;
    match context.mode {
        Mode::Json => render::print_subject(&subject),
        Mode::Plain | Mode::Terminal => {
            let lines = match &subject {
                Subject::Job(job) => table::job_details(job),
                Subject::Distribution(distribution) => table::distribution_details(distribution),
            };
            for line in lines {
                println!("{line}");
            }
        }
    }
    Ok(Outcome::Succeeded)
}

/// `amicopy watch ID`.
pub async fn watch(context: &Context, args: WatchArgs) -> Result<Outcome, CliError> {
    let subject = resolve(context, &args.id).await?;
    let options = FollowOptions {
        cancel_on_interrupt: args.cancel_on_interrupt,
        after_sequence: 0,
    };
    follow(context, subject, options).await
}

/// The `--state` filter split by kind: job states and distribution states. `None` for a kind means
/// no filter; an empty list means the filter excludes that kind entirely.
#[derive(Debug, Default, PartialEq)]
struct States {
    jobs: Option<Vec<CopyJobState>>,
    distributions: Option<Vec<DistributionState>>,
}

impl States {
    fn parse(names: &[String]) -> Result<Self, CliError> {
        if names.is_empty() {
            return Ok(Self::default());
        }
        let mut jobs = Vec::new();
        let mut distributions = Vec::new();
        for name in names {
            let upper = name.trim().to_ascii_uppercase().replace('-', "_");
            let job = CopyJobState::from_str_name(&format!("COPY_JOB_STATE_{upper}"))
                .filter(|s| *s != CopyJobState::Unspecified);
            let distribution = DistributionState::from_str_name(&format!("DISTRIBUTION_STATE_{upper}"))
                .filter(|s| *s != DistributionState::Unspecified);
            if job.is_none() && distribution.is_none() {
                return Err(CliError::usage(format!(
                    "--state {name}: not a state; jobs are queued, copying, finishing, available, failed, \
                     cancelling, cancelled; distributions are running, succeeded, partially-succeeded, failed, \
                     cancelling, cancelled, rolling-back, rolled-back"
                )));
            }
            jobs.extend(job);
            distributions.extend(distribution);
        }
        Ok(Self {
            jobs: Some(jobs),
            distributions: Some(distributions),
        })
    }
}

/// One row of `ls`.
struct Row {
    created: Option<chrono::DateTime<chrono::Utc>>,
    subject: Subject,
}

/// `amicopy ls`.
pub async fn list(context: &Context, args: ListArgs) -> Result<Outcome, CliError> {
    let states = States::parse(&args.states)?;
    let limit = args.limit as usize;
    let mut rows = Vec::new();
    if states.jobs.as_ref().is_none_or(|s| !s.is_empty()) {
        rows.extend(jobs(context, &args, states.jobs.as_deref().unwrap_or_default(), limit).await?);
    }
    if states.distributions.as_ref().is_none_or(|s| !s.is_empty()) {
        rows.extend(
            distributions(
                context,
                &args,
                states.distributions.as_deref().unwrap_or_default(),
                limit,
            )
            .await?,
        );
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.created));
    rows.truncate(limit);
    match context.mode {
        Mode::Json => {
            for row in &rows {
                render::print_subject(&row.subject);
            }
        }
        Mode::Plain | Mode::Terminal => {
            let lines = table::lines(
                &["ID", "KIND", "STATE", "SOURCE", "DESTINATION", "IMAGE", "CREATED"],
                rows.iter().map(list_row).collect(),
            );
            for line in lines {
                println!("{line}");
            }
        }
    }
    Ok(Outcome::Succeeded)
}

async fn jobs(context: &Context, args: &ListArgs, states: &[CopyJobState], limit: usize) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = context
            .server
            .list_copy_jobs(proto::ListCopyJobsRequest {
                page_size: i32::try_from(limit.max(100)).unwrap_or(1000).min(1000),
                page_token: page_token.clone(),
                states: states.iter().map(|s| *s as i32).collect(),
                source_region: String::new(),
                destination_region: args.region.clone().unwrap_or_default(),
            })
            .await?;
        rows.extend(
            page.jobs
                .into_iter()
                .filter(|job| args.all || job.distribution_id.is_empty())
                .map(|job| Row {
                    created: view::time(job.create_time.as_ref()),
                    subject: Subject::Job(job),
                }),
        );
        page_token = page.next_page_token;
        if rows.len() >= limit || page_token.is_empty() {
            break;
        }
    }
    Ok(rows)
}

async fn distributions(
    context: &Context,
    args: &ListArgs,
    states: &[DistributionState],
    limit: usize,
) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    let mut page_token = String::new();
    for _ in 0..MAX_PAGES {
        let page = match context
            .server
            .list_distributions(proto::ListDistributionsRequest {
                page_size: i32::try_from(limit.max(100)).unwrap_or(1000).min(1000),
                page_token: page_token.clone(),
                states: states.iter().map(|s| *s as i32).collect(),
            })
            .await
        {
            Ok(page) => page,
            // A server without distributions has none to list.
            Err(CliError::Refused(refusal)) if refusal.code == tonic::Code::Unimplemented => break,
            Err(error) => return Err(error),
        };
        rows.extend(
            page.distributions
                .into_iter()
                .filter(|d| match &args.region {
                    Some(region) => d
                        .request
                        .as_ref()
                        .is_some_and(|r| r.targets.iter().any(|t| t.regions.contains(region))),
                    None => true,
                })
                .map(|d| Row {
                    created: view::time(d.create_time.as_ref()),
                    subject: Subject::Distribution(d),
                }),
        );
        page_token = page.next_page_token;
        if rows.len() >= limit || page_token.is_empty() {
            break;
        }
    }
    Ok(rows)
}

fn list_row(row: &Row) -> Vec<String> {
    let created = row
        .created
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default();
    match &row.subject {
        Subject::Job(job) => {
            let request = job.request.clone().unwrap_or_default();
            let destination = if job.destination_account_id.is_empty() {
                job.destination_region.clone()
            } else {
                format!("{} {}", job.destination_account_id, job.destination_region)
            };
            vec![
                job.job_id.clone(),
                "job".to_owned(),
                view::job_state(job.state).to_owned(),
                format!("{} {}", request.source_image_id, request.source_region),
                destination,
                if job.image_id.is_empty() {
                    "-".to_owned()
                } else {
                    job.image_id.clone()
                },
                created,
            ]
        }
        Subject::Distribution(d) => {
            let request = d.request.clone().unwrap_or_default();
            let counts = view::CountsView::from(d.counts.as_ref());
            let mut regions: Vec<&str> = request
                .targets
                .iter()
                .flat_map(|t| t.regions.iter().map(String::as_str))
                .collect();
            regions.sort_unstable();
            regions.dedup();
            vec![
                d.distribution_id.clone(),
                "distribution".to_owned(),
                view::distribution_state(d.state).to_owned(),
                format!("{} {}", request.source_image_id, request.source_region),
                format!("{} targets: {}", counts.total, regions.join(",")),
                format!("{}/{} available", counts.available, counts.total),
                created,
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_filter_splits_by_kind() {
        let states = States::parse(&["copying".into(), "Partially-Succeeded".into(), "FAILED".into()]).unwrap();
        assert_eq!(states.jobs, Some(vec![CopyJobState::Copying, CopyJobState::Failed]));
        assert_eq!(
            states.distributions,
            Some(vec![DistributionState::PartiallySucceeded, DistributionState::Failed])
        );
        let only_jobs = States::parse(&["queued".into()]).unwrap();
        assert_eq!(only_jobs.distributions, Some(vec![]), "no distribution is ever queued");
        assert!(States::parse(&["sleeping".into()]).is_err());
        assert_eq!(States::parse(&[]).unwrap(), States::default());
    }
}
