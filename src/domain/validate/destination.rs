//! Where the copy goes: the destination Region, and at most one of an Outpost or a Local Zone in
//! it, plus the rules that depend on that choice (Outpost encryption, time-based copies).

use super::Violations;
use crate::domain::codes;
use crate::domain::fields::{FieldError, OutpostArn, Region, shown};
use crate::domain::request::{CopyImageInput, Destination};

/// Time-based copies: shortest duration, longest, and the step between them, in minutes.
const COPY_MINUTES_MIN: i64 = 15;
const COPY_MINUTES_MAX: i64 = 48 * 60;
const COPY_MINUTES_STEP: i64 = 15;

const OUTPOST_FIELD: &str = "destination_outpost_arn";
const ZONE_FIELD: &str = "destination_availability_zone";
const ZONE_ID_FIELD: &str = "destination_availability_zone_id";

/// Parses the destination fields and reconciles them: the Region the copy is made in (the
/// request's, else the Region an Outpost or zone name implies, else the service's default) and
/// the destination inside it. `None` where a violation was recorded.
pub(super) fn resolve(
    v: &mut Violations,
    input: &CopyImageInput,
    default_region: &Region,
) -> (Option<Region>, Option<Destination>) {
    let outpost = v.optional(OUTPOST_FIELD, &input.destination_outpost_arn, OutpostArn::parse);
    let zone = v.optional(ZONE_FIELD, &input.destination_availability_zone, parse_zone_name);
    let zone_id = v.optional(ZONE_ID_FIELD, &input.destination_availability_zone_id, parse_zone_id);

    let given: Vec<&str> = [
        (OUTPOST_FIELD, &input.destination_outpost_arn),
        (ZONE_FIELD, &input.destination_availability_zone),
        (ZONE_ID_FIELD, &input.destination_availability_zone_id),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(field, _)| field)
    .collect();
    if let [first, rest @ ..] = given.as_slice() {
        for field in rest {
            v.add(
                *field,
                codes::INVALID_PARAMETER_COMBINATION,
                format!("give at most one of {}; {first} is also set", given.join(", ")),
            );
        }
    }
    let exclusive = given.len() <= 1;

    let implied = match (&outpost, &zone) {
        (Some(arn), _) if exclusive => Some((OUTPOST_FIELD, arn.region().to_owned())),
        (_, Some((_, region))) if exclusive => Some((ZONE_FIELD, region.as_str().to_owned())),
        _ => None,
    };
    let region = destination_region(v, input, implied, default_region);

    let destination = if !exclusive {
        None
    } else if !input.destination_outpost_arn.is_empty() {
        outpost.map(Destination::Outpost)
    } else if !input.destination_availability_zone.is_empty() {
        zone.map(|(name, _)| Destination::AvailabilityZone(name))
    } else if !input.destination_availability_zone_id.is_empty() {
        zone_id.map(Destination::AvailabilityZoneId)
    } else {
        Some(Destination::Region)
    };
    (region, destination)
}

/// The Region the copy is made in. An Outpost or a Local Zone belongs to one Region, so naming
/// another one as the destination is a contradiction.
fn destination_region(
    v: &mut Violations,
    input: &CopyImageInput,
    implied: Option<(&str, String)>,
    default_region: &Region,
) -> Option<Region> {
    if input.destination_region.is_empty() {
        return match implied {
            Some((_, region)) => Region::parse(&region).ok(),
            None => Some(default_region.clone()),
        };
    }
    let region = v.optional("destination_region", &input.destination_region, Region::parse)?;
    if let Some((field, anchor)) = implied
        && anchor != region.as_str()
    {
        v.add(
            "destination_region",
            codes::INVALID_PARAMETER_COMBINATION,
            format!(
                "the {field} is in Region {anchor} and the copy is made there; leave destination_region empty or set it to {anchor}"
            ),
        );
    }
    Some(region)
}

/// A zone name is a Region code followed by one letter (`us-west-2a`) or, for a Local Zone, by
/// a location and a numbered zone (`us-west-2-lax-1a`). Answers the name and its Region.
fn parse_zone_name(zone: &str) -> Result<(String, Region), FieldError> {
    zone_region(zone)
        .and_then(|region| Region::parse(region).ok())
        .map(|region| (zone.to_owned(), region))
        .ok_or_else(|| {
            FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} is not an Availability Zone name: expected a Local Zone name such as us-west-2-lax-1a",
                    shown(zone)
                ),
            )
        })
}

