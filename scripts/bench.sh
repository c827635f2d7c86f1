#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md in one command, on a fresh machine: builds amicopyd and
# amicopy-bench in release, creates fresh PostgreSQL databases, starts amicopyd, runs every
# scenario and baseline at the same concurrency, stops everything and prints one markdown table.
#
# Settings (environment): CONCURRENCY (16), DURATION (15 s per RPC scenario), STREAMS (10000
# watch streams), HISTORY_JOBS (1000000 finished jobs for the history scenario),
# PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres, trust or PGPASSWORD), WATCH_REPLICA_FLAGS
# (more amicopyd flags for the second replica of the other-replica watch, e.g.
# "--watch-poll-seconds 3600" to see the tail with the watchers' fallback polling out of the way),
# PARTS (which parts to run, of "unary pgbench watch tracking polling history burst", all by
# default; the table marks what was not run as missing), RESULTS (a directory to keep the
# summaries in; default a temp dir), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

concurrency=${CONCURRENCY:-16}
duration=${DURATION:-15}
streams=${STREAMS:-10000}
history_jobs=${HISTORY_JOBS:-1000000}
read -ra watch_replica_flags <<<"${WATCH_REPLICA_FLAGS:-}"
parts=" ${PARTS:-unary pgbench watch tracking polling history burst} "
part() { [[ $parts == *" $1 "* ]]; }
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/amicopy-target}
results=${RESULTS:-$(mktemp -d)}
mkdir -p "$results"
work=$(mktemp -d)
db=amicopy_bench_$$
pgbench_db=amicopy_bench_pgbench_$$
history_db=amicopy_bench_history_$$
server_pid=

