"""amicopy's reliability campaign: seven fault scenarios against the real binary, each counted
from the job store's history and from the EC2 side (moto), ending with one markdown table.

Run through scripts/chaos.sh (which builds amicopyd and prepares the Python tools):
  scripts/chaos.sh --short          CI's short version of every scenario (a few minutes)
  scripts/chaos.sh --long           the full campaign RELIABILITY.md reports
  scripts/chaos.sh --long 1 4       only scenarios 1 and 4
"""

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import grpc

from harness import (
    Amicopyd,
    Client,
    Ec2Proxy,
    FreezableProxy,
    Moto,
    PgJobs,
    Postgres,
    SqliteJobs,
    Workdir,
    count,
    free_port,
    generate_stubs,
    log,
    submit_all,
    wait_port,
    wait_terminal,
)

SHORT = dict(
    s1_copies=60, s1_kills=4, s1_gap=(0.5, 1.5),
    s2_copies=60, s2_kills=1, s2_down=3.0,
    s3_copies=16, s3_cut=8.0, s3_lease=3.0,
    s4_copies=60, s4_before=4.0, s4_storm=10.0, s4_after=6.0,
    s5_copies=80, s5_kills=5,
    s7_rounds=1,
)
LONG = dict(
    s1_copies=1000, s1_kills=24, s1_gap=(1.0, 4.0),
    s2_copies=300, s2_kills=3, s2_down=10.0,
    s3_copies=40, s3_cut=30.0, s3_lease=10.0,
    s4_copies=400, s4_before=20.0, s4_storm=60.0, s4_after=30.0,
    s5_copies=600, s5_kills=20,
    s7_rounds=5,
)


def engine_flags(tick=0.2, lease=3.0):
    """Fast engine settings, EC2's limits out of the way (moto has none), the tenant rate limit off."""
    return [
        "--region", "us-west-2",
        "--tick-seconds", str(tick),
        "--lease-seconds", str(lease),
        "--copy-burst", "2000", "--copy-refill-per-second", "500",
        "--max-concurrent-copies", "5000",
        "--retry-base-seconds", "0.5", "--retry-max-seconds", "8",
        "--tenant-requests-per-second", "0",
        "--max-concurrent-requests", "1024",
        "--database-timeout-seconds", "1",
        "--visibility-grace-seconds", "120",
    ]


class Run:
    """Everything one campaign shares: tools, moto, PostgreSQL, the table's rows."""

    def __init__(self, args):
        self.p = LONG if args.long else SHORT
        self.mode = "long" if args.long else "short"
        self.binary = args.amicopyd
        self.work = Workdir()
        self.dir = self.work.path
        self.tag = f"{random.getrandbits(24):06x}"
        self.pb, self.pb_grpc = generate_stubs(self.dir)
        self.moto = Moto(self.dir, args.moto)
        self.pg = Postgres(self.dir)
        self.rows = []
        self.failures = []
        self.fuzz_summary = args.fuzz_summary
        log(f"work dir {self.dir}; moto on {self.moto.port}; PostgreSQL on {self.pg.port}; source {self.moto.source_image}")

    def prefix(self, scenario):
        return f"chaos-{self.tag}-s{scenario}-"

    def replica(self, name, args, env, port=None):
        return Amicopyd(self.binary, self.dir, name, args, env, port)

    def check(self, scenario, figures, extra_ok=True, why=""):
        bad = (
            figures["lost"] or figures["duplicates"] or figures["open"] or figures["failed"]
            or figures["event_gaps"] or figures["event_repeats"] or not extra_ok
        )
        if bad:
            self.failures.append(f"scenario {scenario}: {json.dumps(figures)} {why}")

    def row(self, scenario, faults, figures, notes):
        self.rows.append((scenario, faults, figures, notes))

    def stop(self):
        self.moto.stop()
        self.pg.stop()
        self.work.cleanup()


