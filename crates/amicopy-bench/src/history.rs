//! The `history` scenario: whether costs grow with active work only. In this process, on a
//! PostgreSQL database (`--database-url`, fresh: the scenario fills it), an engine over the
//! simulator keeps `--history-active` copies running; the scenario times ticks over them and the
//! store's reads (one job by id, a page of 100 of the tenant's jobs) with an empty history, then
//! again after `--history-jobs` finished jobs with their events were added, and finally times the
//! retention purge of that history batch by batch (each batch is how long it holds its locks).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use chrono::Utc;
use sqlx::{PgPool, postgres::PgPoolOptions};

use super::{
    Args,
    inproc::{defaults, submit_all},
    report::{Latencies, Summary},
};
use amicopy::{
    backend::sim::Simulator,
    domain::JobId,
    engine::{Engine, hub::EventHub},
    store::{self, JobStore, ListQuery},
};

/// Finished jobs seeded per statement.
const SEED_CHUNK: u64 = 100_000;
/// How often each running copy is due for a look.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// Reads of each kind timed per phase.
const READS: usize = 500;
/// Jobs per retention batch (the service's own batch).
const PURGE_BATCH: u32 = 500;
/// The tenant the engine submits as (`inproc::submit_all`).
const TENANT: &str = "bench";

/// One phase's timings.
struct Phase {
    tick: Latencies,
    get: Latencies,
    list: Latencies,
}

/// Runs the scenario: one summary per measured figure.
pub async fn run(args: &Args) -> anyhow::Result<Vec<Summary>> {
    let url = args
        .database_url
        .as_deref()
        .context("the history scenario needs --database-url (a fresh PostgreSQL database)")?;
    let (mut sim, mut settings) = defaults()?;
    let active = args.history_active;
    let active32 = u32::try_from(active).unwrap_or(u32::MAX);
    sim.sim_copy_seconds = 1e9;
    sim.sim_max_concurrent_copies = active32;
    sim.sim_copy_image_burst = active32;
    sim.sim_describe_images_burst = 1_000_000;
    sim.sim_describe_images_refill = 1_000_000.0;
    sim.sim_describe_snapshots_burst = 1_000_000;
    sim.sim_describe_snapshots_refill = 1_000_000.0;
    // Ticks only when called; every running copy due once per LOOK_EVERY, longer than a tick
    // takes, so a tick looks at each copy once.
    settings.tick = Duration::from_secs(3600);
    settings.copy_burst = active32;
    settings.max_concurrent_copies = active32;
    settings.track_min_interval = LOOK_EVERY;
    settings.track_max_interval = LOOK_EVERY;
    let store = store::connect(Some(url), std::path::Path::new("."), Duration::from_secs(10)).await?;
    let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs").fetch_one(&pool).await?;
    anyhow::ensure!(
        existing == 0,
        "--database-url must name a fresh database ({existing} jobs in it)"
    );
    let simulator = Arc::new(Simulator::new(sim)?);
    let backends = Arc::new(amicopy::backend::OwnAccountOnly(simulator));
    let engine = Engine::new(Arc::clone(&store), backends, EventHub::new(), settings, "amicopy-bench");
    submit_all(&engine, "active", active).await?;
    engine.tick().await?;

    let empty = measure(&engine, &*store, active, args.history_ticks).await?;
    let started = Instant::now();
    seed(&pool, args.history_jobs).await?;
    let seeding = started.elapsed();
    let full = measure(&engine, &*store, active, args.history_ticks).await?;
    let (purge, purged, purging) = purge(&*store).await?;

    let history = args.history_jobs as f64;
    let mut summaries = Vec::new();
    for (name, phase_empty, phase_full, what) in [
        (
            "tick",
            &empty.tick,
            &full.tick,
            format!("one engine tick over {active} running copies"),
        ),
        (
            "get",
            &empty.get,
            &full.get,
            "JobStore::get_tenant_job (GetCopyJob's read)".to_owned(),
        ),
        (
            "list",
            &empty.list,
            &full.list,
            "JobStore::list_jobs, 100 of the tenant's jobs (ListCopyJobs' read)".to_owned(),
        ),
    ] {
        let mut summary = phase_full.summary(&format!("history-{name}"), 1, Duration::ZERO);
        let baseline = phase_empty.summary("empty", 1, Duration::ZERO);
        summary.extra.insert("history_jobs".into(), history);
        summary.extra.insert("empty_p50_ms".into(), baseline.p50_ms);
        summary.extra.insert("empty_p99_ms".into(), baseline.p99_ms);
        summary.extra.insert("seed_seconds".into(), seeding.as_secs_f64());
        summary.notes.push(format!(
            "{what}: with {history:.0} finished jobs (and their events) in PostgreSQL, against the same with none"
        ));
        summaries.push(summary);
    }
    let mut summary = purge.summary("history-purge", 1, purging);
    summary.extra.insert("history_jobs".into(), history);
    summary.extra.insert("purged_jobs".into(), purged as f64);
    summary.extra.insert(
        "purged_per_second".into(),
        purged as f64 / purging.as_secs_f64().max(1e-9),
    );
    summary.notes.push(format!(
        "retention: every finished job deleted in batches of {PURGE_BATCH} (each a transaction; its time is how long it holds locks), while {active} copies stay running"
    ));
    summaries.push(summary);
    Ok(summaries)
}

