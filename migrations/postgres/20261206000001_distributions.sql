-- Distributions: one AMI to many (account, Region) targets as one operation. Every target is an
-- ordinary job (jobs.distribution_id names its distribution); a distribution adds its request,
-- its targets, an aggregate state with counts of targets per job state (adjusted in the same
-- transaction as the job change that moved a target), and an event log of its own.

CREATE TABLE distributions (
    id               uuid        PRIMARY KEY,
    tenant           text        NOT NULL,
    client_token     text,
    request_hash     text        NOT NULL,
    -- JSON of the accepted request, the name template unexpanded.
    request          text        NOT NULL,
    failure_policy   text        NOT NULL CHECK (failure_policy IN ('continue', 'roll_back')),
    state            text        NOT NULL CHECK (state IN ('running', 'succeeded', 'partially_succeeded',
                                     'failed', 'cancelling', 'cancelled', 'rolling_back', 'rolled_back')),
    count_queued     bigint      NOT NULL CHECK (count_queued >= 0),
    count_copying    bigint      NOT NULL CHECK (count_copying >= 0),
    count_finishing  bigint      NOT NULL CHECK (count_finishing >= 0),
    count_available  bigint      NOT NULL CHECK (count_available >= 0),
    count_failed     bigint      NOT NULL CHECK (count_failed >= 0),
    count_cancelling bigint      NOT NULL CHECK (count_cancelling >= 0),
    count_cancelled  bigint      NOT NULL CHECK (count_cancelled >= 0),
    total            bigint      NOT NULL CHECK (total >= 1),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    last_sequence    bigint      NOT NULL CHECK (last_sequence >= 1),
    version          bigint      NOT NULL CHECK (version >= 1),
    -- When the engine should next cancel or roll back targets; NULL when there is nothing to do.
    next_action_at   timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz,
    CHECK (count_queued + count_copying + count_finishing + count_available + count_failed
           + count_cancelling + count_cancelled = total)
);

-- Idempotency: one distribution per tenant and client token.
CREATE UNIQUE INDEX distributions_client_token ON distributions (tenant, client_token)
    WHERE client_token IS NOT NULL;
-- ListDistributions: a tenant's distributions, newest first, keyset pagination.
CREATE INDEX distributions_tenant_created ON distributions (tenant, created_at DESC, id DESC);
-- Claiming distributions the engine must work on.
CREATE INDEX distributions_due ON distributions (next_action_at) WHERE next_action_at IS NOT NULL;

-- The job a target has now is jobs.id = job_id; earlier jobs of a retried target keep their
-- rows (and their distribution_id) as history.
ALTER TABLE jobs ADD COLUMN distribution_id uuid REFERENCES distributions (id);
CREATE INDEX jobs_distribution ON jobs (distribution_id) WHERE distribution_id IS NOT NULL;

CREATE TABLE distribution_targets (
    distribution_id uuid    NOT NULL REFERENCES distributions (id) ON DELETE CASCADE,
    position        bigint  NOT NULL CHECK (position >= 0),
    -- NULL for the service's own account.
    account_id      text,
    region          text    NOT NULL,
    -- The AMI name, the template expanded.
    name            text    NOT NULL,
    job_id          uuid    NOT NULL UNIQUE REFERENCES jobs (id),
    generation      bigint  NOT NULL CHECK (generation >= 1),
    rolled_back     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (distribution_id, position)
);
-- No (account, Region) twice in one distribution.
CREATE UNIQUE INDEX distribution_targets_place ON distribution_targets (distribution_id, COALESCE(account_id, ''), region);

-- A 'target' event points at the job event it tells of (a replay joins job_events); a 'state'
-- event is a change of the aggregate, with the counts when it happened.
CREATE TABLE distribution_events (
    distribution_id uuid        NOT NULL REFERENCES distributions (id) ON DELETE CASCADE,
    sequence        bigint      NOT NULL CHECK (sequence >= 1),
    kind            text        NOT NULL CHECK (kind IN ('target', 'state')),
    job_id          uuid,
    job_sequence    bigint,
    state           text,
    -- JSON {"queued": n, ...} for a state event.
    counts          text,
    detail          text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (distribution_id, sequence),
    CHECK ((kind = 'target') = (job_id IS NOT NULL AND job_sequence IS NOT NULL)),
    CHECK ((kind = 'state') = (state IS NOT NULL AND counts IS NOT NULL AND detail IS NOT NULL)),
    FOREIGN KEY (job_id, job_sequence) REFERENCES job_events (job_id, sequence)
);
