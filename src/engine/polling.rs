//! When to look at a running copy again. DescribeImages and DescribeSnapshots share per-account
//! rate buckets with every other tool in the account, so a copy is looked at as rarely as its end
//! allows: its end must be seen within max(floor, 2 % of its duration) of EC2 reporting it, and
//! nothing more is owed.
//!
//! - While nothing is known of its pace (no progress yet), looks back off geometrically from the
//!   floor (each interval as long as the copy's age), up to the ceiling.
//! - Once the snapshots report progress, the earliest end the progress allows is estimated
//!   (linear from the copy's start, with the reported percent rounded up, so the estimate is
//!   never late); a time-based copy's deadline bounds it too. The next look halves the time left
//!   to that end, so looks close in on it and are never more than the tolerance late.
//! - Near the expected end (within twice the tolerance) or past it, only the image's state
//!   matters: the copy is looked at every half tolerance (leaving the other half for the look
//!   itself), without asking for snapshot progress.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The share of a copy's duration its end may go unseen.
const TOLERANCE_SHARE: f64 = 0.02;

/// The next look at one copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Look {
    /// When it is due.
    pub(super) at: DateTime<Utc>,
    /// Whether snapshot progress is worth a DescribeSnapshots call then.
    pub(super) with_progress: bool,
}

/// How often copies may and must be looked at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pacing {
    /// The closest two looks at one copy may be; also the smallest tolerance for seeing its end.
    pub(super) floor: Duration,
    /// The longest a copy whose pace is not known yet goes unseen, and the longest tolerance.
    pub(super) ceiling: Duration,
}

/// What is known of one running copy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Copy {
    /// When EC2 accepted it.
    pub(super) since: DateTime<Utc>,
    /// Snapshot progress last reported, 0–99.
    pub(super) progress: Option<u8>,
    /// When a time-based copy must be done, if it is one.
    pub(super) deadline: Option<DateTime<Utc>>,
}

impl Pacing {
    /// When to look at `copy` next, seen from `now`.
    pub(super) fn next_look(&self, copy: Copy, now: DateTime<Utc>) -> Look {
        let age = seconds(now - copy.since).max(0.0);
        let floor = self.floor.as_secs_f64();
        let ceiling = self.ceiling.as_secs_f64().max(floor);
        let by_progress = copy
            .progress
            .filter(|percent| *percent > 0)
            .map(|percent| age * 100.0 / (f64::from(percent) + 1.0));
        let by_deadline = copy.deadline.map(|deadline| seconds(deadline - copy.since));
        let expected_duration = match (by_progress, by_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(duration) = expected_duration else {
            let interval = age.clamp(floor, ceiling);
            return Look {
                at: after(now, interval),
                with_progress: true,
            };
        };
        let tolerance = (duration * TOLERANCE_SHARE).clamp(floor, ceiling);
        let left = duration - age;
        if left <= 2.0 * tolerance {
            // Half the tolerance, so the time a look takes (a claim, a call, a commit) still
            // fits inside it.
            return Look {
                at: after(now, (tolerance / 2.0).max(floor)),
                with_progress: false,
            };
        }
        Look {
            at: after(now, (left / 2.0).max(tolerance)),
            with_progress: true,
        }
    }
}

fn seconds(delta: chrono::TimeDelta) -> f64 {
    delta.num_microseconds().map_or(f64::MAX, |micros| micros as f64 / 1e6)
}

fn after(time: DateTime<Utc>, seconds: f64) -> DateTime<Utc> {
    let micros = (seconds * 1e6).round() as i64;
    time.checked_add_signed(chrono::TimeDelta::microseconds(micros))
        .unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// A copy of `duration` seconds whose snapshots report whole percents as EC2 does, looked
    /// at by `pacing` until it is seen available: how many looks, how many EC2 calls (one
    /// DescribeImages each, plus a DescribeSnapshots when progress is asked for while it is
    /// pending) and how late its end was seen.
    fn follow(pacing: Pacing, duration: f64, deadline: Option<f64>) -> (u32, u32, f64) {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut now = start;
        let mut progress = None;
        let (mut looks, mut calls) = (0, 0);
        loop {
            let copy = Copy {
                since: start,
                progress,
                deadline: deadline.map(|d| after(start, d)),
            };
            let look = pacing.next_look(copy, now);
            now = look.at;
            looks += 1;
            calls += 1;
            let age = seconds(now - start);
            if age >= duration {
                return (looks, calls, age - duration);
            }
            if look.with_progress {
                calls += 1;
                progress = Some(((age / duration * 100.0) as u8).min(99));
            }
        }
    }

    fn pacing(floor: f64) -> Pacing {
        Pacing {
            floor: Duration::from_secs_f64(floor),
            ceiling: Duration::from_secs(300),
        }
    }

    #[test]
    fn a_thirty_minute_copy_costs_at_most_thirty_calls_and_is_seen_within_two_percent() {
        let (looks, calls, late) = follow(pacing(2.0), 1800.0, None);
        assert!(calls <= 30, "{calls} calls in {looks} looks");
        assert!(late <= 36.0, "seen {late:.1}s late");
        eprintln!("30-minute copy: {looks} looks, {calls} calls, seen {late:.1}s late");
    }

    #[test]
    fn short_and_long_copies_are_seen_within_max_of_the_floor_and_two_percent() {
        for duration in [1.0, 20.0, 60.0, 300.0, 1800.0, 7200.0, 36_000.0] {
            let (looks, calls, late) = follow(pacing(2.0), duration, None);
            let allowed = (duration * TOLERANCE_SHARE).clamp(2.0, 300.0);
            assert!(
                late <= allowed + 1e-6,
                "{duration}s: seen {late:.2}s late, allowed {allowed}"
            );
            assert!(calls <= 40, "{duration}s: {calls} calls in {looks} looks");
        }
    }

    #[test]
    fn a_time_based_copys_deadline_bounds_the_wait() {
        // Progress says nothing (a copy that reports 0 % to the end), the deadline does.
        let pacing = pacing(2.0);
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let copy = Copy {
            since: start,
            progress: Some(0),
            deadline: Some(after(start, 900.0)),
        };
        let look = pacing.next_look(copy, after(start, 890.0));
        assert!(seconds(look.at - start) <= 890.0 + 18.0, "{look:?}");
        let (_, calls, late) = follow(pacing, 900.0, Some(900.0));
        assert!(late <= 18.0 && calls <= 30, "{late} {calls}");
    }

    #[test]
    fn a_copy_that_tells_nothing_is_looked_at_less_and_less_but_at_least_every_ceiling() {
        let pacing = Pacing {
            floor: Duration::from_secs(2),
            ceiling: Duration::from_secs(120),
        };
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let stalled = Copy {
            since: start,
            progress: Some(0),
            deadline: None,
        };
        let first = pacing.next_look(stalled, start);
        assert_eq!(seconds(first.at - start), 2.0, "the floor");
        let later = pacing.next_look(stalled, after(start, 100.0));
        assert_eq!(seconds(later.at - start), 200.0, "its age again");
        let much_later = pacing.next_look(stalled, after(start, 10_000.0));
        assert_eq!(seconds(much_later.at - start), 10_120.0, "the ceiling");
        assert!(much_later.with_progress);
    }

    #[test]
    fn near_the_end_only_the_state_is_asked_for() {
        let pacing = pacing(2.0);
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let copy = Copy {
            since: start,
            progress: Some(98),
            deadline: None,
        };
        let look = pacing.next_look(copy, after(start, 1780.0));
        assert!(!look.with_progress, "{look:?}");
    }
}
