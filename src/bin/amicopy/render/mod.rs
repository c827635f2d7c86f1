//! How a watch is shown: live bars on a terminal ([`bars`]), one plain line per event elsewhere
//! ([`plain`]), or NDJSON for scripts; and the tables shared by all text output ([`table`]).
//!
//! The renderer only draws the [`Board`]; the watch loop feeds both.

pub mod bars;
pub mod plain;
pub mod table;

use std::{io::IsTerminal, time::Duration};

use crate::{
    args::OutputFormat,
    failure::Refusal,
    progress::{Board, Subject, Update},
    view::{self, Line},
};

/// Which kind of output this run prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A person at a terminal: bars redrawn in place, colours.
    Terminal,
    /// A pipe or a CI log: plain lines, no escape codes.
    Plain,
    /// A script: NDJSON.
    Json,
}

impl Mode {
    /// The mode for `--output` and wherever stdout goes (`TERM=dumb` counts as no terminal).
    pub fn detect(output: OutputFormat) -> Self {
        match output {
            OutputFormat::Json => Self::Json,
            OutputFormat::Text
                if std::io::stdout().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb") =>
            {
                Self::Terminal
            }
            OutputFormat::Text => Self::Plain,
        }
    }
}

/// Draws a watch.
pub enum Renderer {
    /// Live bars.
    Bars(bars::Bars),
    /// Plain lines.
    Plain,
    /// NDJSON.
    Json,
}

impl Renderer {
    /// The renderer for `mode`.
    pub fn new(mode: Mode) -> Self {
        match mode {
            Mode::Terminal => Self::Bars(bars::Bars::default()),
            Mode::Plain => Self::Plain,
            Mode::Json => Self::Json,
        }
    }

    /// Draws the board as the watch starts.
    pub fn start(&mut self, board: &Board) {
        match self {
            Self::Bars(bars) => bars.start(board),
            Self::Plain => println!("{}", plain::heading(board)),
            Self::Json => {}
        }
    }

    /// Shows one message of the watch, already applied to `board`; `changed` is the target it
    /// changed.
    pub fn update(&mut self, board: &Board, update: Update<'_>, changed: Option<usize>) {
        match self {
            Self::Bars(bars) => bars.update(board, update, changed),
            Self::Plain => println!("{}", plain::line(board, update)),
            Self::Json => view::print(&json_line(update)),
        }
    }

    /// Refreshes what changes with time alone (elapsed, time left).
    pub fn tick(&mut self, board: &Board) {
        if let Self::Bars(bars) = self {
            bars.refresh(board);
        }
    }

    /// Says that the watch broke off and resumes after `after_sequence`.
    pub fn reconnecting(&mut self, after_sequence: u64, status: &tonic::Status, delay: Duration) {
        let message = format!(
            "the watch broke off ({}: {}); resuming after event {after_sequence} in {:.1}s",
            crate::failure::grpc_code_name(status.code()),
            status.message(),
            delay.as_secs_f64()
        );
        match self {
            Self::Bars(bars) => bars.note(&message),
            Self::Plain => println!("{message}"),
            Self::Json => view::print(&Line::Reconnecting {
                after_sequence,
                message,
            }),
        }
    }

    /// Says something a person should know (a cancel was sent).
    pub fn note(&mut self, message: &str) {
        match self {
            Self::Bars(bars) => bars.note(message),
            Self::Plain => println!("{message}"),
            Self::Json => {}
        }
    }

    /// Draws the end: the summary table, or the final state as JSON.
    pub fn finish(&mut self, board: &Board) {
        match self {
            Self::Bars(bars) => {
                bars.finish(board);
                print_summary(board, Mode::Terminal);
            }
            Self::Plain => print_summary(board, Mode::Plain),
            Self::Json => print_subject(&board.subject),
        }
    }

    /// Ctrl-C stopped the watch: says how to resume it.
    pub fn interrupted(&mut self, board: &Board, resume: &str) {
        let id = board.subject.id().to_owned();
        let kind = board.subject.kind();
        match self {
            Self::Bars(bars) => {
                bars.abandon();
                eprintln!("Stopped watching; the {kind} goes on. Resume with:\n  {resume}");
            }
            Self::Plain => eprintln!("Stopped watching; the {kind} goes on. Resume with:\n  {resume}"),
            Self::Json => view::print(&Line::Interrupted {
                id,
                resume: resume.to_owned(),
            }),
        }
    }
}

fn json_line(update: Update<'_>) -> Line {
    match update {
        Update::Job(event) => Line::JobEvent(event.into()),
        Update::Target {
            sequence,
            account_id,
            region,
            event,
        } => Line::TargetEvent {
            sequence,
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            event: event.into(),
        },
        Update::State { sequence, change } => Line::StateChange {
            sequence,
            state: view::distribution_state(change.state),
            counts: change.counts.as_ref().into(),
            detail: change.detail.clone(),
            create_time: view::rfc3339(change.create_time.as_ref()),
        },
    }
}

/// The summary table of targets and image ids, and the final line.
fn print_summary(board: &Board, mode: Mode) {
    if mode == Mode::Terminal {
        // The bars leave the cursor at the end of the last one.
        println!();
    }
    println!();
    for line in table::summary(board, mode) {
        println!("{line}");
    }
    println!("{}", plain::ending(board, mode));
}

/// Prints a job or distribution as JSON.
pub fn print_subject(subject: &Subject) {
    view::print(&match subject {
        Subject::Job(job) => Line::Job(job.into()),
        Subject::Distribution(distribution) => Line::Distribution(distribution.into()),
    });
}

/// Prints a refusal: one JSON line on stdout in JSON mode, lines on stderr otherwise.
pub fn print_refusal(mode: Mode, refusal: &Refusal) {
    if mode == Mode::Json {
        view::print(&Line::Error(refusal.clone()));
        return;
    }
    let mut lines = refusal.lines().into_iter();
    if let Some(first) = lines.next() {
        eprintln!("{} {first}", error_prefix(mode));
    }
    for line in lines {
        eprintln!("{line}");
    }
}

/// Prints a usage error.
pub fn print_usage_error(mode: Mode, message: &str) {
    if mode == Mode::Json {
        view::print(&Line::UsageError {
            message: message.to_owned(),
        });
    } else {
        eprintln!("{} {message}", error_prefix(mode));
    }
}

fn error_prefix(mode: Mode) -> String {
    if mode == Mode::Terminal {
        console::style("error:").red().bold().for_stderr().to_string()
    } else {
        "error:".to_owned()
    }
}

/// A duration as people read it: `42s`, `3m05s`, `1h02m`.
pub fn short_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(Duration::from_secs(42)), "42s");
        assert_eq!(short_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(short_duration(Duration::from_secs(3720)), "1h02m");
    }
}
