-- Every accepted copy is one row in jobs; every change to it that people should see is one row
-- in job_events, appended in the same transaction. Every CopyImage parameter has its own column.
-- Ids are lowercase hyphenated UUID text; times are integer microseconds since the Unix epoch,
-- so they order exactly.

CREATE TABLE jobs (
    id                  TEXT    PRIMARY KEY NOT NULL,
    tenant              TEXT    NOT NULL,
    client_token        TEXT,
    request_hash        TEXT    NOT NULL,

    source_image_id     TEXT    NOT NULL,
    source_region       TEXT    NOT NULL,
    destination_region  TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    description         TEXT,
    encrypted           INTEGER CHECK (encrypted IN (0, 1)),
    kms_key_id          TEXT,
    -- region | outpost | availability_zone | availability_zone_id; the value is the Outpost ARN,
    -- the zone name or the zone id (NULL for region).
    destination_kind    TEXT    NOT NULL CHECK (destination_kind IN ('region', 'outpost', 'availability_zone', 'availability_zone_id')),
    destination_value   TEXT    CHECK ((destination_kind = 'region') = (destination_value IS NULL)),
    copy_image_tags     INTEGER NOT NULL CHECK (copy_image_tags IN (0, 1)),
    -- JSON array of {"resource_type": "image"|"snapshot", "tags": [{"key", "value"}]}.
    tag_specifications  TEXT    NOT NULL,
    snapshot_copy_completion_duration_minutes INTEGER,

    state               TEXT    NOT NULL CHECK (state IN ('queued', 'copying', 'available', 'failed', 'cancelling', 'cancelled')),
    image_id            TEXT,
    failure_code        TEXT,
    failure_message     TEXT,
    progress_percent    INTEGER CHECK (progress_percent BETWEEN 0 AND 100),
    attempts            INTEGER NOT NULL CHECK (attempts >= 0),
    next_attempt_at     INTEGER NOT NULL,
    lease_owner         TEXT,
    lease_expires_at    INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL CHECK (version >= 1),
    last_event_sequence INTEGER NOT NULL CHECK (last_event_sequence >= 1)
) STRICT;

-- Idempotency: one job per tenant, destination Region and client token.
CREATE UNIQUE INDEX jobs_client_token ON jobs (tenant, destination_region, client_token)
    WHERE client_token IS NOT NULL;
-- ListCopyJobs: a tenant's jobs, newest first, keyset pagination.
CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at DESC, id DESC);
-- Claiming due work.
CREATE INDEX jobs_state_due ON jobs (state, next_attempt_at);
-- Counting copies in progress per destination Region.
CREATE INDEX jobs_region_state ON jobs (destination_region, state);

CREATE TABLE job_events (
    job_id           TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    sequence         INTEGER NOT NULL CHECK (sequence >= 1),
    state            TEXT    NOT NULL,
    image_id         TEXT,
    progress_percent INTEGER,
    failure_code     TEXT,
    detail           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (job_id, sequence)
) STRICT, WITHOUT ROWID;
