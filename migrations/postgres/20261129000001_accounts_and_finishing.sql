-- Copies into other accounts, and the finishing steps after a copy (launch permissions, snapshot
-- permissions, deprecation) with the new state 'finishing' between 'copying' and 'available';
-- when each copy started, for pacing the looks at it.

ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('queued', 'copying', 'finishing', 'available', 'failed', 'cancelling', 'cancelled'));

-- The account the copy is made in; NULL for the service's own.
ALTER TABLE jobs ADD COLUMN destination_account_id text;
-- JSON {"user_ids": [...], "organization_arns": [...], "organizational_unit_arns": [...], "public": bool}.
ALTER TABLE jobs ADD COLUMN launch_permissions text NOT NULL DEFAULT '{}';
-- JSON array of account ids given createVolumePermission on the new snapshots.
ALTER TABLE jobs ADD COLUMN snapshot_user_ids text NOT NULL DEFAULT '[]';
ALTER TABLE jobs ADD COLUMN deprecate_at timestamptz;
-- JSON array of the new AMI's snapshot ids, once it is available.
ALTER TABLE jobs ADD COLUMN snapshot_ids text NOT NULL DEFAULT '[]';
-- Bit set of the checks and finishing steps done (1 checks, 2 launch permissions, 4 snapshot
-- permissions, 8 deprecation), and failed tries of the current step.
ALTER TABLE jobs ADD COLUMN steps_done bigint NOT NULL DEFAULT 0 CHECK (steps_done BETWEEN 0 AND 15);
ALTER TABLE jobs ADD COLUMN step_failures bigint NOT NULL DEFAULT 0 CHECK (step_failures >= 0);
-- When EC2 accepted the copy: its progress is measured from there to pace the looks at it.
ALTER TABLE jobs ADD COLUMN copying_since timestamptz;

-- Counting copies in progress per account and Region.
CREATE INDEX jobs_account_region_state ON jobs (destination_account_id, destination_region, state);
