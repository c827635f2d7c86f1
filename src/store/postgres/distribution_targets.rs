//! The `distribution_targets` table on PostgreSQL: a distribution's (account, Region) targets and
//! the job each has now, read with that job; new targets (and retried ones) are bound as one array per column and inserted with `UNNEST`.

use sqlx::{PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use super::jobs::{JobColumns, narrow, opt_parsed, parsed, read_rows};
use crate::domain::{
    AccountId, DistributionId, Region,
    distribution::{Target, TargetJob},
};

/// Records targets (new ones, or new jobs of retried ones: their rows are replaced).
pub(super) async fn upsert_targets(tx: &mut PgConnection, targets: &[&Target]) -> Result<(), sqlx::Error> {
    let distribution: Vec<Uuid> = targets.iter().map(|t| t.distribution_id.as_uuid()).collect();
    let position: Vec<i64> = targets.iter().map(|t| i64::from(t.position)).collect();
    let account: Vec<Option<&str>> = targets
        .iter()
        .map(|t| t.account.as_ref().map(AccountId::as_str))
        .collect();
    let region: Vec<&str> = targets.iter().map(|t| t.region.as_str()).collect();
    let name: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let job: Vec<Uuid> = targets.iter().map(|t| t.job_id.as_uuid()).collect();
    let generation: Vec<i64> = targets.iter().map(|t| i64::from(t.generation)).collect();
    let rolled_back: Vec<bool> = targets.iter().map(|t| t.rolled_back).collect();
    sqlx::query(
        "INSERT INTO distribution_targets (distribution_id, position, account_id, region, name, job_id, generation, rolled_back)
         SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::bigint[],
                              $8::boolean[])
         ON CONFLICT (distribution_id, position) DO UPDATE
             SET job_id = excluded.job_id, generation = excluded.generation, rolled_back = excluded.rolled_back",
    )
    .bind(distribution)
    .bind(position)
    .bind(account)
    .bind(region)
    .bind(name)
    .bind(job)
    .bind(generation)
    .bind(rolled_back)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks a target rolled back (the caller holds its distribution's row).
pub(super) async fn set_rolled_back(tx: &mut PgConnection, target: &Target) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE distribution_targets SET rolled_back = true WHERE distribution_id = $1 AND position = $2")
        .bind(target.distribution_id.as_uuid())
        .bind(i64::from(target.position))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Every target of a distribution with its current job, in order.
pub(super) async fn targets(pool: &PgPool, id: DistributionId) -> Result<Vec<TargetJob>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT j.*, t.position AS target_position, t.account_id AS target_account_id,
                t.region AS target_region, t.name AS target_name, t.generation AS target_generation,
                t.rolled_back AS target_rolled_back, t.distribution_id AS target_distribution_id
         FROM distribution_targets t JOIN jobs j ON j.id = t.job_id
         WHERE t.distribution_id = $1
         ORDER BY t.position",
    )
    .bind(id.as_uuid())
    .fetch_all(pool)
    .await?;
    read_rows(&rows, target_job)
}

/// A target with its job, from a row of the job's columns (found once per result set) and the
/// target's, prefixed `target_`.
fn target_job(row: &PgRow, columns: &JobColumns) -> Result<TargetJob, sqlx::Error> {
    let job = columns.job(row)?;
    let target = Target {
        distribution_id: row.try_get::<Uuid, _>("target_distribution_id")?.into(),
        position: narrow(row, "target_position")?,
        account: opt_parsed::<AccountId>(row, "target_account_id")?,
        region: parsed::<Region>(row, "target_region")?,
        name: row.try_get("target_name")?,
        job_id: job.id(),
        generation: narrow(row, "target_generation")?,
        rolled_back: row.try_get("target_rolled_back")?,
    };
    Ok(TargetJob { target, job })
}

/// Deletes the targets of the distributions `ids` (before their jobs, which targets point at).
pub(super) async fn delete_of(tx: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM distribution_targets WHERE distribution_id = ANY($1)")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}
