//! Live progress on a terminal (indicatif): the aggregate line on top, one bar per target below
//! it (account, Region, state, percent, elapsed, estimated time left), redrawn in place; a
//! failure is printed in red above the bars as it happens, with EC2's code and message.

use amicopy::proto::CopyJobState;
use chrono::Utc;
use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::short_duration;
use crate::{
    progress::{Board, Target, Update},
    view,
};

/// Width of every target's bar.
const BAR: &str = "{bar:32.cyan/blue}";

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid constant template")
        .progress_chars("=> ")
}

fn running() -> ProgressStyle {
    bar_style(&format!("  {{prefix}}  {BAR} {{pos:>3}}%  {{msg}}"))
}

fn succeeded() -> ProgressStyle {
    bar_style("  {prefix}  {bar:32.green} {pos:>3}%  {msg:.green}")
}

fn failed() -> ProgressStyle {
    bar_style("  {prefix}  {bar:32.red} {pos:>3}%  {msg:.red}")
}

/// The bars of one watch.
#[derive(Default)]
pub struct Bars {
    multi: Option<MultiProgress>,
    /// The aggregate: state, overall percent, targets per state.
    header: Option<ProgressBar>,
    targets: Vec<ProgressBar>,
    /// Whether each target's failure was printed already.
    announced: Vec<bool>,
}

impl Bars {
    /// Draws the aggregate line and a bar per target.
    pub fn start(&mut self, board: &Board) {
        // The title stays put above everything; failures and notes are printed under it.
        println!("{}", style(super::plain::heading(board)).bold());
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let header = multi.add(ProgressBar::new(100).with_style(bar_style("{msg}")));
        self.multi = Some(multi);
        self.header = Some(header);
        self.refresh(board);
    }

    fn add_missing(&mut self, board: &Board) {
        let Some(multi) = &self.multi else { return };
        while self.targets.len() < board.targets.len() {
            let bar = multi.add(ProgressBar::new(100).with_style(running()));
            self.targets.push(bar);
            self.announced.push(false);
        }
    }

    /// Shows one message of the watch.
    pub fn update(&mut self, board: &Board, update: Update<'_>, changed: Option<usize>) {
        self.add_missing(board);
        if let (Some(index), Update::Job(event) | Update::Target { event, .. }) = (changed, update) {
            let target = &board.targets[index];
            if target.state == CopyJobState::Failed && !self.announced[index] {
                self.announced[index] = true;
                self.println(
                    style(format!(
                        "✗ {} failed: {}",
                        target.key.label(),
                        failure_text(&target.failure_code, &target.failure_message)
                    ))
                    .red()
                    .to_string(),
                );
            } else if !job_ended(event.state) && !event.failure_code.is_empty() {
                self.println(
                    style(format!(
                        "↻ {} will retry after {}",
                        target.key.label(),
                        failure_text(&event.failure_code, &event.detail)
                    ))
                    .yellow()
                    .to_string(),
                );
            }
        }
        self.refresh(board);
    }

    /// Redraws every line from the board (also on a timer, for elapsed and time left).
    pub fn refresh(&mut self, board: &Board) {
        self.add_missing(board);
        let now = Utc::now();
        let width = board.targets.iter().map(|t| t.key.label().len()).max().unwrap_or(0);
        if let Some(header) = &self.header {
            header.set_message(heading(board));
        }
        for (bar, target) in self.targets.iter().zip(&board.targets) {
            bar.set_prefix(format!("{:<width$}", target.key.label()));
            bar.set_position(u64::from(target.percent.unwrap_or(0).min(100)));
            bar.set_style(match target.state {
                CopyJobState::Available => succeeded(),
                CopyJobState::Failed | CopyJobState::Cancelled => failed(),
                _ => running(),
            });
            bar.set_message(message(target, now));
        }
    }

    /// Prints a line above the bars.
    pub fn note(&self, message: &str) {
        self.println(style(message).dim().to_string());
    }

    fn println(&self, line: String) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(line);
            }
            None => println!("{line}"),
        }
    }

    /// Leaves the bars on screen in their final state (a failed bar where it stopped).
    pub fn finish(&mut self, board: &Board) {
        self.refresh(board);
        self.abandon();
    }

    /// Leaves the bars where they are, for Ctrl-C.
    pub fn abandon(&mut self) {
        for bar in &self.targets {
            bar.abandon();
        }
        if let Some(header) = &self.header {
            header.abandon();
        }
    }
}

fn job_ended(state: i32) -> bool {
    CopyJobState::try_from(state).is_ok_and(crate::progress::job_terminal)
}

fn failure_text(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (_, true) => code.to_owned(),
        (true, false) => message.to_owned(),
        (false, false) if message.contains(code) => message.to_owned(),
        (false, false) => format!("{code}: {message}"),
    }
}

/// The aggregate line: the state, the overall percent and the targets per state.
fn heading(board: &Board) -> String {
    let state = match board.aggregate {
        Some(state) => view::distribution_state(state as i32),
        None => board.targets.first().map_or("UNKNOWN", Target::state_name),
    };
    format!("{state} {}% ({})", board.percent(), board.tally())
}

/// A target's message: state, elapsed, time left, image or EC2's code (the whole failure is
/// printed above the bars: a bar line never wraps, or it could not be redrawn in place).
fn message(target: &Target, now: chrono::DateTime<Utc>) -> String {
    let mut parts = vec![format!("{:<10}", target.state_name())];
    if let Some(elapsed) = target.elapsed(now) {
        parts.push(short_duration(elapsed));
    }
    if let Some(left) = target.left(now) {
        parts.push(format!("~{} left", short_duration(left)));
    }
    if target.state == CopyJobState::Failed {
        parts.push(target.failure_code.clone());
    } else if !target.image_id.is_empty() {
        parts.push(target.image_id.clone());
    }
    parts.join("  ")
}
