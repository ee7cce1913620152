#!/usr/bin/env python3
"""A local stand-in for Kombo's API (base path /v1), for tests and `make dev`. It records
every request exactly (method, path, headers, JSON body) and answers as Kombo documents:

    POST   /v1/connect/create-link      {"status":"success","data":{"link":"https://connect.kombo.dev/v1?token=..."}}
    DELETE /v1/integrations/{id}        {"status":"success","data":{}}; a deleted or unknown id
                                        answers 404 PLATFORM.INTEGRATION_NOT_FOUND
    GET    /v1/integrations/{id}        the integration, shaped as Kombo's SDK model
                                        (GetIntegrationsIntegrationIDPositiveResponse): status
                                        INVALID for an id ending in `invalid`, INACTIVE for one
                                        ending in `inactive`, else ACTIVE; 404
                                        PLATFORM.INTEGRATION_NOT_FOUND for a deleted id or one
                                        ending in `gone` or `missing`
    PUT    /__integrations/{id}         {"status": S} or {"gone": true}: what the GET answers
                                        from now on, scripted failures aside (not a Kombo route)
    GET    /__requests                  the recorded requests, as JSON (not a Kombo route)

Scripted failures, by id: origin id or integration id `...:rate-limited` always answers 429
PLATFORM.RATE_LIMIT_EXCEEDED, `...:flaky` answers 503 once and then succeeds, `...:broken`
answers 500 with a log_url, `...:slow` answers a GET after 1 s, `...:hang` never answers, `...:hang-once` does the work (a delete
happens) and then never answers, the first time only. An `integration_tool` of
`no-such-tool` answers 400 PLATFORM.INPUT_INVALID. A wrong API key answers 401
PLATFORM.AUTHENTICATION_INVALID.

    fake_kombo.py [--host H] [--port N] [--api-key KEY] [--tls CERT KEY]     prints "PORT <n>" once listening
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

RECORDED = []
SEEN = set()
DELETED = set()
STATUS = {}
LOCK = threading.Lock()


def error(code, status, message):
    return status, {
        "status": "error",
        "error": {
            "code": code,
            "title": code.split(".")[-1].replace("_", " ").title(),
            "message": message,
            "log_url": f"https://app.kombo.dev/env/test/logs/{code.lower()}",
        },
    }


def scripted(key):
    """A scripted failure for `key`, or None."""
    if key.endswith("rate-limited"):
        return error("PLATFORM.RATE_LIMIT_EXCEEDED", 429, "Too many requests.")
    if key.endswith("broken"):
        return error("PLATFORM.UNKNOWN_ERROR", 500, "Something went wrong on Kombo's side.")
    if key.endswith(":hang"):
        time.sleep(3600)
    if key.endswith("flaky"):
        with LOCK:
            first = key not in SEEN
            SEEN.add(key)
        if first:
            return error("PLATFORM.TEMPORARILY_UNAVAILABLE", 503, "Try again.")
    return None


def make_handler(api_key):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, doc):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def record(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            entry = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
            with LOCK:
                RECORDED.append(entry)
            return entry

        def authorized(self):
            if self.headers.get("Authorization") != f"Bearer {api_key}":
                self.send(*error("PLATFORM.AUTHENTICATION_INVALID", 401, "The API key is invalid."))
                return False
            return True

        def integration_request(self):
            """Records the request; the id of /v1/integrations/{id}, or None once answered."""
            self.record()
            if not self.authorized():
                return None
            prefix = "/v1/integrations/"
            if not self.path.startswith(prefix):
                self.send(*error("PLATFORM.NOT_FOUND", 404, "No such route."))
                return None
            return unquote(self.path[len(prefix):])

        def do_GET(self):
            if self.path == "/__requests":
                with LOCK:
                    return self.send(200, list(RECORDED))
            integration_id = self.integration_request()
            if integration_id is None:
                return
            with LOCK:
                gone = integration_id in DELETED or STATUS.get(integration_id) == "gone"
                status = STATUS.get(integration_id)
            failure = None if status else scripted(integration_id)
            if failure:
                return self.send(*failure)
            if integration_id.endswith(":slow"):
                time.sleep(1)
            if gone or integration_id.endswith(("gone", "missing")):
                return self.send(*error("PLATFORM.INTEGRATION_NOT_FOUND", 404, "The integration does not exist."))
            if status is None:
                status = ("INVALID" if integration_id.endswith("invalid")
                          else "INACTIVE" if integration_id.endswith("inactive") else "ACTIVE")
            tool = integration_id.split(":", 1)[0]
            self.send(200, {"status": "success", "data": {
                "id": integration_id,
                "tool": {"id": tool, "label": tool.title(), "internal_label": None,
                         "logo_url": f"https://storage.googleapis.com/kombo-assets/integrations/{tool}/logo.svg",
                         "icon_url": f"https://storage.googleapis.com/kombo-assets/integrations/{tool}/icon.svg"},
                "category": "LMS",
                "status": status,
                "setup_status": "COMPLETED",
                "end_user": {"organization_name": "Acme, Inc.", "creator_email": "user@example.com",
                             "origin_id": "36123"},
                "scope_config": {"id": "default", "name": None},
                "data_expired_at": None,
                "created_at": "2026-11-20T09:00:00.000Z",
                "beta": False,
                "read_models": [],
                "write_actions": [],
            }})

        def do_PUT(self):
            prefix = "/__integrations/"
            if not self.path.startswith(prefix):
                return self.send(*error("PLATFORM.NOT_FOUND", 404, "No such route."))
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(n) or b"{}")
            with LOCK:
                STATUS[unquote(self.path[len(prefix):])] = "gone" if body.get("gone") else body["status"]
            self.send(200, {"status": "success", "data": {}})

        def do_POST(self):
            entry = self.record()
            if not self.authorized():
                return
            if self.path != "/v1/connect/create-link":
                return self.send(*error("PLATFORM.NOT_FOUND", 404, "No such route."))
            body = entry["body"] if isinstance(entry["body"], dict) else {}
            for field in ("end_user_email", "end_user_organization_name"):
                if not body.get(field):
                    return self.send(*error("PLATFORM.INPUT_INVALID", 400, f"{field} is required."))
            if body.get("integration_tool") == "no-such-tool":
                return self.send(*error("PLATFORM.INPUT_INVALID", 400, "integration_tool: Invalid enum value."))
            failure = scripted(str(body.get("end_user_origin_id", "")))
            if failure:
                return self.send(*failure)
            token = f"fake-{body.get('end_user_origin_id', 'none')}"
            self.send(200, {"status": "success", "data": {"link": f"https://connect.kombo.dev/v1?token={token}"}})

        def do_DELETE(self):
            integration_id = self.integration_request()
            if integration_id is None:
                return
            failure = scripted(integration_id)
            if failure:
                return self.send(*failure)
            with LOCK:
                gone = integration_id in DELETED or integration_id.endswith("missing")
                DELETED.add(integration_id)
                hang = integration_id.endswith("hang-once") and integration_id not in SEEN
                SEEN.add(integration_id)
            if hang:
                time.sleep(3600)
            if gone:
                return self.send(*error("PLATFORM.INTEGRATION_NOT_FOUND", 404, "The integration does not exist."))
            self.send(200, {"status": "success", "data": {}})

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--api-key", default="local-fake-kombo-api-key-not-real")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS with this certificate and key")
    a = p.parse_args()
    server = ThreadingHTTPServer((a.host, a.port), make_handler(a.api_key))
    if a.tls:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*a.tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
