#!/usr/bin/env bash
# Fuzzes everything amicopyd reads from outside, on the stable toolchain:
# - proptest (crates/amicopy-fuzz/tests): every target on generated inputs, shrunk on failure;
# - AFL++ through cargo-afl (coverage-guided): the validator against an independent oracle, raw
#   gRPC message bodies, settings, token files, policy files.
#
#   scripts/fuzz.sh            short run (CI): proptest's default cases, 20 s of AFL++ on the validator
#   scripts/fuzz.sh --long     1,000,000+ AFL++ executions of the validator, 2 minutes of each other
#                              target, 20,000 proptest cases per target
#
# Prints the executions per target; FUZZ_SUMMARY=FILE also writes them as JSON (scripts/chaos.sh
# puts them in its table). Crashes and hangs fail the run and are kept under $FUZZ_OUT (default: a
# temp dir, removed after a clean run); replay one with
#   cargo run -p amicopy-fuzz --bin fuzz -- TARGET FILE
# Installs cargo-afl (crates.io) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:---short}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/amicopy-target}"
out="${FUZZ_OUT:-$(mktemp -d -t amicopy-fuzz-XXXXXX)}"
mkdir -p "$out"
summary_lines=()

if [ "$mode" = --long ]; then
  proptest_cases=20000; validator_execs=1100000; other_seconds=120; validator_seconds=3600
else
  proptest_cases=2000; validator_execs=0; other_seconds=0; validator_seconds=20
fi

echo "=== proptest: $proptest_cases cases per target, and garbage bodies to a real server"
if PROPTEST_CASES=$proptest_cases cargo test -p amicopy-fuzz >"$out/proptest.log" 2>&1; then
  grep -E '^test result' "$out/proptest.log"
else
  tail -n 80 "$out/proptest.log"
  exit 1
fi
for target in validator grpc-body settings tokens-file policy-file accounts-file; do
  summary_lines+=("{\"name\":\"$target\",\"engine\":\"proptest\",\"executions\":$proptest_cases,\"crashes\":0,\"hangs\":0}")
done
summary_lines+=("{\"name\":\"grpc-body over HTTP/2 to a real server (5 methods each)\",\"engine\":\"proptest\",\"executions\":$((proptest_cases * 2)),\"crashes\":0,\"hangs\":0}")

echo "=== AFL++ (cargo afl)"
if ! cargo afl --version >/dev/null 2>&1; then
  cargo install -q cargo-afl --locked
fi
# cargo-afl instruments every crate it builds; its own target dir keeps the ordinary build warm.
afl_target="$CARGO_TARGET_DIR/afl"
CARGO_TARGET_DIR="$afl_target" cargo afl build -q --release -p amicopy-fuzz --features afl --bin fuzz
harness="$afl_target/release/fuzz"

# A shared machine: no CPU binding, no core_pattern change, no screen.
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_QUIET=1

# Runs AFL++ on one target: $1 name, $2 seconds (0: none), $3 executions (0: no bound).
afl() {
  local name=$1 seconds=$2 execs=$3
  local limits=(-V "$seconds")
  [ "$execs" != 0 ] && limits+=(-E "$execs")
  local dict=()
  [ -f "crates/amicopy-fuzz/$name.dict" ] && dict=(-x "crates/amicopy-fuzz/$name.dict")
  if [ "$execs" != 0 ]; then echo "--- $name: $execs executions (at most ${seconds}s)"; else echo "--- $name: ${seconds}s"; fi
  AMICOPY_FUZZ_TARGET=$name cargo afl fuzz -i "crates/amicopy-fuzz/seeds/$name" -o "$out/$name" \
    "${dict[@]}" "${limits[@]}" -t 1000 -- "$harness" >"$out/$name.log" 2>&1 || {
    tail -n 20 "$out/$name.log"
    return 1
  }
  local stats="$out/$name/default/fuzzer_stats"
  local done crashes hangs
  done=$(awk -F: '/^execs_done/ {gsub(/ /, "", $2); print $2}' "$stats")
  crashes=$(awk -F: '/^saved_crashes/ {gsub(/ /, "", $2); print $2}' "$stats")
  hangs=$(awk -F: '/^saved_hangs/ {gsub(/ /, "", $2); print $2}' "$stats")
  printf '%s: %s executions, %s crashes, %s hangs\n' "$name" "$done" "$crashes" "$hangs"
  summary_lines+=("{\"name\":\"$name\",\"engine\":\"AFL++ (cargo afl)\",\"executions\":$done,\"crashes\":$crashes,\"hangs\":$hangs}")
  [ "$crashes" = 0 ] && [ "$hangs" = 0 ]
}

status=0
afl validator "$validator_seconds" "$validator_execs" || status=1
if [ "$other_seconds" != 0 ]; then
  for target in grpc-body settings tokens-file policy-file accounts-file; do
    afl "$target" "$other_seconds" 0 || status=1
  done
fi

if [ -n "${FUZZ_SUMMARY:-}" ]; then
  what="proptest ($proptest_cases cases per target) and AFL++ through cargo-afl on the stable toolchain"
  (IFS=,; printf '{"what":"%s","targets":[%s]}\n' "$what" "${summary_lines[*]}") >"$FUZZ_SUMMARY"
fi
if [ "$status" = 0 ] && [ -z "${FUZZ_OUT:-}" ]; then
  rm -rf "$out"
else
  echo "fuzz output (crashes, hangs, queues): $out"
fi
exit $status
