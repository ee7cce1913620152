#!/usr/bin/env python3
"""A local stand-in for Kombo's API (base path /v1), for tests and `make dev`. It records
every request exactly (method, path, headers, JSON body) and answers as Kombo documents:

    POST   /v1/connect/create-link      {"status":"success","data":{"link":"http://<this host>/connect?token=..."}}
                                        (the Connect sandbox below, for the link's end user;
                                        "static_ips" too when enable_static_ips is true)
    DELETE /v1/integrations/{id}        {"status":"success","data":{}}; a deleted or unknown id
                                        answers 404 PLATFORM.INTEGRATION_NOT_FOUND
    GET    /v1/integrations/{id}        the integration, shaped as Kombo's SDK model
                                        (GetIntegrationsIntegrationIDPositiveResponse): status
                                        INVALID for an id ending in `invalid`, INACTIVE for one
                                        ending in `inactive`, else ACTIVE; 404
                                        PLATFORM.INTEGRATION_NOT_FOUND for a deleted id or one
                                        ending in `gone` or `missing`
    POST   /v1/integrations/{id}/relink {"status":"success","data":{"link":...}}: a Connect sandbox
                                        link that reconnects the same integration; 404
                                        PLATFORM.INTEGRATION_NOT_FOUND for a deleted or unknown id
    POST   /v1/integrations/{id}/setup-link
                                        the same for its setup steps (`link_type` required: 400
                                        PLATFORM.INPUT_INVALID without it); an id ending in
                                        `no-setup` has no setup step: 400 PLATFORM.INPUT_INVALID
    GET    /v1/connect/integration-by-token/{token}
                                        what a finished Connect flow made, as Kombo's SDK model
                                        (GetConnectIntegrationByTokenTokenPositiveResponse); a
                                        token is single-use and lives --token-ttl seconds: an
                                        unknown, used or expired one answers 400
                                        PLATFORM.INPUT_INVALID (events.SAMPLE_TOKEN is known
                                        from the start, for the connection-completion sample)
    PUT    /__integrations/{id}         {"status": S[, "setup_status": X]} or {"gone": true}: what the GET answers
                                        from now on, scripted failures aside; with
                                        "webhook": true the sandbox also sends the
                                        integration-state-changed Kombo would (not a Kombo route)
    POST   /__integrations/{id}/issue   {"change": "raised"|"resolved"[, "type", "title"]}: sends the
                                        signed issue-status-changed Kombo sends (raised: a new
                                        episode, unless one is open; resolved: the open one's
                                        end; 409 when there is none) (not a Kombo route)
    GET    /__dashboard                 a page standing in for Kombo's dashboard: the sandbox's
                                        integrations, each with *Raise login failure*, *Resolve
                                        issue* and *Make INVALID* (the routes above)
    POST   /__connect/tokens            {"id", "tool", "end_user_origin_id", ...[, "token"]}: mints
                                        an activation token for tests ({"token": ...}; not a
                                        Kombo route)
    GET    /__requests                  the recorded requests, as JSON (not a Kombo route)

The Connect sandbox (stands in for Kombo Connect; not Kombo routes): create-link's link is
`http://<this host>/connect?token=<link token>`, a page that speaks the postMessage protocol
of `@kombo-api/connect` to the page that opened it:

    succeed  creates the integration for the link's end user (GET /v1/integrations/{id} then
             knows it; its setup INCOMPLETE where the page says so), posts
             {"type":"success","data":{"activation_token":...}} with a fresh single-use token,
             and sends a signed integration-created webhook to
             <--webhook-base>/integration-created/ after the page's webhook delay (seconds, or
             "never" to rehearse a lost webhook); a 429, 5xx or no answer is delivered again
             (5 tries, 1 s apart and more), as Kombo retries. For a relink link it makes the
             same integration ACTIVE again, for a setup link it completes the setup; either
             sends the integration-state-changed Kombo sends then
    fail     sends a signed connection-flow-failed webhook with a log URL; the page stays open
    close    posts {"type":"close"}

Scripted failures, by id: origin id or integration id `...:rate-limited` always answers 429
PLATFORM.RATE_LIMIT_EXCEEDED, `...:flaky` answers 503 once and then succeeds, `...:broken`
answers 500 with a log_url, `...:slow` answers a GET after 1 s, `...:hang` never answers, `...:hang-once` does the work (a delete
happens) and then never answers, the first time only. An `integration_tool` of
`no-such-tool` answers 400 PLATFORM.INPUT_INVALID. A wrong API key answers 401
PLATFORM.AUTHENTICATION_INVALID.

    fake_kombo.py [--host H] [--port N] [--api-key KEY] [--tls CERT KEY]
                  [--webhook-base URL] [--webhook-secret S] [--token-ttl SECONDS]
        prints "PORT <n>" once listening
"""

