-- The baseline of the accept path: one single-row insert transaction per copy (a jobs row like
-- the one CopyImage records, nothing else), for pgbench -M prepared. amicopy's target is 0.8x
-- of this, at the same concurrency, in the same run of scripts/bench.sh.
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
        gen_random_uuid(), 'default', md5(:n::text), 'queued', 1, now(), 'pgbench-inline', now() + interval '30 seconds', now(), now(), 1, 1);
COMMIT;
