-- The SQL one accepted CopyImage costs amicopyd on PostgreSQL when every call commits alone
-- (an idle service; under load concurrent calls share these commits, src/store/postgres/
-- group_commit.rs), statement for statement (src/store/postgres/jobs.rs, src/engine/mod.rs and
-- dispatch.rs), for pgbench -M prepared:
--   1. the job with its attempt recorded and its first event, in one transaction (the Region's
--      copy count is kept in memory, so no count query);
--   2. the copy recorded as started (update + event);
--   3. the tracker recording the copy's end (update + event), which the server also does during
--      a run whose copies finish within it.
-- Events are announced after their commits, in batches of many (src/store/postgres/announce.rs).
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
        gen_random_uuid(), 'default', md5(:n::text), 'queued', 1, now(), 'pgbench-inline', now() + interval '30 seconds', now(), now(), 1, 1)
ON CONFLICT (tenant, destination_region, client_token) WHERE client_token IS NOT NULL DO NOTHING
RETURNING * \gset job_
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 1, 'queued', NULL, NULL, NULL, 'job accepted; starting copy (attempt 1)', now());
COMMIT;
BEGIN;
UPDATE jobs SET
    next_attempt_at = now(), lease_expires_at = NULL, updated_at = now(),
    state = 'copying', image_id = 'ami-0123456789abcdef0', failure_code = NULL, failure_message = NULL, progress_percent = NULL,
    attempts = 1, lease_owner = NULL,
    version = version + 1, last_event_sequence = last_event_sequence + 1
WHERE id = :job_id AND version = 1
RETURNING *;
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 2, 'copying', 'ami-0123456789abcdef0', NULL, NULL, 'copy started: ami-0123456789abcdef0', now());
COMMIT;
BEGIN;
UPDATE jobs SET
    next_attempt_at = now(), lease_expires_at = NULL, updated_at = now(),
    state = 'available', image_id = 'ami-0123456789abcdef0', failure_code = NULL, failure_message = NULL, progress_percent = 100,
    attempts = 1, lease_owner = NULL,
    version = version + 1, last_event_sequence = last_event_sequence + 1
WHERE id = :job_id AND version = 2
RETURNING *;
INSERT INTO job_events (job_id, sequence, state, image_id, progress_percent, failure_code, detail, created_at)
VALUES (:job_id, 3, 'available', 'ami-0123456789abcdef0', 100, NULL, 'copy available', now());
COMMIT;
