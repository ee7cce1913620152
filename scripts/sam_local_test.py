#!/usr/bin/env python3
"""The user's `sam local` path, for real: `sam build`, then every sample in events/ through
`sam local invoke` with `--env-vars events/env.json`, and signed requests through
`sam local start-api` with a real HTTP client (scripts/send.py), checking each answer and
its effects (mapping rows, alerts, the requests the fake Kombo received).

    sam_local_test.py

The container engine: Docker when `docker info` answers (Docker Desktop, Docker Engine),
else podman (`podman system service` as DOCKER_HOST, scripts/containers.conf). The Lambda
base image: the engine's own copy, else a pull, else (no registry reachable, as in CI) a
Debian stand-in built with mmdebstrap and tagged with the image's name. No engine at all:
one `SKIPPED (no container engine)` line and exit 0, unless CI is set, where that fails.

The functions are built for this machine's architecture (the template's Architecture
parameter) in SAM's debug mode (SAM_BUILD_MODE=debug), into .local/sam/build so that a
`make sam-build` in .aws-sam is left alone. DynamoDB Local, moto and the fake Kombo listen
on all interfaces on free ports for the length of the run (a container reaches the host
through its bridge, not loopback); events/env.json is used with only those ports changed.
"""

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
WORK = os.path.join(ROOT, ".local", "sam")
sys.path.insert(0, HERE)
import local_aws  # noqa: E402
from events import LOCAL_SECRET  # noqa: E402

SAM = os.path.join(ROOT, ".venv", "sam", "bin", "sam")
REGION = "us-east-1"
# The fold window of this run (env.json leaves the template's 15 minutes): the second failure
# folds into the first's window, and the sweep, invoked once it closed, reports it.
FOLD_WINDOW_S = 20
# The fleet window too: three customers of workday fail within it (an incident opens), and the
# sweep, invoked once it passed without a failure, ends the incident.
FLEET_WINDOW_S = 20
# The ports events/env.json names (make dev's defaults); the run swaps in its own.
ENV_JSON_PORTS = {"aws": 4566, "dynamodb": 8000, "kombo": 4567}

CREATED_ID = "successfactors:CBNMt7dSNCzBdnRTx87dev4E"
UNASSIGNED_ID = "workday:8d1hpPsbjxUkoCoa1veLZGe5"
DELETED_ID = "workday:CBNMt7dSNCzBdnRTx87dev4E"
DUPLICATE_ID = "successfactors:Qx7Lm2Nw9Rt4Kp8Zv3Hs6Jd"
ISSUE_ATTRIBUTE = "issue#iss_8Hq2mXv7RkLp3Tz9"

