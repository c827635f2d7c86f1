//! AWS account ids: where a copy is made, who an AMI or snapshot is shared with.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::fields::{FieldError, shown};

/// EC2's code for an account id that is not 12 digits (ModifyImageAttribute, ModifySnapshotAttribute).
pub const INVALID_USER_ID_MALFORMED: &str = "InvalidUserID.Malformed";

/// An AWS account id: exactly 12 digits, leading zeros kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Accepts exactly 12 ASCII digits.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                INVALID_USER_ID_MALFORMED,
                format!(
                    "{} is not an AWS account id: expected exactly 12 digits, such as 123456789012",
                    shown(value)
                ),
            ))
        }
    }

    /// The 12 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<AccountId> for String {
    fn from(value: AccountId) -> String {
        value.0
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value).map_err(|e| e.description)
    }
}

impl PartialEq<str> for AccountId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_digits_are_an_account_id() {
        assert_eq!(AccountId::parse("012345678901").unwrap().as_str(), "012345678901");
    }

    #[test]
    fn anything_else_is_malformed_and_says_what_is_expected() {
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            " 123456789012",
            "１２３４５６７８９０１２",
        ] {
            let error = AccountId::parse(bad).unwrap_err();
            assert_eq!(error.code, INVALID_USER_ID_MALFORMED, "{bad:?}");
            assert!(error.description.contains("12 digits"), "{}", error.description);
        }
    }

    #[test]
    fn serde_refuses_a_malformed_id() {
        assert!(serde_json::from_str::<AccountId>("\"222233334444\"").is_ok());
        let error = serde_json::from_str::<AccountId>("\"2222\"").unwrap_err();
        assert!(error.to_string().contains("12 digits"), "{error}");
    }
}
