//! One type per CopyImage field whose format EC2 constrains. Each `parse` checks exactly EC2's rule
//! and, when it fails, answers with EC2's error code and a sentence a person can act on.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::codes;

/// Why a single field value was refused: EC2's error code and a description for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// EC2's error code, such as `InvalidAMIID.Malformed`.
    pub code: &'static str,
    /// What is wrong and what would be accepted.
    pub description: String,
}

impl FieldError {
    pub(super) fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value as EC2 expects it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                Self::parse(&value).map_err(|e| e.description)
            }
        }
    };
}

string_newtype!(
    /// An AMI id: `ami-` followed by 8 or 17 lowercase hex digits.
    ImageId
);
string_newtype!(
    /// A Region code such as `us-west-2`, `us-gov-west-1` or `cn-north-1`.
    Region
);
string_newtype!(
    /// An AMI name: 3–128 characters of letters, digits, space and `( ) [ ] . / - ' @ _`.
    AmiName
);
string_newtype!(
    /// An idempotency token: 1–64 printable ASCII characters (space included), case-sensitive.
    ClientToken
);
string_newtype!(
    /// A KMS key as EC2 accepts it: key id, `alias/NAME`, key ARN or alias ARN.
    KmsKeyId
);
string_newtype!(
    /// An Outpost ARN: `arn:aws[-PARTITION]:outposts:REGION:ACCOUNT:outpost/op-` + 17 hex digits.
    OutpostArn
);

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, ...: `aws` optionally followed by
/// dash-separated lowercase words.
pub(super) fn is_partition(s: &str) -> bool {
    match s.strip_prefix("aws") {
        Some("") => true,
        Some(rest) => rest.strip_prefix('-').is_some_and(|r| {
            !r.is_empty()
                && r.split('-')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        }),
        None => false,
    }
}

/// The value quoted for an error message, cut short when it is long.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() > MAX {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}…")
    } else {
        format!("{value:?}")
    }
}

impl ImageId {
    /// Accepts `ami-` + 8 or 17 lowercase hex digits.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let ok = value
            .strip_prefix("ami-")
            .is_some_and(|hex| (hex.len() == 8 || hex.len() == 17) && is_lower_hex(hex));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                codes::INVALID_AMI_ID_MALFORMED,
                format!(
                    "{} is not an AMI id: expected \"ami-\" followed by 8 or 17 lowercase hex digits, such as ami-0abcdef1234567890",
                    shown(value)
                ),
            ))
        }
    }
}

impl Region {
    /// Accepts Region codes: a two-letter prefix, optional `gov`/`iso*` word, a direction word and
    /// a number, joined by dashes (`us-west-2`, `us-gov-west-1`, `us-isob-east-1`, `cn-north-1`).
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if Self::is_region_code(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                codes::INVALID_REGION,
                format!(
                    "{} is not a Region code: expected a code such as us-west-2, eu-central-1 or us-gov-west-1",
                    shown(value)
                ),
            ))
        }
    }

    pub(super) fn is_region_code(value: &str) -> bool {
        let parts: Vec<&str> = value.split('-').collect();
        if !(3..=4).contains(&parts.len()) {
            return false;
        }
        let country = parts[0];
        let number = parts[parts.len() - 1];
        let words = &parts[1..parts.len() - 1];
        country.len() == 2
            && country.bytes().all(|b| b.is_ascii_lowercase())
            && !number.is_empty()
            && number.len() <= 2
            && number.bytes().all(|b| b.is_ascii_digit())
            && words
                .iter()
                .all(|w| (2..=12).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()))
    }
}

impl AmiName {
    const ALLOWED_PUNCTUATION: &'static str = " ()[]./-'@_";