# Every sample event, in the order a lifecycle runs them: (function, event file, status,
# outcome or error code the body must carry).
INVOKES = [
    ("IntegrationCreatedFunction", "integration-created.json", 200, "stored"),
    # The embedded flow's activation token for the same integration: the two ways in meet.
    ("ConnectionCompletionFunction", "connection-completion.json", 200, "already_stored"),
    ("IntegrationCreatedFunction", "integration-created-unassigned.json", 200, "stored_unassigned"),
    ("AssignCustomerFunction", "assign-customer.json", 200, "assigned"),
    # The same customer connects the same tool again: stored, and one "duplicate" notice.
    ("IntegrationCreatedFunction", "integration-created-duplicate.json", 200, "stored"),
    # Kombo's earliest warning: the login failing (a page, on the row), its resolution (a
    # notice), an issue of the whole environment (a page).
    ("IssueStatusChangedFunction", "issue-status-changed.json", 200, "alerted"),
    ("IssueStatusChangedFunction", "issue-status-changed-resolved.json", 200, "issue_resolved_notified"),
    ("IssueStatusChangedFunction", "issue-status-changed-environment.json", 200, "alerted"),
    ("IntegrationStateChangedFunction", "integration-state-changed.json", 200, "state_recorded_alerted"),
    ("CustomerIntegrationsFunction", "customer-integrations.json", 200, None),
    ("ConnectionLinkFunction", "connection-link.json", 200, None),
    # A link for the tool the customer has: refused, naming it.
    ("ConnectionLinkFunction", "connection-link-already-connected.json", 409, "already_connected"),
    # The INVALID integration above, repaired: a reconnection link, a setup link.
    ("ReconnectionLinkFunction", "reconnection-link.json", 200, None),
    ("SetupLinkFunction", "setup-link.json", 200, None),
    ("ConnectionFlowFailedFunction", "connection-flow-failed.json", 200, "alerted"),
    ("ConnectionFlowFailedFunction", "connection-flow-failed-again.json", 200, "folded"),
    ("ConnectionFlowFailedFunction", "connection-flow-failed-customer-2.json", 200, "alerted"),
    ("ConnectionFlowFailedFunction", "connection-flow-failed-customer-3.json", 200, "incident_opened"),
    ("ConnectionFlowFailedFunction", "connection-flow-failed-forged.json", 401, "unauthorized"),
    ("DeleteIntegrationFunction", "delete-integration.json", 200, "deleted"),
    ("IntegrationDeletedFunction", "integration-deleted-wrong-type.json", 422, "wrong_event_type"),
    ("IntegrationDeletedFunction", "integration-deleted.json", 200, "deleted"),
    # The reconcile function answers its report, not an HTTP response (status None).
    ("ReconcileFunction", "reconcile-dry-run.json", None, None),
    ("ReconcileFunction", "reconcile-scheduled.json", None, None),
    ("FailureSweepFunction", "failure-sweep-scheduled.json", None, None),
]


def say(msg):
    print(f"[sam-local] {msg}", flush=True)