def scenario_1(run):
    """1,000 copies, two replicas on one PostgreSQL, kill -9 of a random replica at random moments."""
    p, prefix = run.p, run.prefix(1)
    flags = ["--database-url", run.pg.url(), *engine_flags()]
    replicas = [run.replica(f"s1-{n}", flags, run.moto.env()) for n in "ab"]
    client = Client(run.pb, run.pb_grpc, [r.port for r in replicas])
    kills = []
    done = threading.Event()

    def killer():
        while not done.is_set() or len(kills) < p["s1_kills"]:
            time.sleep(random.uniform(*p["s1_gap"]))
            victim = random.choice(replicas)
            victim.kill()
            kills.append(time.time())
            time.sleep(random.uniform(0.1, 1.0))
            victim.restart()

    started = time.time()
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    # Submissions are spread over the time the kills take, so kills land while copies arrive.
    pace = 16 * p["s1_kills"] * sum(p["s1_gap"]) / 2 / p["s1_copies"]
    acknowledged = submit_all(client, run.moto, prefix, p["s1_copies"], 16, time.time() + 900, pace=pace)
    submitted = time.time() - started
    done.set()
    thread.join()
    store = PgJobs(run.pg)
    wait_terminal(store, prefix, len(acknowledged), time.time() + 300)
    elapsed = time.time() - started
    figures = count(store, run.moto, prefix, acknowledged)
    for r in replicas:
        r.stop()
    run.check(1, figures)
    run.row(
        "1. kill -9 of a random replica (2 replicas, PostgreSQL)",
        f"{len(kills)} kill -9, each restarted; {p['s1_copies']} copies from 16 clients",
        figures,
        f"submitted in {submitted:.0f} s, all ended in {elapsed:.0f} s; {figures['events']} events, "
        f"gaps {figures['event_gaps']}, repeats {figures['event_repeats']}; client retries: {dict(client.codes)}",
    )


def scenario_2(run):
    """PostgreSQL killed (immediate shutdown) and restarted under load."""
    p, prefix = run.p, run.prefix(2)
    flags = ["--database-url", run.pg.url(), *engine_flags()]
    replica = run.replica("s2", flags, run.moto.env())
    client = Client(run.pb, run.pb_grpc, [replica.port])
    stub = client.stubs[replica.port]
    probes = []
    stop = threading.Event()

    def prober():
        while not stop.is_set():
            at = time.time()
            try:
                stub.ListCopyJobs(run.pb.ListCopyJobsRequest(page_size=1), timeout=5)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
            probes.append((at, time.time(), code))
            time.sleep(0.2)

    outages = []

    def killer():
        time.sleep(3)
        for _ in range(p["s2_kills"]):
            down = time.time()
            run.pg.kill()
            time.sleep(p["s2_down"])
            run.pg.start()
            outages.append((down, time.time()))
            time.sleep(random.uniform(4, 8))

    threading.Thread(target=prober, daemon=True).start()
    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    started = time.time()
    # Submissions span the outages: 8 clients spread the copies over the time the kills take.
    pace = 8 * (3 + p["s2_kills"] * (p["s2_down"] + 6)) / p["s2_copies"]
    acknowledged = submit_all(client, run.moto, prefix, p["s2_copies"], 8, time.time() + 900, pace=pace)
    kill_thread.join()
    store = PgJobs(run.pg)
    wait_terminal(store, prefix, len(acknowledged), time.time() + 300)
    stop.set()
    figures = count(store, run.moto, prefix, acknowledged)
    replica.stop()

    unavailable = other = 0
    recoveries = []
    for down, up in outages:
        during = [code for at, end, code in probes if down + 0.5 < at and end < up]
        unavailable += sum(code == "UNAVAILABLE" for code in during)
        other += sum(code not in ("UNAVAILABLE", "OK") for code in during)
        first_ok = next((end for at, end, code in probes if at >= up and code == "OK"), None)
        recoveries.append(first_ok - up if first_ok else float("inf"))
    ok = other == 0 and unavailable > 0 and all(r < 30 for r in recoveries)
    run.check(2, figures, ok, f"probes during outages: unavailable={unavailable} other={other} recoveries={recoveries}")
    run.row(
        "2. PostgreSQL killed (immediate shutdown) under load",
        f"{len(outages)} immediate shutdowns, {p['s2_down']:.0f} s down each; {p['s2_copies']} copies",
        figures,
        f"probes while down: {unavailable} UNAVAILABLE, {other} other codes; recovered "
        f"{', '.join(f'{r:.1f} s' for r in recoveries)} after each restart (no restart of amicopyd); "
        f"submitters saw {dict(client.codes)}; all ended {time.time() - started:.0f} s after the start",
    )


