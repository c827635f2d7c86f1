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

/// A number of days greater than zero, fractions allowed (`0.5` is twelve hours), for how long
/// records are kept.
pub fn positive_days(text: &str) -> Result<Duration, String> {
    let refused = || format!("{text:?} must be a positive number of days");
    let days = number(text).map_err(|_| refused())?;
    match Duration::try_from_secs_f64(days * 86_400.0) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err(refused()),
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

/// A share between 0 and 1, both included: a probability or a fraction of calls.
pub fn share(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text:?} must be between 0 and 1"))
    }
}

/// An `http://` or `https://` URL with a host, such as an endpoint to call instead of AWS's.
pub fn http_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(format!("{text:?} must name a host, such as http://127.0.0.1:5000"));
    }
    Ok(text.to_owned())
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
    fn days_take_fractions_and_refuse_zero_negative_and_nonsense() {
        assert_eq!(positive_days("30"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(positive_days("0.5"), Ok(Duration::from_secs(43_200)));
        for bad in ["0", "-1", "abc", "", "inf", "1e400"] {
            let refused = positive_days(bad).unwrap_err();
            assert!(refused.contains("positive number of days"), "{bad}: {refused}");
        }
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
        assert_eq!(share("0.5"), Ok(0.5));
        assert!(share("1.5").is_err() && share("-0.1").is_err());
        assert_eq!(
            http_url("http://127.0.0.1:5000").as_deref(),
            Ok("http://127.0.0.1:5000")
        );
        for bad in ["127.0.0.1:5000", "ftp://host", "http://", "http:///path", "https://a b"] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn messages_repeat_the_value_so_a_person_sees_what_was_wrong() {
        let message = positive_seconds("-1").unwrap_err();
        assert!(message.contains("\"-1\""), "{message}");
        assert!(message.contains("positive number of seconds"), "{message}");
    }
}
