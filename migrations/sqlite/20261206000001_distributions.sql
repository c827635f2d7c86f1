-- Distributions: one AMI to many (account, Region) targets as one operation. Every target is an
-- ordinary job (jobs.distribution_id names its distribution); a distribution adds its request,
-- its targets, an aggregate state with counts of targets per job state (adjusted in the same
-- transaction as the job change that moved a target), and an event log of its own. Ids are
-- UUID text, times integer microseconds since the Unix epoch.

CREATE TABLE distributions (
    id               TEXT    PRIMARY KEY NOT NULL,
    tenant           TEXT    NOT NULL,
    client_token     TEXT,
    request_hash     TEXT    NOT NULL,
    -- JSON of the accepted request, the name template unexpanded.
    request          TEXT    NOT NULL,
    failure_policy   TEXT    NOT NULL CHECK (failure_policy IN ('continue', 'roll_back')),
    state            TEXT    NOT NULL CHECK (state IN ('running', 'succeeded', 'partially_succeeded',
                                 'failed', 'cancelling', 'cancelled', 'rolling_back', 'rolled_back')),
    count_queued     INTEGER NOT NULL CHECK (count_queued >= 0),
    count_copying    INTEGER NOT NULL CHECK (count_copying >= 0),
    count_finishing  INTEGER NOT NULL CHECK (count_finishing >= 0),
    count_available  INTEGER NOT NULL CHECK (count_available >= 0),
    count_failed     INTEGER NOT NULL CHECK (count_failed >= 0),
    count_cancelling INTEGER NOT NULL CHECK (count_cancelling >= 0),
    count_cancelled  INTEGER NOT NULL CHECK (count_cancelled >= 0),
    total            INTEGER NOT NULL CHECK (total >= 1),
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_sequence    INTEGER NOT NULL CHECK (last_sequence >= 1),
    version          INTEGER NOT NULL CHECK (version >= 1),
    -- When the engine should next cancel or roll back targets; NULL when there is nothing to do.
    next_action_at   INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    CHECK (count_queued + count_copying + count_finishing + count_available + count_failed
           + count_cancelling + count_cancelled = total)
) STRICT;

-- Idempotency: one distribution per tenant and client token.
CREATE UNIQUE INDEX distributions_client_token ON distributions (tenant, client_token)
    WHERE client_token IS NOT NULL;
-- ListDistributions: a tenant's distributions, newest first, keyset pagination.
CREATE INDEX distributions_tenant_created ON distributions (tenant, created_at DESC, id DESC);
-- Claiming distributions the engine must work on.
CREATE INDEX distributions_due ON distributions (next_action_at) WHERE next_action_at IS NOT NULL;

-- The job a target has now is jobs.id = job_id; earlier jobs of a retried target keep their
-- rows (and their distribution_id) as history. Adding a column with a REFERENCES clause and a
-- NULL default is allowed with foreign keys on.
ALTER TABLE jobs ADD COLUMN distribution_id TEXT REFERENCES distributions (id);
CREATE INDEX jobs_distribution ON jobs (distribution_id) WHERE distribution_id IS NOT NULL;

CREATE TABLE distribution_targets (
    distribution_id TEXT    NOT NULL REFERENCES distributions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL CHECK (position >= 0),
    -- NULL for the service's own account.
    account_id      TEXT,
    region          TEXT    NOT NULL,
    -- The AMI name, the template expanded.
    name            TEXT    NOT NULL,
    job_id          TEXT    NOT NULL UNIQUE REFERENCES jobs (id),
    generation      INTEGER NOT NULL CHECK (generation >= 1),
    rolled_back     INTEGER NOT NULL DEFAULT 0 CHECK (rolled_back IN (0, 1)),
    PRIMARY KEY (distribution_id, position)
) STRICT, WITHOUT ROWID;
-- No (account, Region) twice in one distribution.
CREATE UNIQUE INDEX distribution_targets_place ON distribution_targets (distribution_id, COALESCE(account_id, ''), region);

-- A 'target' event points at the job event it tells of (a replay joins job_events); a 'state'
-- event is a change of the aggregate, with the counts when it happened.
CREATE TABLE distribution_events (
    distribution_id TEXT    NOT NULL REFERENCES distributions (id) ON DELETE CASCADE,
    sequence        INTEGER NOT NULL CHECK (sequence >= 1),
    kind            TEXT    NOT NULL CHECK (kind IN ('target', 'state')),
    job_id          TEXT,
    job_sequence    INTEGER,
    state           TEXT,
    -- JSON {"queued": n, ...} for a state event.
    counts          TEXT,
    detail          TEXT,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (distribution_id, sequence),
    CHECK ((kind = 'target') = (job_id IS NOT NULL AND job_sequence IS NOT NULL)),
    CHECK ((kind = 'state') = (state IS NOT NULL AND counts IS NOT NULL AND detail IS NOT NULL)),
    FOREIGN KEY (job_id, job_sequence) REFERENCES job_events (job_id, sequence)
) STRICT, WITHOUT ROWID;
