"""Local AWS stand-ins for the e2e tests, on 127.0.0.1 only.

fauxqs (npm, pinned in tests/aws) plays SQS and S3; FakeIMDS plays the EC2
instance metadata service (IMDSv2). Not a test file itself."""
import datetime
import json
import os
import subprocess
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
AWS_DIR = os.path.join(HERE, "..", "aws")


class Fauxqs:
    def __init__(self):
        if not os.path.isdir(os.path.join(AWS_DIR, "node_modules", "fauxqs")):
            raise RuntimeError("fauxqs is not installed: run `make deps-test` (npm ci in tests/aws)")
        self.proc = subprocess.Popen(["node", "fauxqs_server.mjs"], cwd=AWS_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        self.port = json.loads(line)["port"]
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def env(self, **extra):
        """The environment docmill runs with against this stand-in."""
        env = dict(os.environ)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(k, None)
        env.update(AWS_ENDPOINT_URL=self.endpoint, AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="AKIDTESTFAUXQS", AWS_SECRET_ACCESS_KEY="fauxqs-secret-key",  # test_aws checks no log shows it
                   AWS_EC2_METADATA_DISABLED="true", SQS_WAIT_TIME="1")
        env.update({k: str(v) for k, v in extra.items()})
        return env

    # --- SQS (JSON 1.0 protocol) ---------------------------------------
    def sqs(self, action, **body):
        req = urllib.request.Request(
            self.endpoint + "/", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/x-amz-json-1.0",
                     "X-Amz-Target": "AmazonSQS." + action})
        with urllib.request.urlopen(req, timeout=30) as r:
            data = r.read()
        return json.loads(data) if data else {}

    def create_queue(self, name, dlq_url=None, max_receive=2, visibility=30):
        attrs = {"VisibilityTimeout": str(visibility)}
        if dlq_url:
            arn = self.sqs("GetQueueAttributes", QueueUrl=dlq_url,
                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn,
                                                 "maxReceiveCount": str(max_receive)})
        return self.sqs("CreateQueue", QueueName=name, Attributes=attrs)["QueueUrl"]

    def send(self, queue_url, body):
        if not isinstance(body, str):
            body = json.dumps(body, ensure_ascii=False)
        return self.sqs("SendMessage", QueueUrl=queue_url, MessageBody=body)

    def counts(self, queue_url):
        a = self.sqs("GetQueueAttributes", QueueUrl=queue_url,
                     AttributeNames=["ApproximateNumberOfMessages",
                                     "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def receive_all(self, queue_url):
        out = []
        while True:
            r = self.sqs("ReceiveMessage", QueueUrl=queue_url, MaxNumberOfMessages=10,
                         WaitTimeSeconds=0, VisibilityTimeout=30)
            msgs = r.get("Messages", [])
            if not msgs:
                return out
            out.extend(msgs)

    # --- S3 ----------------------------------------------------------------
    def s3_url(self, bucket, key=""):
        return "%s/%s/%s" % (self.endpoint, bucket, urllib.parse.quote(key, safe="/"))

    def create_bucket(self, bucket):
        urllib.request.urlopen(urllib.request.Request(self.s3_url(bucket), method="PUT"), timeout=30)

    def put_object(self, bucket, key, data):
        req = urllib.request.Request(self.s3_url(bucket, key), data=data, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.headers.get("ETag")


class FaultProxy:
    """Sits between docmill and fauxqs on 127.0.0.1 and passes every request
    on, except the faults it is told to inject, each a number of times:
    sqs_500 (an SQS call answered 500), s3_503 (an S3 GET answered 503
    SlowDown), s3_cut (an S3 GET whose body stops halfway, connection
    closed). `injected` counts what was done."""

    def __init__(self, upstream, **faults):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.queue_urls = {}
        self.faults = {"sqs_500": 0, "s3_503": 0, "s3_cut": 0}
        self.faults.update(faults)
        self.injected = {k: 0 for k in self.faults}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def take(self, fault):
                with proxy.lock:
                    if proxy.faults[fault] > 0:
                        proxy.faults[fault] -= 1
                        proxy.injected[fault] += 1
                        return True
                return False

            def reply(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                sqs = "AmazonSQS" in (self.headers.get("X-Amz-Target") or "")
                if sqs and self.take("sqs_500"):
                    return self.reply(500, b'{"__type":"InternalFailure","message":"injected"}',
                                      "application/x-amz-json-1.0")
                s3_get = self.command == "GET" and not sqs
                if s3_get and self.take("s3_503"):
                    return self.reply(503, b"<Error><Code>SlowDown</Code>"
                                      b"<Message>injected</Message></Error>", "application/xml")
                if body and sqs:
                    # fauxqs finds a queue by its URL: name it as fauxqs does.
                    for ours, theirs in proxy.queue_urls.items():
                        body = body.replace(ours.encode(), theirs.encode())
                import http.client
                c = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port,
                                               timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "content-length", "host")}
                headers["Host"] = proxy.upstream.netloc
                try:
                    c.request(self.command, self.path, body=body, headers=headers)
                    r = c.getresponse()
                    data = r.read()
                except OSError:   # fauxqs dropped the connection: a 502, as a proxy says
                    c.close()
                    return self.reply(502, b"bad gateway", "text/plain")
                cut = s3_get and r.status == 200 and len(data) > 1 and self.take("s3_cut")
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                # A HEAD says the object's length without a body.
                self.send_header("Content-Length", r.getheader("Content-Length", "0")
                                 if self.command == "HEAD" else str(len(data)))
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[:len(data) // 2] if cut else data)
                if cut:
                    self.close_connection = True
                c.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, upstream_url):
        """The same URL (a queue URL), through this proxy."""
        u = urllib.parse.urlsplit(upstream_url)
        ours = self.endpoint + u.path + ("?" + u.query if u.query else "")
        self.queue_urls[ours] = upstream_url
        return ours

    def stop(self):
        self.server.shutdown()


def s3_event(bucket, key, size, event="ObjectCreated:Put"):
    """An S3 event notification as S3 sends it: the key URL-encoded, '+' for
    spaces."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": event,
        "s3": {"bucket": {"name": bucket},
               "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size}}}]}


class FakeIMDS:
    """IMDSv2: PUT /latest/api/token, then role credentials with the token;
    also the spot interruption notice (404 until set_spot_notice) and the
    instance type."""

    def __init__(self, role="docmill-worker", instance_type="c5.xlarge"):
        self.requests = []
        self.instance_type = instance_type
        self.spot_notice = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, body):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                outer.requests.append(("PUT", self.path, dict(self.headers)))
                if self.path == "/latest/api/token" and \
                        self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    self._send(200, "TOKEN-123")
                else:
                    self._send(400, "")

            def do_GET(self):
                outer.requests.append(("GET", self.path, dict(self.headers)))
                if self.headers.get("X-aws-ec2-metadata-token") != "TOKEN-123":
                    self._send(401, "")
                elif self.path == "/latest/meta-data/iam/security-credentials/":
                    self._send(200, role + "\n")
                elif self.path == "/latest/meta-data/iam/security-credentials/" + role:
                    self._send(200, json.dumps({
                        "Code": "Success", "AccessKeyId": "ASIAIMDSTEST",
                        "SecretAccessKey": "imds-secret", "Token": "imds-session-token",
                        "Expiration": "2099-01-01T00:00:00Z"}))
                elif self.path == "/latest/meta-data/spot/instance-action" and \
                        outer.spot_notice is not None:
                    self._send(200, outer.spot_notice)
                elif self.path == "/latest/meta-data/instance-type":
                    self._send(200, outer.instance_type)
                else:
                    self._send(404, "")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set_spot_notice(self, action="terminate", time=None):
        """From now on the instance has a spot interruption notice; time
        defaults to two minutes from now, as AWS gives."""
        if time is None:
            time = (datetime.datetime.now(datetime.timezone.utc) +
                    datetime.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.spot_notice = json.dumps({"action": action, "time": time})

    def clear_spot_notice(self):
        self.spot_notice = None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
