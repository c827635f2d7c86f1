//! The closed-loop driver every RPC scenario shares: `concurrency` workers call one operation
//! back to back (or paced to a total rate) until the duration or the call budget runs out.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use super::report::Latencies;

/// How long and how hard to drive an operation.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Workers calling at once.
    pub concurrency: usize,
    /// Wall-clock bound of the run.
    pub duration: Duration,
    /// Upper bound on calls, over all workers.
    pub max_calls: u64,
    /// Total calls per second to pace to; `None` calls back to back.
    pub rate: Option<f64>,
}

/// Runs `operation(worker, call number)` under `load` and returns the merged latencies and how
/// long the run took. An `Err` from the operation counts as an error, not a latency.
pub async fn drive<F, Fut, E>(load: Load, operation: F) -> (Latencies, Duration)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    let operation = Arc::new(operation);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + load.duration;
    let interval = load
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(load.concurrency as f64 / rate));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..load.concurrency {
        let operation = Arc::clone(&operation);
        let issued = Arc::clone(&issued);
        workers.spawn(async move {
            let mut latencies = Latencies::new();
            let mut next = Instant::now()
                + interval.map_or(Duration::ZERO, |i| i.mul_f64(worker as f64 / load.concurrency as f64));
            loop {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
                    next += interval;
                }
                if Instant::now() >= deadline {
                    break;
                }
                let call = issued.fetch_add(1, Ordering::Relaxed);
                if call >= load.max_calls {
                    break;
                }
                let began = Instant::now();
                match operation(worker, call).await {
                    Ok(()) => latencies.record(began.elapsed()),
                    Err(_) => latencies.record_error(),
                }
            }
            latencies
        });
    }
    let mut total = Latencies::new();
    while let Some(done) = workers.join_next().await {
        if let Ok(latencies) = done {
            total.merge(&latencies);
        }
    }
    (total, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_call_budget_bounds_the_run() {
        let load = Load {
            concurrency: 3,
            duration: Duration::from_secs(60),
            max_calls: 10,
            rate: None,
        };
        let (latencies, _) = drive(load, |_, call| async move {
            if call % 5 == 0 { Err("refused") } else { Ok(()) }
        })
        .await;
        assert_eq!(latencies.count(), 8);
        assert_eq!(latencies.summary("t", 3, Duration::from_secs(1)).errors, 2);
    }

    #[tokio::test]
    async fn the_duration_bounds_the_run() {
        let load = Load {
            concurrency: 2,
            duration: Duration::from_millis(50),
            max_calls: u64::MAX,
            rate: Some(100.0),
        };
        let (latencies, elapsed) = drive(load, |_, _| async { Ok::<(), ()>(()) }).await;
        assert!(elapsed < Duration::from_secs(5));
        // Paced to 100/s for 50 ms: a handful of calls, not thousands.
        assert!(latencies.count() <= 10, "{}", latencies.count());
    }
}