AUDIT_SQL = """
CREATE TABLE IF NOT EXISTS chaos_audit (
    at timestamptz NOT NULL, role text NOT NULL, op text NOT NULL, job_id uuid NOT NULL,
    old_version bigint, new_version bigint, old_owner text, old_expires timestamptz,
    new_owner text, new_expires timestamptz, old_state text, new_state text, event bigint);
CREATE OR REPLACE FUNCTION chaos_audit_jobs() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO chaos_audit VALUES (clock_timestamp(), current_user, 'insert', NEW.id, NULL, NEW.version,
      NULL, NULL, NEW.lease_owner, NEW.lease_expires_at, NULL, NEW.state, NEW.last_event_sequence);
  ELSE
    INSERT INTO chaos_audit VALUES (clock_timestamp(), current_user, 'update', NEW.id, OLD.version, NEW.version,
      OLD.lease_owner, OLD.lease_expires_at, NEW.lease_owner, NEW.lease_expires_at, OLD.state, NEW.state,
      NULLIF(NEW.last_event_sequence, OLD.last_event_sequence));
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS chaos_audit_jobs ON jobs;
CREATE TRIGGER chaos_audit_jobs AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION chaos_audit_jobs();
"""


def scenario_3(run):
    """The link from one replica to PostgreSQL cut (not closed); the other takes over its jobs."""
    p, prefix = run.p, run.prefix(3)
    lease = p["s3_lease"]
    # B starts first so the schema exists (migrations run at start-up) before the audit trigger.
    b = run.replica("s3-b", ["--database-url", run.pg.url("replica_b"), *engine_flags(lease=lease)], run.moto.env())
    run.pg.psql("amicopy", AUDIT_SQL)
    link = FreezableProxy(run.pg.port)
    ec2 = Ec2Proxy(run.dir, run.moto.url)
    # A's CopyImage calls take 2 s, so A holds leases on jobs in flight when its link is cut.
    a = run.replica(
        "s3-a",
        ["--database-url", run.pg.url("replica_a", link.port), *engine_flags(lease=lease)],
        run.moto.env(ec2.url),
    )
    client = Client(run.pb, run.pb_grpc, [a.port, b.port])
    ec2.control("delay?seconds=2&action=CopyImage&for=600")
    acknowledged = {}

    def submit_to_a():
        acknowledged.update(submit_all(client, run.moto, prefix, p["s3_copies"], p["s3_copies"], time.time() + 600, [a.port]))

    submitter = threading.Thread(target=submit_to_a, daemon=True)
    submitter.start()
    time.sleep(1.0)
    link.freeze()
    cut_at = time.time()
    held = run.pg.psql(
        "amicopy",
        "SELECT id, lease_owner, extract(epoch FROM lease_expires_at) FROM jobs "
        "WHERE lease_owner IS NOT NULL AND lease_expires_at > now() AND state NOT IN ('available','failed','cancelled')",
    )
    log(f"  link to PostgreSQL cut for {p['s3_cut']:.0f} s; {len(held)} live leases")
    # B keeps working during the cut: copies submitted to it go through.
    b_acknowledged = submit_all(client, run.moto, prefix + "b", 10, 4, time.time() + 60, [b.port])
    time.sleep(max(0.0, p["s3_cut"] - (time.time() - cut_at)))
    link.thaw()
    thaw_at = time.time()
    submitter.join()
    ec2.control("delay?seconds=0&for=0")
    # A resumes with whatever it was doing when its link froze: give its late writes time to land.
    time.sleep(lease + 5)
    store = PgJobs(run.pg)
    wait_terminal(store, prefix, len(acknowledged) + len(b_acknowledged), time.time() + 300)
    acknowledged.update({f"b{k}": v for k, v in b_acknowledged.items()})
    figures = count(store, run.moto, prefix, acknowledged)

    audit = run.pg.psql(
        "amicopy",
        "SELECT extract(epoch FROM at), role, op, job_id, old_owner, extract(epoch FROM old_expires), new_owner, "
        "old_state, new_state, coalesce(event, 0), old_version, new_version FROM chaos_audit ORDER BY at",
    )
    names = defaultdict(set)
    for row in audit:
        if row[6]:
            names[row[1]].add(row[6])
    owner_role = {name: role for role, owned in names.items() for name in owned}
    stepped_on = late_writes = takeovers = 0
    takeover_delays = []
    held_ids = {row[0]: float(row[2]) for row in held if owner_role.get(row[1]) == "replica_a"}
    first_b_write = {}
    for at, role, op, job, old_owner, old_expires, new_owner, old_state, new_state, event, *_ in audit:
        at = float(at)
        if op != "update" or not old_owner:
            continue
        old_expires = float(old_expires) if old_expires else 0.0
        holder = owner_role.get(old_owner)
        live = old_expires > at
        if holder and holder != role and live:
            stepped_on += 1
        if holder == role == "replica_a" and not live and new_owner != old_owner:
            late_writes += 1
        if job in held_ids and role == "replica_b" and job not in first_b_write:
            first_b_write[job] = at
    for job, expires in held_ids.items():
        if job in first_b_write and first_b_write[job] < thaw_at:
            takeovers += 1
            takeover_delays.append(first_b_write[job] - expires)
    a_events_after_cut = sum(
        1 for row in audit if row[1] == "replica_a" and float(row[0]) >= cut_at and row[9] != "0"
    )
    a.stop()
    b.stop()
    ec2.stop()
    ok = stepped_on == 0 and takeovers == len(held_ids)
    run.check(3, figures, ok, f"stepped_on={stepped_on} takeovers={takeovers}/{len(held_ids)}")
    delays = f"{min(takeover_delays):.1f}–{max(takeover_delays):.1f} s" if takeover_delays else "n/a"
    run.row(
        "3. link to PostgreSQL cut (not closed) from one replica",
        f"A's link frozen {p['s3_cut']:.0f} s (lease {lease:.0f} s) with {len(held_ids)} live leases; "
        f"{len(acknowledged)} copies",
        figures,
        f"B took over {takeovers}/{len(held_ids)} of A's jobs during the cut, {delays} after each lease ran out; "
        f"writes onto another replica's live lease: {stepped_on}; A's writes after its own lease expired: "
        f"{late_writes}; events A wrote after the cut began: {a_events_after_cut}",
    )