    /// Accepts 3–128 characters of ASCII letters, digits, space and `( ) [ ] . / - ' @ _`.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let length = value.chars().count();
        if !(3..=128).contains(&length) {
            return Err(FieldError::new(
                codes::INVALID_AMI_NAME_MALFORMED,
                format!("the AMI name must be 3 to 128 characters long; it has {length}"),
            ));
        }
        let bad: Vec<char> = value
            .chars()
            .filter(|c| !(c.is_ascii_alphanumeric() || Self::ALLOWED_PUNCTUATION.contains(*c)))
            .collect();
        if !bad.is_empty() {
            let mut listed: Vec<String> = Vec::new();
            for c in bad {
                let s = format!("{c:?}");
                if !listed.contains(&s) {
                    listed.push(s);
                }
            }
            return Err(FieldError::new(
                codes::INVALID_AMI_NAME_MALFORMED,
                format!(
                    "the AMI name may contain only letters, digits, space and ( ) [ ] . / - ' @ _; it contains {}",
                    listed.join(", ")
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }
}

impl ClientToken {
    /// Accepts 1–64 printable ASCII characters; control characters are refused as they can only
    /// be a mistake.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        const MAX: usize = 64;
        let problem = if value.is_empty() {
            "it is empty".to_owned()
        } else if !value.is_ascii() {
            "it contains non-ASCII characters".to_owned()
        } else if value.len() > MAX {
            format!("it has {} characters", value.len())
        } else if value.bytes().any(|b| b.is_ascii_control()) {
            "it contains control characters".to_owned()
        } else {
            return Ok(Self(value.to_owned()));
        };
        Err(FieldError::new(
            codes::INVALID_CLIENT_TOKEN,
            format!("the client token must be 1 to {MAX} printable ASCII characters; {problem}"),
        ))
    }
}

/// What a [`KmsKeyId`] names, after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsKeyForm {
    /// A key id (UUID or `mrk-` multi-Region id).
    KeyId,
    /// `alias/NAME`.
    Alias,
    /// `arn:…:kms:REGION:ACCOUNT:key/ID`.
    KeyArn,
    /// `arn:…:kms:REGION:ACCOUNT:alias/NAME`.
    AliasArn,
}

impl KmsKeyId {
    /// Accepts the four forms EC2 documents; see [`KmsKeyForm`].
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if Self::form_of(value).is_some() {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} is not a KMS key identifier: use a key id (1234abcd-12ab-34cd-56ef-1234567890ab or mrk-…), alias/NAME, \
                     arn:aws:kms:REGION:ACCOUNT:key/ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME",
                    shown(value)
                ),
            ))
        }
    }

    /// Which of the four forms this key is written in.
    pub fn form(&self) -> KmsKeyForm {
        Self::form_of(&self.0).unwrap_or(KmsKeyForm::KeyId)
    }

    /// The Region an ARN form names; `None` for key ids and aliases, which live in the
    /// destination Region by definition.
    pub fn arn_region(&self) -> Option<&str> {
        match self.form() {
            KmsKeyForm::KeyArn | KmsKeyForm::AliasArn => self.0.split(':').nth(3),
            KmsKeyForm::KeyId | KmsKeyForm::Alias => None,
        }
    }

    fn form_of(value: &str) -> Option<KmsKeyForm> {
        if Self::is_key_id(value) {
            return Some(KmsKeyForm::KeyId);
        }
        if let Some(name) = value.strip_prefix("alias/") {
            return Self::is_alias_name(name).then_some(KmsKeyForm::Alias);
        }
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        if parts.len() != 6
            || parts[0] != "arn"
            || !is_partition(parts[1])
            || parts[2] != "kms"
            || !Region::is_region_code(parts[3])
            || !is_account_id(parts[4])
        {
            return None;
        }
        if let Some(id) = parts[5].strip_prefix("key/") {
            Self::is_key_id(id).then_some(KmsKeyForm::KeyArn)
        } else if let Some(name) = parts[5].strip_prefix("alias/") {
            Self::is_alias_name(name).then_some(KmsKeyForm::AliasArn)
        } else {
            None
        }
    }

    fn is_key_id(value: &str) -> bool {
        if let Some(hex) = value.strip_prefix("mrk-") {
            return hex.len() == 32 && is_lower_hex(hex);
        }
        let groups: Vec<&str> = value.split('-').collect();
        groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// `aws/` names are AWS managed keys (`alias/aws/ebs`): nobody may create one, but naming one
    /// is how a caller picks the managed EBS key explicitly, so they are accepted.
    fn is_alias_name(name: &str) -> bool {
        (1..=256).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
    }
}

impl OutpostArn {
    /// Accepts `arn:aws[-PARTITION]:outposts:REGION:ACCOUNT:outpost/op-` + 17 lowercase hex digits.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && is_partition(parts[1])
            && parts[2] == "outposts"
            && Region::is_region_code(parts[3])
            && is_account_id(parts[4])
            && parts[5]
                .strip_prefix("outpost/op-")
                .is_some_and(|hex| hex.len() == 17 && is_lower_hex(hex));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} is not an Outpost ARN: expected arn:aws:outposts:REGION:ACCOUNT:outpost/op- followed by 17 hex digits, \
                     such as arn:aws:outposts:us-west-2:123456789012:outpost/op-1234567890abcdef0",
                    shown(value)
                ),
            ))
        }
    }

    /// The Region the Outpost is anchored to.
    pub fn region(&self) -> &str {
        self.0.split(':').nth(3).unwrap_or_default()
    }
}

/// Where a tag specification's tags go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceType {
    /// The new AMI.
    Image,
    /// Every new snapshot.
    Snapshot,
}

impl ResourceType {
    /// Accepts exactly `image` or `snapshot`, as EC2 does.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        match value {
            "image" => Ok(Self::Image),
            "snapshot" => Ok(Self::Snapshot),
            other => Err(FieldError::new(
                codes::INVALID_PARAMETER_VALUE,
                format!(
                    "{} is not a resource type CopyImage can tag: use \"image\" or \"snapshot\"",
                    shown(other)
                ),
            )),
        }
    }

    /// EC2's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Snapshot => "snapshot",
        }
    }
}

/// One tag. Tags are checked as a set (see the validation module), so any key/value pair can be
/// held here.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value, possibly empty.
    pub value: String,
}

impl Tag {
    /// Builds a tag from its key and value.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Whether the key is in AWS's reserved `aws:` namespace (case-insensitive, as AWS checks).
    pub fn is_system(&self) -> bool {
        self.key
            .get(..4)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws:"))
    }
}
