#!/usr/bin/env python3
"""A loopback stand-in for an AWS endpoint that fails every request the way AWS does, for
fault-injection tests (the real SDK, its retries and its error parsing are exercised).

    fault_server.py dynamodb-throttled   400 ProvisionedThroughputExceededException (JSON 1.0)
    fault_server.py sns-500              500 InternalError (query/XML protocol)

Prints "PORT <n>" once listening; GET /__count answers how many requests it failed.
"""

import sys
import threading
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


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in FAULTS:
        raise SystemExit(__doc__)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(sys.argv[1]))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
