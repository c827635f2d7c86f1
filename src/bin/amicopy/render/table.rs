//! Tables in the style of `kubectl get`: upper-case headers, columns aligned with spaces, no
//! borders and no escape codes, so they read well on a terminal and parse with `awk` in a pipe.

use amicopy::proto;
use comfy_table::{Table, presets};

use super::{Mode, short_duration};
use crate::{progress::Board, view};

/// A table with these headers and rows, as lines without trailing spaces.
pub fn lines(headers: &[&str], rows: Vec<Vec<String>>) -> Vec<String> {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(headers.iter().map(|h| h.to_owned()).collect::<Vec<_>>());
    for row in rows {
        table.add_row(row);
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table.lines().map(|line| line.trim_end().to_owned()).collect()
}

/// How an account reads in a table: the service's own is `own`.
pub fn account(account_id: &str) -> String {
    if account_id.is_empty() {
        "own".to_owned()
    } else {
        account_id.to_owned()
    }
}

fn dash(value: &str) -> String {
    if value.is_empty() {
        "-".to_owned()
    } else {
        value.to_owned()
    }
}

fn failure(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => code.to_owned(),
        (true, false) => message.to_owned(),
        (false, false) if message.contains(code) => message.to_owned(),
        (false, false) => format!("{code}: {message}"),
    }
}

/// Longest error shown in a terminal's summary (the whole one was printed as it happened).
const TERMINAL_ERROR: usize = 72;

fn shorten(text: String, mode: Mode) -> String {
    if mode != Mode::Terminal || text.chars().count() <= TERMINAL_ERROR {
        return text;
    }
    let mut short: String = text.chars().take(TERMINAL_ERROR - 1).collect();
    short.push('…');
    short
}

/// The summary at the end of a watch: one row per target with its image.
pub fn summary(board: &Board, mode: Mode) -> Vec<String> {
    let now = chrono::Utc::now();
    let rows = board
        .targets
        .iter()
        .map(|t| {
            vec![
                account(&t.key.account_id),
                t.key.region.clone(),
                t.state_name().to_owned(),
                dash(&t.image_id),
                t.elapsed(now).map(short_duration).unwrap_or_default(),
                shorten(failure(&t.failure_code, &t.failure_message), mode),
            ]
        })
        .collect();
    lines(&["ACCOUNT", "REGION", "STATE", "IMAGE", "TOOK", "ERROR"], rows)
}

/// `get` of a job: one field per line.
pub fn job_details(job: &proto::CopyJob) -> Vec<String> {
    let request = job.request.clone().unwrap_or_default();
    let mut fields = vec![
        ("job", job.job_id.clone()),
        ("state", view::job_state(job.state).to_owned()),
        (
            "source",
            format!("{} ({})", request.source_image_id, request.source_region),
        ),
        ("name", request.name.clone()),
        ("account", account(&job.destination_account_id)),
        ("region", job.destination_region.clone()),
        ("image", dash(&job.image_id)),
    ];
    if !job.snapshot_ids.is_empty() {
        fields.push(("snapshots", job.snapshot_ids.join(", ")));
    }
    if let Some(percent) = job.progress_percent {
        fields.push(("progress", format!("{percent}%")));
    }
    fields.push(("attempts", job.attempts.to_string()));
    let failure = failure(&job.failure_code, &job.failure_message);
    if !failure.is_empty() {
        fields.push(("error", failure));
    }
    if !job.distribution_id.is_empty() {
        fields.push(("distribution", job.distribution_id.clone()));
    }
    fields.push(("created", view::rfc3339(job.create_time.as_ref()).unwrap_or_default()));
    fields.push(("updated", view::rfc3339(job.update_time.as_ref()).unwrap_or_default()));
    fields
        .into_iter()
        .map(|(name, value)| format!("{name:<13}{value}"))
        .collect()
}

/// `get` of a distribution: its fields, then one row per target.
pub fn distribution_details(distribution: &proto::Distribution) -> Vec<String> {
    let request = distribution.request.clone().unwrap_or_default();
    let counts = view::CountsView::from(distribution.counts.as_ref());
    let mut out: Vec<String> = [
        ("distribution", distribution.distribution_id.clone()),
        ("state", view::distribution_state(distribution.state).to_owned()),
        (
            "source",
            format!("{} ({})", request.source_image_id, request.source_region),
        ),
        ("name", request.name.clone()),
        (
            "targets",
            format!(
                "{} available, {} failed, {} cancelled of {}",
                counts.available, counts.failed, counts.cancelled, counts.total
            ),
        ),
        (
            "created",
            view::rfc3339(distribution.create_time.as_ref()).unwrap_or_default(),
        ),
        (
            "updated",
            view::rfc3339(distribution.update_time.as_ref()).unwrap_or_default(),
        ),
    ]
    .into_iter()
    .map(|(name, value)| format!("{name:<13}{value}"))
    .collect();
    out.push(String::new());
    let rows = distribution
        .targets
        .iter()
        .map(|t| {
            vec![
                account(&t.account_id),
                t.region.clone(),
                view::job_state(t.state).to_owned(),
                t.progress_percent.map(|p| format!("{p}%")).unwrap_or_default(),
                dash(&t.image_id),
                t.job_id.clone(),
                failure(&t.failure_code, &t.failure_message),
            ]
        })
        .collect();
    out.extend(lines(
        &["ACCOUNT", "REGION", "STATE", "PROGRESS", "IMAGE", "JOB", "ERROR"],
        rows,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_without_borders_or_trailing_spaces() {
        let lines = lines(
            &["ID", "STATE"],
            vec![
                vec!["a".into(), "AVAILABLE".into()],
                vec!["bbbb".into(), "FAILED".into()],
            ],
        );
        assert_eq!(lines, ["ID    STATE", "a     AVAILABLE", "bbbb  FAILED"]);
    }
}
