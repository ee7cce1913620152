#!/usr/bin/env python3
"""The embedded Kombo Connect flow in a real browser (make test): headless Chromium from the
system's packages, driven by Playwright for Python (launched with that Chromium: no browser
download), through the reference page (examples/connect/, with Kombo's own
@kombo-api/connect in it) on the local stack `make dev` starts (scripts/dev.py: the
functions, DynamoDB Local, moto, the fake Kombo's Connect sandbox, the stand-in backend).

    connect_browser_test.py

Scenarios, each checked in the page, the table, the alert queue and the fake Kombo:
  - success with the webhook delayed: "Connected" from the completion route before the
    webhook arrives, the row has origin_id 42; then the webhook: still one row,
    already_stored, no notice (a screenshot of the connected page: .local/connect-connected.png);
  - success with the webhook never sent: the row exists anyway;
  - fail, then succeed: one on-call page, then one "resolved" notice;
  - close: "Cancelled", nothing stored, the completion route never called;
  - a second click while Connect is open: the SDK's already-open error shown, one flow;
  - the token replayed for another customer (straight to the route): 403, nothing written;
  - reconnect: a connected integration turns INVALID (one page); the page offers
    "Reconnect", the sandbox reconnects the same integration (its integration-state-changed
    ACTIVE), the page shows it working, one row, usable again, one "recovered" notice;
  - finish setup: connected with the setup left unfinished, the page offers "Finish
    setup"; the sandbox completes it, the page shows it working, the row usable.
In every scenario the page never receives an integration id or a token digest (every
answer of the stand-in backend is checked).

No Chromium: one `SKIPPED (no chromium)` line and exit 0, unless CI is set, where that
fails. Ends with `N passed, M failed`.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
SCREENSHOT = os.path.join(ROOT, ".local", "connect-connected.png")
# The flags this kind of machine needs (a closed network, root): no sandbox, no background
# connections, nothing first-run.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000


def say(msg):
    print(f"[browser] {msg}", flush=True)


def chromium():
    exe = os.environ.get("CHROMIUM")
    if exe:
        return exe
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_until(what, check, timeout=WAIT_MS / 1000, page=None):
    """Polls `check` until it is truthy. With `page`, waits through Playwright (its sync API
    dispatches events, a route handler's among them, only while one of its calls runs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        if page is not None:
            page.wait_for_timeout(200)
        else:
            time.sleep(0.2)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Local:
    """The local stack of `make dev`, started by scripts/dev.py on free ports."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="connect-browser-")
        self.ports = {k: free_port() for k in ("AWS", "FN", "KOMBO", "DYNAMODB", "PAGE")}
        env = dict(os.environ, LOCAL_DIR=self.dir, **{f"LOCAL_{k}_PORT": str(v) for k, v in self.ports.items()})
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "dev.py")], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        said = []
        deadline = time.monotonic() + 300
        for line in self.proc.stdout:
            said.append(line)
            if "Ctrl-C stops everything" in line:
                break
            if time.monotonic() > deadline:
                break
        else:
            raise SystemExit("[browser] FAILED: make dev's stack did not come up:\n" + "".join(said))
        self.page = f"http://127.0.0.1:{self.ports['PAGE']}"
        expect(f"{self.page}/?customer=42" in "".join(said), "dev.py names the page")
        self.functions = f"http://127.0.0.1:{self.ports['FN']}/lambda-url"
        self.kombo = f"http://127.0.0.1:{self.ports['KOMBO']}"
        with open(os.path.join(self.dir, "state.json")) as f:
            self.state = json.load(f)
        import boto3

        creds = dict(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        self.ddb = boto3.client("dynamodb", endpoint_url=self.state["endpoints"]["dynamodb"], **creds)
        self.sqs = boto3.client("sqs", endpoint_url=self.state["endpoints"]["aws"], **creds)
        self.seen_alerts = []

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def rows(self, origin_id=None):
        table = self.state["resources"]["MappingsTable"]
        items = self.ddb.scan(TableName=table, ConsistentRead=True)["Items"]
        rows = [{k: list(v.values())[0] for k, v in item.items()} for item in items]
        return [r for r in rows if origin_id is None or r.get("origin_id") == origin_id]

    def alerts(self):
        """Subjects of the alerts received since the last call."""
        new = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.state["alert_queue_url"], MaxNumberOfMessages=10,
                                            WaitTimeSeconds=1).get("Messages", [])
            if not msgs:
                return new
            for m in msgs:
                new.append(json.loads(m["Body"]).get("Subject"))
                self.sqs.delete_message(QueueUrl=self.state["alert_queue_url"], ReceiptHandle=m["ReceiptHandle"])

    def webhooks(self):
        return http("GET", f"{self.kombo}/__connect/webhooks")[1]

    def token_lookups(self):
        requests = http("GET", f"{self.kombo}/__requests")[1]
        return [r for r in requests if r["path"].startswith("/v1/connect/integration-by-token/")]

    def warm_up(self):
        """cargo lambda watch compiles each function on its first request: get that done
        before anything is timed in the browser."""
        started = time.monotonic()
        http("GET", f"{self.page}/api/integrations?customer=warm-up")
        http("POST", f"{self.page}/api/connect/link?customer=warm-up", {})
        status, _ = http("POST", f"{self.page}/api/connect/complete?customer=warm-up", {"token": "warm-up"})
        expect(status == 400, f"a made-up token is refused: {status}")
        for kind in ("integration-created", "connection-flow-failed"):
            status, _ = http("POST", f"{self.functions}/{kind}/", {})
            expect(status == 401, f"{kind} unsigned: {status}")
        say(f"functions compiled and warm in {time.monotonic() - started:.0f} s")


def watch_answers(page):
    """Every answer the page gets from the stand-in backend, kept to check what it saw."""
    seen = []

    def keep(resp):
        if "/api/" in resp.url:
            try:
                seen.append(resp.text())
            except Exception:  # noqa: BLE001 - an aborted request has no body
                pass

    page.on("response", keep)
    return seen


def nothing_secret(local, page, seen):
    """Neither the page nor any answer it got holds an integration id or a token digest."""
    secrets_ = [r["integration_id"] for r in local.rows()] + [r["connect_token_sha256"] for r in local.rows()
                                                                if r.get("connect_token_sha256")]
    for text in seen + [page.content()]:
        for s in secrets_:
            expect(s not in text, f"the page saw {s!r}: {text[:300]}")
        expect("integration_id" not in text and "connect_token_sha256" not in text, f"row fields on the page: {text[:300]}")


def open_connect(page, local, customer):
    """The page of `customer`, Connect opened: the sandbox's frame (the page under its
    Content-Security-Policy, which lets frames come only from Kombo Connect's origins: the
    flow working shows the policy lets Kombo's SDK and the sandbox run)."""
    resp = page.goto(f"{local.page}/?customer={customer}")
    policy = resp.headers.get("content-security-policy", "")
    expect(f"frame-src https://connect.kombo.dev {local.kombo}" in policy and "script-src 'self' 'sha256-" in policy,
           f"the page's Content-Security-Policy: {policy!r}")
    page.locator("#connect").click()
    frame = page.frame_locator("iframe")
    frame.locator("#succeed").wait_for(timeout=WAIT_MS)
    return frame


def sent(local, kind, before):
    """The webhooks of `kind` the sandbox sent after the first `before`."""
    return [w for w in local.webhooks()[before:] if w["type"] == kind]


def success_with_delayed_webhook(page, local):
    from playwright.sync_api import expect as see

    seen = watch_answers(page)
    before = len(local.webhooks())
    frame = open_connect(page, local, "42")
    frame.locator("#webhook-delay").fill("8")
    frame.locator("#succeed").click()
    see(page.locator("#status")).to_have_text("Connected: workday", timeout=WAIT_MS)
    created = sent(local, "integration-created", before)
    expect(len(created) == 1 and created[0]["status"] is None,
           f"the page said connected before the webhook arrived: {created}")
    rows = local.rows("42")
    expect(len(rows) == 1, f"one row for customer 42: {rows}")
    expect(rows[0]["created_event_id"].startswith("connect:"), f"stored by the completion: {rows[0]}")
    see(page.locator("#integrations")).to_contain_text("workday — ACTIVE Working.", timeout=WAIT_MS)
    nothing_secret(local, page, seen)
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    hook = wait_until("the delayed webhook", lambda: [w for w in sent(local, "integration-created", before)
                                                        if w["status"] is not None])[0]
    expect(hook["status"] == 200 and json.loads(hook["answer"])["outcome"] == "already_stored",
           f"the webhook answered as a duplicate: {hook}")
    rows = local.rows("42")
    expect(len(rows) == 1 and rows[0].get("category") == "LMS", f"still one row, filled in: {rows}")
    expect(local.alerts() == [], "no notice")


def success_without_webhook(page, local):
    from playwright.sync_api import expect as see

    before = len(local.webhooks())
    frame = open_connect(page, local, "45")
    frame.locator("#webhook-delay").fill("never")
    frame.locator("#succeed").click()
    see(page.locator("#status")).to_have_text("Connected: workday", timeout=WAIT_MS)
    created = sent(local, "integration-created", before)
    expect(len(created) == 1 and created[0]["status"] == "not sent", f"the webhook was lost: {created}")
    rows = local.rows("45")
    expect(len(rows) == 1 and rows[0]["status"] == "ACTIVE", f"the row exists anyway: {rows}")
    expect(local.alerts() == [], "no notice")


def fail_then_succeed(page, local):
    from playwright.sync_api import expect as see

    before = len(local.webhooks())
    frame = open_connect(page, local, "44")
    frame.locator("#fail").click()
    see(frame.locator("#status")).to_contain_text("The connection failed", timeout=WAIT_MS)
    failed = wait_until("the failure's webhook", lambda: [w for w in sent(local, "connection-flow-failed", before)
                                                            if w["status"] is not None])
    expect(failed[0]["status"] == 200 and json.loads(failed[0]["answer"])["outcome"] == "alerted",
           f"the failure paged: {failed}")
    frame.locator("#succeed").click()
    see(page.locator("#status")).to_have_text("Connected: workday", timeout=WAIT_MS)
    wait_until("the create's webhook", lambda: [w for w in sent(local, "integration-created", before)
                                                if w["status"] is not None])
    subjects = sorted(wait_until("two alerts", lambda: local.seen_alerts.extend(local.alerts())
                                 or (len(local.seen_alerts) >= 2 and local.seen_alerts)))
    local.seen_alerts = []
    expect(subjects == ["Kombo connection failed: Acme, Inc. (workday LMS)",
                        "Resolved: Acme, Inc. connected workday after 1 failed attempt"],
           f"one page, one resolved notice: {subjects}")
    time.sleep(1)
    expect(local.alerts() == [], "nothing more")


def close_cancels(page, local):
    from playwright.sync_api import expect as see

    completions = []
    page.on("request", lambda r: completions.append(r.url) if "/api/connect/complete" in r.url else None)
    lookups = len(local.token_lookups())
    frame = open_connect(page, local, "46")
    frame.locator("#close").click()
    see(page.locator("#status")).to_have_text("Cancelled: nothing was connected.", timeout=WAIT_MS)
    expect(page.locator("iframe").count() == 0, "the SDK removed its frame")
    expect(completions == [] and len(local.token_lookups()) == lookups, "the completion route was never called")
    expect(local.rows("46") == [], "nothing stored")


def second_click_while_open(page, local):
    from playwright.sync_api import expect as see

    frame = open_connect(page, local, "47")
    # The frame covers the page: a second click comes from a script (a double-click, a
    # keyboard shortcut) rather than the pointer.
    page.evaluate("document.getElementById('connect').click()")
    see(page.locator("#notice")).to_have_text("Kombo Connect is already open: finish or close it first.",
                                              timeout=WAIT_MS)
    expect(page.locator("iframe").count() == 1, "one flow")
    frame.locator("#close").click()
    see(page.locator("#status")).to_have_text("Cancelled: nothing was connected.", timeout=WAIT_MS)


def token_replayed_for_another_customer(page, local):
    captured = []

    def hold(route):
        captured.append(route.request.post_data_json["token"])
        route.abort()

    page.route("**/api/connect/complete**", hold)
    frame = open_connect(page, local, "48")
    frame.locator("#webhook-delay").fill("never")
    frame.locator("#succeed").click()
    token = wait_until("the activation token", lambda: captured, page=page)[0]
    rows_before = local.rows()
    status, body = http("POST", f"{local.page}/api/connect/complete?customer=99", {"token": token})
    expect(status == 403 and body["error"]["code"] == "integration_of_another_customer", f"{status} {body}")
    expect(local.rows() == rows_before, "nothing written")
    expect(local.rows("99") == [] and local.rows("48") == [], "no row for either customer")


def connected(page, local, customer, unfinished=False):
    """`customer` connected through the page, the webhook delivered: its one row."""
    from playwright.sync_api import expect as see

    before = len(local.webhooks())
    frame = open_connect(page, local, customer)
    if unfinished:
        frame.locator("#setup-unfinished").check()
    frame.locator("#succeed").click()
    see(page.locator("#status")).to_have_text("Connected: workday", timeout=WAIT_MS)
    wait_until("the create's webhook", lambda: [w for w in sent(local, "integration-created", before)
                                                if w["status"] is not None])
    rows = local.rows(customer)
    expect(len(rows) == 1, f"one row for customer {customer}: {rows}")
    return rows[0]


def reconnect_an_invalid_integration(page, local):
    from playwright.sync_api import expect as see

    seen = watch_answers(page)
    row = connected(page, local, "50")
    integration = row["integration_id"]
    before = len(local.webhooks())
    # Kombo marks it INVALID (three days of failing logins, here at once): its webhook.
    http("PUT", f"{local.kombo}/__integrations/{integration}", {"status": "INVALID", "webhook": True})
    hook = wait_until("the INVALID webhook", lambda: [w for w in sent(local, "integration-state-changed", before)
                                                      if w["status"] is not None])[0]
    expect(json.loads(hook["answer"])["outcome"] == "state_recorded_alerted", f"INVALID paged: {hook}")
    page_alert = wait_until("the INVALID page", lambda: local.seen_alerts.extend(local.alerts()) or local.seen_alerts)
    local.seen_alerts = []
    expect(page_alert == ["Kombo integration invalid: Acme, Inc. (workday LMS)"], f"one page: {page_alert}")
    page.goto(f"{local.page}/?customer=50")
    see(page.locator("#integrations")).to_contain_text("workday — INVALID Its login no longer works", timeout=WAIT_MS)
    page.locator("button.repair").click()
    frame = page.frame_locator("iframe")
    see(frame.locator("#succeed")).to_have_text("Reconnect", timeout=WAIT_MS)
    frame.locator("#succeed").click()
    see(page.locator("#status")).to_have_text("Reconnect: workday works again", timeout=WAIT_MS)
    see(page.locator("#integrations")).to_contain_text("workday — ACTIVE Working.", timeout=WAIT_MS)
    rows = local.rows("50")
    expect(len(rows) == 1 and rows[0]["integration_id"] == integration, f"the same integration, no second: {rows}")
    expect(rows[0]["state"] == "ACTIVE" and rows[0]["usable"] is True and "unusable_reason" not in rows[0],
           f"usable again: {rows[0]}")
    notices = wait_until("the recovered notice", lambda: local.seen_alerts.extend(local.alerts()) or local.seen_alerts)
    local.seen_alerts = []
    expect(notices == ["Recovered: Acme, Inc. (workday LMS) is ACTIVE again"], f"one notice: {notices}")
    relinks = [r for r in http("GET", f"{local.kombo}/__requests")[1] if r["path"].endswith("/relink")]
    expect(len(relinks) == 1 and relinks[0]["body"] == {"link_type": "EMBEDDED"}, f"one relink: {relinks}")
    time.sleep(1)
    expect(local.alerts() == [], "nothing more")
    nothing_secret(local, page, seen)


def finish_an_unfinished_setup(page, local):
    from playwright.sync_api import expect as see

    seen = watch_answers(page)
    row = connected(page, local, "51", unfinished=True)
    expect(row.get("setup_status") == "INCOMPLETE" and row["usable"] is False
           and row.get("unusable_reason") == "setup_incomplete", f"not usable yet: {row}")
    page.goto(f"{local.page}/?customer=51")
    see(page.locator("#integrations")).to_contain_text("Its setup is not finished.", timeout=WAIT_MS)
    page.locator("button.repair").click()
    frame = page.frame_locator("iframe")
    see(frame.locator("#succeed")).to_have_text("Finish setup", timeout=WAIT_MS)
    frame.locator("#succeed").click()
    see(page.locator("#status")).to_have_text("Finish setup: workday works again", timeout=WAIT_MS)
    rows = local.rows("51")
    expect(len(rows) == 1 and rows[0]["setup_status"] == "COMPLETED" and rows[0]["usable"] is True,
           f"setup completed, usable: {rows}")
    expect(local.alerts() == [], "no notice")
    nothing_secret(local, page, seen)


def warn_of_a_failing_login_before_invalid(page, local):
    """Kombo's earliest warning, raised and resolved from the sandbox's dashboard: one page,
    the customer's page offers the reconnection while the integration is still ACTIVE, one
    resolved notice, and the warning gone."""
    from playwright.sync_api import expect as see

    seen = watch_answers(page)
    row = connected(page, local, "52")
    integration = row["integration_id"]

    def issue_webhook(before, outcome):
        hook = wait_until("the issue webhook", lambda: [w for w in sent(local, "issue-status-changed", before)
                                                         if w["status"] is not None])[0]
        expect(json.loads(hook["answer"])["outcome"] == outcome, f"{outcome}: {hook}")

    def alerts(what):
        got = wait_until(what, lambda: local.seen_alerts.extend(local.alerts()) or local.seen_alerts)
        local.seen_alerts = []
        return got

    page.goto(f"{local.kombo}/__dashboard")
    before = len(local.webhooks())
    page.locator(f'li[data-id="{integration}"] button.raise').click()
    issue_webhook(before, "alerted")
    paged = alerts("the issue page")
    expect(paged == ["Kombo issue: Authentication failed: Acme, Inc. (workday LMS)"], f"one page: {paged}")
    page.goto(f"{local.page}/?customer=52")
    see(page.locator("#integrations")).to_contain_text(
        "workday — ACTIVE Its login is failing: reconnect it before the data stops.", timeout=WAIT_MS)
    see(page.locator("button.repair")).to_have_text("Reconnect")
    rows = local.rows("52")
    issues = [v for k, v in rows[0].items() if k.startswith("issue#")]  # maps, as stored
    expect(rows[0]["usable"] is True and [i["type"] for i in issues] == [{"S": "integration.authentication_failed"}],
           f"still usable, the issue on the row: {rows}")
    page.goto(f"{local.kombo}/__dashboard")
    before = len(local.webhooks())
    page.locator(f'li[data-id="{integration}"] button.resolve').click()
    issue_webhook(before, "issue_resolved_notified")
    resolved = alerts("the resolved notice")
    expect(resolved == ["Resolved: Kombo issue Authentication failed: Acme, Inc. (workday LMS)"],
           f"one notice: {resolved}")
    page.goto(f"{local.page}/?customer=52")
    see(page.locator("#integrations")).to_contain_text("workday — ACTIVE Working.", timeout=WAIT_MS)
    time.sleep(1)
    expect(local.alerts() == [], "nothing more")
    nothing_secret(local, page, seen)


SCENARIOS = [success_with_delayed_webhook, success_without_webhook, fail_then_succeed, close_cancels,
             second_click_while_open, token_replayed_for_another_customer, reconnect_an_invalid_integration,
             finish_an_unfinished_setup, warn_of_a_failing_login_before_invalid]


def main():
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            raise SystemExit("[browser] FAILED: no Chromium (scripts/deps.sh browser installs it as root)")
        print("SKIPPED (no chromium)")
        return
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    local = Local()
    passed, failed = 0, 0
    try:
        local.warm_up()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
            for scenario in SCENARIOS:
                t0 = time.monotonic()
                context = browser.new_context(viewport={"width": 1100, "height": 760})
                page = context.new_page()
                try:
                    scenario(page, local)
                    passed += 1
                    say(f"ok   {scenario.__name__} ({time.monotonic() - t0:.1f} s)")
                except Exception:  # noqa: BLE001 - every failure is reported, then counted
                    failed += 1
                    say(f"FAIL {scenario.__name__}\n{traceback.format_exc()}")
                finally:
                    context.close()
            browser.close()
    finally:
        local.stop()
    say(f"{time.monotonic() - started:.0f} s in all; screenshot: {os.path.relpath(SCREENSHOT, ROOT)}")
    print(f"{passed} passed, {failed} failed")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