/// Times `ticks` ticks, a look at each of the `engine_active` copies each, and [`READS`] reads
/// of each kind.
async fn measure(
    engine: &Arc<Engine>,
    store: &dyn JobStore,
    engine_active: usize,
    ticks: usize,
) -> anyhow::Result<Phase> {
    let mut phase = Phase {
        tick: Latencies::new(),
        get: Latencies::new(),
        list: Latencies::new(),
    };
    for _ in 0..ticks {
        tokio::time::sleep(LOOK_EVERY + Duration::from_millis(50)).await;
        let started = Instant::now();
        let report = engine.tick().await?;
        phase.tick.record(started.elapsed());
        anyhow::ensure!(
            report.tracked == engine_active,
            "a tick looked at {} copies, not each of the {engine_active} running once",
            report.tracked
        );
    }
    let page = store
        .list_jobs(&list_query())
        .await?
        .jobs
        .into_iter()
        .map(|job| job.id())
        .collect::<Vec<JobId>>();
    anyhow::ensure!(!page.is_empty(), "no job to read");
    for i in 0..READS {
        let started = Instant::now();
        store.get_tenant_job(TENANT, page[i % page.len()]).await?;
        phase.get.record(started.elapsed());
        let started = Instant::now();
        store.list_jobs(&list_query()).await?;
        phase.list.record(started.elapsed());
    }
    Ok(phase)
}

fn list_query() -> ListQuery {
    ListQuery {
        tenant: TENANT.to_owned(),
        page_size: 100,
        ..Default::default()
    }
}

/// Adds `jobs` finished jobs to the tenant's history, each a copy of one running job's row and
/// events (finished, named apart, a year and more in the past), [`SEED_CHUNK`] per statement,
/// then has the planner's statistics refreshed as autovacuum would.
async fn seed(pool: &PgPool, jobs: u64) -> anyhow::Result<()> {
    let template: uuid::Uuid = sqlx::query_scalar("SELECT id FROM jobs WHERE state = 'copying' LIMIT 1")
        .fetch_one(pool)
        .await
        .context("no running job to copy the history from")?;
    let copy_jobs = copy_statement(
        pool,
        "jobs",
        &[
            ("id", "gen_random_uuid()"),
            ("name", "'history-' || ($2::bigint + i)"),
            ("client_token", "NULL"),
            ("state", "'available'"),
            ("image_id", "'ami-0123456789abcdef0'"),
            ("progress_percent", "100"),
            ("lease_owner", "NULL"),
            ("lease_expires_at", "NULL"),
            (
                "created_at",
                "now() - interval '400 days' - make_interval(secs => $2::bigint + i)",
            ),
            (
                "updated_at",
                "now() - interval '400 days' - make_interval(secs => $2::bigint + i - 1)",
            ),
        ],
    )
    .await?;
    let copy_events = copy_statement(
        pool,
        "job_events",
        &[("job_id", "seeded.id"), ("created_at", "seeded.created_at")],
    )
    .await?;
    let statement = format!(
        "WITH seeded AS (
             INSERT INTO jobs {copy_jobs}
             FROM jobs AS template, generate_series(1::bigint, $3::bigint) AS i
             WHERE template.id = $1
             RETURNING id, created_at)
         INSERT INTO job_events {copy_events}
         FROM seeded CROSS JOIN job_events AS template WHERE template.job_id = $1"
    );
    let mut done = 0;
    while done < jobs {
        let chunk = SEED_CHUNK.min(jobs - done);
        sqlx::query(&statement)
            .bind(template)
            .bind(i64::try_from(done)?)
            .bind(i64::try_from(chunk)?)
            .execute(pool)
            .await
            .context("seeding the history")?;
        done += chunk;
    }
    sqlx::query("ANALYZE jobs").execute(pool).await?;
    sqlx::query("ANALYZE job_events").execute(pool).await?;
    Ok(())
}