def rate(stats, start, end, action=None):
    """Mean calls per second in [start, end)."""
    seconds = [int(s) for s in stats["per_second"] if start <= int(s) < end]
    total = sum(
        n
        for s, actions in stats["per_second"].items()
        if start <= int(s) < end
        for a, n in actions.items()
        if action is None or a == action
    )
    return total / max(1.0, end - start), len(seconds)


def buckets(stats, start, end, width):
    """EC2 calls per second, averaged over `width`-second buckets from `start` to `end`."""
    out = []
    t = start
    while t < end:
        out.append(rate(stats, t, min(end, t + width))[0])
        t += width
    return out


def scenario_4(run):
    """A throttling storm: half of all EC2 calls answered RequestLimitExceeded or InternalError.

    A quarter of the copies arrive before the storm, half at its first second, a quarter after it:
    the calls per second during the storm show whether amicopy's retries back off (they decay) or
    hammer EC2 (they would stay at the first second's level)."""
    p, prefix = run.p, run.prefix(4)
    ec2 = Ec2Proxy(run.dir, run.moto.url)
    # EC2's own retry settings (1 s base, 60 s cap, 8 attempts) and a 1 s tick, as deployed.
    flags = ["--database-url", run.pg.url(), *engine_flags(tick=1.0, lease=10.0),
             "--retry-base-seconds", "1", "--retry-max-seconds", "60", "--max-attempts", "8"]
    replica = run.replica("s4", flags, run.moto.env(ec2.url))
    client = Client(run.pb, run.pb_grpc, [replica.port])
    total = p["s4_copies"]
    quarter = total // 4
    acknowledged = {}

    def burst(first, n):
        got = submit_all(client, run.moto, prefix, n, 16, time.time() + 300, offset=first)
        acknowledged.update(got)

    started = int(time.time()) + 1
    time.sleep(started - time.time())
    burst(0, quarter)
    time.sleep(max(0.0, started + p["s4_before"] - time.time()))
    storm_start = int(time.time()) + 1
    time.sleep(storm_start - time.time())
    ec2.control(f"storm?share=0.5&seconds={p['s4_storm']}")
    burst(quarter, total - 2 * quarter)
    storm_end = storm_start + int(p["s4_storm"])
    time.sleep(max(0.0, storm_end - time.time()))
    burst(total - quarter, quarter)
    time.sleep(max(0.0, storm_end + p["s4_after"] - time.time()))
    store = PgJobs(run.pg)
    wait_terminal(store, prefix, len(acknowledged), time.time() + 600)
    stats = ec2.control("stats")
    figures = count(store, run.moto, prefix, acknowledged)
    retry_delays = [
        float(d)
        for (d,) in run.pg.psql(
            "amicopy",
            "SELECT substring(e.detail FROM 'retrying in ([0-9.]+)s') FROM job_events e JOIN jobs j ON j.id = e.job_id "
            f"WHERE j.name LIKE '{prefix}%' AND e.detail LIKE '%retrying in%'",
        )
    ]
    replica.stop()
    ec2.stop()
    before = rate(stats, started, storm_start)[0]
    width = max(1, int(p["s4_storm"]) // 6)
    during = buckets(stats, storm_start, storm_end, width)
    after = rate(stats, storm_end, storm_end + int(p["s4_after"]))[0]
    injected = sum(stats["errors"].values())
    calls = sum(sum(a.values()) for a in stats["per_second"].values())
    per_action = Counter()
    for actions in stats["per_second"].values():
        per_action.update(actions)
    copy_calls = per_action.get("CopyImage", 0)
    throttled_failures = sum(n for code, n in figures["failed"].items() if code in ("RequestLimitExceeded", "InternalError"))
    run.check(4, figures, throttled_failures == 0)
    delays = (
        f"retry delays {min(retry_delays):.1f}–{max(retry_delays):.1f} s (median {statistics.median(retry_delays):.1f} s, "
        f"{len(retry_delays)} retries)"
        if retry_delays
        else "no retries"
    )
    run.row(
        "4. throttling storm (EC2 answers RequestLimitExceeded / InternalError to half the calls)",
        f"{p['s4_storm']:.0f} s storm, {injected} errors injected in {calls} EC2 calls; {total} copies "
        f"({quarter} before, {total - 2 * quarter} at the storm's start, {quarter} after)",
        figures,
        f"EC2 calls/s before {before:.1f}; during, per {width} s: {', '.join(f'{r:.1f}' for r in during)}; "
        f"after {after:.1f}; {delays}; CopyImage calls {copy_calls} for {figures['jobs']} jobs "
        f"({copy_calls / max(1, figures['jobs']):.2f} per job); calls by action {dict(per_action)}; "
        f"jobs failed for throttling: {throttled_failures}",
    )


def integrity(path):
    """PRAGMA integrity_check on a SQLite file no process holds; 'ok' when clean."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def scenario_5(run):
    """SQLite (the embedded default) killed with kill -9 during writes."""
    p, prefix = run.p, run.prefix(5)
    data_dir = os.path.join(run.dir, "s5-data")
    replica = run.replica("s5", ["--data-dir", data_dir, *engine_flags()], run.moto.env())
    client = Client(run.pb, run.pb_grpc, [replica.port])
    checks = []
    done = threading.Event()

    def killer():
        while not done.is_set() or len(checks) < p["s5_kills"]:
            time.sleep(random.uniform(0.3, 1.5))
            replica.kill()
            checks.append(integrity(os.path.join(data_dir, "amicopy.db")))
            replica.restart()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    acknowledged = submit_all(client, run.moto, prefix, p["s5_copies"], 8, time.time() + 900)
    done.set()
    thread.join()
    store = SqliteJobs(os.path.join(data_dir, "amicopy.db"))
    wait_terminal(store, prefix, len(acknowledged), time.time() + 300)
    figures = count(store, run.moto, prefix, acknowledged)
    replica.stop()
    final = integrity(os.path.join(data_dir, "amicopy.db"))
    clean = sum(c == "ok" for c in checks) + (final == "ok")
    run.check(5, figures, clean == len(checks) + 1, f"integrity: {checks} final {final}")
    run.row(
        "5. SQLite killed with kill -9 during writes",
        f"{len(checks)} kill -9 during writes, each restarted (the data-dir lock never blocked a restart); "
        f"{p['s5_copies']} copies",
        figures,
        f"PRAGMA integrity_check: {clean}/{len(checks) + 1} ok (after every kill and at the end); "
        f"{figures['events']} events, gaps {figures['event_gaps']}",
    )


def scenario_6(run):
    """The fuzz campaign's summary (scripts/fuzz.sh writes it)."""
    if not run.fuzz_summary or not os.path.exists(run.fuzz_summary):
        run.failures.append("scenario 6: no fuzz summary (run scripts/fuzz.sh first)")
        return
    with open(run.fuzz_summary) as f:
        summary = json.load(f)
    crashes = sum(t.get("crashes", 0) + t.get("hangs", 0) for t in summary["targets"])
    if crashes:
        run.failures.append(f"scenario 6: fuzzing found crashes or hangs: {summary}")
    parts = "; ".join(
        f"{t['name']}: {t['executions']:,} executions ({t['engine']}), {t['crashes']} crashes, {t['hangs']} hangs"
        for t in summary["targets"]
    )
    run.row(
        "6. bad input, fuzzed",
        summary["what"],
        None,
        parts,
    )


def scenario_7(run):
    """One process per SQLite data dir: a second amicopyd refuses; kill -9 frees the lock."""
    p = run.p
    refused = restarted = 0
    lines = []
    for i in range(p["s7_rounds"]):
        data_dir = os.path.join(run.dir, f"s7-data-{i}")
        first = run.replica(f"s7-first-{i}", ["--data-dir", data_dir, "--tick-seconds", "0.2"], {})
        second = subprocess.run(
            [run.binary, "--listen", f"127.0.0.1:{free_port()}", "--data-dir", data_dir],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "NO_COLOR": "1", "RUST_LOG": "info"},
        )
        named = [l for l in second.stderr.splitlines() if "in use by" in l]
        if second.returncode != 0 and len(named) == 1 and data_dir in named[0] and f"pid {first.process.pid}" in named[0]:
            refused += 1
            lines.append(re.sub(r"^.*?ERROR\s+amicopyd:\s*", "", named[0]))
        first.kill()
        first.start(wait=False)
        try:
            wait_port(first.port, 60, first.process)
            restarted += 1
        except RuntimeError as error:
            log(f"  restart after kill -9 failed: {error}")
        first.stop()
    ok = refused == restarted == p["s7_rounds"]
    if not ok:
        run.failures.append(f"scenario 7: refused {refused}, restarted {restarted} of {p['s7_rounds']}")
    run.row(
        "7. a second amicopyd on one SQLite data dir",
        f"{p['s7_rounds']} second processes started beside a running one, then kill -9 of the first",
        None,
        f"refused at start-up {refused}/{p['s7_rounds']}, naming the data dir and the holder's pid "
        f"(e.g. `{lines[0] if lines else ''}`); restarted after kill -9 {restarted}/{p['s7_rounds']}",
    )


