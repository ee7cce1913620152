#!/usr/bin/env python3
"""Runs the docs' backend snippet (the Python block in docs/connect.md) as a team's
backend would, against a loopback stand-in for API Gateway that checks what it receives: the
path each function builds (the customer id percent-encoded as one segment), the JSON body,
and a SigV4 signature for execute-api that verifies (the server signs the same request again
with the same credentials and time, as API Gateway does, and compares).

    readme_sigv4_check.py     prints one JSON object: what the server saw and verified

Used by shared/tests/connect.rs; credentials are the obviously fake ones the tests use.
"""

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "docs", "connect.md")
os.environ.update(AWS_ACCESS_KEY_ID="AKIDEXAMPLEFAKE", AWS_SECRET_ACCESS_KEY="fake-secret-not-real",
                  AWS_DEFAULT_REGION="eu-central-1", INTEGRATION_HANDLE_KEY="fake-handle-key-not-real")
os.environ.pop("AWS_SESSION_TOKEN", None)
os.environ.pop("AWS_PROFILE", None)

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

SEEN = []


# What the stand-in answers per route: what the backend API answers, the integration id in it.
SECRET_ID = "workday:8d1hpPsbjxUkoCoa1veLZGe5"
ANSWERS = {
    "connection-link": {"origin_id": "acme/42 eu", "link": "https://connect.kombo.dev/x"},
    "connection-completion": {"origin_id": "acme/42 eu", "outcome": "stored", "integration": {
        "integration_id": SECRET_ID, "tool": "workday", "connect_token_sha256": "digest-not-for-the-page"}},
    "integrations": {"origin_id": "acme/42 eu", "integrations": [{
        "integration_id": SECRET_ID, "tool": "workday", "state": "INVALID", "usable": False,
        "unusable_reason": "invalid", "connect_token_sha256": "digest-not-for-the-page"}]},
    "reconnection-link": {"origin_id": "acme/42 eu", "integration_id": SECRET_ID,
                          "link": "https://connect.kombo.dev/relink", "link_type": "EMBEDDED"},
}


class Gateway(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.do_POST()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = self.headers.get("Authorization", "")
        date = self.headers.get("X-Amz-Date", "")
        signed = re.search(r"SignedHeaders=([^,]+)", auth)
        headers = {h: self.headers.get(h) for h in (signed.group(1).split(";") if signed else [])}
        # Sign the request as received again, with the same key and the time it carries (never
        # the clock's: add_auth would take now, and a second boundary between the two signings
        # would fail a good request): API Gateway's check.
        again = AWSRequest(method=self.command, url=f"{API}{self.path}", data=body, headers=headers)
        again.context["timestamp"] = date
        signer = SigV4Auth(Credentials("AKIDEXAMPLEFAKE", "fake-secret-not-real"), "execute-api", "eu-central-1")
        signature = signer.signature(signer.string_to_sign(again, signer.canonical_request(again)), again)
        SEEN.append({"method": self.command, "path": self.path, "body": json.loads(body) if body else None,
                     "scope_ok": "/eu-central-1/execute-api/aws4_request" in auth,
                     "signature_ok": bool(date) and auth.endswith(f", Signature={signature}")})
        out = json.dumps(ANSWERS[self.path.rstrip("/").rsplit("/", 1)[-1]]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def snippet():
    text = open(README).read()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


class Customer:
    id = "acme/42 eu"
    name = "Acme, Inc."
    admin_email = "it@acme.example"


server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
API = f"http://127.0.0.1:{server.server_address[1]}"
threading.Thread(target=server.serve_forever, daemon=True).start()
code = snippet().replace('API = "https://abc123.execute-api.eu-central-1.amazonaws.com"', f'API = "{API}"')
if code == snippet():
    sys.exit("the docs/connect.md snippet no longer sets API as this check expects")
scope = {}
exec(compile(code, "docs/connect.md (Python backend snippet)", "exec"), scope)  # noqa: S102 - the docs' own code
answers = [scope["connect_link"](Customer()), scope["connect_complete"](Customer(), "tok-123")]
listed = scope["integrations"](Customer())
answers += [listed, scope["repair_link"](Customer(), listed[0]["handle"], "reconnection-link"),
            scope["repair_link"](Customer(), "not-a-handle", "reconnection-link")]
server.shutdown()
# What the snippet hands the page never holds the integration id or the token's digest.
page = json.dumps(answers)
print(json.dumps({"answers": answers, "seen": SEEN, "page_clean": SECRET_ID not in page and "digest" not in page}))
