//! The one markdown table of `scripts/bench.sh`: every figure beside its baseline, the ratio,
//! the target and whether it was met, from the summaries a run saved.

use std::{collections::BTreeMap, path::Path};

use anyhow::Context as _;

use super::report::Summary;

/// Saved summaries by name.
pub type Results = BTreeMap<String, Summary>;

/// Reads every `*.json` summary in `dir`.
pub fn load_dir(dir: &Path) -> anyhow::Result<Results> {
    let mut results = Results::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let text = std::fs::read_to_string(&path)?;
            let summary: Summary =
                serde_json::from_str(&text).with_context(|| format!("{} is not a saved summary", path.display()))?;
            results.insert(summary.scenario.clone(), summary);
        }
    }
    Ok(results)
}

/// Whether a measured figure meets its target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// measured / baseline must be at least this.
    RatioAtLeast(f64),
    /// The figure must be at most this.
    AtMost(f64),
}

impl Target {
    /// Whether `measured` (against `baseline`, for ratios) meets the target; `None` when the
    /// ratio has no baseline to divide by.
    pub fn met(self, measured: f64, baseline: Option<f64>) -> Option<bool> {
        match self {
            Target::RatioAtLeast(least) => ratio(measured, baseline?).map(|r| r >= least),
            Target::AtMost(most) => Some(measured <= most),
        }
    }
}

/// measured / baseline, when the baseline is positive.
pub fn ratio(measured: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| measured / baseline)
}

struct Row {
    figure: String,
    measured: String,
    baseline: String,
    ratio: String,
    target: String,
    met: String,
}

fn verdict(met: Option<bool>) -> String {
    match met {
        Some(true) => "yes".into(),
        Some(false) => "**no**".into(),
        None => "n/a".into(),
    }
}

fn extra(summary: &Summary, key: &str) -> f64 {
    summary.extra.get(key).copied().unwrap_or(0.0)
}

fn missing(figure: &str, target: &str) -> Row {
    Row {
        figure: figure.into(),
        measured: "not measured".into(),
        baseline: String::new(),
        ratio: String::new(),
        target: target.into(),
        met: "n/a".into(),
    }
}

fn throughput_row(
    figure: &str,
    measured: Option<&Summary>,
    baseline: Option<&Summary>,
    base_name: &str,
    least: f64,
) -> Row {
    let target = format!("≥ {least}×");
    let Some(m) = measured else {
        return missing(figure, &target);
    };
    let b = baseline.map(|b| b.throughput);
    Row {
        figure: figure.into(),
        measured: format!("{:.0}/s (p50 {:.2} ms, p99 {:.2} ms)", m.throughput, m.p50_ms, m.p99_ms),
        baseline: b.map_or("not measured".into(), |b| format!("{base_name} {b:.0}/s")),
        ratio: b
            .and_then(|b| ratio(m.throughput, b))
            .map_or(String::new(), |r| format!("{r:.2}×")),
        met: verdict(Target::RatioAtLeast(least).met(m.throughput, b)),
        target,
    }
}

/// The two rows of a `polling` run: EC2 calls per completed copy against the SDK waiter's, and
/// how late each copy's end was seen against max(2 s, 2 % of its duration).
fn polling_rows(p: &Summary) -> [Row; 2] {
    let n = extra(p, "copies");
    let minutes = extra(p, "copy_seconds") / 60.0;
    let calls = extra(p, "calls_per_copy");
    let waiter = extra(p, "waiter_calls_per_copy");
    let allowed = extra(p, "delay_allowed_seconds");
    let max_delay = extra(p, "delay_max_seconds");
    let unfinished = p.errors > 0;
    // The bound is for one copy: 30 tracking calls for a 30-minute copy, scaled.
    let call_bound = minutes.max(1.0);
    [
        Row {
            figure: format!("tracking calls per completed copy, {n:.0} × {minutes:.0}-min copies, 1 Region"),
            measured: format!(
                "{calls:.2} ({:.2} DescribeImages, {:.0} DescribeSnapshots calls in all)",
                extra(p, "describe_images_per_copy"),
                extra(p, "describe_snapshots_calls")
            ),
            baseline: format!("SDK ImageAvailable waiter (15 s) {waiter:.0}"),
            ratio: ratio(calls, waiter).map_or(String::new(), |r| format!("{r:.3}×")),
            target: format!("≤ {call_bound:.0}"),
            met: verdict(Some(!unfinished && calls <= call_bound)),
        },
        Row {
            figure: format!("copy's end seen after EC2 reported it, {n:.0} × {minutes:.0}-min copies"),
            measured: format!(
                "mean {:.1} s, p99 {:.1} s, max {max_delay:.1} s",
                extra(p, "delay_mean_seconds"),
                p.p99_ms / 1000.0
            ),
            baseline: format!(
                "waiter mean {:.1} s, max {:.0} s",
                extra(p, "waiter_delay_mean_seconds"),
                extra(p, "waiter_delay_max_seconds")
            ),
            ratio: String::new(),
            target: format!("≤ max(2 s, 2 %) = {allowed:.0} s"),
            met: verdict(Some(!unfinished && max_delay <= allowed)),
        },
    ]
}