def fail(msg):
    raise SystemExit(f"[sam-local] FAILED: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def wait_port(port, what, child=None, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if (child is not None and child.poll() is not None) or time.monotonic() > deadline:
                fail(f"{what} did not start on port {port}")
            time.sleep(0.2)


class Children:
    """Every process this run starts, stopped (with its process group) when it ends."""

    def __init__(self):
        self.procs = []

    def start(self, argv, log, **kw):
        out = open(os.path.join(WORK, log), "w")
        p = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def docker_works(env):
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def engine(children):
    """(name, environment for SAM, address containers reach this host at) or None."""
    env = dict(os.environ)
    if docker_works(env):
        # Docker Engine on Linux resolves host-gateway; Docker Desktop has the name built in.
        return "docker", env, "host-gateway"
    if not shutil.which("podman"):
        return None
    env["CONTAINERS_CONF"] = os.path.join(HERE, "containers.conf")
    # podman's network helper (netavark) runs iptables from the sbin folders, which a
    # non-login PATH (CI's, say) may lack: then every container start fails with
    # "netavark: No such file or directory".
    for sbin in ("/usr/sbin", "/sbin"):
        if sbin not in env.get("PATH", "").split(os.pathsep):
            env["PATH"] = env.get("PATH", "") + os.pathsep + sbin
    sock = os.path.join(WORK, "podman.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    children.start(["podman", "system", "service", "--time=0", f"unix://{sock}"], "podman.log", env=env)
    deadline = time.monotonic() + 30
    while not os.path.exists(sock):
        if time.monotonic() > deadline:
            fail("podman system service did not start; see .local/sam/podman.log")
        time.sleep(0.1)
    env["DOCKER_HOST"] = f"unix://{sock}"
    net = json.loads(subprocess.run(["podman", "network", "inspect", "podman"], env=env, check=True,
                                    capture_output=True, text=True).stdout)
    # podman 4.3 does not resolve host-gateway: its bridge's gateway address is the host.
    return "podman", env, net[0]["subnets"][0]["gateway"]


def ensure_image(name, env, arch):
    image = f"public.ecr.aws/lambda/provided:al2023-{arch}"
    cli = [name]
    if subprocess.run(cli + ["image", "inspect", image], env=env, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        return image
    say(f"pulling {image}")
    if subprocess.run(cli + ["pull", image], env=env, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, timeout=600).returncode == 0:
        return image
    if name != "podman" or not shutil.which("mmdebstrap"):
        fail(f"{image} is not present and cannot be pulled")
    # No registry: a Debian root file system with CA certificates under the image's name.
    # SAM adds its own Runtime Interface Emulator on top, as it does on the real image.
    say(f"no registry: building a Debian stand-in for {image} (mmdebstrap)")
    rootfs = os.path.join(WORK, "rootfs.tar")
    subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "--include=ca-certificates", "bookworm", rootfs],
                   check=True)
    subprocess.run(cli + ["import", "--change", "WORKDIR /var/task", rootfs, image], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    os.unlink(rootfs)
    return image


def sam_build(env, arch):
    build_dir = os.path.join(WORK, "build")
    say(f"sam build ({arch}, debug) into {os.path.relpath(build_dir, ROOT)}")
    start = time.monotonic()
    subprocess.run([SAM, "build", "--beta-features", "--build-dir", build_dir,
                    "--parameter-overrides", f"Architecture={arch}", "AllowedBackendCallers=*"],
                   cwd=ROOT, env=dict(env, SAM_BUILD_MODE="debug", CARGO_PROFILE_DEV_DEBUG="0"), check=True,
                   stdout=open(os.path.join(WORK, "build.log"), "w"), stderr=subprocess.STDOUT)
    say(f"sam build took {time.monotonic() - start:.0f} s")
    return os.path.join(build_dir, "template.yaml")


def local_env_json(ports):
    """events/env.json with the run's ports instead of make dev's defaults."""
    with open(os.path.join(ROOT, "events", "env.json")) as f:
        text = f.read()
    for key, default in ENV_JSON_PORTS.items():
        text = text.replace(f"host.docker.internal:{default}", f"host.docker.internal:{ports[key]}")
    env = json.loads(text)
    for function in ("ConnectionFlowFailedFunction", "FailureSweepFunction"):
        env[function]["ALERT_FOLD_WINDOW_SECONDS"] = str(FOLD_WINDOW_S)
        env[function]["FLEET_WINDOW_SECONDS"] = str(FLEET_WINDOW_S)
    path = os.path.join(WORK, "env.json")
    with open(path, "w") as f:
        json.dump(env, f, indent=2)
    return path


def check_env_declarations(env_json):
    """Every function of the template is in env.json with every variable it declares:
    SAM applies --env-vars only to declared variables, so a drift would leave a local run
    pointed at real AWS."""
    template = local_aws.load_template()
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    with open(env_json) as f:
        given = json.load(f)
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        declared = set(globals_env) | set(res["Properties"].get("Environment", {}).get("Variables", {}))
        for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_DYNAMODB"):
            if var not in declared:
                fail(f"{logical} does not declare {var}: sam local would ignore env.json's endpoint")
            if not given.get(logical, {}).get(var, "").startswith("http://host.docker.internal:"):
                fail(f"events/env.json gives {logical} no local {var}")
        # Settings whose template defaults suit a local run as they are.
        defaults = {"RUST_LOG", "TOMBSTONE_RETENTION_DAYS", "ALERT_FOLD_WINDOW_SECONDS",
                    "FLEET_INCIDENT_CUSTOMERS", "FLEET_WINDOW_SECONDS", "FLEET_INCIDENT_MAX_HOURS",
                    "ISSUE_PAGE_TYPES", "SETUP_NOTICE_HOURS"}
        missing = declared - set(given.get(logical, {})) - defaults
        if missing:
            fail(f"events/env.json misses {sorted(missing)} for {logical}")


def body_of(answer):
    try:
        return json.loads(answer.get("body") or "{}")
    except ValueError:
        return {}


def invoke(env, template, env_json, host, arch, function, event):
    argv = [SAM, "local", "invoke", function, "-t", template, "-e", os.path.join("events", event),
            "--env-vars", env_json, "--region", REGION, "--skip-pull-image",
            "--add-host", f"host.docker.internal:{host}",
            "--parameter-overrides", f"Architecture={arch}", "AllowedBackendCallers=*"]
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if r.returncode != 0 or not lines:
        fail(f"sam local invoke {function} {event} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return json.loads(lines[-1]), r.stderr


def outcome(body):
    return body.get("outcome") or body.get("error", {}).get("code")


class Effects:
    def __init__(self, endpoints, state):
        self.ddb = local_aws.client("dynamodb", endpoints["dynamodb"])
        self.sqs = local_aws.client("sqs", endpoints["aws"])
        self.table = state["resources"]["MappingsTable"]
        self.tables = [state["resources"]["MappingsTable"], state["resources"]["IdempotencyTable"]]
        self.queue = state["alert_queue_url"]
        self.kombo = endpoints["kombo"]
        self.alerts = []

    def row(self, integration_id):
        item = self.ddb.get_item(TableName=self.table, Key={"integration_id": {"S": integration_id}},
                                 ConsistentRead=True).get("Item")
        return {k: list(v.values())[0] for k, v in (item or {}).items()}

    def snapshot(self):
        """Every item of both tables (rows, claims, failure records), for "changed nothing"."""
        items = []
        for table in self.tables:
            for page in self.ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                items += [json.dumps(i, sort_keys=True) for i in page["Items"]]
        return sorted(items)

    def new_alerts(self):
        got = []
        for _ in range(3):
            msgs = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=0).get("Messages", [])
            for m in msgs:
                got.append(json.loads(m["Body"]).get("Subject"))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])
            if not msgs:
                break
        self.alerts += got
        return got

    def kombo_requests(self):
        with urllib.request.urlopen(f"{self.kombo}/__requests", timeout=5) as r:
            return [(q["method"], q["path"]) for q in json.load(r)]


