#!/usr/bin/env python3
"""A local stand-in for *your* backend in the embedded Kombo Connect flow (`make dev`): it
serves the reference page (examples/connect/) and the endpoints the page calls, forwarding
each to this project's backend function:

    POST /api/connect/link?customer=C       → POST /customers/C/connection-link
    POST /api/connect/complete?customer=C   → POST /customers/C/connection-completion {"token"}
    GET  /api/integrations?customer=C       → GET  /customers/C/integrations
    POST /api/connect/reconnect?customer=C {"handle"}
                                            → POST /customers/C/integrations/ID/reconnection-link
    POST /api/connect/setup?customer=C {"handle"}
                                            → POST /customers/C/integrations/ID/setup-link

The browser never receives an integration id or anything else from the table's rows: each
integration is shown as {tool, state, usable, reason, issues, handle}, where `handle` is an opaque
HMAC of the id under a secret of this backend, which only this backend maps back (Kombo:
the id "is not for public display and should only be accessible to your backend").

In production your backend does the same with two differences: it takes the customer from
the signed-in session (never from the browser), and it signs each request to the backend API
with SigV4 (docs/connect.md). Locally the functions run behind
`cargo lambda watch` function URLs, which take no signature.

    connect_backend.py --functions URL [--host H] [--port N] [--organization NAME] [--email E]
                       [--connect-origin ORIGIN ...]
        prints "PORT <n>" once listening; URL is the function URL base
        (http://127.0.0.1:9000/lambda-url)

The page is served with a Content-Security-Policy: scripts from this origin only (and the
inline import map, by its hash), calls to this origin only, and frames from Kombo Connect's
origins only (--connect-origin, default https://connect.kombo.dev; `make dev` adds the fake
Kombo's). A link from the backend API whose origin is not one of them is not handed to the
page (502 `unexpected_link`).
"""

import argparse
import base64
import hashlib
import hmac
import json
import mimetypes
import os
import secrets
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.normpath(os.path.join(HERE, "..", "examples", "connect"))
# What the page may load: the page, its script, and the SDK's ES module.
FILES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/connect.js": "connect.js",
    "/node_modules/@kombo-api/connect/dist/index.mjs": "node_modules/@kombo-api/connect/dist/index.mjs",
}


def csp(html, connect_origins):
    """The page's Content-Security-Policy: its inline import map allowed by hash only."""
    import re
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.encode()).digest()).decode() + "'"
        for m in re.findall(r"<script type=\"importmap\">(.*?)</script>", html.decode(), re.S))
    return "; ".join([
        "default-src 'none'", f"script-src 'self' {hashes}", "style-src 'self' 'unsafe-inline'",
        "connect-src 'self'", "img-src 'self'", f"frame-src {' '.join(connect_origins)}",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])


def origin_of(url):
    parts = urlsplit(str(url or ""))
    return f"{parts.scheme}://{parts.netloc}"