fn zone_region(zone: &str) -> Option<&str> {
    if zone.len() > 64 {
        return None;
    }
    // A plain zone: the Region code and one letter.
    if let Some(region) = zone.strip_suffix(|c: char| c.is_ascii_lowercase())
        && Region::is_region_code(region)
    {
        return Some(region);
    }
    // A Local Zone: REGION-LOCATION-Na, where the Region is the longest dash-prefix that is a code.
    let (rest, last) = zone.rsplit_once('-')?;
    let (region, location) = rest.rsplit_once('-')?;
    let numbered = last
        .strip_suffix(|c: char| c.is_ascii_lowercase())
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let location_ok = (2..=8).contains(&location.len()) && location.bytes().all(|b| b.is_ascii_lowercase());
    (numbered && location_ok && Region::is_region_code(region)).then_some(region)
}

/// A zone id is `usw2-az1` or `usw2-lax1-az1`: lowercase words each ending in digits, the last
/// one `azN`.
fn parse_zone_id(id: &str) -> Result<String, FieldError> {
    let parts: Vec<&str> = id.split('-').collect();
    let word_then_digits = |s: &str| {
        let letters = s.trim_end_matches(|c: char| c.is_ascii_digit());
        !letters.is_empty() && letters.len() < s.len() && letters.bytes().all(|b| b.is_ascii_lowercase())
    };
    let ok = id.len() <= 64
        && (2..=3).contains(&parts.len())
        && parts.iter().all(|p| word_then_digits(p))
        && parts.last().is_some_and(|p| p.starts_with("az"));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(FieldError::new(
            codes::INVALID_PARAMETER_VALUE,
            format!(
                "{} is not an Availability Zone id: expected an id such as usw2-lax1-az1",
                shown(id)
            ),
        ))
    }
}

/// Region → Outpost copies only: the AMI must be in the Outpost's Region, and Outposts keep
/// snapshots encrypted only.
pub(super) fn check_outpost(
    v: &mut Violations,
    arn: &OutpostArn,
    source_region: Option<&Region>,
    encrypted: Option<bool>,
) {
    // Without a valid source Region the anchor cannot be compared, but encryption still can.
    if let Some(source_region) = source_region
        && arn.region() != source_region.as_str()
    {
        v.add(
            OUTPOST_FIELD,
            codes::INVALID_PARAMETER_COMBINATION,
            format!(
                "an AMI can only be copied to an Outpost in its own Region: the Outpost is in {} but source_region is {source_region}",
                arn.region()
            ),
        );
    }
    if encrypted == Some(false) {
        v.add(
            "encrypted",
            codes::INVALID_PARAMETER_COMBINATION,
            "Outposts do not support unencrypted snapshots: leave encrypted unset or set it to true",
        );
    }
}

/// A time-based copy's duration: 15 minutes to 48 hours in 15-minute steps, and only to a
/// Region.
pub(super) fn check_copy_minutes(
    v: &mut Violations,
    minutes: Option<i64>,
    destination: Option<&Destination>,
) -> Option<u32> {
    const FIELD: &str = "snapshot_copy_completion_duration_minutes";
    let minutes = minutes?;
    let mut ok = true;
    if !(COPY_MINUTES_MIN..=COPY_MINUTES_MAX).contains(&minutes) || minutes % COPY_MINUTES_STEP != 0 {
        v.add(
            FIELD,
            codes::INVALID_PARAMETER_VALUE,
            format!(
                "{FIELD} must be {COPY_MINUTES_MIN} to {COPY_MINUTES_MAX} in steps of {COPY_MINUTES_STEP}; got {minutes}"
            ),
        );
        ok = false;
    }
    match destination {
        Some(Destination::Outpost(_) | Destination::AvailabilityZone(_) | Destination::AvailabilityZoneId(_)) => {
            v.add(
                FIELD,
                codes::INVALID_PARAMETER_COMBINATION,
                "time-based copies are not supported to Outposts or Local Zones: remove the duration or the Outpost/zone destination",
            );
            ok = false;
        }
        Some(Destination::Region) | None => {}
    }
    if ok { u32::try_from(minutes).ok() } else { None }
}