def expect(cond, msg):
    if not cond:
        fail(msg)


def check_report(fx, event, report, stderr):
    if event == "failure-sweep-scheduled.json":
        # The window the first failure opened closed with the second folded into it; that
        # customer is one of the fleet incident's, so its summary is folded into the
        # incident, which a whole fleet window without a failure ended.
        if report.get("summaries") != 0 or report.get("folded_into_incidents") != 1 \
                or report.get("incidents_ended") != 1 or report.get("failures") != 0 \
                or report.get("stopped") is not None:
            fail(f"{event}: unexpected report {report}\n{stderr}")
        alerts = fx.new_alerts()
        expect(alerts == ["Over: Kombo connections failing for workday (3 customers)"],
               f"{event}: the incident's end expected: {alerts}")
        return
    check_reconcile(fx, event, report, stderr)


def check_reconcile(fx, event, report, stderr):
    """The reconcile run after the lifecycle: three live rows (the assigned workday
    integration, the duplicate and 51007's imported one, ACTIVE in the fake Kombo too), the
    others tombstones it does not ask about."""
    if report.get("checked") != 3 or report.get("in_step") != 3 or report.get("failures") != 0 \
            or report.get("stopped") is not None:
        fail(f"{event}: unexpected report {report}\n{stderr}")
    if report.get("dry_run") != (event == "reconcile-dry-run.json"):
        fail(f"{event}: dry_run is {report.get('dry_run')}")
    expect(fx.new_alerts() == [], f"{event} alerted")
    expect(fx.row(UNASSIGNED_ID).get("origin_id") == "48213", "the reconcile run changed a row in step")