import argparse
import html
import itertools
import json
import os
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from events import LOCAL_SECRET, SAMPLE_TOKEN, SAMPLE_TOKEN_INTEGRATION, sign  # noqa: E402

RECORDED = []
SEEN = set()
DELETED = set()
STATUS = {}
# Setup status per integration (COMPLETED where not named; an id ending in `incomplete`
# starts INCOMPLETE).
SETUP = {}
LOCK = threading.Lock()
# The Connect sandbox: links (link token -> create-link body), activation tokens (token ->
# {"data", "expires", "used"}), integrations it made (id -> end user), the webhooks it sent.
LINKS = {}
TOKENS = {}
MADE = {}
# Each integration's open issue (its Kombo issue id, type, title, first observed).
ISSUES = {}
SENT = []
COUNTER = itertools.count(1)
CONFIG = {"webhook_base": None, "webhook_secret": LOCAL_SECRET, "token_ttl": 600.0}


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


def mint_token(data, token=None):
    """Registers a single-use activation token for `data` (Kombo's token answer)."""
    token = token or f"act_{secrets.token_urlsafe(24)}"
    with LOCK:
        TOKENS[token] = {"data": data, "expires": time.monotonic() + CONFIG["token_ttl"], "used": False}
    return token


def redeem(token):
    """(status, doc) for GET /v1/connect/integration-by-token/{token}."""
    with LOCK:
        entry = TOKENS.get(token)
        usable = entry is not None and not entry["used"] and entry["expires"] > time.monotonic()
        if usable:
            entry["used"] = True
    if not usable:
        why = "unknown" if entry is None else "already used" if entry["used"] else "expired"
        return error("PLATFORM.INPUT_INVALID", 400, f"The activation token is {why}.")
    return 200, {"status": "success", "data": entry["data"]}


def send_webhook(kind, data, delay):
    """Sends a signed Kombo webhook of `kind` to the local function after `delay` seconds
    (None: never). Records what was sent, and the answer, for tests."""
    event = {"id": f"sandbox-{kind}-{next(COUNTER)}-{secrets.token_hex(4)}", "type": kind, "data": data}
    body = json.dumps(event, separators=(",", ":"))
    record = {"type": kind, "event_id": event["id"], "delay": delay, "status": None}
    with LOCK:
        SENT.append(record)
    base = CONFIG["webhook_base"]
    if delay is None or not base:
        record["status"] = "not sent"
        return record

    def deliver():
        # Like Kombo: a 429, a 5xx or no answer is delivered again, a little later.
        for attempt in range(1, 6):
            req = urllib.request.Request(f"{base.rstrip('/')}/{kind}/", data=body.encode(), method="POST", headers={
                "content-type": "application/json",
                "x-kombo-signature": sign(CONFIG["webhook_secret"], body)})
            try:
                with urllib.request.urlopen(req, timeout=600) as resp:
                    status, answer = resp.status, resp.read().decode()
            except urllib.error.HTTPError as e:
                status, answer = e.code, e.read().decode()
            except OSError as e:
                status, answer = 0, str(e)
            if status != 429 and status < 500 and status != 0:
                break
            time.sleep(attempt)
        with LOCK:
            record.update(status=status, answer=answer, attempts=attempt)

    threading.Timer(delay, deliver).start()
    return record


def webhook_delay(value):
    """The page's webhook delay: seconds, or None for "never"."""
    value = str(value if value is not None else "0").strip().lower()
    if value in ("never", "none", "lost"):
        return None
    return max(0.0, float(value or 0))


def setup_of(integration_id):
    with LOCK:
        return SETUP.get(integration_id) or ("INCOMPLETE" if integration_id.endswith("incomplete") else "COMPLETED")


