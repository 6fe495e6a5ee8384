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