def check_effects(fx, event, body, before):
    """What each sample must have changed, read back from the local servers (`before`: both
    tables before it)."""
    alerts = fx.new_alerts()
    if event == "integration-created.json":
        row = fx.row(CREATED_ID)
        expect(row.get("origin_id") == "36123" and row.get("status") == "ACTIVE", f"row after create: {row}")
        expect(alerts == [], f"a create of a known customer alerted: {alerts}")
    elif event == "connection-completion.json":
        row = fx.row(CREATED_ID)
        expect(body.get("integration", {}).get("integration_id") == CREATED_ID, f"answer: {body}")
        expect(row.get("created_event_id") != f"connect:{CREATED_ID}" and row.get("category") == "LMS",
               f"the webhook's row, unchanged: {row}")
        expect(alerts == [], f"the completion alerted: {alerts}")
        expect(any(p.startswith("/v1/connect/integration-by-token/") for _, p in fx.kombo_requests()),
               "Kombo was not asked about the token")
    elif event == "integration-created-unassigned.json":
        expect("origin_id" not in fx.row(UNASSIGNED_ID), f"unassigned row: {fx.row(UNASSIGNED_ID)}")
        expect(len(alerts) == 1, f"one 'unassigned' notice expected: {alerts}")
    elif event == "integration-created-duplicate.json":
        expect(fx.row(DUPLICATE_ID).get("origin_id") == "36123", f"the second row: {fx.row(DUPLICATE_ID)}")
        expect(alerts == ["Kombo duplicate integration: Acme, Inc. (successfactors LMS)"],
               f"one duplicate notice expected: {alerts}")
    elif event == "issue-status-changed.json":
        issue = fx.row(CREATED_ID).get(ISSUE_ATTRIBUTE) or {}  # a map: {name: {type: value}}
        expect(issue.get("type") == {"S": "integration.authentication_failed"} and "resolved_ms" not in issue,
               f"the open issue on the row: {fx.row(CREATED_ID)}")
        expect(alerts == ["Kombo issue: Authentication failed: Acme, Inc. (successfactors LMS)"],
               f"one issue page expected: {alerts}")
    elif event == "issue-status-changed-resolved.json":
        expect("resolved_ms" in (fx.row(CREATED_ID).get(ISSUE_ATTRIBUTE) or {}), f"resolved: {fx.row(CREATED_ID)}")
        expect(len(alerts) == 1 and alerts[0].startswith("Resolved: Kombo issue Authentication failed"),
               f"one resolved notice expected: {alerts}")
    elif event == "issue-status-changed-environment.json":
        expect(alerts == ["Kombo environment issue: Webhook deliveries failing"], f"one environment page: {alerts}")
    elif event == "assign-customer.json":
        expect(fx.row(UNASSIGNED_ID).get("origin_id") == "48213", f"assigned row: {fx.row(UNASSIGNED_ID)}")
    elif event == "integration-state-changed.json":
        row = fx.row(CREATED_ID)
        expect(row.get("state") == "INVALID", f"row after the state change: {row}")
        expect(len(alerts) == 1 and "invalid" in alerts[0], f"one INVALID page expected: {alerts}")
    elif event == "customer-integrations.json":
        ids = sorted(i["integration_id"] for i in body.get("integrations", []))
        expect(ids == sorted([CREATED_ID, DUPLICATE_ID]), f"the customer's integrations: {body}")
    elif event == "connection-link.json":
        expect("/connect?token=link-36123-" in body.get("link", ""), f"link: {body}")
        expect(("POST", "/v1/connect/create-link") in fx.kombo_requests(), "Kombo got no create-link")
    elif event in ("reconnection-link.json", "setup-link.json"):
        route = "relink" if event == "reconnection-link.json" else "setup-link"
        expect(body.get("integration_id") == CREATED_ID and f"/connect?token={route}-" in body.get("link", ""),
               f"link: {body}")
        expect(("POST", f"/v1/integrations/{CREATED_ID}/{route}") in fx.kombo_requests(), f"Kombo got no {route}")
        expect(alerts == [] and fx.snapshot() == before, f"{event} changed something: {alerts}")
    elif event == "connection-flow-failed.json":
        expect(len(alerts) == 1, f"one connection-flow-failed page expected: {alerts}")
    elif event == "connection-flow-failed-again.json":
        expect(alerts == [], f"the second failure in the window paged: {alerts}")
    elif event == "connection-flow-failed-customer-2.json":
        expect(alerts == ["Kombo connection failed: Beta GmbH (workday LMS)"], f"the second customer's page: {alerts}")
    elif event == "connection-flow-failed-customer-3.json":
        expect(alerts == [f"Kombo connections failing for workday: 3 customers in {FLEET_WINDOW_S} s"],
               f"the third customer opens the fleet incident: {alerts}")
    elif event == "delete-integration.json":
        expect(fx.row(CREATED_ID).get("status") == "DELETED", f"tombstone: {fx.row(CREATED_ID)}")
        expect(("DELETE", f"/v1/integrations/{CREATED_ID}") in fx.kombo_requests(), "Kombo got no DELETE")
    elif event == "integration-deleted.json":
        expect(fx.row(DELETED_ID).get("status") == "DELETED", f"tombstone: {fx.row(DELETED_ID)}")
    else:
        # The refused samples change nothing: no alert, no item of either table.
        expect(alerts == [], f"{event} alerted: {alerts}")
        expect(fx.snapshot() == before, f"{event} changed the tables")


