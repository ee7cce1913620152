#!/usr/bin/env python3
"""A loopback stand-in for an AWS endpoint that fails every request the way AWS does, for
fault-injection tests (the real SDK, its retries and its error parsing are exercised).

    fault_server.py dynamodb-throttled   400 ProvisionedThroughputExceededException (JSON 1.0)
    fault_server.py sns-500              500 InternalError (query/XML protocol)
    fault_server.py proxy UPSTREAM [RULE ...]
        forwards every request to UPSTREAM (moto) except those a RULE matches:
        RULE = ACTION:OPERATION[:TIMES], OPERATION a DynamoDB target (PutItem, UpdateItem, ...)
        or an SNS action (Publish); ACTION one of
          hang            accept and never answer (a dependency that hangs at that step)
          500             answer 500 like the service, without forwarding
          apply-then-500  forward (the service applies it), then answer 500 instead: the
                          SDK retries a write that was already applied
          denied          answer 400 AccessDeniedException (JSON), without forwarding: a
                          refusal the SDK does not retry (a secret's permission or the
                          secret itself gone)
          pass            forward as usual (with TIMES, before another rule for the same
                          operation: "pass:UpdateItem:2 hang:UpdateItem" hangs the third)
          slow            wait SLOW_S (0.9 s; FAULT_SLOW_S in the environment sets it),
                          then forward: a round trip made long, so requests meant to
                          run at once can be seen to overlap (GET /__slow)
        OPERATION `*` matches every operation; OPERATION@TEXT only a request whose body
        holds TEXT (`UpdateItem@failures#42`: the writes of one record); TIMES (default:
        always) limits how often the rule fires.

Prints "PORT <n>" once listening; GET /__count answers how many requests it failed (or, as a
proxy, how many its rules caught); GET /__ops lists every request the proxy saw as
[IAM action, resource] (`["dynamodb:PutItem", "table-name"]`, with `/index/NAME` for an
index; `["sns:Publish", "topic-arn"]`), for the least-privilege test; GET /__published lists the
parameters of every SNS Publish it saw (Subject, Message, MessageStructure), as sent; GET
/__slow lists each slowed request as [operation, arrived, answered] (epoch seconds).
"""

import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = {
    "dynamodb-throttled": (
        400,
        "application/x-amz-json-1.0",
        b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
        b'"message":"The level of configured provisioned throughput for the table was exceeded."}',
    ),
    "sns-500": (
        500,
        "text/xml",
        b"<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Receiver</Type>"
        b"<Code>InternalError</Code><Message>Internal failure.</Message></Error>"
        b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>",
    ),
}
COUNT = [0]
LOCK = threading.Lock()


def handler(fault):
    status, content_type, body = FAULTS[fault]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, ctype, payload):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-amzn-RequestId", "fault-server")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            with LOCK:
                self.reply(200, "text/plain", str(COUNT[0]).encode())

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            with LOCK:
                COUNT[0] += 1
            self.reply(status, content_type, body)

    return Handler


def operation(headers, body):
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    return urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", [""])[0]


SLOW_S = float(os.environ.get("FAULT_SLOW_S", "0.9"))

OPS = []
PUBLISHED = []
SLOW_SPANS = []


def service_of(headers):
    """The service a request is signed for (its SigV4 credential scope), e.g. `dynamodb`."""
    m = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
    return m.group(1) if m else "unsigned"


def iam_action(headers, body):
    """The IAM action and resource a DynamoDB or Secrets Manager (JSON) or SNS (query)
    request needs; any other service's request as `SERVICE:Operation` with no resource, so a
    call to a service the functions are not meant to use is recorded, not lost."""
    op = operation(headers, body)
    service = service_of(headers)
    if service not in ("dynamodb", "sns", "secretsmanager"):
        return [f"{service}:{op}", ""]
    if headers.get("X-Amz-Target", "").startswith("secretsmanager."):
        return ["secretsmanager:" + op, json.loads(body or b"{}").get("SecretId", "")]
    if headers.get("X-Amz-Target", "").startswith("DynamoDB_"):
        doc = json.loads(body or b"{}")
        resource = doc.get("TableName", "")
        if doc.get("IndexName"):
            resource += "/index/" + doc["IndexName"]
        return ["dynamodb:" + op, resource]
    form = urllib.parse.parse_qs(body.decode(errors="replace"))
    return ["sns:" + op, form.get("TopicArn", [""])[0]]


def error_for(op):
    """A 500 shaped like the service that owns `op`."""
    if op in ("Publish", "GetTopicAttributes"):
        return FAULTS["sns-500"]
    return (500, "application/x-amz-json-1.0",
            b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}')


def proxy_handler(upstream, rules):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, ctype, payload, headers=()):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            with LOCK:
                if self.path == "/__ops":
                    return self.reply(200, "application/json", json.dumps(OPS).encode())
                if self.path == "/__published":
                    return self.reply(200, "application/json", json.dumps(PUBLISHED).encode())
                if self.path == "/__slow":
                    return self.reply(200, "application/json", json.dumps(SLOW_SPANS).encode())
                self.reply(200, "text/plain", str(COUNT[0]).encode())

        def forward(self, body):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            req = urllib.request.Request(upstream + self.path, data=body, method="POST", headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    return r.status, r.headers.get("Content-Type", ""), r.read(), r.headers.items()
            except urllib.error.HTTPError as e:
                return e.code, e.headers.get("Content-Type", ""), e.read(), e.headers.items()

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            op = operation(self.headers, body)
            action = None
            with LOCK:
                OPS.append(iam_action(self.headers, body))
                if op == "Publish":
                    form = urllib.parse.parse_qs(body.decode(errors="replace"))
                    PUBLISHED.append({k: form.get(k, [None])[0] for k in ("Subject", "Message", "MessageStructure")})
                for rule in rules:
                    about = rule["about"] is None or rule["about"].encode() in body
                    if rule["op"] in (op, "*") and about and rule["left"] != 0:
                        rule["left"] -= 1
                        action = rule["action"]
                        if action != "pass":
                            COUNT[0] += 1
                        break
            if action == "hang":
                time.sleep(3600)
                return
            started = time.time()
            if action == "slow":
                time.sleep(SLOW_S)
            if action == "500":
                return self.reply(*error_for(op))
            if action == "denied":
                return self.reply(400, "application/x-amz-json-1.1",
                                  b'{"__type":"AccessDeniedException","message":"Access denied (fault_server)."}')
            status, ctype, payload, headers = self.forward(body)
            if action == "slow":
                with LOCK:
                    SLOW_SPANS.append([op, started, time.time()])
            if action == "apply-then-500":
                return self.reply(*error_for(op))
            keep = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type", "transfer-encoding", "connection", "date", "server")]
            self.reply(status, ctype, payload, keep)

    return Handler


def parse_rule(text):
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[0] not in ("hang", "500", "apply-then-500", "denied", "pass", "slow"):
        raise SystemExit(f"bad rule {text!r}\n{__doc__}")
    op, _, about = parts[1].partition("@")
    return {"action": parts[0], "op": op, "about": about or None,
            "left": int(parts[2]) if len(parts) == 3 else -1}


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "proxy":
        handler_class = proxy_handler(sys.argv[2].rstrip("/"), [parse_rule(r) for r in sys.argv[3:]])
    elif len(sys.argv) == 2 and sys.argv[1] in FAULTS:
        handler_class = handler(sys.argv[1])
    else:
        raise SystemExit(__doc__)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    if os.environ.get("FAULT_SERVER_TLS"):  # "CERT KEY": serve HTTPS (the TLS tests)
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*os.environ["FAULT_SERVER_TLS"].split(" "))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
