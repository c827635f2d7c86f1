//! What the finishing and clean-up calls answer: a KMS key's state, and what became of each
//! snapshot when an image was deregistered with its snapshots.

use crate::domain::Region;

/// A KMS key's state, as KMS names it (`KeyState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsKeyState {
    /// Usable.
    Enabled,
    /// Exists but cannot be used until enabled again.
    Disabled,
    /// Scheduled for deletion: unusable, and gone after the waiting period.
    PendingDeletion,
    /// Any other state KMS reports (`PendingImport`, `Unavailable`, `Creating`, ...), verbatim.
    Other(String),
}

impl KmsKeyState {
    /// Parses KMS's spelling.
    pub fn parse(value: &str) -> Self {
        match value {
            "Enabled" => Self::Enabled,
            "Disabled" => Self::Disabled,
            "PendingDeletion" => Self::PendingDeletion,
            other => Self::Other(other.to_owned()),
        }
    }

    /// KMS's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::PendingDeletion => "PendingDeletion",
            Self::Other(other) => other,
        }
    }
}

/// A KMS key that DescribeKey found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    /// The key's ARN (an alias given is resolved to the key it points at).
    pub arn: String,
    /// The key id (UUID, or `mrk-…` for a multi-Region key).
    pub key_id: String,
    /// The account that owns the key.
    pub account_id: String,
    /// The Region the key is in, from its ARN.
    pub region: Region,
    /// Its state: only [`KmsKeyState::Enabled`] can encrypt a copy.
    pub state: KmsKeyState,
    /// An AWS managed key (`alias/aws/ebs`): usable by its account, never shareable with another.
    pub aws_managed: bool,
}

/// What KMS DescribeKey says of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsKeyLookup {
    /// The key exists (whatever its state).
    Found(KmsKey),
    /// KMS does not know the key in that Region for that account (`NotFoundException`).
    Missing,
}

/// What DeregisterImage with DeleteAssociatedSnapshots did with one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDeletion {
    /// The snapshot.
    pub snapshot_id: String,
    /// EC2's return code: `success` when deleted; `skipped`, `missing-permissions`,
    /// `internal-error` or `client-error` when it stays.
    pub return_code: String,
}

impl SnapshotDeletion {
    /// EC2's return code for a snapshot it deleted.
    pub const SUCCESS: &'static str = "success";

    /// Whether the snapshot is gone.
    pub fn deleted(&self) -> bool {
        self.return_code == Self::SUCCESS
    }
}