log() { printf '>>> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)" >&2; }

stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
cleanup() {
  stop_server
  server_pid=${writer_pid:-}
  stop_server
  psql -qd postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS $pgbench_db" \
    -c "DROP DATABASE IF EXISTS $history_db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

log "tools"
if ! command -v pgbench >/dev/null || ! command -v psql >/dev/null || ! pgbench --version >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
fi
pg_isready -q || { echo "bench: PostgreSQL is not answering at $PGHOST:$PGPORT" >&2; exit 1; }

log "release build (amicopyd, amicopy-bench)"
cargo build --release --bins
bin=$CARGO_TARGET_DIR/release

log "fresh databases $db (amicopyd) and $pgbench_db (pgbench)"
psql -qd postgres -c "CREATE DATABASE $db" -c "CREATE DATABASE $pgbench_db"
for migration in migrations/postgres/*.sql; do psql -qd "$pgbench_db" -v ON_ERROR_STOP=1 -f "$migration"; done

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}

# start_server LOGNAME FLAGS...: starts release amicopyd on a free port; sets addr, server_pid.
start_server() {
  local name=$1; shift
  addr=http://127.0.0.1:$(free_port)
  "$bin/amicopyd" --listen "${addr#http://}" --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$db" "$@" \
    >"$work/$name.log" 2>&1 &
  server_pid=$!
}

bench() { "$bin/amicopy-bench" --addr "$addr" --concurrency "$concurrency" "$@"; }

# Quotas out of the way, so that the run measures amicopy and not EC2's CopyImage quotas.
raised=(--max-concurrent-copies 10000000 --copy-burst 10000000 --copy-refill-per-second 10000000
  --sim-max-concurrent-copies 10000000 --sim-copy-image-burst 10000000 --sim-copy-image-refill 10000000
  --sim-describe-images-burst 10000000 --sim-describe-images-refill 10000000
  --sim-describe-snapshots-burst 10000000 --sim-describe-snapshots-refill 10000000
  --sim-deregister-image-burst 10000000 --sim-deregister-image-refill 10000000
  --tenant-requests-per-second 0 --max-watch-streams-per-tenant 0 --max-concurrent-requests 100000)
quota_note="server quotas raised out of the way (amicopy and simulator CopyImage burst/refill, concurrent copies, describe and deregister buckets; per-tenant request rate, watch-stream cap and concurrency limit off); simulator at --sim-time-factor 60, a copy takes 0.5 s, so copies finish during the run"

if part unary; then
  log "amicopyd for the unary scenarios"
  start_server unary --sim-time-factor 60 --sim-copy-seconds 30 --tick-seconds 0.1 --track-min-interval-seconds 0.1 "${raised[@]}"
  bench --scenario grpc-floor --duration-seconds 2 --wait-ready-seconds 30 >/dev/null # warm-up
  log "grpc-floor"
  bench --scenario grpc-floor --duration-seconds "$duration" --output "$results/grpc-floor.json"
  log "accept (peak)"
  bench --scenario accept --duration-seconds "$duration" --note "$quota_note" --output "$results/accept.json"
  peak=$(sed -n 's/^ *"throughput": *\([0-9.]*\).*/\1/p' "$results/accept.json")
  half=$(awk -v p="$peak" 'BEGIN { printf "%.0f", p / 2 }')
  log "accept at half the peak rate ($half/s)"
  bench --scenario accept --label accept-half --rate "$half" --duration-seconds "$duration" --note "$quota_note" \
    --output "$results/accept-half.json"
  log "retries"
  bench --scenario retries --duration-seconds "$duration" --output "$results/retries.json"
  # The reads run on the statistics autovacuum keeps in steady state: a table created a minute ago
  # and never analyzed has the planner read a tenant's whole history and sort it for every page
  # (bitmap scan + top-N sort; BENCHMARKS.md shows the profile).
  psql -qd "$db" -c "ANALYZE"
  log "reads"
  bench --scenario reads --duration-seconds "$duration" --output "$results/reads.json"
  log "get-job"
  bench --scenario get-job --duration-seconds "$duration" --output "$results/get-job.json"
  log "list-jobs"
  bench --scenario list-jobs --duration-seconds "$duration" --output "$results/list-jobs.json"
  log "distribute (600 targets each, one at a time)"
  "$bin/amicopy-bench" --addr "$addr" --scenario distribute --concurrency 1 --max-calls 100 --duration-seconds "$duration" \
    --output "$results/distribute.json"
  stop_server
fi

# pgbench_run NAME SCRIPT: the SQL of one accepted copy at the same concurrency, saved as a summary.
pgbench_run() {
  local name=$1 script=$2 out
  log "pgbench $script"
  out=$(pgbench -n -M prepared -f "$script" -c "$concurrency" -j 2 -T "$duration" "$pgbench_db" 2>&1) \
    || { echo "$out" >&2; exit 1; }
  echo "$out" | grep -E '^(tps|latency|number of (transactions|failed))' >&2
  local tps avg count
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  avg=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
  count=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  cat >"$results/$name.json" <<JSON
{"scenario": "$name", "concurrency": $concurrency, "count": ${count:-0}, "errors": 0, "seconds": $duration,
 "throughput": ${tps:-0}, "p50_ms": 0, "p90_ms": 0, "p99_ms": 0, "max_ms": 0,
 "notes": ["pgbench -M prepared -c $concurrency -j 2 -f $script"], "extra": {"latency_avg_ms": ${avg:-0}}}
JSON
}
if part pgbench; then
  pgbench_run pgbench scripts/accept.pgbench.sql
  pgbench_run pgbench-insert scripts/insert.pgbench.sql
fi

if part watch; then
  log "amicopyd for the watch scenario (copies last hours; the bench cancels them)"
  watch_metrics=127.0.0.1:$(free_port)
  start_server watch --sim-copy-seconds 36000 --metrics-listen "$watch_metrics" "${raised[@]}"
  bench --scenario grpc-floor --duration-seconds 1 --wait-ready-seconds 30 >/dev/null
  # Each event fans out to the streams of its job: 10 per job, a job cancelled every 10 ms (the
  # target's run), then 500 per job, 20 jobs cancelled at once (a fan-out burst, for context).
  log "watch ($streams streams over $((streams / 10)) jobs, 100 cancels/s)"
  bench --scenario watch --streams "$streams" --watch-jobs $((streams / 10)) --rate 100 --server-pid "$server_pid" \
    --watch-metrics "$watch_metrics" --output "$results/watch.json"
  log "watch burst ($streams streams over 20 jobs, cancelled at once)"
  bench --scenario watch --label watch-burst --streams "$streams" --watch-jobs 20 --output "$results/watch-burst.json"
  log "watch on another replica ($streams streams; events written by the first, delivered by a second)"
  writer_addr=$addr writer_pid=$server_pid
  reader_metrics=127.0.0.1:$(free_port)
  start_server watch-replica --sim-copy-seconds 36000 --track-page-size 0 --metrics-listen "$reader_metrics" \
    "${raised[@]}" "${watch_replica_flags[@]}"
  reader_addr=$addr reader_pid=$server_pid
  "$bin/amicopy-bench" --addr "$reader_addr" --scenario grpc-floor --duration-seconds 1 --wait-ready-seconds 30 >/dev/null
  "$bin/amicopy-bench" --addr "$writer_addr" --watch-addr "$reader_addr" --scenario watch --label watch-other-replica \
    --streams "$streams" --watch-jobs $((streams / 10)) --rate 100 --server-pid "$reader_pid" \
    --watch-metrics "$reader_metrics" --output "$results/watch-other-replica.json"
  stop_server
  server_pid=$writer_pid writer_pid=
  stop_server
fi

if part tracking; then
  log "tracking (in-process engine and simulator)"
  "$bin/amicopy-bench" --scenario tracking --tracking-sizes 100,1000,5000 --output "$results/tracking.json"
fi
if part polling; then
  log "polling: EC2 calls per completed 30-minute copy and how late its end is seen (in-process)"
  # Simulated time runs 120x for 1 and 10 copies; 20x for 1,000, so the engine's own work per look
  # (which does not speed up) stays small beside the simulated minutes.
  "$bin/amicopy-bench" --scenario polling --polling-sizes 1,10 --polling-time-factor 120 --output "$results/polling-small.json"
  "$bin/amicopy-bench" --scenario polling --polling-sizes 1000 --polling-time-factor 20 --output "$results/polling-large.json"
fi
if part history; then
  log "history: ticks and reads with ${history_jobs} finished jobs, then retention's purge (in-process, PostgreSQL)"
  psql -qd postgres -c "CREATE DATABASE $history_db"
  "$bin/amicopy-bench" --scenario history --history-jobs "$history_jobs" \
    --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$history_db" --output "$results/history.json"
fi
if part burst; then
  log "1,000-copy burst at EC2's quotas (in-process)"
  "$bin/amicopy-bench" --scenario burst --burst-copies 1000 --output "$results/burst.json"
fi

log "results in $results"
echo
echo "Concurrency $concurrency, $duration s per scenario, $(nproc) cores, $(uname -sr)."
echo
"$bin/amicopy-bench" --scenario table --results-dir "$results"