def forward(method, url, body=None):
    """(status, JSON document) of a request to a function URL."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        # The first request to a function compiles it (cargo lambda watch): be patient.
        with urllib.request.urlopen(req, timeout=600) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"error": {"code": "upstream", "message": raw.decode(errors="replace")}}
    except OSError as e:
        return 502, {"error": {"code": "unreachable", "message": str(e)}}


# Signs the page's handles; a new one each start (a handle only lives as long as the page).
HANDLE_KEY = secrets.token_bytes(32)


def handle(integration_id):
    """The opaque handle the page gets for an integration (never the id itself)."""
    mac = hmac.new(HANDLE_KEY, integration_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode().rstrip("=")


def for_the_page(row):
    """What the page may see of a row: no integration id, no token digest, no e-mail."""
    return {"tool": row.get("tool"), "state": row.get("state") or "ACTIVE",
            "setup_status": row.get("setup_status"), "usable": row.get("usable"),
            "reason": row.get("unusable_reason"), "handle": handle(row["integration_id"]),
            # Kombo's open issues (type, title, since): a login failing shows before the INVALID.
            "issues": [{"type": i.get("type"), "title": i.get("title"), "since": i.get("since")}
                       for i in row.get("open_issues") or []]}


def make_handler(functions, organization, email, connect_origins):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("connect_backend: " + fmt % args + "\n")

        def answer(self, status, body, content_type="application/json", policy=None):
            if not isinstance(body, bytes):
                body = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            if policy:
                self.send_header("Content-Security-Policy", policy)
            self.end_headers()
            self.wfile.write(body)

        def customer(self):
            url = urlsplit(self.path)
            return url.path, parse_qs(url.query).get("customer", ["42"])[0]

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                doc = json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                doc = None
            return doc if isinstance(doc, dict) else {}

        def integrations(self, customer):
            c = quote(customer, safe="")
            return forward("GET", f"{functions}/customer-integrations/customers/{c}/integrations")

        def integration_of(self, customer, wanted):
            """The id behind the page's handle, among this customer's integrations (None: none)."""
            status, doc = self.integrations(customer)
            rows = doc.get("integrations", []) if status == 200 else []
            return next((r["integration_id"] for r in rows if hmac.compare_digest(handle(r["integration_id"]), str(wanted))), None)

        def do_GET(self):
            path, customer = self.customer()
            if path == "/api/integrations":
                status, doc = self.integrations(customer)
                if status != 200:
                    return self.answer(status, doc)
                return self.answer(200, {"integrations": [for_the_page(r) for r in doc["integrations"]]})
            name = FILES.get(path)
            if name is None:
                return self.answer(404, b"not found", "text/plain")
            file = os.path.join(PAGE, name)
            if not os.path.exists(file):
                return self.answer(500, b"run scripts/deps.sh dev (npm ci in examples/connect)", "text/plain")
            kind = "text/javascript" if name.endswith((".js", ".mjs")) else mimetypes.guess_type(name)[0]
            with open(file, "rb") as f:
                content = f.read()
            policy = csp(content, connect_origins) if name.endswith(".html") else None
            self.answer(200, content, f"{kind}; charset=utf-8", policy)

        def link_for_the_page(self, status, doc):
            """The link the page may open in its frame: only one of Kombo Connect's origins."""
            if status != 200:
                return status, doc
            if origin_of(doc.get("link")) not in connect_origins:
                return 502, {"error": {"code": "unexpected_link",
                                       "message": "the backend API answered a link that is not Kombo Connect's"}}
            return 200, {"link": doc["link"]}

        def do_POST(self):
            path, customer = self.customer()
            c = quote(customer, safe="")
            body = self.body()
            if path == "/api/connect/link":
                return self.answer(*self.link_for_the_page(*forward(
                    "POST", f"{functions}/connection-link/customers/{c}/connection-link", {
                        "end_user_email": email, "end_user_organization_name": organization})))
            if path == "/api/connect/complete":
                status, doc = forward(
                    "POST", f"{functions}/connection-completion/customers/{c}/connection-completion",
                    {"token": body.get("token")})
                if status == 200:
                    # The page learns what was connected, not the row.
                    doc = {"outcome": doc.get("outcome"), "tool": (doc.get("integration") or {}).get("tool")}
                return self.answer(status, doc)
            routes = {"/api/connect/reconnect": ("reconnection-link", "reconnection-link"),
                      "/api/connect/setup": ("setup-link", "setup-link")}
            if path in routes:
                function, route = routes[path]
                integration_id = self.integration_of(customer, body.get("handle"))
                if integration_id is None:
                    return self.answer(404, {"error": {"code": "unknown_integration", "message": "no such integration"}})
                i = quote(integration_id, safe=":")
                status, doc = forward("POST", f"{functions}/{function}/customers/{c}/integrations/{i}/{route}",
                                      {"link_type": "EMBEDDED"})
                return self.answer(*self.link_for_the_page(status, doc))
            self.answer(404, {"error": {"code": "not_found", "message": path}})

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--functions", required=True, help="the function URL base (http://127.0.0.1:9000/lambda-url)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--organization", default="Acme, Inc.", help="the customer's organization name for the link")
    p.add_argument("--email", default="it@acme.example", help="the e-mail for the link (obviously fake)")
    p.add_argument("--connect-origin", action="append", default=["https://connect.kombo.dev"],
                   help="an origin Kombo Connect links may have (repeat; https://connect.kombo.dev always)")
    a = p.parse_args()
    server = ThreadingHTTPServer((a.host, a.port), make_handler(a.functions.rstrip("/"), a.organization, a.email,
                                                                a.connect_origin))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