def start_api(children, env, template, env_json, host, arch, fx):
    port = free_port()
    say(f"sam local start-api on 127.0.0.1:{port}")
    api = children.start([SAM, "local", "start-api", "-t", template, "--host", "127.0.0.1", "--port", str(port),
                          "--env-vars", env_json, "--region", REGION, "--skip-pull-image",
                          "--add-host", f"host.docker.internal:{host}",
                          "--parameter-overrides", f"Architecture={arch}", "AllowedBackendCallers=*"], "start-api.log", env=env)
    wait_port(port, "sam local start-api (see .local/sam/start-api.log)", api, seconds=120)
    base = f"http://127.0.0.1:{port}"
    send = [sys.executable, os.path.join(HERE, "send.py"), "--api"]

    def run(*args):
        r = subprocess.run(send + list(args), cwd=ROOT, capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, LOCAL_STATE=os.path.join(WORK, "no-state.json")))
        line = next((x for x in r.stdout.splitlines() if " -> " in x), "")
        return line, r

    # A signed sample webhook, as Kombo would POST it.
    line, r = run("events/integration-created-unassigned.json", base)
    expect("-> 200" in line, f"signed POST via start-api: {r.stdout}{r.stderr}")
    # A new signed body: a row appears.
    body = {
        "id": "samLocalStartApi0000001",
        "type": "integration-created",
        "data": {"id": "personio:StartApiRoundTrip01", "tool": "personio", "category": "HRIS",
                 "end_user": {"origin_id": "77001", "creator_email": "user@example.com",
                              "organization_name": "Start API, Inc."},
                 "created_at": "2026-11-27T12:00:00.000Z"},
    }
    path = os.path.join(WORK, "start-api-body.json")
    with open(path, "w") as f:
        json.dump(body, f)
    line, r = run(path, base)  # send.py signs a plain body with the fake local secret
    expect("-> 200" in line and '"stored"' in line, f"new signed POST via start-api: {r.stdout}{r.stderr}")
    expect(fx.row("personio:StartApiRoundTrip01").get("origin_id") == "77001", "start-api POST wrote no row")
    # The forged sample is refused there too.
    line, r = run("events/connection-flow-failed-forged.json", base)
    expect("-> 401" in line, f"forged POST via start-api: {r.stdout}{r.stderr}")
    # A backend route answers without IAM: SAM does not emulate AWS_IAM authorization.
    line, r = run("events/customer-integrations.json", base)
    expect("-> 200" in line and "personio" not in line, f"backend GET via start-api: {r.stdout}{r.stderr}")
    say("start-api: signed POST stored, new body stored, forged 401, backend GET 200")


