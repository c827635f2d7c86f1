"""The real components the chaos scenarios run and break: moto (EC2) as its own process, a
PostgreSQL instance of the script's own on another port, amicopyd processes, a freezable TCP
proxy, the EC2 error proxy, gRPC clients, and the counting of jobs, events and AMIs.

Everything listens on 127.0.0.1 only; every process started here is stopped by its pid.
"""

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict

import boto3
import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TERMINAL = ("available", "failed", "cancelled")
SOURCE_REGION = "us-east-1"
DESTINATIONS = ("us-west-2", "eu-west-1")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=60.0, process=None):
    end = time.time() + deadline
    while time.time() < end:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.pid} exited ({process.returncode}) before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline}s")


def stop_process(process, sig=signal.SIGTERM, timeout=20):
    """Stops a process this script started, by its pid."""
    if process is None or process.poll() is not None:
        return
    try:
        os.kill(process.pid, sig)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def generate_stubs(workdir):
    """amicopy.v1 Python stubs from every proto of the package, with grpcio-tools' bundled protoc."""
    from grpc_tools import protoc
    import grpc_tools

    out = os.path.join(workdir, "stubs")
    os.makedirs(out, exist_ok=True)
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    package = os.path.join(REPO, "proto/amicopy/v1")
    protos = sorted(
        os.path.join(package, name) for name in os.listdir(package) if name.endswith(".proto")
    )
    code = protoc.main(
        [
            "protoc",
            f"-I{os.path.join(REPO, 'proto')}",
            f"-I{include}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *protos,
        ]
    )
    if code != 0:
        raise RuntimeError(f"protoc failed on {', '.join(protos)}")
    sys.path.insert(0, out)
    from amicopy.v1 import image_copy_pb2, image_copy_pb2_grpc

    return image_copy_pb2, image_copy_pb2_grpc


class Moto:
    """moto's EC2 server as its own process: it outlives every amicopyd kill."""

    def __init__(self, workdir, binary):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "moto.log"), "w")
        self.process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_port(self.port, 60, self.process)
        self.source_image = self.pick_source()

    def client(self, region):
        return boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def pick_source(self):
        images = self.client(SOURCE_REGION).describe_images(
            Filters=[
                {"Name": "root-device-type", "Values": ["ebs"]},
                {"Name": "state", "Values": ["available"]},
            ]
        )["Images"]
        ids = sorted(i["ImageId"] for i in images if i.get("BlockDeviceMappings"))
        return ids[0]

    def images_named(self, prefix):
        """Every AMI whose name starts with `prefix`, per destination Region: [(region, name, id, state)]."""
        found = []
        for region in DESTINATIONS:
            images = self.client(region).describe_images(
                Owners=["self"], Filters=[{"Name": "name", "Values": [prefix + "*"]}]
            )["Images"]
            found += [(region, i["Name"], i["ImageId"], i["State"]) for i in images if i["Name"].startswith(prefix)]
        return found

    def env(self, endpoint=None):
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": SOURCE_REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AMICOPY_BACKEND": "ec2",
            "AMICOPY_EC2_ENDPOINT_URL": endpoint or self.url,
        }

    def stop(self):
        stop_process(self.process)


def postgres_bindir():
    """Where initdb and pg_ctl are: `pg_config --bindir`, else the newest Debian server package's."""
    try:
        bindir = subprocess.check_output(["pg_config", "--bindir"], text=True).strip()
        if os.path.exists(os.path.join(bindir, "initdb")):
            return bindir
    except (OSError, subprocess.CalledProcessError):
        pass
    root = "/usr/lib/postgresql"
    versions = sorted(
        (v for v in os.listdir(root) if os.path.exists(os.path.join(root, v, "bin", "initdb"))),
        key=lambda v: [int(p) for p in v.split(".") if p.isdigit()],
    ) if os.path.isdir(root) else []
    if not versions:
        raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    return os.path.join(root, versions[-1], "bin")


class Postgres:
    """A PostgreSQL instance of the script's own, under the work dir, on a free port. The shared
    server on 5432 is never touched. Run as the `postgres` user when the script runs as root."""

    def __init__(self, workdir):
        self.bindir = postgres_bindir()
        self.base = os.path.join(workdir, "pg")
        os.makedirs(self.base, exist_ok=True)
        self.data = os.path.join(self.base, "data")
        self.logfile = os.path.join(self.base, "postgresql.log")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            import pwd

            user = pwd.getpwnam("postgres")
            for path in (workdir, self.base):
                os.chmod(path, 0o755)
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.run("initdb", "-D", self.data, "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.base}'\n"
                "max_connections = 200\nlog_line_prefix = '%m [%p] %u@%d %a '\n"
            )
        self.start()
        self.psql("postgres", "CREATE DATABASE amicopy")
        for role in ("replica_a", "replica_b"):
            self.psql("postgres", f"CREATE ROLE {role} LOGIN SUPERUSER")

    def run(self, tool, *args, check=True):
        return subprocess.run(
            self.as_user + [os.path.join(self.bindir, tool), *args],
            check=check,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def url(self, user="postgres", port=None):
        return f"postgres://{user}@127.0.0.1:{port or self.port}/amicopy"

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", self.logfile, "-w", "-t", "60", "start")

    def kill(self):
        """Immediate shutdown: every backend ends without a checkpoint, as in a crash."""
        self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)

    def psql(self, database, sql):
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-AtqX", "-F", "\t", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]


