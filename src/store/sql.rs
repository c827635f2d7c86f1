//! SQL that reads the same on PostgreSQL and SQLite (both number parameters `$1`, `$2`, …).
//! Statements that differ between the engines live beside the engine that runs them.

/// Records a job: `$1`…`$13` the request ([`super::rows::RequestColumns`]), `$14` id,
/// `$15` tenant, `$16` request hash, `$17` now, `$18` lease owner, `$19` lease expiry. With a
/// client token that is taken already, inserts nothing and returns no row.
pub(super) const INSERT_JOB: &str = "
    INSERT INTO jobs (
        client_token, source_image_id, source_region, destination_region, name, description,
        encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
        tag_specifications, snapshot_copy_completion_duration_minutes,
        id, tenant, request_hash, state, attempts, next_attempt_at, lease_owner, lease_expires_at,
        created_at, updated_at, version, last_event_sequence)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
            $14, $15, $16, 'queued', 0, $17, $18, $19, $17, $17, 1, 1)
    ON CONFLICT (tenant, destination_region, client_token) WHERE client_token IS NOT NULL DO NOTHING
    RETURNING *";

/// The job a client token already belongs to: `$1` tenant, `$2` destination Region, `$3` token.
pub(super) const SELECT_BY_TOKEN: &str =
    "SELECT * FROM jobs WHERE tenant = $1 AND destination_region = $2 AND client_token = $3";

/// One job of one tenant: `$1` id, `$2` tenant.
pub(super) const SELECT_TENANT_JOB: &str = "SELECT * FROM jobs WHERE id = $1 AND tenant = $2";

/// One job: `$1` id.
pub(super) const SELECT_JOB: &str = "SELECT * FROM jobs WHERE id = $1";

/// Writes a change if the version is still `$2`: `$1` id, `$3` next attempt, `$4` lease expiry,
/// `$5` now, then `$6`…`$13` ([`super::rows::ChangeColumns`]) state, image id, failure code,
/// failure message, progress, attempts, lease owner, and 1 when an event is appended else 0.
pub(super) const UPDATE_JOB: &str = "
    UPDATE jobs SET
        next_attempt_at = $3, lease_expires_at = $4, updated_at = $5,
        state = $6, image_id = $7, failure_code = $8, failure_message = $9, progress_percent = $10,
        attempts = $11, lease_owner = $12,
        version = version + 1, last_event_sequence = last_event_sequence + $13
    WHERE id = $1 AND version = $2
    RETURNING *";

/// Appends an event: job id, sequence, state, image id, progress, failure code, detail, time.
pub(super) const INSERT_EVENT: &str = "
    INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// A job's events after sequence `$2`, in order, at most `$3`: `$1` job id.
pub(super) const SELECT_EVENTS: &str =
    "SELECT * FROM job_events WHERE job_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3";

/// Jobs per state and destination Region; the same text on both engines.
pub(super) const COUNT_BY_STATE: &str =
    "SELECT state, destination_region, count(*) FROM jobs GROUP BY state, destination_region";

/// Turns `(state, destination_region, count)` rows into [`super::StateCount`]s.
pub(super) fn state_counts(rows: Vec<(String, String, i64)>) -> Result<Vec<super::StateCount>, super::StoreError> {
    rows.into_iter()
        .map(|(state, destination_region, count)| {
            Ok(super::StateCount {
                state: state
                    .parse()
                    .map_err(|e: String| super::StoreError::Internal(e.into()))?,
                destination_region,
                count: u64::try_from(count).unwrap_or_default(),
            })
        })
        .collect()
}
