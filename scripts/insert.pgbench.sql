-- Only the transaction a CopyImage call waits for: the job and its first event, announced, in
-- one transaction (src/store/sql.rs INSERT_JOB and INSERT_EVENT, src/store/postgres.rs).
-- For pgbench -M prepared; the context row of the benchmark table.
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
