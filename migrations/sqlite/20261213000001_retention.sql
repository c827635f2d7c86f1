-- Retention (--job-retention-days): finding the finished jobs and distributions that last
-- changed longest ago without reading the rest. Partial indexes, so rows still moving (the
-- active work every tick reads and writes) are not in them.
CREATE INDEX jobs_finished_updated ON jobs (updated_at)
    WHERE distribution_id IS NULL AND state IN ('available', 'failed', 'cancelled');
CREATE INDEX distributions_finished_updated ON distributions (updated_at)
    WHERE state IN ('succeeded', 'partially_succeeded', 'failed', 'cancelled', 'rolled_back');