SCENARIOS = {1: scenario_1, 2: scenario_2, 3: scenario_3, 4: scenario_4, 5: scenario_5, 6: scenario_6, 7: scenario_7}


def table(run):
    out = [
        "| scenario | faults injected | jobs acknowledged | lost | duplicates | figures |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, faults, figures, notes in run.rows:
        if figures is None:
            out.append(f"| {scenario} | {faults} | – | 0 | 0 | {notes} |")
        else:
            extra = f"; not ended: {figures['open']}; failed: {figures['failed'] or 0}"
            out.append(
                f"| {scenario} | {faults} | {figures['acknowledged']} | {figures['lost']} | "
                f"{figures['duplicates']} | {notes}{extra} |"
            )
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", action="store_true", help="the full campaign (default: the short one)")
    parser.add_argument("--amicopyd", required=True)
    parser.add_argument("--moto", required=True)
    parser.add_argument("--fuzz-summary")
    parser.add_argument("--table-out")
    parser.add_argument("scenarios", nargs="*", type=int, default=sorted(SCENARIOS))
    args = parser.parse_args()
    run = Run(args)
    started = time.time()
    try:
        for n in args.scenarios:
            log(f"scenario {n} ({run.mode})")
            t0 = time.time()
            try:
                SCENARIOS[n](run)
            except Exception as error:  # a scenario that cannot finish is a failure, not a crash of the run
                import traceback

                traceback.print_exc()
                run.failures.append(f"scenario {n}: {error!r}")
            log(f"scenario {n} took {time.time() - t0:.0f} s")
    finally:
        run.stop()
    text = table(run)
    print()
    print(text)
    print()
    print(f"{len(run.rows)} scenarios in {time.time() - started:.0f} s ({run.mode})")
    if args.table_out:
        with open(args.table_out, "w") as f:
            f.write(text + "\n")
    if run.failures:
        print("FAILED:")
        for failure in run.failures:
            print("  " + failure)
        sys.exit(1)
    print("every scenario: nothing lost, nothing duplicated")


if __name__ == "__main__":
    main()