/// A figure shown beside an earlier baseline, with no target of its own.
fn context_row(figure: &str, measured: String, baseline: String, ratio: Option<f64>, target: &str) -> Row {
    Row {
        figure: figure.into(),
        measured,
        baseline,
        ratio: ratio.map_or(String::new(), |r| format!("{r:.2}×")),
        target: format!("(context; {target})"),
        met: String::new(),
    }
}

/// A watch run's delivery delays as the client saw them, with the server's shares when scraped
/// and, apart, the events created while streams were still being opened.
fn delivery(w: &Summary) -> String {
    let opening = match w.extra.get("opening_events").filter(|events| **events > 0.0) {
        Some(events) => format!(
            "; apart, {events:.0} events created while streams were still opening: p99 {:.1} ms, max {:.1} ms",
            extra(w, "opening_p99_ms"),
            extra(w, "opening_max_ms")
        ),
        None => String::new(),
    };
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} events){}{opening}",
        w.p50_ms,
        w.p99_ms,
        w.max_ms,
        w.count,
        server_share(w)
    )
}

/// What the streams' replica measured of a watch run (bucket bounds of its histograms): how old
/// events were when it relayed them (written by another replica) and when its streams sent them.
fn server_share(w: &Summary) -> String {
    let bound = |key: String| match w.extra.get(&key) {
        Some(ms) => format!("≤ {ms:.0} ms"),
        None => "beyond the largest bucket".to_owned(),
    };
    let mut share = String::new();
    for (prefix, what) in [
        ("relay", "relayed by the streams' replica"),
        ("send", "sent by its streams"),
    ] {
        if let Some(events) = w.extra.get(&format!("{prefix}_events")).filter(|events| **events > 0.0) {
            share.push_str(&format!(
                "; {what} {} (p50), {} (p99) after being recorded ({events:.0} events)",
                bound(format!("{prefix}_p50_ms_at_most")),
                bound(format!("{prefix}_p99_ms_at_most"))
            ));
        }
    }
    share
}

fn p99_row(figure: &str, measured: Option<&Summary>, baseline: Option<String>, most_ms: f64) -> Row {
    let target = format!("≤ {most_ms} ms");
    let Some(m) = measured else {
        return missing(figure, &target);
    };
    Row {
        figure: figure.into(),
        measured: format!(
            "{:.2} ms (p50 {:.2} ms, {:.0}/s at concurrency {})",
            m.p99_ms, m.p50_ms, m.throughput, m.concurrency
        ),
        baseline: baseline.unwrap_or_default(),
        ratio: String::new(),
        met: verdict(Target::AtMost(most_ms).met(m.p99_ms, None)),
        target,
    }
}