def state_changed(integration_id, delay=0.0):
    """Sends the integration-state-changed Kombo sends for `integration_id` as it stands now."""
    tool = integration_id.split(":", 1)[0]
    with LOCK:
        made = MADE.get(integration_id, {})
        status = STATUS.get(integration_id) or "ACTIVE"
    end_user = made.get("end_user") or {"organization_name": "Acme, Inc.", "creator_email": None,
                                        "origin_id": "36123"}
    return send_webhook("integration-state-changed", {
        "integration_id": integration_id, "integration_tool": tool,
        "integration_category": made.get("category", "LMS"), "end_user": end_user,
        "qa_status": "PASSED", "setup_status": setup_of(integration_id), "state": status,
        "updated_at": now_iso(),
    }, delay)


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def issue_changed(integration_id, body):
    """(status, doc) for POST /__integrations/{id}/issue: the issue-status-changed Kombo sends
    when it raises an issue on the integration (a new episode, a new first_observed_at) or
    resolves the open one."""
    change = body.get("change")
    if change not in ("raised", "resolved"):
        return error("PLATFORM.INPUT_INVALID", 400, 'change: "raised" or "resolved"')
    tool = integration_id.split(":", 1)[0]
    with LOCK:
        made = MADE.get(integration_id, {})
        issue = ISSUES.get(integration_id)
        if change == "raised" and issue is None:
            issue = ISSUES[integration_id] = {
                "id": f"iss_{secrets.token_hex(8)}",
                "type": body.get("type") or "integration.authentication_failed",
                "title": body.get("title") or "Authentication failed",
                "first_observed_at": now_iso()}
        elif change == "resolved":
            issue = ISSUES.pop(integration_id, None)
    if issue is None:
        return error("PLATFORM.INPUT_INVALID", 409, "The integration has no open issue.")
    end_user = made.get("end_user") or {"organization_name": "Acme, Inc.", "creator_email": None,
                                        "origin_id": "36123"}
    sent = send_webhook("issue-status-changed", {
        "change": change,
        "issue": {**issue, "status": "OPEN" if change == "raised" else "RESOLVED",
                  "markdown_message": f"Kombo could not log in to **{tool}**: the credentials were rejected.",
                  "resolved_at": now_iso() if change == "resolved" else None},
        "integration": {"id": integration_id, "tool": tool, "category": made.get("category", "LMS"),
                        "end_user": end_user}}, 0)
    return 200, {"status": "success", "data": {"issue_id": issue["id"], "webhook": sent["event_id"]}}


DASHBOARD_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kombo dashboard (local sandbox)</title>
<style> body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem; }} li {{ margin: .4rem 0; }}
 button {{ font: inherit; margin-left: .4rem; }} #status {{ color: #555; }}</style></head>
