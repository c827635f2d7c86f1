#!/usr/bin/env bash
# Where the time of a call goes, in one command: the profiles behind BENCHMARKS.md's "what was
# missed" paragraphs. Builds in release, starts amicopyd on a fresh PostgreSQL database
# (simulator, quotas out of the way, metrics on), drives SCENARIO (CopyImage paced at RATE
# calls/s by default; get-job and list-jobs back to back over 2,000 jobs made first), and
# meanwhile samples what the database's backends wait on (pg_stat_activity every 100 ms) and,
# where perf works, CPU by command and process and amicopyd's hottest functions. Prints: the
# latency line, the wait events, the store's own mean time per operation, CPU by command and by
# process, amicopyd's functions and the disk's fdatasync latency.
#
# Settings (environment): SCENARIO (accept; or get-job, list-jobs, any amicopy-bench scenario
# against a server), RATE (311 calls/s for accept, back to back otherwise; 0: back to back),
# CONCURRENCY (16), DURATION (16 s), PGHOST/PGPORT/PGUSER (127.0.0.1/5432/postgres),
# CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${SCENARIO:-accept}
if [ "$scenario" = accept ]; then rate=${RATE:-311}; else rate=${RATE:-0}; fi
concurrency=${CONCURRENCY:-16}
duration=${DURATION:-16}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/amicopy-target}
work=$(mktemp -d)
db=amicopy_profile_$$
server_pid=

cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  psql -qd postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cargo build --release --bins >&2
bin=$CARGO_TARGET_DIR/release
psql -qd postgres -c "CREATE DATABASE $db"
port=$(free_port)
metrics_port=$(free_port)
"$bin/amicopyd" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" \
  --database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
  --sim-time-factor 60 --sim-copy-seconds 30 --tick-seconds 0.1 --track-min-interval-seconds 0.1 \
  --max-concurrent-copies 10000000 --copy-burst 10000000 --copy-refill-per-second 10000000 \
  --sim-max-concurrent-copies 10000000 --sim-copy-image-burst 10000000 --sim-copy-image-refill 10000000 \
  --sim-describe-images-burst 10000000 --sim-describe-images-refill 10000000 \
  --sim-describe-snapshots-burst 10000000 --sim-describe-snapshots-refill 10000000 \
  --tenant-requests-per-second 0 --max-concurrent-requests 100000 >"$work/server.log" 2>&1 &
server_pid=$!

pace=()
if [ "$rate" != 0 ]; then pace=(--rate "$rate"); fi
if [ "$scenario" != accept ]; then
  "$bin/amicopy-bench" --addr "http://127.0.0.1:$port" --scenario accept --concurrency "$concurrency" \
    --max-calls 2000 --duration-seconds 60 --wait-ready-seconds 30 >/dev/null
  # As scripts/bench.sh does: the planner's statistics autovacuum would gather within a minute.
  psql -qd "$db" -c "ANALYZE"
fi
"$bin/amicopy-bench" --addr "http://127.0.0.1:$port" --scenario "$scenario" --concurrency "$concurrency" \
  "${pace[@]}" --duration-seconds "$duration" --wait-ready-seconds 30 --output "$work/bench.json" \
  >"$work/bench.log" 2>&1 &
bench_pid=$!
sleep 3
# One session samples for the whole window (\watch), not a psql process per sample: starting
# ten a second took a tenth of the machine from what is being measured.
timeout "$((duration - 6))" psql -d "$db" -At >"$work/waits.txt" <<SQL &
SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, state)
FROM pg_stat_activity
WHERE datname = '$db' AND state <> 'idle' AND pid <> pg_backend_pid() \\watch 0.1
SQL
sampler_pid=$!
perf_ok=
if perf record -e cpu-clock -a -F 499 -o "$work/perf.data" -- sleep $((duration - 6)) >/dev/null 2>&1; then
  perf_ok=1
fi
wait "$sampler_pid" || true
wait "$bench_pid"
# perf attributes samples to threads; amicopyd's are the tokio workers and blocking threads.
server_threads=$(ls "/proc/$server_pid/task" | paste -sd, -)
metrics=$(python3 - "$metrics_port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\nhost: amicopyd\r\nconnection: close\r\n\r\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
print(data.decode().split("\r\n\r\n", 1)[1])
PY
)

echo "## $scenario$([ "$rate" != 0 ] && echo " paced at $rate/s"), concurrency $concurrency, $duration s"
head -n 1 "$work/bench.log"
echo
echo "## what the database's busy backends waited on (samples, every 100 ms)"
grep -v '^$' "$work/waits.txt" | sort | uniq -c | sort -rn | head -n 10 || true
echo
echo "## the store's mean time per operation (amicopy_store_duration_seconds)"
echo "$metrics" | python3 -c '
import re, sys
sums, counts = {}, {}
for line in sys.stdin:
    m = re.match(r"amicopy_store_duration_seconds_(sum|count)\{operation=\"(\w+)\"\} (\S+)", line)
    if m:
        (sums if m[1] == "sum" else counts)[m[2]] = float(m[3])
for op in sorted(counts, key=lambda op: -sums.get(op, 0)):
    if counts[op]:
        print(f"{op:16} {counts[op]:8.0f} calls  {1000 * sums[op] / counts[op]:7.2f} ms mean")
'
echo
if [ -n "$perf_ok" ]; then
  echo "## CPU by command (perf, all CPUs: every PostgreSQL backend counts as postgres)"
  perf report -i "$work/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 6
  echo
  echo "## CPU by process (perf, all CPUs)"
  perf report -i "$work/perf.data" --no-children --sort pid --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -n 6
  echo
  echo "## amicopyd's hottest functions (perf, self time, share of all samples)"
  perf report -i "$work/perf.data" --no-children --tid "$server_threads" --sort sym --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' | head -n 40
else
  echo "## CPU by process: perf is not available here"
fi
echo
fsync=$(ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | tail -n 1 || true)
if [ -n "$fsync" ]; then
  echo "## the disk: one 8 kB write + sync (pg_test_fsync, in $work)"
  "$fsync" -s 1 -f "$work/fsync.test" 2>/dev/null | grep -E '^\s+(fdatasync|fsync) ' || true
fi