/// The rows of a `history` run: a tick and the two reads with a million finished jobs against
/// the same with none, and retention's batches.
fn history_rows(results: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    for (name, figure, target) in [
        ("history-tick", "tick over 100 running copies", None),
        ("history-get", "GetCopyJob's store read", Some(5.0)),
        ("history-list", "ListCopyJobs' store read (100 jobs)", Some(5.0)),
    ] {
        let Some(h) = results.get(name) else {
            rows.push(missing(&format!("{figure}, 1,000,000 finished jobs"), "same as empty"));
            continue;
        };
        let empty = extra(h, "empty_p99_ms");
        let growth = ratio(h.p99_ms, empty);
        // Costs that do not grow with history: the same p99 as with none, within 25 %
        // (or 1 ms, below which the clock's and scheduler's noise dominates).
        let same = h.p99_ms <= (empty * 1.25).max(empty + 1.0);
        let (target, met) = match target {
            Some(most) => (format!("same as empty, and p99 ≤ {most} ms"), same && h.p99_ms <= most),
            None => ("same as empty (≤ 1.25× or +1 ms)".to_owned(), same),
        };
        rows.push(Row {
            figure: format!("{figure}, {:.0} finished jobs in PostgreSQL", extra(h, "history_jobs")),
            measured: format!("p50 {:.2} ms, p99 {:.2} ms", h.p50_ms, h.p99_ms),
            baseline: format!(
                "empty history: p50 {:.2} ms, p99 {empty:.2} ms",
                extra(h, "empty_p50_ms")
            ),
            ratio: growth.map_or(String::new(), |r| format!("{r:.2}×")),
            target,
            met: verdict(Some(met)),
        });
    }
    if let Some(p) = results.get("history-purge") {
        rows.push(Row {
            figure: format!(
                "retention: {:.0} finished jobs deleted, batches of 500",
                extra(p, "purged_jobs")
            ),
            measured: format!(
                "{:.0} jobs/s; batch p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                extra(p, "purged_per_second"),
                p.p50_ms,
                p.p99_ms,
                p.max_ms
            ),
            baseline: String::new(),
            ratio: String::new(),
            target: "no long lock: each batch ≤ 1 s".into(),
            met: verdict(Some(p.max_ms <= 1000.0)),
        });
    }
    rows
}