<body><h1>Kombo dashboard &mdash; local sandbox</h1>
<p>What Kombo does to the sandbox's integrations, as it would tell this project (a signed webhook).</p>
<ul id="integrations">{rows}</ul><p id="status" role="status"></p>
<script>
async function act(path, method, body) {{
  const resp = await fetch(path, {{method, headers: {{"content-type": "application/json"}}, body: JSON.stringify(body)}});
  const doc = await resp.json();
  document.getElementById("status").textContent = resp.ok ? "Sent " + doc.data.webhook : doc.error.message;
}}
for (const li of document.querySelectorAll("li[data-id]")) {{
  const path = "/__integrations/" + encodeURIComponent(li.dataset.id);
  li.querySelector(".raise").onclick = () => act(path + "/issue", "POST", {{change: "raised"}});
  li.querySelector(".resolve").onclick = () => act(path + "/issue", "POST", {{change: "resolved"}});
  li.querySelector(".invalid").onclick = () => act(path, "PUT", {{status: "INVALID", webhook: true}});
}}
</script></body></html>
"""


def dashboard_page():
    with LOCK:
        made = sorted(MADE.items())
        issues = dict(ISSUES)
    rows = "".join(
        f'<li data-id="{html.escape(i, quote=True)}"><code>{html.escape(i)}</code> '
        f'({html.escape(str((m.get("end_user") or {}).get("organization_name", "")))})'
        f'{" &mdash; open issue: " + html.escape(issues[i]["title"]) if i in issues else ""}'
        '<button class="raise">Raise login failure</button><button class="resolve">Resolve issue</button>'
        '<button class="invalid">Make INVALID</button></li>'
        for i, m in made) or "<li>No integration yet: connect one first.</li>"
    return 200, DASHBOARD_PAGE.format(rows=rows)


def sandbox_action(action, body):
    """(status, doc) for POST /connect/{succeed,fail}: the sandbox page's buttons."""
    with LOCK:
        link = LINKS.get(str(body.get("link", "")))
    if link is None:
        return error("PLATFORM.INPUT_INVALID", 400, "Unknown or missing link token.")
    delay = webhook_delay(body.get("webhook_delay"))
    repair = link.get("relink") or link.get("setup")
    if repair:
        # A reconnection or a finished setup: the same integration, no new one.
        with LOCK:
            if link.get("relink"):
                STATUS[repair] = "ACTIVE"
            else:
                SETUP[repair] = "COMPLETED"
            made = MADE.get(repair, {})
        token = mint_token({
            "tool": repair.split(":", 1)[0], "id": repair,
            "end_user_origin_id": (made.get("end_user") or {}).get("origin_id"),
            "end_user_organization_name": (made.get("end_user") or {}).get("organization_name", ""),
            "end_user_email": None, "setup_status": setup_of(repair)})
        sent = state_changed(repair, delay)
        return 200, {"status": "success", "data": {"activation_token": token, "integration_id": repair,
                                                   "webhook": sent["event_id"]}}
    tool = str(body.get("tool") or link.get("integration_tool") or "workday")
    end_user = {"origin_id": link.get("end_user_origin_id"), "creator_email": link.get("end_user_email"),
                "organization_name": link.get("end_user_organization_name", "")}
    if action == "fail":
        log_url = f"https://app.kombo.dev/env/sandbox/logs/{secrets.token_hex(8)}"
        sent = send_webhook("connection-flow-failed", {
            "integration_tool": tool, "integration_category": link.get("integration_category", "LMS"),
            "end_user": end_user, "log_url": log_url}, delay)
        return 200, {"status": "success", "data": {"log_url": log_url, "webhook": sent["event_id"]}}
    integration_id = f"{tool}:{secrets.token_hex(10)}"
    unfinished = bool(body.get("setup_unfinished"))
    with LOCK:
        MADE[integration_id] = {"end_user": end_user, "category": link.get("integration_category", "LMS")}
        if unfinished:
            SETUP[integration_id] = "INCOMPLETE"
    token = mint_token({
        "tool": tool, "id": integration_id, "end_user_origin_id": end_user["origin_id"],
        "end_user_organization_name": end_user["organization_name"], "end_user_email": end_user["creator_email"],
        "setup_status": "INCOMPLETE" if unfinished else "COMPLETED"})
    sent = send_webhook("integration-created", {
        "id": integration_id, "tool": tool, "category": link.get("integration_category", "LMS"),
        "end_user": end_user}, delay)
    return 200, {"status": "success", "data": {"activation_token": token, "integration_id": integration_id,
                                               "webhook": sent["event_id"]}}


