//! Turns fuzzer bytes into a CopyImage request that is worth checking: each field is a valid value,
//! a valid value with one small change, or arbitrary text, so the rules that combine fields
//! (Outpost and Region, KMS key and destination, duplicate tags) are reached as often as the
//! single-field ones. Every byte string maps to some request, so coverage-guided fuzzers and
//! proptest drive the same generator.

use amicopy::domain::{CopyImageInput, LaunchPermissionsInput, Tag, TagSpecificationInput};
use arbitrary::{Result, Unstructured};

const IMAGE_IDS: &[&str] = &["ami-0abcdef1234567890", "ami-12345678", "ami-0ABCDEF1234567890", "ami-"];
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-central-1",
    "us-gov-west-1",
    "ap-southeast-2",
    "mars-1",
];
const NAMES: &[&str] = &["web-server 2024.06 (base)", "ab", "x[1]/y@z_'q'", "näme"];
const KMS_KEYS: &[&str] = &[
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "mrk-1234abcd12ab34cd56ef1234567890ab",
    "alias/aws/ebs",
    "alias/team:a/b_c-d",
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws-us-gov:kms:us-west-2:123456789012:alias/team",
    "arn:aws:kms:us-west-2:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab",
];
const OUTPOSTS: &[&str] = &[
    "arn:aws:outposts:us-west-2:123456789012:outpost/op-1234567890abcdef0",
    "arn:aws:outposts:us-east-1:123456789012:outpost/op-1234567890abcdef0",
    "arn:aws:outposts:us-west-2:123456789012:outpost/op-1234",
];
const ZONES: &[&str] = &[
    "us-west-2-lax-1a",
    "us-east-1a",
    "us-west-2-lax-1",
    "eu-central-1-ham-1a",
];
const ZONE_IDS: &[&str] = &["usw2-lax1-az1", "use1-az4", "usw2-az", "az1"];
const TOKENS: &[&str] = &["550e8400-e29b-41d4-a716-446655440000", "t", "with space", "tab\there"];
const RESOURCE_TYPES: &[&str] = &["image", "snapshot", "volume", "Image"];
const TAG_KEYS: &[&str] = &["team", "Name", "aws:x", "AWS:created", "k", "ключ"];
const MINUTES: &[i64] = &[15, 30, 2880, 2895, 0, 7, -15, i64::MAX, i64::MIN];
const ACCOUNTS: &[&str] = &["222233334444", "012345678901", "12345678901", "22223333444a"];
const ORGANIZATIONS: &[&str] = &[
    "arn:aws:organizations::123456789012:organization/o-abcde12345",
    "arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdefgh34",
    "arn:aws:organizations::12345678901:organization/o-abcde12345",
];
const UNITS: &[&str] = &[
    "arn:aws:organizations::123456789012:ou/o-abcde12345/ou-ab12-cdefgh34",
    "arn:aws-us-gov:organizations::123456789012:ou/o-abcde12345/ou-abcd-12345678",
    "arn:aws:organizations::123456789012:organization/o-abcde12345",
];
/// Deprecation times as offsets in seconds from when the request is made: the past, the near
/// future, beyond 2 years (too late for a public image), beyond 10 years; well clear of every
/// boundary, so the oracle and the validator agree whatever moment each takes as "now".
const DEPRECATION_OFFSETS: &[i64] = &[-86_400, 3_600, 31_536_000, 94_608_000, 347_000_000];

/// A string for a field: usually from `pool` (as is, or with one character changed), sometimes
/// empty, sometimes arbitrary text; long strings are made by repeating a piece.
fn text(u: &mut Unstructured, pool: &[&str]) -> Result<String> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => String::new(),
        1 => u.arbitrary::<String>()?,
        2 => {
            let piece = u.choose(pool)?;
            let times = u.int_in_range(1..=200usize)?;
            piece.repeat(times)
        }
        3 | 4 => {
            let value = *u.choose(pool)?;
            mutate(u, value)?
        }
        _ => (*u.choose(pool)?).to_owned(),
    })
}

/// `value` with one character inserted, removed or replaced.
fn mutate(u: &mut Unstructured, value: &str) -> Result<String> {
    let mut chars: Vec<char> = value.chars().collect();
    let at = u.choose_index(chars.len() + 1)?;
    let replacement = *u.choose(&['-', ':', '/', 'A', 'z', '0', ' ', '\u{0}', 'é', '\u{7f}'])?;
    match u.int_in_range(0..=2u8)? {
        0 => chars.insert(at, replacement),
        1 if at < chars.len() => {
            chars.remove(at);
        }
        _ if at < chars.len() => chars[at] = replacement,
        _ => chars.push(replacement),
    }
    Ok(chars.into_iter().collect())
}

