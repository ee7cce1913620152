#!/usr/bin/env python3
"""Sequential AWS round trips per webhook path, measured: every AWS request made slow.

Each build's webhook binaries run under the Lambda Runtime API server (scripts/runtime_api.py)
against moto, through a proxy (scripts/fault_server.py) that holds every request DELAY ms
before forwarding it, and once more through the same proxy holding none. A path's extra time
divided by DELAY is the number of round trips it waited for, one after the other: requests
sent at once overlap and count once. Warm paths are measured in one process per function
after a warm-up event; the cold path is a fresh process's first answer (init and the
request), with its secret in the environment and from Secrets Manager.

    bench/rtt.py [--delay-ms 25] [--runs 3] [--build LABEL=DIR ...]

DIR holds the function binaries (target/release by default). Every answer is checked against
the outcome the path is meant to have. Prints a Markdown table (median of RUNS) and writes
bench/rtt.json.
    (make bench-rtt: the release build of this checkout; BASE=<git revision> adds that
    revision's build beside it, for before and after in one run)
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from events import (  # noqa: E402
    CREATED, CREATED_UNASSIGNED, DELETED, FLOW_FAILED, LOCAL_SECRET, STATE_CHANGED, api_gateway_event, sign,
)

FUNCTIONS = ["integration-created", "connection-flow-failed", "integration-state-changed", "integration-deleted"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def proxy(upstream, delay_s):
    env = dict(os.environ, FAULT_SLOW_S=str(delay_s))
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "fault_server.py"), "proxy", upstream, "slow:*"],
                         stdout=subprocess.PIPE, text=True, env=env)
    port = int(p.stdout.readline().split()[1])
    return p, f"http://127.0.0.1:{port}"


def customer(origin_id):
    return {"origin_id": origin_id, "creator_email": "user@example.com", "organization_name": "Acme, Inc."}


def created(origin_id, integration, tool="workday"):
    data = {**CREATED["data"], "id": f"{tool}:{integration}", "tool": tool, "end_user": customer(origin_id)}
    return "integration-created", {**CREATED, "id": uuid.uuid4().hex, "data": data}


def unassigned():
    data = {**CREATED_UNASSIGNED["data"], "id": f"workday:{uuid.uuid4().hex}"}
    return "integration-created", {**CREATED_UNASSIGNED, "id": uuid.uuid4().hex, "data": data}


def failed(origin_id):
    return "connection-flow-failed", {**FLOW_FAILED, "id": uuid.uuid4().hex, "data": {**FLOW_FAILED["data"], "end_user": customer(origin_id)}}


def state(integration, value, qa, at):
    data = {**STATE_CHANGED["data"], "integration_id": integration, "state": value, "qa_status": qa, "updated_at": at}
    return "integration-state-changed", {**STATE_CHANGED, "id": uuid.uuid4().hex, "data": data}


def deleted(integration):
    return "integration-deleted", {**DELETED, "id": uuid.uuid4().hex, "data": {**DELETED["data"], "id": integration}}


def scenarios():
    """Per function, in order: (label or None for a warm-up, event, the outcome it must get).
    The created function runs twice: the second after the failures, for the resolution."""
    c3 = uuid.uuid4().hex[:8]
    b = uuid.uuid4().hex
    s1 = f"successfactors:{uuid.uuid4().hex}"
    dup_create = created("c2", b)
    page = failed(c3)
    invalid = state(s1, "INVALID", "PASSED", "2026-11-20T11:00:00.000Z")
    return [
        ("integration-created", [
            (None, created("c1", uuid.uuid4().hex), "stored"),
            ("integration-created (new, no failures on record)", dup_create, "stored"),
            ("integration-created (duplicate)", dup_create, "already_stored"),
            ("integration-created without origin_id (the notice)", unassigned(), "stored_unassigned"),
        ]),
        ("connection-flow-failed", [
            (None, failed(uuid.uuid4().hex[:8]), "alerted"),
            ("connection-flow-failed (a new page)", page, "alerted"),
            ("connection-flow-failed (duplicate)", page, "already_alerted"),
            ("connection-flow-failed (folded)", failed(c3), "folded"),
        ]),
        ("integration-created", [
            (None, created("c1", uuid.uuid4().hex), "stored"),
            ("integration-created after failures (resolved notice)", created(c3, uuid.uuid4().hex), "resolved"),
        ]),
        ("integration-state-changed", [
            (None, state(f"successfactors:{uuid.uuid4().hex}", "ACTIVE", "PASSED", "2026-11-20T09:00:00.000Z"), "state_recorded"),
            ("state-changed ACTIVE (pages nobody)", state(s1, "ACTIVE", "PASSED", "2026-11-20T10:00:00.000Z"), "state_recorded"),
            ("state-changed becomes INVALID (a page)", invalid, "state_recorded_alerted"),
            ("state-changed INVALID (duplicate)", invalid, "already_alerted"),
            ("state-changed INVALID after INVALID", state(s1, "INVALID", "FAILED", "2026-11-20T12:00:00.000Z"), "state_recorded"),
            ("state-changed ACTIVE after INVALID (the notice)", state(s1, "ACTIVE", "PASSED", "2026-11-20T13:00:00.000Z"), "state_recorded_recovered"),
        ]),
        ("integration-deleted", [
            (None, deleted(f"workday:{uuid.uuid4().hex}"), "deleted"),
            ("integration-deleted", deleted(f"workday:{uuid.uuid4().hex}"), "deleted"),
        ]),
    ]


def write_event(directory, function, payload):
    body = json.dumps(payload, separators=(",", ":"))
    path = os.path.join(directory, f"{uuid.uuid4().hex}.json")
    with open(path, "w") as f:
        json.dump(api_gateway_event(function, body, sign(LOCAL_SECRET, body)), f)
    return path


def invoke(binary, env, files):
    out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "runtime_api.py"), "--name",
                          os.path.basename(binary), "--timeout", "120", binary, *files],
                         env=env, capture_output=True, text=True)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"{binary}: no result\n{out.stdout}\n{out.stderr[-3000:]}")


def outcome(response):
    body = json.loads((response.get("response") or {}).get("body") or "{}")
    return body.get("outcome") or (body.get("error") or {}).get("code")


def deploy(moto, prefix, secrets_manager):
    extra = ["--secrets-manager"] if secrets_manager else []
    created_ = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "local_aws.py"), "create", "--endpoint", moto, "--prefix", prefix, *extra],
        capture_output=True, text=True, check=True,
        env=dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"),
    )
    return json.loads(created_.stdout)["functions"]


def environment(functions, function, endpoint):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update({k: v for k, v in functions[function].items() if not k.startswith("_")})
    e.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
              "AWS_REGION": "us-east-1"})
    return e


def measure(build_dir, moto, endpoint, tmp):
    """One pass of every path through `endpoint`: {path: ms}."""
    got = {}
    functions = deploy(moto, f"rtt{uuid.uuid4().hex[:8]}", False)
    for function, steps in scenarios():
        files = [write_event(tmp, function, payload) for _, (_, payload), _ in steps]
        result = invoke(os.path.join(build_dir, function), environment(functions, function, endpoint), files)
        for (label, _, want), response in zip(steps, result["responses"]):
            if outcome(response) != want:
                raise SystemExit(f"{build_dir}/{function}: {label or 'warm-up'} answered {response}, not {want}")
            if label:
                got[label] = response["answered_ms"]
    for mode, sm in (("cold integration-created (secret in the environment)", False),
                     ("cold integration-created (secret from Secrets Manager)", True)):
        functions = deploy(moto, f"rtt{uuid.uuid4().hex[:8]}", sm)
        _, payload = created("c1", uuid.uuid4().hex)
        file = write_event(tmp, "integration-created", payload)
        result = invoke(os.path.join(build_dir, "integration-created"), environment(functions, "integration-created", endpoint), [file])
        if outcome(result["responses"][0]) != "stored":
            raise SystemExit(f"{build_dir}: cold create answered {result['responses'][0]}")
        got[mode] = result["first_answer_ms"]
    return got


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=float, default=25.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--build", action="append", help="LABEL=DIR of function binaries (repeatable)")
    a = p.parse_args()
    builds = []
    for b in a.build or [f"now={os.path.join(ROOT, 'target', 'release')}"]:
        label, _, path = b.partition("=")
        builds.append((label, path))
    port = free_port()
    moto_url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [moto]
    try:
        wait_for(port)
        fast, fast_url = proxy(moto_url, 0)
        slow, slow_url = proxy(moto_url, a.delay_ms / 1000)
        procs += [fast, slow]
        results = {}
        with tempfile.TemporaryDirectory() as tmp:
            for label, build_dir in builds:
                rounds = []
                for _ in range(a.runs):
                    base = measure(build_dir, moto_url, fast_url, tmp)
                    delayed = measure(build_dir, moto_url, slow_url, tmp)
                    rounds.append({k: (delayed[k] - base[k]) / a.delay_ms for k in base})
                results[label] = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    labels = [label for label, _ in builds]
    print(f"| path: sequential round trips (every AWS request {a.delay_ms:g} ms slower; median of {a.runs}) | "
          + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 1) + "|")
    for path in results[labels[0]]:
        print(f"| {path} | " + " | ".join(f"{results[label].get(path, float('nan')):.1f}" for label in labels) + " |")
    with open(os.path.join(HERE, "rtt.json"), "w") as f:
        json.dump({"delay_ms": a.delay_ms, "runs": a.runs, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