SANDBOX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kombo Connect (local sandbox)</title>
<style>
 body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0; background: rgba(20,24,31,.55); }}
 main {{ max-width: 30rem; margin: 8vh auto; background: #fff; border-radius: 12px; padding: 1.5rem 1.75rem;
        box-shadow: 0 10px 40px rgba(0,0,0,.3); }}
 h1 {{ font-size: 1.2rem; margin: 0 0 .25rem; }} .who {{ color: #555; margin: 0 0 1rem; }}
 label {{ display: block; margin: .6rem 0 .2rem; font-weight: 600; }}
 input {{ width: 100%; box-sizing: border-box; padding: .4rem .5rem; font: inherit; }}
 .buttons {{ display: flex; gap: .5rem; margin-top: 1.2rem; }}
 button {{ font: inherit; padding: .5rem .9rem; border-radius: 8px; border: 1px solid #999; cursor: pointer; background: #f4f4f4; }}
 #succeed {{ background: #1f6feb; color: #fff; border-color: #1f6feb; }} #fail {{ background: #fbe9e9; border-color: #d33; }}
 #status {{ margin-top: 1rem; min-height: 1.4em; color: #a00; }} small {{ color: #666; }}
</style></head>
<body><main>
 <h1>Kombo Connect &mdash; local sandbox</h1>
 <p class="who">{doing} <b>{org}</b> (customer <code>{origin}</code>). No Kombo account involved.</p>
 <div {new_only}><label for="tool">Tool</label><input id="tool" value="{tool}">
 <label><input type="checkbox" id="setup-unfinished"> leave the setup steps unfinished</label></div>
 <label for="webhook-delay">integration-created webhook after (seconds, or &ldquo;never&rdquo;)</label>
 <input id="webhook-delay" value="0">
 <div class="buttons">
  <button id="succeed">{verb}</button><button id="fail" {new_only}>Fail the connection</button><button id="close">Close</button>
 </div>
 <p id="status" role="status"></p>
 <small>Stands in for Kombo Connect: it posts what the real flow posts to the page that opened it.</small>
</main>
<script>
const link = new URLSearchParams(location.search).get("token");
const status = document.getElementById("status");
async function act(action) {{
  const resp = await fetch("/connect/" + action, {{method: "POST", headers: {{"content-type": "application/json"}},
    body: JSON.stringify({{link, tool: document.getElementById("tool").value,
                           setup_unfinished: document.getElementById("setup-unfinished").checked,
                           webhook_delay: document.getElementById("webhook-delay").value}})}});
  const doc = await resp.json();
  if (!resp.ok) {{ status.textContent = doc.error.message; return; }}
  if (action === "succeed") {{
    window.parent.postMessage({{type: "success", data: {{activation_token: doc.data.activation_token}}}}, "*");
  }} else {{
    status.textContent = "The connection failed (Kombo log: " + doc.data.log_url + "). Try again, or close.";
  }}
}}
document.getElementById("succeed").onclick = () => act("succeed");
document.getElementById("fail").onclick = () => act("fail");
document.getElementById("close").onclick = () => window.parent.postMessage({{type: "close"}}, "*");
</script></body></html>
"""


def sandbox_page(link_token):
    with LOCK:
        link = LINKS.get(link_token)
    if link is None:
        return 404, "<!doctype html><title>Unknown link</title><p>This Kombo Connect link is unknown or expired.</p>"
    doing, verb = ("Reconnecting", "Reconnect") if link.get("relink") else (
        ("Finishing the setup for", "Finish setup") if link.get("setup") else ("Connecting", "Connect"))
    return 200, SANDBOX_PAGE.format(
        doing=doing, verb=verb, new_only='hidden' if (link.get("relink") or link.get("setup")) else "",
        org=html.escape(str(link.get("end_user_organization_name", ""))),
        origin=html.escape(str(link.get("end_user_origin_id") or "none")),
        tool=html.escape(str(link.get("integration_tool") or "workday"), quote=True))


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

        def send_html(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def json_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                body = None
            return body if isinstance(body, dict) else {}

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
            if self.path == "/__connect/webhooks":
                with LOCK:
                    return self.send(200, [dict(r) for r in SENT])
            url = urlsplit(self.path)
            if url.path == "/__dashboard":
                return self.send_html(*dashboard_page())
            if url.path in ("/connect", "/connect/"):
                return self.send_html(*sandbox_page(parse_qs(url.query).get("token", [""])[0]))
            prefix = "/v1/connect/integration-by-token/"
            if self.path.startswith(prefix):
                self.record()
                if not self.authorized():
                    return
                token = unquote(self.path[len(prefix):])
                failure = scripted(token)
                return self.send(*(failure or redeem(token)))
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
            with LOCK:
                made = MADE.get(integration_id, {})
            end_user = made.get("end_user") or {"organization_name": "Acme, Inc.", "creator_email": "user@example.com",
                                                "origin_id": "36123"}
            self.send(200, {"status": "success", "data": {
                "id": integration_id,
                "tool": {"id": tool, "label": tool.title(), "internal_label": None,
                         "logo_url": f"https://storage.googleapis.com/kombo-assets/integrations/{tool}/logo.svg",
                         "icon_url": f"https://storage.googleapis.com/kombo-assets/integrations/{tool}/icon.svg"},
                "category": "LMS",
                "status": status,
                "setup_status": setup_of(integration_id),
                "end_user": end_user,
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
            integration_id = unquote(self.path[len(prefix):])
            with LOCK:
                STATUS[integration_id] = "gone" if body.get("gone") else body["status"]
                if body.get("setup_status"):
                    SETUP[integration_id] = body["setup_status"]
            sent = state_changed(integration_id) if body.get("webhook") and not body.get("gone") else None
            self.send(200, {"status": "success", "data": {"webhook": sent and sent["event_id"]}})

        def do_POST(self):
            if self.path in ("/connect/succeed", "/connect/fail"):
                return self.send(*sandbox_action(self.path.rsplit("/", 1)[-1], self.json_body()))
            if self.path.startswith("/__integrations/") and self.path.endswith("/issue"):
                integration_id = unquote(self.path[len("/__integrations/"):-len("/issue")])
                return self.send(*issue_changed(integration_id, self.json_body()))
            if self.path == "/__connect/tokens":
                body = self.json_body()
                token = body.pop("token", None)
                return self.send(200, {"token": mint_token(body, token)})
            entry = self.record()
            if not self.authorized():
                return
            for kind in ("relink", "setup-link"):
                prefix, suffix = "/v1/integrations/", f"/{kind}"
                if self.path.startswith(prefix) and self.path.endswith(suffix):
                    return self.send(*self.repair_link(kind, unquote(self.path[len(prefix):-len(suffix)]), entry))
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
            token = f"link-{body.get('end_user_origin_id', 'none')}-{next(COUNTER)}"
            with LOCK:
                LINKS[token] = body
            host = self.headers.get("Host", "127.0.0.1")
            data = {"link": f"http://{host}/connect?token={token}"}
            if body.get("enable_static_ips"):
                data["static_ips"] = ["203.0.113.7", "203.0.113.8"]
            self.send(200, {"status": "success", "data": data})

        def repair_link(self, kind, integration_id, entry):
            """(status, doc) for POST /v1/integrations/{id}/relink or /setup-link."""
            body = entry["body"] if isinstance(entry["body"], dict) else {}
            failure = scripted(integration_id)
            if failure:
                return failure
            with LOCK:
                gone = integration_id in DELETED or STATUS.get(integration_id) == "gone"
            if gone or integration_id.endswith(("gone", "missing")):
                return error("PLATFORM.INTEGRATION_NOT_FOUND", 404, "The integration does not exist.")
            allowed = {"link_type", "language"} | ({"scope_config_id"} if kind == "relink" else set())
            unknown = set(body) - allowed
            if unknown:
                return error("PLATFORM.INPUT_INVALID", 400, f"Unrecognized key(s): {', '.join(sorted(unknown))}")
            if kind == "setup-link" and not body.get("link_type"):
                return error("PLATFORM.INPUT_INVALID", 400, "link_type: Required")
            if kind == "setup-link" and integration_id.endswith("no-setup"):
                return error("PLATFORM.INPUT_INVALID", 400, "The integration has no setup step enabled.")
            with LOCK:
                made = MADE.get(integration_id, {})
            end_user = made.get("end_user") or {}
            token = f"{kind}-{next(COUNTER)}"
            with LOCK:
                LINKS[token] = {("relink" if kind == "relink" else "setup"): integration_id,
                                "end_user_organization_name": end_user.get("organization_name", "Acme, Inc."),
                                "end_user_origin_id": end_user.get("origin_id"), **body}
            host = self.headers.get("Host", "127.0.0.1")
            return 200, {"status": "success", "data": {"link": f"http://{host}/connect?token={token}"}}

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
    p.add_argument("--webhook-base", help="where the sandbox sends webhooks: <base>/<event type>/ "
                   "(make dev: the local function URLs, http://127.0.0.1:9000/lambda-url)")
    p.add_argument("--webhook-secret", default=LOCAL_SECRET, help="signs them (default: the fake local secret)")
    p.add_argument("--token-ttl", type=float, default=600.0, help="how long an activation token lives (s)")
    a = p.parse_args()
    CONFIG.update(webhook_base=a.webhook_base, webhook_secret=a.webhook_secret, token_ttl=a.token_ttl)
    # The connection-completion sample's token (events/), valid for the length of the run.
    mint_token(dict(SAMPLE_TOKEN_INTEGRATION), SAMPLE_TOKEN)
    with LOCK:
        TOKENS[SAMPLE_TOKEN]["expires"] = float("inf")
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