/// The markdown table.
pub fn render(results: &Results) -> String {
    let get = |name: &str| results.get(name);
    let mut rows = vec![throughput_row(
        "CopyImage accepted (unique names, no token)",
        get("accept"),
        get("pgbench-insert"),
        "pgbench, one single-row insert transaction per copy",
        0.8,
    )];
    if let Some(accept) = get("accept") {
        for (baseline, name, earlier) in [
            (
                get("pgbench"),
                "pgbench, the accept path's own SQL",
                "earlier target ≥ 0.8×",
            ),
            (
                get("grpc-floor"),
                "Health/Check",
                "earlier target ≥ 0.5×, dropped: set wrong",
            ),
        ] {
            if let Some(baseline) = baseline {
                rows.push(context_row(
                    "(context) CopyImage accepted",
                    format!("{:.0}/s", accept.throughput),
                    format!("{name} {:.0}/s", baseline.throughput),
                    ratio(accept.throughput, baseline.throughput),
                    earlier,
                ));
            }
        }
    }
    rows.push(match get("accept-half") {
        None => missing("CopyImage p99 at half the peak rate", "≤ 10 ms"),
        Some(half) => Row {
            figure: "CopyImage p99 at half the peak rate".into(),
            measured: format!(
                "{:.2} ms (p50 {:.2}, max {:.2}) at {:.0}/s",
                half.p99_ms, half.p50_ms, half.max_ms, half.throughput
            ),
            baseline: get("grpc-floor").map_or(String::new(), |f| {
                format!("Health/Check p99 {:.2} ms at peak", f.p99_ms)
            }),
            ratio: String::new(),
            target: "≤ 10 ms".into(),
            met: verdict(Target::AtMost(10.0).met(half.p99_ms, None)),
        },
    });
    for (name, figure) in [
        ("retries", "CopyImage retried (16 ClientTokens)"),
        ("reads", "GetCopyJob + ListCopyJobs(100) alternating"),
    ] {
        if let Some(m) = get(name) {
            let floor = get("grpc-floor").map(|f| f.throughput);
            rows.push(Row {
                figure: figure.into(),
                measured: format!("{:.0}/s (p50 {:.2} ms, p99 {:.2} ms)", m.throughput, m.p50_ms, m.p99_ms),
                baseline: floor.map_or(String::new(), |f| format!("Health/Check {f:.0}/s")),
                ratio: floor
                    .and_then(|f| ratio(m.throughput, f))
                    .map_or(String::new(), |r| format!("{r:.2}×")),
                target: "(no target)".into(),
                met: String::new(),
            });
        }
    }
    rows.push(throughput_row(
        "GetCopyJob alone",
        get("get-job"),
        get("grpc-floor"),
        "Health/Check",
        0.25,
    ));
    rows.push(p99_row(
        "ListCopyJobs of 100 jobs, p99",
        get("list-jobs"),
        get("grpc-floor").map(|f| format!("Health/Check p99 {:.2} ms", f.p99_ms)),
        20.0,
    ));
    rows.push(p99_row(
        "CreateDistribution of 600 targets, p99",
        get("distribute"),
        None,
        200.0,
    ));
    match get("watch") {
        None => rows.push(missing("WatchCopyJob delivery p99", "10,000 streams, ≤ 10 ms")),
        Some(w) => {
            let opened = extra(w, "streams_opened");
            rows.push(Row {
                figure: format!(
                    "WatchCopyJob delivery, {opened:.0} streams over {:.0} jobs, {:.0} cancels/s",
                    extra(w, "jobs"),
                    extra(w, "cancels_per_second")
                ),
                measured: delivery(w),
                baseline: String::new(),
                ratio: String::new(),
                target: "10,000 streams, p99 ≤ 10 ms (earlier: 100 ms)".into(),
                met: verdict(Some(opened >= 10_000.0 && w.p99_ms <= 10.0)),
            });
            let per_stream = w.extra.get("server_kib_per_stream").copied();
            rows.push(Row {
                figure: "server memory per watch stream".into(),
                measured: per_stream.map_or("not measured (no --server-pid)".into(), |k| format!("{k:.1} KiB")),
                baseline: format!(
                    "RSS {:.0} → {:.0} KiB",
                    extra(w, "server_rss_before_kib"),
                    extra(w, "server_rss_after_kib")
                ),
                ratio: String::new(),
                target: "≤ 16 KiB (earlier: 20 KiB)".into(),
                met: verdict(per_stream.map(|k| k <= 16.0)),
            });
        }
    }
    if let Some(w) = get("watch-burst") {
        rows.push(Row {
            figure: format!(
                "(context) WatchCopyJob delivery, {:.0} streams over {:.0} jobs cancelled at once",
                extra(w, "streams_opened"),
                extra(w, "jobs")
            ),
            measured: delivery(w),
            baseline: String::new(),
            ratio: String::new(),
            target: "(context: a fan-out burst)".into(),
            met: String::new(),
        });
    }
    match get("watch-other-replica") {
        None => rows.push(missing(
            "WatchCopyJob delivery p99, event written by another replica",
            "≤ 25 ms",
        )),
        Some(w) => {
            let opened = extra(w, "streams_opened");
            rows.push(Row {
                figure: format!(
                    "WatchCopyJob delivery, event written by another replica, {opened:.0} streams over {:.0} jobs, {:.0} cancels/s",
                    extra(w, "jobs"),
                    extra(w, "cancels_per_second")
                ),
                measured: delivery(w),
                baseline: get("watch").map_or(String::new(), |same| format!("same replica p99 {:.1} ms", same.p99_ms)),
                ratio: String::new(),
                target: "10,000 streams, p99 ≤ 25 ms".into(),
                met: verdict(Some(opened >= 10_000.0 && w.p99_ms <= 25.0)),
            });
        }
    }
    rows.extend(history_rows(results));
    let mut tracking: Vec<&Summary> = results
        .values()
        .filter(|s| s.scenario.starts_with("tracking-"))
        .collect();
    tracking.sort_by_key(|s| extra(s, "pending_copies") as u64);
    for t in tracking {
        let n = extra(t, "pending_copies");
        let calls = extra(t, "describe_images_calls");
        let bound = extra(t, "bound_ceil_n_over_page");
        rows.push(Row {
            figure: format!("DescribeImages calls per tick, {n:.0} pending copies, 1 Region"),
            measured: format!("{calls:.0} (tick took {:.0} ms)", t.max_ms),
            baseline: format!("{n:.0} (one call per image, as waiters poll)"),
            ratio: ratio(calls, n).map_or(String::new(), |r| format!("{r:.3}×")),
            target: format!("≤ ceil(N/{:.0}) = {bound:.0}", extra(t, "page_size")),
            met: verdict(Target::AtMost(bound).met(calls, None)),
        });
    }
    let mut polling: Vec<&Summary> = results
        .values()
        .filter(|s| s.scenario.starts_with("polling-"))
        .collect();
    polling.sort_by_key(|s| extra(s, "copies") as u64);
    for p in polling {
        rows.extend(polling_rows(p));
    }
    rows.push(match get("burst") {
        None => missing("RequestLimitExceeded in a 1,000-copy burst", "0"),
        Some(b) => Row {
            figure: format!(
                "RequestLimitExceeded in a {:.0}-copy burst",
                extra(b, "copies_submitted")
            ),
            measured: format!(
                "{:.0} ({:.0} copies available, {:.0} unfinished, {:.0} s)",
                extra(b, "request_limit_exceeded"),
                extra(b, "copies_available"),
                extra(b, "copies_unfinished"),
                b.seconds
            ),
            baseline: format!("{:.0} CopyImage calls", extra(b, "copy_image_calls")),
            ratio: String::new(),
            target: "0".into(),
            met: verdict(Some(
                extra(b, "request_limit_exceeded") == 0.0 && extra(b, "copies_unfinished") == 0.0,
            )),
        },
    });
    let mut out = String::from("| figure | measured | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.figure, row.measured, row.baseline, row.ratio, row.target, row.met
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(name: &str, throughput: f64, p99_ms: f64) -> Summary {
        Summary {
            scenario: name.into(),
            concurrency: 16,
            count: 100,
            errors: 0,
            seconds: 1.0,
            throughput,
            p50_ms: 1.0,
            p90_ms: 2.0,
            p99_ms,
            max_ms: p99_ms,
            notes: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    #[test]
    fn ratio_targets_compare_against_the_baseline() {
        assert_eq!(Target::RatioAtLeast(0.8).met(800.0, Some(1000.0)), Some(true));
        assert_eq!(Target::RatioAtLeast(0.8).met(799.0, Some(1000.0)), Some(false));
        assert_eq!(Target::RatioAtLeast(0.8).met(800.0, Some(0.0)), None);
        assert_eq!(Target::RatioAtLeast(0.8).met(800.0, None), None);
        assert_eq!(Target::AtMost(10.0).met(10.0, None), Some(true));
        assert_eq!(Target::AtMost(10.0).met(10.01, None), Some(false));
    }

    #[test]
    fn the_table_shows_ratios_and_verdicts() {
        let mut results = Results::new();
        for s in [
            summary("accept", 900.0, 5.0),
            summary("pgbench-insert", 1000.0, 0.0),
            summary("grpc-floor", 3000.0, 1.0),
        ] {
            results.insert(s.scenario.clone(), s);
        }
        let table = render(&results);
        assert!(
            table.contains("| pgbench, one single-row insert transaction per copy 1000/s | 0.90× | ≥ 0.8× | yes |"),
            "{table}"
        );
        assert!(
            table.contains("| Health/Check 3000/s | 0.30× | (context; earlier target ≥ 0.5×, dropped: set wrong) |  |"),
            "{table}"
        );
        assert!(table.contains("| GetCopyJob alone | not measured |"), "{table}");
        assert!(
            table.contains("| CopyImage p99 at half the peak rate | not measured |"),
            "{table}"
        );
    }

    #[test]
    fn watch_rows_show_what_the_streams_replica_measured_of_the_delay() {
        let mut results = Results::new();
        let mut other = summary("watch-other-replica", 0.0, 40.0);
        other.extra.insert("relay_events".into(), 2000.0);
        other.extra.insert("relay_p50_ms_at_most".into(), 4.0);
        results.insert(other.scenario.clone(), other);
        let table = render(&results);
        assert!(
            table.contains(
                "; relayed by the streams' replica ≤ 4 ms (p50), beyond the largest bucket (p99) after being recorded (2000 events)"
            ),
            "{table}"
        );
        results.get_mut("watch-other-replica").unwrap().extra.clear();
        assert!(!render(&results).contains("relayed by"), "nothing when not scraped");
        let mut same = summary("watch", 0.0, 12.0);
        same.extra.insert("send_events".into(), 24000.0);
        same.extra.insert("send_p50_ms_at_most".into(), 2.0);
        same.extra.insert("send_p99_ms_at_most".into(), 8.0);
        results.insert(same.scenario.clone(), same);
        assert!(
            render(&results)
                .contains("; sent by its streams ≤ 2 ms (p50), ≤ 8 ms (p99) after being recorded (24000 events)"),
            "{}",
            render(&results)
        );
        assert!(
            !render(&results).contains("while streams were still opening"),
            "nothing when none"
        );
        let same = results.get_mut("watch").unwrap();
        same.extra.insert("opening_events".into(), 1400.0);
        same.extra.insert("opening_p99_ms".into(), 180.0);
        same.extra.insert("opening_max_ms".into(), 350.0);
        assert!(
            render(&results)
                .contains("; apart, 1400 events created while streams were still opening: p99 180.0 ms, max 350.0 ms"),
            "{}",
            render(&results)
        );
    }

    #[test]
    fn history_rows_hold_the_full_history_against_the_empty_one() {
        let mut tick = summary("history-tick", 0.0, 12.0);
        tick.extra.insert("history_jobs".into(), 1_000_000.0);
        tick.extra.insert("empty_p99_ms".into(), 10.0);
        let mut get = summary("history-get", 0.0, 6.0);
        get.extra.insert("empty_p99_ms".into(), 0.4);
        let results = Results::from([(tick.scenario.clone(), tick), (get.scenario.clone(), get)]);
        let table = render(&results);
        assert!(
            table.contains("| 1.20× | same as empty (≤ 1.25× or +1 ms) | yes |"),
            "{table}"
        );
        assert!(
            table.contains("| 15.00× | same as empty, and p99 ≤ 5 ms | **no** |"),
            "{table}"
        );
    }

    #[test]
    fn tracking_rows_hold_calls_against_the_page_bound() {
        let mut t = summary("tracking-1000", 0.0, 40.0);
        for (k, v) in [
            ("pending_copies", 1000.0),
            ("describe_images_calls", 10.0),
            ("bound_ceil_n_over_page", 10.0),
            ("page_size", 100.0),
        ] {
            t.extra.insert(k.into(), v);
        }
        let table = render(&Results::from([(t.scenario.clone(), t)]));
        assert!(table.contains("| 10 (tick took 40 ms) | 1000 (one call per image, as waiters poll) | 0.010× | ≤ ceil(N/100) = 10 | yes |"), "{table}");
    }

    #[test]
    fn polling_rows_hold_calls_per_copy_and_the_delay_against_their_bounds() {
        let mut p = summary("polling-1", 0.0, 14_800.0);
        for (k, v) in [
            ("copies", 1.0),
            ("copy_seconds", 1800.0),
            ("calls_per_copy", 23.0),
            ("describe_images_per_copy", 13.0),
            ("describe_snapshots_calls", 10.0),
            ("waiter_calls_per_copy", 120.0),
            ("delay_allowed_seconds", 36.0),
            ("delay_max_seconds", 14.8),
            ("delay_mean_seconds", 14.8),
            ("waiter_delay_mean_seconds", 7.5),
            ("waiter_delay_max_seconds", 15.0),
        ] {
            p.extra.insert(k.into(), v);
        }
        let table = render(&Results::from([(p.scenario.clone(), p.clone())]));
        assert!(
            table.contains("| SDK ImageAvailable waiter (15 s) 120 | 0.192× | ≤ 30 | yes |"),
            "{table}"
        );
        assert!(table.contains("| ≤ max(2 s, 2 %) = 36 s | yes |"), "{table}");
        p.extra.insert("delay_max_seconds".into(), 40.0);
        let late = render(&Results::from([(p.scenario.clone(), p)]));
        assert!(late.contains("| ≤ max(2 s, 2 %) = 36 s | **no** |"), "{late}");
    }
}
