//! When an AMI is deprecated (EnableImageDeprecation's `DeprecateAt`), with EC2's rules: UTC,
//! seconds rounded to the nearest minute, not in the past, at most 10 years ahead, and for a
//! public AMI at most 2 years after it was created.

use chrono::{DateTime, DurationRound, Months, TimeDelta, Utc};

use super::{codes, fields::FieldError};

/// A deprecation time EC2 accepts: rounded to the minute, in the future, at most
/// [`DeprecateAt::MAX_MONTHS_AHEAD`] ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeprecateAt(DateTime<Utc>);

impl DeprecateAt {
    /// How far ahead a deprecation time may be: 10 years.
    pub const MAX_MONTHS_AHEAD: u32 = 120;
    /// How long after its creation a public AMI may be deprecated at the latest: 2 years.
    pub const MAX_MONTHS_AFTER_CREATION_PUBLIC: u32 = 24;

    /// `at` rounded to the nearest minute, as EC2 rounds it, if that is neither before `now`
    /// nor more than 10 years after it.
    pub fn parse(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let rounded = round_to_minute(at);
        if rounded < now {
            return Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "the deprecation time {} is in the past (now is {}): give a time in the future",
                    rounded.to_rfc3339(),
                    now.to_rfc3339()
                ),
            ));
        }
        let latest = now
            .checked_add_months(Months::new(Self::MAX_MONTHS_AHEAD))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if rounded > latest {
            return Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "the deprecation time {} is more than 10 years ahead: the latest EC2 accepts now is {}",
                    rounded.to_rfc3339(),
                    latest.to_rfc3339()
                ),
            ));
        }
        Ok(Self(rounded))
    }

    /// Refuses a time more than 2 years after `created`: EC2's limit for a public AMI.
    pub fn check_public(&self, created: DateTime<Utc>) -> Result<(), FieldError> {
        let latest = created
            .checked_add_months(Months::new(Self::MAX_MONTHS_AFTER_CREATION_PUBLIC))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if self.0 > latest {
            return Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "the deprecation time {} is more than 2 years after the public AMI was created ({}): \
                     the latest EC2 accepts is {}",
                    self.0.to_rfc3339(),
                    created.to_rfc3339(),
                    latest.to_rfc3339()
                ),
            ));
        }
        Ok(())
    }

    /// The time, a whole minute.
    pub fn time(&self) -> DateTime<Utc> {
        self.0
    }
}

/// `at` rounded to the nearest whole minute; half a minute rounds up.
pub fn round_to_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let minute = TimeDelta::minutes(1);
    let floor = at.duration_trunc(minute).unwrap_or(at);
    if at - floor >= TimeDelta::seconds(30) {
        floor + minute
    } else {
        floor
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn seconds_round_to_the_nearest_minute() {
        assert_eq!(
            round_to_minute(at("2026-06-01T10:20:29.999Z")),
            at("2026-06-01T10:20:00Z")
        );
        assert_eq!(round_to_minute(at("2026-06-01T10:20:30Z")), at("2026-06-01T10:21:00Z"));
        assert_eq!(round_to_minute(at("2026-06-01T23:59:45Z")), at("2026-06-02T00:00:00Z"));
        assert_eq!(round_to_minute(at("2026-06-01T10:20:00Z")), at("2026-06-01T10:20:00Z"));
        let parsed = DeprecateAt::parse(at("2026-06-01T10:20:45+02:00"), now()).unwrap();
        assert_eq!(parsed.time(), at("2026-06-01T08:21:00Z"), "held in UTC");
    }

    #[test]
    fn a_time_in_the_past_is_refused() {
        let error = DeprecateAt::parse(at("2026-03-01T11:58:00Z"), now()).unwrap_err();
        assert_eq!(error.code, codes::INVALID_PARAMETER_VALUE);
        assert!(error.description.contains("in the past"), "{}", error.description);
    }

    #[test]
    fn at_most_ten_years_ahead() {
        assert!(DeprecateAt::parse(at("2036-03-01T12:00:00Z"), now()).is_ok());
        let error = DeprecateAt::parse(at("2036-03-01T12:01:00Z"), now()).unwrap_err();
        assert!(error.description.contains("10 years"), "{}", error.description);
    }

    #[test]
    fn a_public_image_at_most_two_years_after_creation() {
        let created = at("2025-06-01T00:00:00Z");
        let inside = DeprecateAt::parse(at("2027-06-01T00:00:00Z"), now()).unwrap();
        assert!(inside.check_public(created).is_ok());
        let outside = DeprecateAt::parse(at("2027-06-01T00:01:00Z"), now()).unwrap();
        let error = outside.check_public(created).unwrap_err();
        assert!(error.description.contains("2 years"), "{}", error.description);
    }
}
