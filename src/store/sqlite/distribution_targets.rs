//! The `distribution_targets` table on SQLite: a distribution's (account, Region) targets and
//! the job each has now, read with that job; new targets (and retried ones) are one prepared statement per row inside the caller's transaction.

use super::jobs::{JobRow, corrupt, narrow, uuid};
use crate::domain::{
    AccountId, DistributionId, Region,
    distribution::{Target, TargetJob},
};
use sqlx::{FromRow, Row, SqliteConnection, SqlitePool, sqlite::SqliteRow};

/// Records targets (new ones, or new jobs of retried ones: their rows are replaced).
pub(super) async fn upsert_targets(tx: &mut SqliteConnection, targets: &[&Target]) -> Result<(), sqlx::Error> {
    for target in targets {
        sqlx::query(
            "INSERT INTO distribution_targets (distribution_id, position, account_id, region, name, job_id, generation, rolled_back)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (distribution_id, position) DO UPDATE
                 SET job_id = excluded.job_id, generation = excluded.generation, rolled_back = excluded.rolled_back",
        )
        .bind(target.distribution_id.to_string())
        .bind(i64::from(target.position))
        .bind(target.account.as_ref().map(AccountId::as_str))
        .bind(target.region.as_str())
        .bind(&target.name)
        .bind(target.job_id.to_string())
        .bind(i64::from(target.generation))
        .bind(target.rolled_back)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Marks a target rolled back (the caller holds its distribution's row).
pub(super) async fn set_rolled_back(tx: &mut SqliteConnection, target: &Target) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE distribution_targets SET rolled_back = 1 WHERE distribution_id = $1 AND position = $2")
        .bind(target.distribution_id.to_string())
        .bind(i64::from(target.position))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Every target of a distribution with its current job, in order.
pub(super) async fn targets(pool: &SqlitePool, id: DistributionId) -> Result<Vec<TargetJob>, sqlx::Error> {
    let rows = sqlx::query_as::<_, TargetJobRow>(
        "SELECT j.*, t.position AS target_position, t.account_id AS target_account_id,
                t.region AS target_region, t.name AS target_name, t.generation AS target_generation,
                t.rolled_back AS target_rolled_back, t.distribution_id AS target_distribution_id
         FROM distribution_targets t JOIN jobs j ON j.id = t.job_id
         WHERE t.distribution_id = $1
         ORDER BY t.position",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|TargetJobRow(target)| target).collect())
}

pub(super) fn opt_account(row: &SqliteRow, column: &str) -> Result<Option<AccountId>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)?
        .map(AccountId::try_from)
        .transpose()
        .map_err(|e| corrupt(column, e))
}

pub(super) fn region(row: &SqliteRow, column: &str) -> Result<Region, sqlx::Error> {
    Region::try_from(row.try_get::<String, _>(column)?).map_err(|e| corrupt(column, e))
}

/// A target with its job: the job's columns and the target's, prefixed `target_`.
struct TargetJobRow(TargetJob);

impl FromRow<'_, SqliteRow> for TargetJobRow {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        let JobRow(job) = JobRow::from_row(row)?;
        let target = Target {
            distribution_id: uuid(row, "target_distribution_id")?.into(),
            position: narrow(row, "target_position")?,
            account: opt_account(row, "target_account_id")?,
            region: region(row, "target_region")?,
            name: row.try_get("target_name")?,
            job_id: job.id(),
            generation: narrow(row, "target_generation")?,
            rolled_back: row.try_get("target_rolled_back")?,
        };
        Ok(Self(TargetJob { target, job }))
    }
}

/// Deletes the targets of the distributions `ids` (a JSON array; before their jobs, which
/// targets point at).
pub(super) async fn delete_of(tx: &mut SqliteConnection, ids: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM distribution_targets WHERE distribution_id IN (SELECT value FROM json_each($1))")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}
