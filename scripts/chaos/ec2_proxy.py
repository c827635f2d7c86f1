"""A loopback HTTP proxy between amicopyd and moto's EC2 endpoint that can answer EC2's own
errors instead of forwarding, and counts calls per second and per action.

Control (same port, paths EC2 never uses):
  POST /__chaos/storm?share=0.5&seconds=60   answer RequestLimitExceeded or InternalError
                                             (half each) to `share` of calls for `seconds`
  POST /__chaos/delay?seconds=2&action=CopyImage&for=30
                                             hold matching calls that long before forwarding
  GET  /__chaos/stats                        {"per_second": {epoch: {action: n}},
                                              "errors": {epoch: n}}

Run: python3 ec2_proxy.py PORT UPSTREAM_URL. Binds 127.0.0.1 only.
"""

import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRORS = {
    "RequestLimitExceeded": (503, "Request limit exceeded."),
    "InternalError": (500, "An internal error has occurred."),
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = defaultdict(lambda: defaultdict(int))
        self.errors = defaultdict(int)
        self.storm_until = 0.0
        self.storm_share = 0.0
        self.delay_until = 0.0
        self.delay_seconds = 0.0
        self.delay_action = ""
        self.rng = random.Random(15)

    def record(self, action, injected):
        second = int(time.time())
        with self.lock:
            self.calls[second][action] += 1
            if injected:
                self.errors[second] += 1

    def injected_error(self):
        with self.lock:
            if time.time() < self.storm_until and self.rng.random() < self.storm_share:
                return self.rng.choice(sorted(ERRORS))
        return None


STATE = State()
UPSTREAM = None
LOCAL = threading.local()


def upstream_connection():
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=60)
        LOCAL.conn = conn
    return conn


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="text/xml;charset=UTF-8"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self):
        url = urllib.parse.urlparse(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == "/__chaos/storm":
            with STATE.lock:
                STATE.storm_share = float(query.get("share", "0.5"))
                STATE.storm_until = time.time() + float(query.get("seconds", "60"))
            return self.reply(200, b"{}", "application/json")
        if url.path == "/__chaos/delay":
            with STATE.lock:
                STATE.delay_seconds = float(query.get("seconds", "1"))
                STATE.delay_action = query.get("action", "")
                STATE.delay_until = time.time() + float(query.get("for", "60"))
            return self.reply(200, b"{}", "application/json")
        if url.path == "/__chaos/stats":
            with STATE.lock:
                body = json.dumps(
                    {
                        "per_second": {str(k): dict(v) for k, v in STATE.calls.items()},
                        "errors": {str(k): v for k, v in STATE.errors.items()},
                    }
                ).encode()
            return self.reply(200, body, "application/json")
        return self.reply(404, b"{}", "application/json")

    def do_GET(self):
        if self.path.startswith("/__chaos/"):
            return self.control()
        return self.forward(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__chaos/"):
            return self.control()
        return self.forward(body)

    def forward(self, body):
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        action = form.get("Action", ["?"])[0]
        code = STATE.injected_error()
        STATE.record(action, code is not None)
        if code is not None:
            status, message = ERRORS[code]
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                f"<RequestID>chaos-{random.getrandbits(64):016x}</RequestID></Response>"
            ).encode()
            return self.reply(status, xml)
        with STATE.lock:
            delay = (
                STATE.delay_seconds
                if time.time() < STATE.delay_until and STATE.delay_action in ("", action)
                else 0.0
            )
        if delay:
            time.sleep(delay)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        for attempt in range(2):
            conn = upstream_connection()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                LOCAL.conn = None
                if attempt == 1:
                    return self.reply(502, b"upstream unreachable", "text/plain")
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    global UPSTREAM
    port = int(sys.argv[1])
    UPSTREAM = urllib.parse.urlparse(sys.argv[2])
    assert UPSTREAM.hostname in ("127.0.0.1", "localhost"), "loopback upstreams only"
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
