#!/usr/bin/env bash
# amicopy's reliability campaign in one command: seven fault scenarios against the real amicopyd
# (kill -9 of replicas, PostgreSQL crashes, a cut database link, an EC2 throttling storm, SQLite
# killed during writes, fuzzed input, a second process on one data dir), counted from the job
# history and from the EC2 side, ending with one markdown table. Loopback only; every process it
# starts (moto, its own PostgreSQL on another port, amicopyd, proxies) is stopped by pid.
#
#   scripts/chaos.sh            the short version (CI): every scenario in a few minutes
#   scripts/chaos.sh --long     the full campaign RELIABILITY.md reports (about 25 minutes)
#   scripts/chaos.sh --long 1 3 only some scenarios
#
# Needs: cargo, PostgreSQL's server binaries (pg_config --bindir), python3. Installs moto, boto3
# and grpcio into ~/.cache/amicopy-tools/venv when missing. KEEP_CHAOS_DIR=1 keeps logs.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=--short
if [ "${1:-}" = "--long" ] || [ "${1:-}" = "--short" ]; then mode=$1; shift; fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/amicopy-target}"
tools="${AMICOPY_TOOLS_DIR:-$HOME/.cache/amicopy-tools}"

if [ ! -x "$tools/venv/bin/python" ]; then python3 -m venv "$tools/venv"; fi
if ! "$tools/venv/bin/python" -c 'import moto, boto3, grpc, grpc_tools' 2>/dev/null; then
  "$tools/venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5.1,<6' 'grpcio>=1.60' 'grpcio-tools>=1.60' \
    2>&1 | grep -v '^WARNING' || true
fi

cargo build -q --bin amicopyd

scenarios=("$@")
want_fuzz=1
if [ ${#scenarios[@]} -gt 0 ]; then
  want_fuzz=0
  for s in "${scenarios[@]}"; do [ "$s" = 6 ] && want_fuzz=1; done
fi
summary=$(mktemp --suffix=.json)
trap 'rm -f "$summary"' EXIT
if [ "$want_fuzz" = 1 ]; then
  FUZZ_SUMMARY="$summary" bash scripts/fuzz.sh "$mode"
fi

"$tools/venv/bin/python" scripts/chaos/chaos.py \
  $([ "$mode" = --long ] && echo --long) \
  --amicopyd "$CARGO_TARGET_DIR/debug/amicopyd" \
  --moto "$tools/venv/bin/moto_server" \
  --fuzz-summary "$summary" \
  ${CHAOS_TABLE_OUT:+--table-out "$CHAOS_TABLE_OUT"} \
  "${scenarios[@]}"
