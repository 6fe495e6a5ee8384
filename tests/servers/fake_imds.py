#!/usr/bin/python3
"""A fake EC2 instance metadata service (IMDSv2) for docmill's unit tests
(Python 3 standard library only).

    fake_imds.py [--port N]

Listens on 127.0.0.1 only; with port 0 (the default) the kernel picks a free
port, printed on stdout as the first line. Exits when its parent process goes
away, so a crashed test leaves no server behind.

Like IMDSv2 it wants a session token: PUT /latest/api/token with
X-aws-ec2-metadata-token-ttl-seconds (1..21600) returns a new one, and every
GET without a valid X-aws-ec2-metadata-token is answered 401.

    GET /latest/meta-data/spot/instance-action   404, or the notice once set
    GET /latest/meta-data/instance-type          "c5.xlarge"

Control endpoints for tests (no token needed):

    POST /_fake/reset                     no notice, no tokens, counters zeroed
    POST /_fake/spot?action=A&time=T      serve {"action":A,"time":T}
    POST /_fake/spot?body=B               serve B verbatim (malformed bodies)
    POST /_fake/spot                      back to 404
    POST /_fake/expire_tokens             every token issued so far is now
                                          refused (401), as after its TTL
    POST /_fake/delay?seconds=S           metadata answers wait S seconds
    GET  /_fake/state                     {"puts", "gets", "unauthorized"}
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.tokens = set()
        self.issued = 0
        self.spot = None
        self.delay = 0.0
        self.puts = self.gets = self.unauthorized = 0


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=""):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drain_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def do_PUT(self):
        self.drain_body()
        url = urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            return self.control(url)
        with STATE.lock:
            STATE.puts += 1
            delay = STATE.delay
        time.sleep(delay)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if url.path != "/latest/api/token":
            return self.send(404)
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.send(400)
        with STATE.lock:
            STATE.issued += 1
            token = "TOKEN-%d" % STATE.issued
            STATE.tokens.add(token)
        return self.send(200, token)

    def do_POST(self):
        self.drain_body()
        url = urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            return self.control(url)
        return self.send(405)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/_fake/"):
            return self.control(url)
        with STATE.lock:
            STATE.gets += 1
            delay = STATE.delay
            valid = self.headers.get("X-aws-ec2-metadata-token") in STATE.tokens
            if not valid:
                STATE.unauthorized += 1
            spot = STATE.spot
        time.sleep(delay)
        if not valid:
            return self.send(401)
        if url.path == "/latest/meta-data/spot/instance-action":
            return self.send(200, spot) if spot is not None else self.send(404, "Not Found")
        if url.path == "/latest/meta-data/instance-type":
            return self.send(200, "c5.xlarge")
        return self.send(404, "Not Found")

    def control(self, url):
        what = url.path[len("/_fake/"):]
        q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        with STATE.lock:
            if what == "state":
                return self.send(200, json.dumps({
                    "puts": STATE.puts, "gets": STATE.gets,
                    "unauthorized": STATE.unauthorized}))
            if what == "reset":
                STATE.reset()
            elif what == "spot":
                if "body" in q:
                    STATE.spot = q["body"]
                elif "action" in q:
                    STATE.spot = json.dumps({"action": q["action"], "time": q.get("time", "")})
                else:
                    STATE.spot = None
            elif what == "expire_tokens":
                STATE.tokens.clear()
            elif what == "delay":
                STATE.delay = float(q.get("seconds", "0"))
            else:
                return self.send(404, "unknown control endpoint " + what)
        return self.send(200, "ok")


def watch_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    args = sys.argv[1:]
    port = int(args[args.index("--port") + 1]) if "--port" in args else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=watch_parent, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
