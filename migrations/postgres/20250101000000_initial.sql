-- Every accepted copy is one row in jobs; every change to it that people should see is one row
-- in job_events, appended in the same transaction. Every CopyImage parameter has its own column.

CREATE TABLE jobs (
    id                  uuid        PRIMARY KEY,
    tenant              text        NOT NULL,
    client_token        text,
    request_hash        text        NOT NULL,

    source_image_id     text        NOT NULL,
    source_region       text        NOT NULL,
    destination_region  text        NOT NULL,
    name                text        NOT NULL,
    description         text,
    encrypted           boolean,
    kms_key_id          text,
    -- region | outpost | availability_zone | availability_zone_id; the value is the Outpost ARN,
    -- the zone name or the zone id (NULL for region).
    destination_kind    text        NOT NULL CHECK (destination_kind IN ('region', 'outpost', 'availability_zone', 'availability_zone_id')),
    destination_value   text        CHECK ((destination_kind = 'region') = (destination_value IS NULL)),
    copy_image_tags     boolean     NOT NULL,
    -- JSON array of {"resource_type": "image"|"snapshot", "tags": [{"key", "value"}]}.
    tag_specifications  text        NOT NULL,
    snapshot_copy_completion_duration_minutes bigint,

    state               text        NOT NULL CHECK (state IN ('queued', 'copying', 'available', 'failed', 'cancelling', 'cancelled')),
    image_id            text,
    failure_code        text,
    failure_message     text,
    progress_percent    bigint      CHECK (progress_percent BETWEEN 0 AND 100),
    attempts            bigint      NOT NULL CHECK (attempts >= 0),
    next_attempt_at     timestamptz NOT NULL,
    lease_owner         text,
    lease_expires_at    timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    version             bigint      NOT NULL CHECK (version >= 1),
    last_event_sequence bigint      NOT NULL CHECK (last_event_sequence >= 1)
);

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
    job_id           uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    sequence         bigint      NOT NULL CHECK (sequence >= 1),
    state            text        NOT NULL,
    image_id         text,
    progress_percent bigint,
    failure_code     text,
    detail           text        NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (job_id, sequence)
);