def main():
    os.makedirs(WORK, exist_ok=True)
    children = Children()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        found = engine(children)
        if found is None:
            if os.environ.get("CI"):
                fail("no container engine (Docker or podman) and CI is set: scripts/deps.sh sam-local installs podman")
            print("SKIPPED (no container engine)", flush=True)
            return
        name, env, host = found
        arch = "arm64" if platform.machine() in ("arm64", "aarch64") else "x86_64"
        # SAM hands the container the host's credentials and region: dummy ones, so that
        # nothing here can reach a real account (letters and digits only: DynamoDB Local
        # refuses any other access key id).
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, SAM_CLI_TELEMETRY="0")
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        say(f"engine {name}, host seen from containers as {host}, {arch}")
        ensure_image(name, env, arch)
        template = sam_build(env, arch)

        ports = {k: free_port() for k in ENV_JSON_PORTS}
        moto = children.start(["moto_server", "-H", "0.0.0.0", "-p", str(ports["aws"])], "moto.log", env=env)
        ddb = children.start([sys.executable, "scripts/dynamodb_local.py", "--host", "0.0.0.0",
                              "--port", str(ports["dynamodb"])], "dynamodb_local.log")
        kombo = children.start([sys.executable, "scripts/fake_kombo.py", "--host", "0.0.0.0",
                                "--port", str(ports["kombo"])], "fake_kombo.log")
        wait_port(ports["aws"], "moto", moto)
        wait_port(ports["dynamodb"], "DynamoDB Local", ddb)
        wait_port(ports["kombo"], "the fake Kombo", kombo)
        # SAM asks STS for the account id before every run; offline that is 6 s of DNS
        # retries per invoke, so moto answers it.
        env["AWS_ENDPOINT_URL_STS"] = f"http://127.0.0.1:{ports['aws']}"
        endpoints = {"aws": f"http://127.0.0.1:{ports['aws']}", "dynamodb": f"http://127.0.0.1:{ports['dynamodb']}",
                     "kombo": f"http://127.0.0.1:{ports['kombo']}"}
        os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
        state = local_aws.create(endpoints["aws"], "local", LOCAL_SECRET, ddb_endpoint=endpoints["dynamodb"])
        fx = Effects(endpoints, state)

        env_json = local_env_json(ports)
        check_env_declarations(os.path.join(ROOT, "events", "env.json"))
        samples = sorted(f for f in os.listdir(os.path.join(ROOT, "events")) if f != "env.json")
        covered = sorted(event for _, event, _, _ in INVOKES)
        expect(samples == covered, f"events/ and this test disagree: {samples} vs {covered}")

        # Customer 51007 (the third of the fleet samples) had an integration before the
        # stack (an imported one): established, so its failure opens the tool's incident.
        fx.ddb.put_item(TableName=fx.table, Item={
            "integration_id": {"S": "bamboohr:imported-51007"}, "origin_id": {"S": "51007"},
            "tool": {"S": "bamboohr"}, "category": {"S": "HRIS"}, "status": {"S": "ACTIVE"},
            "usable": {"BOOL": True}, "organization_name": {"S": "Gamma Ltd"},
            "updated_at": {"S": "2026-11-01T00:00:00Z"}, "last_event_id": {"S": "import:51007"}})
        flow_failed_at = last_failure_at = None
        for function, event, status, want in INVOKES:
            if event == "failure-sweep-scheduled.json" and flow_failed_at is not None:
                # Until the first failure's window has closed, and a fleet window passed
                # after the last failure.
                time.sleep(max(0.0, flow_failed_at + FOLD_WINDOW_S + 1 - time.monotonic(),
                               last_failure_at + FLEET_WINDOW_S + 1 - time.monotonic()))
            start = time.monotonic()
            if event == "connection-flow-failed.json":
                flow_failed_at = start
            if event.startswith("connection-flow-failed-customer"):
                last_failure_at = time.monotonic()
            before = fx.snapshot()
            answer, stderr = invoke(env, template, env_json, host, arch, function, event)
            if status is None:
                check_report(fx, event, answer, stderr)
                say(f"invoke {function:32} {event:38} report checked {answer.get('checked')} "
                    f"({time.monotonic() - start:.1f} s)")
                continue
            body = body_of(answer)
            got = (answer.get("statusCode"), outcome(body))
            if got[0] != status or (want is not None and got[1] != want):
                fail(f"{function} {event}: expected {status} {want}, got {answer}\n{stderr}")
            check_effects(fx, event, body, before)
            say(f"invoke {function:32} {event:38} {status} {want or ''} ({time.monotonic() - start:.1f} s)")
        expect(len(fx.alerts) == 10, f"ten alerts in all expected: {fx.alerts}")

        start_api(children, env, template, env_json, host, arch, fx)
        say(f"PASSED: {len(INVOKES)} sample events through sam local invoke, 4 requests through start-api")
    finally:
        children.stop()


if __name__ == "__main__":
    main()
