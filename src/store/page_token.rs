//! Keyset pagination tokens: where a page of jobs or distributions (newest first) ended.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;

/// The last row of a page, by its sort key `(created_at, id)`. Clients see it only as an
/// opaque string ([`PageToken::encode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    /// Creation time of the last row on the page.
    pub created_at: DateTime<Utc>,
    /// Id of the last row on the page (a job's or a distribution's).
    pub id: Uuid,
}

impl PageToken {
    const VERSION: &'static str = "v1";

    /// The token as clients carry it: lowercase hex, nothing a client should parse.
    pub fn encode(&self) -> String {
        let plain = format!(
            "{}:{}:{}",
            Self::VERSION,
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        hex::encode(plain)
    }

    /// Reads a token that [`PageToken::encode`] made; anything else is
    /// [`StoreError::InvalidPageToken`].
    pub fn decode(token: &str) -> Result<Self, StoreError> {
        let bytes = hex::decode(token).map_err(|_| StoreError::InvalidPageToken)?;
        let plain = String::from_utf8(bytes).map_err(|_| StoreError::InvalidPageToken)?;
        let mut parts = plain.split(':');
        let (Some(Self::VERSION), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::InvalidPageToken);
        };
        let micros: i64 = micros.parse().map_err(|_| StoreError::InvalidPageToken)?;
        let created_at = DateTime::from_timestamp_micros(micros).ok_or(StoreError::InvalidPageToken)?;
        let id = Uuid::parse_str(id).map_err(|_| StoreError::InvalidPageToken)?;
        Ok(Self { created_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_token_round_trips_and_rejects_garbage() {
        let token = PageToken {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(PageToken::decode(&token.encode()).unwrap(), token);
        for bad in ["", "zz", "6869", &hex::encode("v2:1:00000000000000000000000000000000")] {
            assert!(
                matches!(PageToken::decode(bad), Err(StoreError::InvalidPageToken)),
                "{bad}"
            );
        }
    }
}