fn tag(u: &mut Unstructured) -> Result<Tag> {
    let key = text(u, TAG_KEYS)?;
    let value = if u.ratio(1, 8)? {
        "v".repeat(u.int_in_range(250..=260usize)?)
    } else {
        u.arbitrary()?
    };
    Ok(Tag::new(key, value))
}

fn tag_specification(u: &mut Unstructured) -> Result<TagSpecificationInput> {
    let count = if u.ratio(1, 10)? {
        u.int_in_range(48..=53usize)?
    } else {
        u.int_in_range(0..=4usize)?
    };
    let mut tags = Vec::with_capacity(count);
    for _ in 0..count {
        // Repeat an earlier key now and then, to reach the duplicate-key rule.
        let next = match tags.last() {
            Some(Tag { key, .. }) if u.ratio(1, 6)? => Tag::new(key.clone(), "again"),
            _ => tag(u)?,
        };
        tags.push(next);
    }
    Ok(TagSpecificationInput {
        resource_type: text(u, RESOURCE_TYPES)?,
        tags,
    })
}

fn optional_text(u: &mut Unstructured, pool: &[&str], one_in: u8) -> Result<String> {
    if u.ratio(1, one_in)? {
        text(u, pool)
    } else {
        Ok(String::new())
    }
}

fn accounts(u: &mut Unstructured) -> Result<Vec<String>> {
    let count = if u.ratio(1, 20)? {
        u.int_in_range(99..=102usize)?
    } else {
        u.int_in_range(0..=3usize)?
    };
    (0..count).map(|_| text(u, ACCOUNTS)).collect()
}

fn arns(u: &mut Unstructured, pool: &[&str]) -> Result<Vec<String>> {
    let count = u.int_in_range(0..=2usize)?;
    (0..count).map(|_| text(u, pool)).collect()
}

/// Seconds and nanoseconds of a deprecation time, as the wire carries them: mostly near a rule's
/// side, sometimes not a valid instant at all.
fn deprecate_time(u: &mut Unstructured) -> Result<Option<(i64, i32)>> {
    if !u.ratio(1, 3)? {
        return Ok(None);
    }
    if u.ratio(1, 8)? {
        return Ok(Some((u.arbitrary()?, u.arbitrary()?)));
    }
    let now = chrono::Utc::now().timestamp();
    let offset = *u.choose(DEPRECATION_OFFSETS)?;
    Ok(Some((now.saturating_add(offset), u.int_in_range(0..=999_999_999)?)))
}

/// A CopyImage request from `u`'s bytes. Fields this generator does not know (added to the
/// request later) keep their defaults, "not given", so the oracle's rules still cover it.
#[allow(clippy::needless_update)]
pub fn copy_image_input(u: &mut Unstructured) -> Result<CopyImageInput> {
    let spec_count = u.int_in_range(0..=3usize)?;
    let mut tag_specifications = Vec::with_capacity(spec_count);
    for _ in 0..spec_count {
        tag_specifications.push(tag_specification(u)?);
    }
    Ok(CopyImageInput {
        source_image_id: text(u, IMAGE_IDS)?,
        source_region: text(u, REGIONS)?,
        name: text(u, NAMES)?,
        description: if u.ratio(1, 8)? {
            "d".repeat(u.int_in_range(250..=260usize)?)
        } else {
            u.arbitrary()?
        },
        client_token: optional_text(u, TOKENS, 3)?,
        copy_image_tags: u.arbitrary()?,
        dry_run: u.arbitrary()?,
        encrypted: u.arbitrary()?,
        kms_key_id: optional_text(u, KMS_KEYS, 3)?,
        destination_region: optional_text(u, REGIONS, 2)?,
        destination_outpost_arn: optional_text(u, OUTPOSTS, 4)?,
        destination_availability_zone: optional_text(u, ZONES, 5)?,
        destination_availability_zone_id: optional_text(u, ZONE_IDS, 5)?,
        snapshot_copy_completion_duration_minutes: if u.ratio(1, 4)? {
            Some(if u.ratio(1, 2)? {
                *u.choose(MINUTES)?
            } else {
                u.arbitrary()?
            })
        } else {
            None
        },
        tag_specifications,
        destination_account_id: optional_text(u, ACCOUNTS, 3)?,
        launch_permissions: LaunchPermissionsInput {
            user_ids: accounts(u)?,
            organization_arns: arns(u, ORGANIZATIONS)?,
            organizational_unit_arns: arns(u, UNITS)?,
            public: u.ratio(1, 4)?,
        },
        snapshot_user_ids: accounts(u)?,
        deprecate_time: deprecate_time(u)?,
        ..CopyImageInput::default()
    })
}
