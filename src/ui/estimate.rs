//! How far along something is and how long it has left, from what the store knows: a target's
//! or job's state and snapshot progress, and the rate at which that progress was made. Pure, so
//! the pages and the live updates say the same thing.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::JobState;

/// How done a job is, in percent: 0 while queued, its snapshot progress while copying, 100 once
/// the copy is made (finishing) or the job has ended or is ending.
pub fn job_percent(state: JobState, progress: Option<u8>) -> f64 {
    match state {
        JobState::Queued => 0.0,
        JobState::Copying => f64::from(progress.unwrap_or(0).min(100)),
        JobState::Finishing | JobState::Available | JobState::Failed | JobState::Cancelling | JobState::Cancelled => {
            100.0
        }
    }
}

/// The mean of `percents`: how done a whole distribution is; 0 for none.
pub fn mean_percent(percents: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, count) = percents
        .into_iter()
        .fold((0.0, 0u32), |(sum, count), percent| (sum + percent, count + 1));
    if count == 0 { 0.0 } else { sum / f64::from(count) }
}

/// The time left if progress goes on at the rate it was made: `percent` done since `since`,
/// seen at `now`. `None` before any progress, once done, or when the clock went backwards.
pub fn time_left(since: DateTime<Utc>, now: DateTime<Utc>, percent: f64) -> Option<Duration> {
    if !(percent > 0.0 && percent < 100.0) {
        return None;
    }
    let elapsed = (now - since).to_std().ok()?;
    let left = elapsed.as_secs_f64() * (100.0 - percent) / percent;
    Duration::try_from_secs_f64(left).ok()
}

/// A duration for people, rounded to what matters: "12 s", "4 min", "1 h 5 min".
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs_f64().round() as u64;
    match seconds {
        0..60 => format!("{} s", seconds.max(1)),
        60..3600 => format!("{} min", (seconds + 30) / 60),
        _ => {
            let minutes = (seconds + 30) / 60;
            match minutes % 60 {
                0 => format!("{} h", minutes / 60),
                rest => format!("{} h {rest} min", minutes / 60),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn percent_follows_the_state_and_the_snapshot_progress() {
        assert_eq!(job_percent(JobState::Queued, Some(50)), 0.0);
        assert_eq!(job_percent(JobState::Copying, None), 0.0);
        assert_eq!(job_percent(JobState::Copying, Some(40)), 40.0);
        assert_eq!(job_percent(JobState::Copying, Some(250)), 100.0);
        for ended in [
            JobState::Finishing,
            JobState::Available,
            JobState::Failed,
            JobState::Cancelled,
        ] {
            assert_eq!(job_percent(ended, None), 100.0, "{ended}");
        }
        assert_eq!(mean_percent([0.0, 50.0, 100.0]), 50.0);
        assert_eq!(mean_percent([]), 0.0);
    }

    #[test]
    fn time_left_extrapolates_the_rate_so_far() {
        let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let now = start + TimeDelta::seconds(30);
        assert_eq!(time_left(start, now, 25.0), Some(Duration::from_secs(90)));
        assert_eq!(time_left(start, now, 75.0), Some(Duration::from_secs(10)));
        assert_eq!(time_left(start, now, 0.0), None, "no rate yet");
        assert_eq!(time_left(start, now, 100.0), None, "done");
        assert_eq!(time_left(now, start, 50.0), None, "the clock went backwards");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(200)), "1 s");
        assert_eq!(human(Duration::from_secs(42)), "42 s");
        assert_eq!(human(Duration::from_secs(150)), "3 min");
        assert_eq!(human(Duration::from_secs(3600)), "1 h");
        assert_eq!(human(Duration::from_secs(3900)), "1 h 5 min");
    }
}