class Amicopyd:
    """One amicopyd process; `kill()` is SIGKILL, `restart()` starts it again with the same flags."""

    def __init__(self, binary, workdir, name, args, env, port=None):
        self.binary, self.workdir, self.name = binary, workdir, name
        self.port = port or free_port()
        self.args, self.env = args, env
        self.incarnation = 0
        self.process = None
        self.start()

    def start(self, wait=True):
        self.incarnation += 1
        logfile = open(os.path.join(self.workdir, f"{self.name}.{self.incarnation}.log"), "w")
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update(self.env)
        env.setdefault("RUST_LOG", "info")
        env["NO_COLOR"] = "1"
        self.process = subprocess.Popen(
            [self.binary, "--listen", f"127.0.0.1:{self.port}", *self.args],
            stdout=subprocess.DEVNULL,
            stderr=logfile,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        if wait:
            wait_port(self.port, 60, self.process)

    def kill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def restart(self):
        self.start()

    def stop(self):
        stop_process(self.process)


class FreezableProxy:
    """A loopback TCP proxy whose link can be cut without closing it: while frozen no byte moves in
    either direction and no connection is closed, as when a network path silently drops packets."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            self.flowing.wait()
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    def pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                self.flowing.wait()
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def freeze(self):
        self.flowing.clear()

    def thaw(self):
        self.flowing.set()


class Ec2Proxy:
    """scripts/chaos/ec2_proxy.py as its own process in front of moto."""

    def __init__(self, workdir, upstream):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, "ec2_proxy.log"), "w")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "ec2_proxy.py"), str(self.port), upstream],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_port(self.port, 30, self.process)

    def control(self, path):
        method = "GET" if path.startswith("stats") else "POST"
        request = urllib.request.Request(f"{self.url}/__chaos/{path}", method=method, data=None if method == "GET" else b"")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self):
        stop_process(self.process)


class Client:
    """A gRPC client of one or more amicopyd replicas. Submissions retry on UNAVAILABLE and broken
    connections with the same client token, so a retry never makes a second job."""

    def __init__(self, pb, pb_grpc, ports):
        self.pb, self.pb_grpc = pb, pb_grpc
        self.stubs = {}
        for port in ports:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.enable_retries", 0)])
            self.stubs[port] = pb_grpc.ImageCopyServiceStub(channel)
        self.codes = Counter()
        self.lock = threading.Lock()

    def note(self, code):
        with self.lock:
            self.codes[code] += 1

    def request(self, moto, prefix, i):
        return self.pb.CopyImageRequest(
            source_image_id=moto.source_image,
            source_region=SOURCE_REGION,
            destination_region=DESTINATIONS[i % len(DESTINATIONS)],
            name=f"{prefix}{i:05d}",
            client_token=f"{prefix}{i:05d}",
        )

    def submit(self, request, deadline, ports=None):
        """CopyImage until an answer: returns the job id, or None when `deadline` passes first."""
        ports = list(ports or self.stubs)
        while time.time() < deadline:
            port = random.choice(ports)
            try:
                answer = self.stubs[port].CopyImage(request, timeout=10)
                self.note("OK")
                return answer.job_id
            except grpc.RpcError as error:
                code = error.code().name
                self.note(code)
                if error.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    grpc.StatusCode.CANCELLED,
                    grpc.StatusCode.INTERNAL,
                    grpc.StatusCode.UNKNOWN,
                ):
                    raise RuntimeError(f"CopyImage {request.name} refused: {code} {error.details()}")
                time.sleep(0.1 + random.random() * 0.2)
        return None


def submit_all(client, moto, prefix, count, threads, deadline, ports=None, pace=0.0, offset=0):
    """Submits copies `offset`..`offset + count` from `threads` concurrent clients; returns the
    acknowledged job ids by copy number."""
    acknowledged = {}
    lock = threading.Lock()
    indices = iter(range(offset, offset + count))

    def worker():
        while True:
            with lock:
                i = next(indices, None)
            if i is None:
                return
            job = client.submit(client.request(moto, prefix, i), deadline, ports)
            if job is not None:
                with lock:
                    acknowledged[i] = job
            if pace:
                time.sleep(pace)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return acknowledged


class PgJobs:
    """Reads jobs and events from the PostgreSQL database."""

    def __init__(self, pg):
        self.pg = pg

    def jobs(self, prefix):
        rows = self.pg.psql(
            "amicopy",
            f"SELECT id, name, state, coalesce(image_id, ''), destination_region, last_event_sequence, "
            f"coalesce(failure_code, '') FROM jobs WHERE name LIKE '{prefix}%'",
        )
        return [
            dict(id=r[0], name=r[1], state=r[2], image_id=r[3], region=r[4], last=int(r[5]), failure=r[6])
            for r in rows
        ]

    def events(self, prefix):
        rows = self.pg.psql(
            "amicopy",
            f"SELECT e.job_id, e.sequence FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.name LIKE '{prefix}%'",
        )
        sequences = defaultdict(list)
        for job, sequence in rows:
            sequences[job].append(int(sequence))
        return sequences


class SqliteJobs:
    """Reads jobs and events from a SQLite file (read-only)."""

    def __init__(self, path):
        self.path = path

    def query(self, sql):
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def jobs(self, prefix):
        rows = self.query(
            "SELECT id, name, state, coalesce(image_id, ''), destination_region, last_event_sequence, "
            f"coalesce(failure_code, '') FROM jobs WHERE name LIKE '{prefix}%'"
        )
        return [
            dict(id=str(r[0]), name=r[1], state=r[2], image_id=r[3], region=r[4], last=int(r[5]), failure=r[6])
            for r in rows
        ]

    def events(self, prefix):
        rows = self.query(
            f"SELECT e.job_id, e.sequence FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.name LIKE '{prefix}%'"
        )
        sequences = defaultdict(list)
        for job, sequence in rows:
            sequences[str(job)].append(int(sequence))
        return sequences


def normalise_id(job_id):
    """SQLite stores uuids as 16 bytes or text depending on the column; compare as plain hex."""
    if isinstance(job_id, bytes):
        return job_id.hex()
    return str(job_id).replace("-", "").lower()


def wait_terminal(store, prefix, expected, deadline):
    """Polls until `expected` jobs with `prefix` exist and all have ended; returns the jobs."""
    while True:
        jobs = store.jobs(prefix)
        open_jobs = [j for j in jobs if j["state"] not in TERMINAL]
        if len(jobs) >= expected and not open_jobs:
            return jobs
        if time.time() > deadline:
            log(f"  deadline: {len(open_jobs)} of {len(jobs)} jobs still open")
            return jobs
        time.sleep(1)


def count(store, moto, prefix, acknowledged):
    """Every figure the table reports for one scenario, from the job store and moto."""
    jobs = store.jobs(prefix)
    by_id = {normalise_id(j["id"]): j for j in jobs}
    lost = [job for job in acknowledged.values() if normalise_id(job) not in by_id]
    open_jobs = [j for j in jobs if j["state"] not in TERMINAL]
    failed = Counter(j["failure"] for j in jobs if j["state"] == "failed")

    amis = moto.images_named(prefix)
    per_name = Counter((region, name) for region, name, _, _ in amis)
    jobs_by_name = {(j["region"], j["name"]): j for j in jobs}
    duplicate_amis = sum(n - 1 for n in per_name.values() if n > 1)
    orphans = [a for a in amis if (a[0], a[1]) not in jobs_by_name]
    mismatched = []
    for job in jobs:
        if job["state"] != "available":
            continue
        ids = [a[2] for a in amis if (a[0], a[1]) == (job["region"], job["name"])]
        if ids != [job["image_id"]]:
            mismatched.append((job["name"], job["image_id"], ids))
    jobs_per_name = Counter((j["region"], j["name"]) for j in jobs)
    duplicate_jobs = sum(n - 1 for n in jobs_per_name.values() if n > 1)

    sequences = store.events(prefix)
    gaps = repeats = 0
    for job in jobs:
        seq = sorted(sequences.get(job["id"], []))
        if len(seq) != len(set(seq)):
            repeats += 1
        if sorted(set(seq)) != list(range(1, job["last"] + 1)):
            gaps += 1
    return dict(
        jobs=len(jobs),
        acknowledged=len(acknowledged),
        lost=len(lost),
        open=len(open_jobs),
        failed=dict(failed),
        duplicates=duplicate_amis + len(orphans) + len(mismatched) + duplicate_jobs,
        duplicate_amis=duplicate_amis,
        orphan_amis=len(orphans),
        mismatched=len(mismatched),
        duplicate_jobs=duplicate_jobs,
        event_gaps=gaps,
        event_repeats=repeats,
        events=sum(len(v) for v in sequences.values()),
    )


class Workdir:
    """A temp dir for one run; kept when KEEP_CHAOS_DIR=1 (logs, databases)."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="amicopy-chaos-")

    def cleanup(self):
        if os.environ.get("KEEP_CHAOS_DIR") == "1":
            log(f"work dir kept: {self.path}")
        else:
            shutil.rmtree(self.path, ignore_errors=True)
