//! Parsers that turn a flag's text into a typed setting when the settings are read, so a bad
//! value stops start-up with one line naming the flag (clap adds the flag's name) instead of
//! becoming a busy loop or a silent fallback later. Used as clap `value_parser`s by every
//! settings struct; nothing here depends on the rest of the service.

use std::time::Duration;

/// A number of seconds, zero or more: `0`, `1.5`, `300`.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value = number(text)?;
    Duration::try_from_secs_f64(value).map_err(|_| format!("{text:?} must be zero or a positive number of seconds"))
}

/// A number of seconds greater than zero, for intervals and timeouts where zero would mean a
/// busy loop or an instant failure.
pub fn positive_seconds(text: &str) -> Result<Duration, String> {
    match seconds(text) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(format!("{text:?} must be a positive number of seconds")),
    }
}

/// A rate or share, zero or more.
pub fn non_negative(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("{text:?} must be zero or more"))
    }
}

/// A rate greater than zero.
pub fn positive(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(format!("{text:?} must be more than zero"))
    }
}

/// A whole number greater than zero.
pub fn positive_count(text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(value) if value > 0 => Ok(value),
        _ => Err(format!("{text:?} must be a whole number greater than zero")),
    }
}

fn number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("{text:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_take_whole_and_fractional_numbers() {
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(positive_seconds(" 30 "), Ok(Duration::from_secs(30)));
    }

    #[test]
    fn nonsense_negative_and_zero_where_it_makes_no_sense_are_refused() {
        for bad in ["abc", "", "-1", "NaN", "inf", "1e400"] {
            assert!(seconds(bad).is_err(), "{bad}");
            assert!(positive_seconds(bad).is_err(), "{bad}");
            assert!(non_negative(bad).is_err(), "{bad}");
        }
        assert!(positive_seconds("0").is_err());
        assert!(positive_seconds("0.0").is_err());
        assert!(positive("0").is_err());
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(positive_count("0").is_err());
        assert!(positive_count("-3").is_err());
        assert_eq!(positive_count("7"), Ok(7));
    }

    #[test]
    fn messages_repeat_the_value_so_a_person_sees_what_was_wrong() {
        let message = positive_seconds("-1").unwrap_err();
        assert!(message.contains("\"-1\""), "{message}");
        assert!(message.contains("positive number of seconds"), "{message}");
    }
}
