//! An independent statement of EC2's CopyImage rules, to cross-check
//! [`amicopy::domain::CopyRequest::parse`]: given a request, the set of field paths that must be
//! refused. Written from the rules (README "Validation", /work/shared/docs) with regular
//! expressions rather than from the validator's code, so a mistake in one is unlikely to be
//! repeated in the other.

use std::{collections::BTreeSet, sync::LazyLock};

use amicopy::domain::CopyImageInput;
use regex::Regex;

const REGION: &str = r"[a-z]{2}(?:-[a-z]{2,12}){1,2}-[0-9]{1,2}";
const PARTITION: &str = r"aws(?:-[a-z]+)*";
const KEY_ID: &str =
    r"(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-f]{32})";
const ALIAS: &str = r"alias/[A-Za-z0-9:/_-]{1,256}";

fn whole(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).expect("oracle pattern")
}

static IMAGE_ID: LazyLock<Regex> = LazyLock::new(|| whole("ami-(?:[0-9a-f]{8}|[0-9a-f]{17})"));
static REGION_CODE: LazyLock<Regex> = LazyLock::new(|| whole(REGION));
static AMI_NAME: LazyLock<Regex> = LazyLock::new(|| whole(r"[A-Za-z0-9 ()\[\]./\-'@_]{3,128}"));
static KMS_KEY: LazyLock<Regex> = LazyLock::new(|| {
    whole(&format!(
        "{KEY_ID}|{ALIAS}|arn:{PARTITION}:kms:{REGION}:[0-9]{{12}}:(?:key/{KEY_ID}|{ALIAS})"
    ))
});
static KMS_ARN_REGION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^arn:{PARTITION}:kms:({REGION}):")).expect("oracle pattern"));
static OUTPOST: LazyLock<Regex> = LazyLock::new(|| {
    whole(&format!(
        "arn:{PARTITION}:outposts:({REGION}):[0-9]{{12}}:outpost/op-[0-9a-f]{{17}}"
    ))
});
static PLAIN_ZONE: LazyLock<Regex> = LazyLock::new(|| whole(&format!("({REGION})[a-z]")));
static LOCAL_ZONE: LazyLock<Regex> = LazyLock::new(|| whole(&format!("({REGION})-[a-z]{{2,8}}-[0-9]+[a-z]")));
static ACCOUNT: LazyLock<Regex> = LazyLock::new(|| whole("[0-9]{12}"));
static ORGANIZATION: LazyLock<Regex> = LazyLock::new(|| {
    whole(&format!(
        "arn:{PARTITION}:organizations::[0-9]{{12}}:organization/o-[a-z0-9]{{10,32}}"
    ))
});
static UNIT: LazyLock<Regex> = LazyLock::new(|| {
    whole(&format!(
        "arn:{PARTITION}:organizations::[0-9]{{12}}:ou/o-[a-z0-9]{{10,32}}/ou-[a-z0-9]{{4,32}}-[a-z0-9]{{8,32}}"
    ))
});
static ZONE_ID: LazyLock<Regex> = LazyLock::new(|| whole("[a-z]+[0-9]+(?:-[a-z]+[0-9]+)?-az[a-z]*[0-9]+"));

/// The Region a Local Zone or zone name belongs to, when the name is well formed.
fn zone_region(zone: &str) -> Option<String> {
    if zone.len() > 64 {
        return None;
    }
    [&*PLAIN_ZONE, &*LOCAL_ZONE]
        .into_iter()
        .find_map(|re| re.captures(zone))
        .map(|captures| captures[1].to_owned())
}