/// `(columns) SELECT values` copying a row of `table` aliased `template`, with the `overrides`
/// (column, SQL expression) in place of the template's values: every column the migrations made,
/// read from the catalogue, so the seeding follows the schema.
async fn copy_statement(pool: &PgPool, table: &str, overrides: &[(&str, &str)]) -> anyhow::Result<String> {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await?;
    anyhow::ensure!(!columns.is_empty(), "no table {table}");
    let values: Vec<String> = columns
        .iter()
        .map(|column| {
            overrides
                .iter()
                .find(|(name, _)| name == column)
                .map_or_else(|| format!("template.{column}"), |(_, value)| (*value).to_owned())
        })
        .collect();
    Ok(format!("({}) SELECT {}", columns.join(", "), values.join(", ")))
}

/// Deletes every finished job as retention does, timing each batch.
async fn purge(store: &dyn JobStore) -> anyhow::Result<(Latencies, u64, Duration)> {
    let before = Utc::now() - chrono::Duration::days(1);
    let mut batches = Latencies::new();
    let mut purged = 0;
    let started = Instant::now();
    loop {
        let batch = Instant::now();
        let deleted = store.delete_finished_jobs(before, PURGE_BATCH).await?;
        batches.record(batch.elapsed());
        purged += deleted;
        if deleted < u64::from(PURGE_BATCH) {
            return Ok((batches, purged, started.elapsed()));
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use amicopy_testing::postgres::{TestDatabase, postgres_tests_skipped};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_history_is_seeded_measured_and_purged_on_a_real_database() {
        if postgres_tests_skipped() {
            return;
        }
        let database = TestDatabase::create().await.expect("a fresh PostgreSQL database");
        let args = Args::try_parse_from([
            "amicopy-bench",
            "--scenario",
            "history",
            "--database-url",
            &database.url,
            "--history-jobs",
            "2500",
            "--history-active",
            "10",
            "--history-ticks",
            "3",
        ])
        .unwrap();
        let summaries = run(&args).await.expect("the scenario runs");
        let names: Vec<&str> = summaries.iter().map(|s| s.scenario.as_str()).collect();
        assert_eq!(names, ["history-tick", "history-get", "history-list", "history-purge"]);
        for summary in &summaries[..3] {
            assert_eq!(summary.extra["history_jobs"], 2500.0);
            assert!(summary.extra["empty_p99_ms"] > 0.0, "{summary:?}");
        }
        let purge = &summaries[3];
        assert_eq!(
            purge.extra["purged_jobs"], 2500.0,
            "every seeded job, and no running one"
        );
        assert_eq!(purge.count, 6, "five full batches of 500 and the one that found none");

        let pool = PgPoolOptions::new().connect(&database.url).await.unwrap();
        let left: Vec<(String, i64)> = sqlx::query_as("SELECT state, count(*) FROM jobs GROUP BY state")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(left, [("copying".to_owned(), 10)], "the running copies stay");
        let orphans: i64 =
            sqlx::query_scalar("SELECT count(*) FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(orphans, 0, "the seeded events went with their jobs");
        pool.close().await;
        database.drop_database().await.unwrap();
    }
}
