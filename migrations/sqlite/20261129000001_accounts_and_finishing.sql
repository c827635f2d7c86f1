-- Copies into other accounts, and the finishing steps after a copy, with the new state
-- 'finishing'. SQLite cannot change a CHECK constraint in place, so jobs is rebuilt into a new
-- table. The migration runs in one transaction with foreign keys on, where dropping jobs would
-- cascade to job_events: the events are set aside first and put back after.

CREATE TEMP TABLE job_events_kept AS SELECT * FROM job_events;
DROP TABLE job_events;

CREATE TABLE jobs_new (
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
    destination_kind    TEXT    NOT NULL CHECK (destination_kind IN ('region', 'outpost', 'availability_zone', 'availability_zone_id')),
    destination_value   TEXT    CHECK ((destination_kind = 'region') = (destination_value IS NULL)),
    copy_image_tags     INTEGER NOT NULL CHECK (copy_image_tags IN (0, 1)),
    tag_specifications  TEXT    NOT NULL,
    snapshot_copy_completion_duration_minutes INTEGER,

    state               TEXT    NOT NULL CHECK (state IN ('queued', 'copying', 'finishing', 'available', 'failed', 'cancelling', 'cancelled')),
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
    last_event_sequence INTEGER NOT NULL CHECK (last_event_sequence >= 1),

    -- The account the copy is made in; NULL for the service's own.
    destination_account_id TEXT,
    -- JSON {"user_ids": [...], "organization_arns": [...], "organizational_unit_arns": [...], "public": bool}.
    launch_permissions  TEXT    NOT NULL DEFAULT '{}',
    -- JSON array of account ids given createVolumePermission on the new snapshots.
    snapshot_user_ids   TEXT    NOT NULL DEFAULT '[]',
    deprecate_at        INTEGER,
    -- JSON array of the new AMI's snapshot ids, once it is available.
    snapshot_ids        TEXT    NOT NULL DEFAULT '[]',
    -- Bit set of the checks and finishing steps done, and failed tries of the current step.
    steps_done          INTEGER NOT NULL DEFAULT 0 CHECK (steps_done BETWEEN 0 AND 15),
    step_failures       INTEGER NOT NULL DEFAULT 0 CHECK (step_failures >= 0),
    -- When EC2 accepted the copy: its progress is measured from there to pace the looks at it.
    copying_since       INTEGER
) STRICT;

INSERT INTO jobs_new (
    id, tenant, client_token, request_hash, source_image_id, source_region, destination_region, name,
    description, encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
    tag_specifications, snapshot_copy_completion_duration_minutes, state, image_id, failure_code,
    failure_message, progress_percent, attempts, next_attempt_at, lease_owner, lease_expires_at,
    created_at, updated_at, version, last_event_sequence)
SELECT
    id, tenant, client_token, request_hash, source_image_id, source_region, destination_region, name,
    description, encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
    tag_specifications, snapshot_copy_completion_duration_minutes, state, image_id, failure_code,
    failure_message, progress_percent, attempts, next_attempt_at, lease_owner, lease_expires_at,
    created_at, updated_at, version, last_event_sequence
FROM jobs;

DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE UNIQUE INDEX jobs_client_token ON jobs (tenant, destination_region, client_token)
    WHERE client_token IS NOT NULL;
CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_state_due ON jobs (state, next_attempt_at);
CREATE INDEX jobs_region_state ON jobs (destination_region, state);
CREATE INDEX jobs_account_region_state ON jobs (destination_account_id, destination_region, state);

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
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
SELECT job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at FROM job_events_kept;
DROP TABLE job_events_kept;