fn client_token_ok(token: &str) -> bool {
    (1..=64).contains(&token.len()) && token.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn is_reserved_key(key: &str) -> bool {
    key.len() >= 4 && key.as_bytes()[..4].eq_ignore_ascii_case(b"aws:")
}

/// Every field path `input` must be refused on, with `default_region` as the service's Region.
pub fn bad_fields(input: &CopyImageInput, default_region: &str) -> BTreeSet<String> {
    let mut bad = BTreeSet::new();
    let mut flag = |field: &str, wrong: bool| {
        if wrong {
            bad.insert(field.to_owned());
        }
    };
    flag("source_image_id", !IMAGE_ID.is_match(&input.source_image_id));
    flag("source_region", !REGION_CODE.is_match(&input.source_region));
    flag("name", !AMI_NAME.is_match(&input.name));
    flag("description", input.description.chars().count() > 255);
    flag(
        "client_token",
        !input.client_token.is_empty() && !client_token_ok(&input.client_token),
    );

    // Outpost, zone, zone id: each must be well formed, and at most one may be given.
    let outpost_region = OUTPOST
        .captures(&input.destination_outpost_arn)
        .map(|c| c[1].to_owned());
    let zone = zone_region(&input.destination_availability_zone);
    let zone_id_ok =
        input.destination_availability_zone_id.len() <= 64 && ZONE_ID.is_match(&input.destination_availability_zone_id);
    let specials = [
        (
            "destination_outpost_arn",
            &input.destination_outpost_arn,
            outpost_region.is_some(),
        ),
        (
            "destination_availability_zone",
            &input.destination_availability_zone,
            zone.is_some(),
        ),
        (
            "destination_availability_zone_id",
            &input.destination_availability_zone_id,
            zone_id_ok,
        ),
    ];
    let given: Vec<_> = specials.iter().filter(|(_, value, _)| !value.is_empty()).collect();
    for (field, _, well_formed) in &given {
        flag(field, !well_formed);
    }
    for (field, _, _) in given.iter().skip(1) {
        flag(field, true);
    }
    let only = (given.len() == 1).then(|| given[0]);

    // The Region the copy is made in, and whether the special destination implies one.
    let implied = match only {
        Some(("destination_outpost_arn", _, true)) => outpost_region.clone(),
        Some(("destination_availability_zone", _, true)) => zone.clone(),
        _ => None,
    };
    let destination_region = if input.destination_region.is_empty() {
        Some(implied.clone().unwrap_or_else(|| default_region.to_owned()))
    } else if REGION_CODE.is_match(&input.destination_region) {
        if implied
            .as_ref()
            .is_some_and(|anchor| *anchor != input.destination_region)
        {
            flag("destination_region", true);
        }
        Some(input.destination_region.clone())
    } else {
        flag("destination_region", true);
        None
    };

    if !input.kms_key_id.is_empty() {
        if !KMS_KEY.is_match(&input.kms_key_id) {
            flag("kms_key_id", true);
        } else {
            flag("kms_key_id", input.encrypted != Some(true));
            if let (Some(key_region), Some(destination)) =
                (KMS_ARN_REGION.captures(&input.kms_key_id), &destination_region)
            {
                flag("kms_key_id", key_region[1] != **destination);
            }
        }
    }

    // Rules that hold once the destination is a well-formed Outpost or zone.
    let special_destination = matches!(only, Some((_, _, true)));
    if let (Some(("destination_outpost_arn", _, true)), Some(anchor)) = (only, &outpost_region) {
        if REGION_CODE.is_match(&input.source_region) {
            flag("destination_outpost_arn", *anchor != input.source_region);
        }
        flag("encrypted", input.encrypted == Some(false));
    }
    if let Some(minutes) = input.snapshot_copy_completion_duration_minutes {
        let in_steps = (15..=2880).contains(&minutes) && minutes % 15 == 0;
        flag(
            "snapshot_copy_completion_duration_minutes",
            !in_steps || special_destination,
        );
    }

    flag(
        "destination_account_id",
        !input.destination_account_id.is_empty() && !ACCOUNT.is_match(&input.destination_account_id),
    );
    let permissions = &input.launch_permissions;
    list(
        &mut flag,
        "launch_permissions.user_ids",
        &permissions.user_ids,
        &ACCOUNT,
    );
    list(
        &mut flag,
        "launch_permissions.organization_arns",
        &permissions.organization_arns,
        &ORGANIZATION,
    );
    list(
        &mut flag,
        "launch_permissions.organizational_unit_arns",
        &permissions.organizational_unit_arns,
        &UNIT,
    );
    flag(
        "launch_permissions.public",
        permissions.public && input.encrypted == Some(true),
    );
    list(&mut flag, "snapshot_user_ids", &input.snapshot_user_ids, &ACCOUNT);
    if let Some((seconds, nanos)) = input.deprecate_time {
        flag("deprecate_time", !deprecation_ok(seconds, nanos, permissions.public));
    }

    let mut kinds_seen = BTreeSet::new();
    for (i, spec) in input.tag_specifications.iter().enumerate() {
        let kind_ok = spec.resource_type == "image" || spec.resource_type == "snapshot";
        let repeated = kind_ok && !kinds_seen.insert(spec.resource_type.clone());
        flag(&format!("tag_specifications[{i}].resource_type"), !kind_ok || repeated);
        flag(&format!("tag_specifications[{i}].tags"), spec.tags.len() > 50);
        let mut keys = BTreeSet::new();
        for (j, tag) in spec.tags.iter().enumerate() {
            let length = tag.key.chars().count();
            let key_bad = if !(1..=127).contains(&length) || is_reserved_key(&tag.key) {
                true
            } else {
                !keys.insert(tag.key.clone())
            };
            flag(&format!("tag_specifications[{i}].tags[{j}].key"), key_bad);
            flag(
                &format!("tag_specifications[{i}].tags[{j}].value"),
                tag.value.chars().count() > 256,
            );
        }
    }
    bad
}

/// At most 100 entries in a permission list; each one matching `pattern`.
fn list(flag: &mut impl FnMut(&str, bool), field: &str, values: &[String], pattern: &Regex) {
    if values.len() > 100 {
        flag(field, true);
        return;
    }
    for (i, value) in values.iter().enumerate() {
        flag(&format!("{field}[{i}]"), !pattern.is_match(value));
    }
}

/// A deprecation time EC2 accepts: a real instant (nanoseconds 0–999,999,999), in the future, at
/// most 10 years ahead, and for a public image at most 2 years ahead. The generator keeps its
/// times far from these edges (and from minute rounding), so rough year lengths are enough.
fn deprecation_ok(seconds: i64, nanos: i32, public: bool) -> bool {
    const YEAR: i64 = 31_557_600;
    let now = chrono::Utc::now().timestamp();
    let real = (0..1_000_000_000).contains(&nanos) && chrono::DateTime::from_timestamp(seconds, 0).is_some();
    let ahead = seconds.saturating_sub(now);
    real && ahead > 0 && ahead <= 10 * YEAR && (!public || ahead <= 2 * YEAR)
}
