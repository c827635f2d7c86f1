//! One plain line per event, for pipes and CI logs: a time, the target, the state, progress, the
//! image and what happened. No escape codes, ever.

use amicopy::proto::{self, DistributionState};

use super::Mode;
use crate::{
    progress::{Board, Subject, TargetKey, Update},
    view,
};

/// The first line of a watch: what is followed.
pub fn heading(board: &Board) -> String {
    match &board.subject {
        Subject::Job(job) => {
            let request = job.request.clone().unwrap_or_default();
            let key = TargetKey {
                account_id: job.destination_account_id.clone(),
                region: job.destination_region.clone(),
            };
            format!(
                "job {}: {} from {} to {}",
                job.job_id,
                request.source_image_id,
                request.source_region,
                key.label()
            )
        }
        Subject::Distribution(distribution) => {
            let request = distribution.request.clone().unwrap_or_default();
            format!(
                "distribution {}: {} from {} to {} targets",
                distribution.distribution_id,
                request.source_image_id,
                request.source_region,
                board.targets.len()
            )
        }
    }
}

/// One event as a line.
pub fn line(board: &Board, update: Update<'_>) -> String {
    match update {
        Update::Job(event) => {
            let key = board.targets.first().map(|t| t.key.label()).unwrap_or_default();
            event_line(&key, event)
        }
        Update::Target {
            account_id,
            region,
            event,
            ..
        } => {
            let key = TargetKey {
                account_id: account_id.to_owned(),
                region: region.to_owned(),
            };
            event_line(&key.label(), event)
        }
        Update::State { change, .. } => {
            let mut line = format!(
                "{} distribution {} ({})",
                time(change.create_time.as_ref()),
                view::distribution_state(change.state),
                board.tally()
            );
            if !change.detail.is_empty() {
                line.push_str(": ");
                line.push_str(&change.detail);
            }
            line
        }
    }
}

fn event_line(target: &str, event: &proto::CopyJobEvent) -> String {
    let mut parts = vec![
        time(event.create_time.as_ref()),
        target.to_owned(),
        view::job_state(event.state).to_owned(),
    ];
    if let Some(percent) = event.progress_percent {
        parts.push(format!("{percent}%"));
    }
    if !event.failure_code.is_empty() {
        parts.push(event.failure_code.clone());
    }
    let mut line = parts.join(" ");
    if !event.detail.is_empty() {
        line.push_str(": ");
        line.push_str(&event.detail);
    }
    line
}

fn time(timestamp: Option<&prost_types::Timestamp>) -> String {
    view::rfc3339(timestamp).unwrap_or_else(|| "-".to_owned())
}

/// The last line: how it ended, in one sentence.
pub fn ending(board: &Board, mode: Mode) -> String {
    let id = board.subject.id();
    let text = match board.aggregate {
        Some(state) => format!(
            "distribution {id} {} ({})",
            view::distribution_state(state as i32),
            board.tally()
        ),
        None => {
            let state = board.targets.first().map_or("UNKNOWN", |t| t.state_name());
            format!("job {id} {state}")
        }
    };
    if mode != Mode::Terminal {
        return text;
    }
    let good = match board.aggregate {
        Some(state) => state == DistributionState::Succeeded,
        None => board.targets.iter().all(|t| t.state == proto::CopyJobState::Available),
    };
    if good {
        console::style(text).green().bold().to_string()
    } else {
        console::style(text).red().bold().to_string()
    }
}
