-- The SQL one accepted CopyImage costs amicopyd on PostgreSQL, statement for statement
-- (src/store/sql.rs, src/store/postgres.rs, src/engine/dispatch.rs), for pgbench -M prepared:
--   1. the job and its first event, announced, in one transaction (the call answers after it);
--   2. the count of copies in progress in the destination Region (the engine's limit check);
--   3. the attempt recorded before CopyImage is called (update + event + notify);
--   4. the copy recorded as started (update + event + notify);
--   5. the tracker recording the copy's end (update + event + notify), which the server also
--      does during a run whose copies finish within it.
\set n random(1, 2000000000)
BEGIN;
INSERT INTO jobs (
    client_token, source_image_id, source_region, destination_region, name, description,
    encrypted, kms_key_id, destination_kind, destination_value, copy_image_tags,
    tag_specifications, snapshot_copy_completion_duration_minutes,
    id, tenant, request_hash, state, attempts, next_attempt_at, lease_owner, lease_expires_at,
    created_at, updated_at, version, last_event_sequence)
VALUES (NULL, 'ami-0a1b2c3d4e5f60001', 'us-east-1', 'us-west-2', 'pgbench-' || :client_id || '-' || :n, NULL,
        NULL, NULL, 'region', NULL, false,
        '[]', NULL,
        gen_random_uuid(), 'default', md5(:n::text), 'queued', 0, now(), 'pgbench-inline', now() + interval '30 seconds', now(), now(), 1, 1)
ON CONFLICT (tenant, destination_region, client_token) WHERE client_token IS NOT NULL DO NOTHING
RETURNING * \gset job_
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 1, 'queued', NULL, NULL, NULL, 'job accepted', now());
SELECT pg_notify('amicopy_job_events', :job_id || ':1');
COMMIT;
SELECT count(*) FROM jobs WHERE destination_region = 'us-west-2' AND state = ANY('{copying,cancelling}');
BEGIN;
UPDATE jobs SET
    next_attempt_at = now(), lease_expires_at = now() + interval '30 seconds', updated_at = now(),
    state = 'queued', image_id = NULL, failure_code = NULL, failure_message = NULL, progress_percent = NULL,
    attempts = 1, lease_owner = 'pgbench-inline',
    version = version + 1, last_event_sequence = last_event_sequence + 1
WHERE id = :job_id AND version = 1
RETURNING *;
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 2, 'queued', NULL, NULL, NULL, 'starting copy (attempt 1)', now());
SELECT pg_notify('amicopy_job_events', :job_id || ':2');
COMMIT;
BEGIN;
UPDATE jobs SET
    next_attempt_at = now(), lease_expires_at = NULL, updated_at = now(),
    state = 'copying', image_id = 'ami-0123456789abcdef0', failure_code = NULL, failure_message = NULL, progress_percent = NULL,
    attempts = 1, lease_owner = NULL,
    version = version + 1, last_event_sequence = last_event_sequence + 1
WHERE id = :job_id AND version = 2
RETURNING *;
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 3, 'copying', 'ami-0123456789abcdef0', NULL, NULL, 'copy started: ami-0123456789abcdef0', now());
SELECT pg_notify('amicopy_job_events', :job_id || ':3');
COMMIT;
BEGIN;
UPDATE jobs SET
    next_attempt_at = now(), lease_expires_at = NULL, updated_at = now(),
    state = 'available', image_id = 'ami-0123456789abcdef0', failure_code = NULL, failure_message = NULL, progress_percent = 100,
    attempts = 1, lease_owner = NULL,
    version = version + 1, last_event_sequence = last_event_sequence + 1
WHERE id = :job_id AND version = 3
RETURNING *;
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 4, 'available', 'ami-0123456789abcdef0', 100, NULL, 'copy available', now());
SELECT pg_notify('amicopy_job_events', :job_id || ':4');
COMMIT;
